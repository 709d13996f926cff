"""Fused losses: one graph node where the composed form takes four or five.

Fused for speed (a loss is evaluated at every training step, and on small
networks per-node overhead is most of the cost); the registry tests check
each against its composed twin.  ``microgradnp.nn.functional`` is the public
face of these ops, so they are not exported as ``microgradnp.<name>``.

``reduction`` is ``"sum"``, ``"mean"`` (over all elements), ``"batchmean"``
(sum divided by the size of the first axis) or ``"none"``.
"""

from __future__ import annotations

import math

import numpy as np

from .registry import OpTest, defop
from .rules import batch_aligned, ndim_of


def _divisor(shape: tuple, reduction: str) -> int:
    if reduction == "mean":
        return math.prod(shape)
    if reduction == "batchmean":
        return shape[0] if shape else 1
    return 1


def _broadcast_shape(sa: tuple, sb: tuple) -> tuple:
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    return tuple(max(x, y) if min(x, y) != 0 else 0 for x, y in zip(sa, sb))


def _divisor_of(a, b, reduction: str) -> int:
    """The divisor of a reduction over the broadcast of ``a`` and ``b`` (1 for sum and none)."""
    if reduction == "sum" or reduction == "none":
        return 1
    sa, sb = getattr(a, "shape", ()), getattr(b, "shape", ())
    return _divisor(sa if sa == sb else _broadcast_shape(sa, sb), reduction)


def _reduce(xp, values, reduction: str, scale: float):
    if reduction == "none":
        return values * scale if scale != 1.0 else values
    return xp.sum(values) * (scale / _divisor(values.shape, reduction))


def _loss_batch(name: str):
    """vmap's rule for a loss: the loss's elementwise terms of the whole batch, then each example reduced."""

    def rule(ns, args, batched, size, reduction="mean", **attrs):
        ndim = max(ndim_of(a) - b for a, b in zip(args, batched))
        args = [batch_aligned(ns, a, ndim) if b else a for a, b in zip(args, batched)]
        terms = ns.call(name, *args, reduction="none", **attrs)
        if reduction == "none":
            return terms
        per_example = ns.sum(ns.reshape(terms, (size, math.prod(terms.shape[1:]))), axis=1)
        return per_example / _divisor(terms.shape[1:], reduction)

    return rule


def _squared_error(xp, a, b, reduction="sum", scale=1.0):
    d = a - b
    if reduction == "none":
        return _reduce(xp, d * d, reduction, scale)
    # vdot(d, d) is the sum of squares in one call: no temporary d * d.
    return xp.vdot(d, d) * (scale if reduction == "sum" else scale / _divisor(d.shape, reduction))


def _loss_jvp(ns, ts, out, inputs, attrs, *vjps):
    """A loss is a reduction of elementwise terms: the VJPs at an upstream 1 are each term's
    derivatives (divisor included), and the tangent is reduced as the terms are."""
    ones = ns.zeros_like(ns.value(out)) + 1.0
    total = None
    for vjp, t in zip(vjps, ts):
        if t is not None:
            d = vjp(ns, ones, out, *inputs, **attrs) * t
            total = d if total is None else total + d
    return total if attrs.get("reduction") == "none" else ns.sum(total)


def _squared_error_vjp(sign: float):
    def vjp(ns, g, out, a, b, reduction="sum", scale=1.0):
        return (g * ((2.0 * sign * scale) / _divisor_of(a, b, reduction))) * (a - b)

    return vjp


def _squared_error_vjp_numpy(sign: float):
    def vjp(ns, g, out, a, b, reduction="sum", scale=1.0):
        d = a - b
        if d.__class__ is not ns.ndarray:
            return _squared_error_vjp(sign)(ns, g, out, a, b, reduction, scale)
        # In place: one temporary.  A reduced loss's upstream gradient is 0-d: its factor is
        # made with Python floats (a 0-d array times a float costs 0.75 us, float() 0.06 us),
        # and a factor of exactly 1 (the squared loss, 1/2 sum, from backward()) is skipped.
        factor = 2.0 * sign * scale
        if reduction != "sum":
            factor /= _divisor_of(a, b, reduction)
        if g.ndim == 0:
            factor *= float(g)
        else:
            d *= g
        if factor != 1.0:
            d *= factor
        return d

    return vjp


def _bce_with_logits(xp, z, y, reduction="mean"):
    # -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z, exact for any z.
    return _reduce(xp, xp.logaddexp(0.0, z) - y * z, reduction, 1.0)


def _bce_vjp_z(ns, g, out, z, y, reduction="mean"):
    return (g * (1.0 / _divisor_of(z, y, reduction))) * (ns.sigmoid(z) - y)


def _bce_vjp_z_numpy(ns, g, out, z, y, reduction="mean"):
    d = ns.sigmoid(z)
    if d.__class__ is not ns.ndarray:
        return _bce_vjp_z(ns, g, out, z, y, reduction)
    d -= y  # in place: one temporary (see elementwise.py)
    d *= g * (1.0 / _divisor_of(z, y, reduction))
    return d


def _bce_vjp_y(ns, g, out, z, y, reduction="mean"):
    return (g * (-1.0 / _divisor_of(z, y, reduction))) * z


# binary_cross_entropy on probabilities, PyTorch's way: each log is clamped at
# -100, so p = 0 or 1 gives a finite loss, and the gradient is the analytic
# (p - t) / (p (1 - p)) with the denominator held at 1e-12 or more, so a
# confidently wrong probability gets a large finite gradient, never 0 (what
# clipping p would give) nor NaN (inf * 0 in float32).
_LOG_FLOOR = -100.0
_P_FLOOR = math.exp(_LOG_FLOOR)
_BCE_EPS = 1e-12


def _clamped_logs(ns, p):
    lp = ns.log(ns.where(ns.value(p) > _P_FLOOR, p, _P_FLOOR))
    q = 1.0 - p
    lq = ns.log(ns.where(ns.value(q) > _P_FLOOR, q, _P_FLOOR))
    return lp, lq


def _bce(xp, p, t, reduction="mean"):
    lp, lq = _clamped_logs(xp, p)
    return _reduce(xp, -(t * lp + (1.0 - t) * lq), reduction, 1.0)


def _bce_vjp_p(ns, g, out, p, t, reduction="mean"):
    pq = p * (1.0 - p)
    return (g * (1.0 / _divisor_of(p, t, reduction))) * (p - t) / ns.where(ns.value(pq) > _BCE_EPS, pq, _BCE_EPS)


def _bce_vjp_t(ns, g, out, p, t, reduction="mean"):
    lp, lq = _clamped_logs(ns, p)
    return (g * (1.0 / _divisor_of(p, t, reduction))) * (lq - lp)


def _ref_bce_probs(p, t, reduction="mean"):
    per = -(t * np.log(p) + (1 - t) * np.log1p(-p))
    if reduction == "none":
        return per
    return np.sum(per) / {"sum": 1, "mean": per.size, "batchmean": per.shape[0] if per.ndim else 1}[reduction]


def _ref_squared_error(a, b, reduction="sum", scale=1.0):
    sq = (a - b) ** 2
    if reduction == "none":
        return scale * sq
    total = np.sum(sq) * scale
    return total / {"sum": 1, "mean": sq.size, "batchmean": sq.shape[0] if sq.ndim else 1}[reduction]


def _ref_bce(z, y, reduction="mean"):
    s = 1.0 / (1.0 + np.exp(-z))
    per = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    if reduction == "none":
        return per
    return np.sum(per) / {"sum": 1, "mean": per.size, "batchmean": per.shape[0] if per.ndim else 1}[reduction]


@defop(
    forward=_squared_error,
    vjp=(_squared_error_vjp(1.0), _squared_error_vjp(-1.0)),
    batch=_loss_batch("squared_error"),
    jvp=lambda ns, ts, out, *inputs, **attrs: _loss_jvp(ns, ts, out, inputs, attrs, _squared_error_vjp(1.0),
                                                        _squared_error_vjp(-1.0)),
    numpy_vjp=(_squared_error_vjp_numpy(1.0), _squared_error_vjp_numpy(-1.0)),
    formula="scale * reduce((a - b)^2);  da = g * 2 scale (a - b) / n, db = -da",
    test=OpTest("scaled_loss", ref=_ref_squared_error, rtol=1e-12),
    public=False,
)
def squared_error(input, target, reduction="sum", scale=1.0):
    """``scale * reduce((input - target)^2)`` as one node; see ``nn.functional.mse_loss``."""
    return (input, target), {"reduction": reduction, "scale": scale}


@defop(
    forward=_bce_with_logits,
    vjp=(_bce_vjp_z, _bce_vjp_y),
    batch=_loss_batch("bce_with_logits"),
    jvp=lambda ns, ts, out, *inputs, **attrs: _loss_jvp(ns, ts, out, inputs, attrs, _bce_vjp_z, _bce_vjp_y),
    numpy_vjp=(_bce_vjp_z_numpy, _bce_vjp_y),
    formula="reduce(softplus(z) - y z);  dz = g (sigmoid(z) - y) / n, dy = -g z / n",
    test=OpTest("loss", ref=_ref_bce, rtol=1e-10),
    public=False,
)
def bce_with_logits(logits, target, reduction="mean"):
    """``reduce(softplus(z) - y z)`` as one node; see ``nn.functional.binary_cross_entropy_with_logits``."""
    return (logits, target), {"reduction": reduction}


@defop(
    forward=_bce,
    vjp=(_bce_vjp_p, _bce_vjp_t),
    batch=_loss_batch("bce"),
    jvp=lambda ns, ts, out, *inputs, **attrs: _loss_jvp(ns, ts, out, inputs, attrs, _bce_vjp_p, _bce_vjp_t),
    formula="reduce(-(t log p + (1 - t) log(1 - p))), logs clamped at -100;  "
            "dp = g (p - t) / max(p (1 - p), 1e-12) / n, dt = g (log(1 - p) - log p) / n",
    test=OpTest("loss", ref=_ref_bce_probs, domain=((0.05, 0.95), (0.0, 1.0)), rtol=1e-10),
    public=False,
)
def bce(probs, target, reduction="mean"):
    """Binary cross-entropy of probabilities as one node; see ``nn.functional.binary_cross_entropy``."""
    return (probs, target), {"reduction": reduction}


# pick: each row's entry at its class label.  The labels are an input (integer,
# without gradient), not an index attribute, so that a trace follows them: vmap
# batches integer labels and mg.compile replays a step with new ones.


def _label_indices(xp, labels, n: int, num_classes: int):
    """``labels`` checked (whole numbers in ``[0, num_classes)``, one per row) and as integers."""
    kind = xp.kind(labels.dtype)
    if kind == "f":
        if not xp.all_reduce(xp.isfinite(labels)) or not xp.all_reduce(labels == xp.rint(labels)):
            raise ValueError(f"class labels must be whole numbers, got {labels.dtype} values that are not")
        labels = xp.astype(labels, "int64")
    elif kind not in "iu":
        raise TypeError(f"class labels must be integers, got dtype {labels.dtype}")
    if labels.shape[-1:] != (n,):
        raise ValueError(f"{n} examples of logits but labels of shape {labels.shape}; give one label per example")
    if n and (xp.min_reduce(labels, axis=None) < 0 or xp.max_reduce(labels, axis=None) >= num_classes):
        bad = xp.reshape(labels[(labels < 0) | (labels >= num_classes)], (-1,))
        shown = [int(bad[i]) for i in range(min(5, bad.shape[0]))]
        raise ValueError(f"labels must lie in [0, {num_classes - 1}] for {num_classes} classes; got {shown}")
    return labels


def _pick(xp, a, labels):
    n, c = a.shape
    return a[xp.arange(n), _label_indices(xp, labels, n, c)]


def _pick_vjp(ns, g, out, a, labels):
    # g scattered to the labelled entries: a one-hot mask times g, so the
    # backward pass, recorded, is elementwise ops on the labels (no index).
    n, c = a.shape
    hot = ns.reshape(labels, (n, 1)) == ns.arange(c)
    return ns.masked(ns.reshape(g, (n, 1)), hot)


def _pick_batch(ns, args, batched, size):
    # The examples' rows one after another: one pick of size * n rows.
    (a, labels), (ba, bl) = args, batched
    a = a if ba else ns.broadcast_to(a, (size,) + a.shape)
    labels = labels if bl else ns.broadcast_to(labels, (size,) + labels.shape)
    n, c = a.shape[1:]
    return ns.reshape(ns.call("pick", ns.reshape(a, (size * n, c)), ns.reshape(labels, (size * n,))), (size, n))


@defop(
    forward=_pick,
    vjp=(_pick_vjp, lambda ns, g, out, a, labels: ns.zeros_like(labels)),  # labels: no gradient
    jvp="linear",
    batch=_pick_batch,
    indices=(1,),
    formula="out_i = a[i, labels_i];  da = g at each row's label, zero elsewhere",
    test=OpTest("pick", ref=lambda a, labels: np.asarray(a)[np.arange(len(a)), labels]),
    public=False,
)
def pick(log_probs, labels):
    """Each row's entry at its class label: ``log_probs[i, labels[i]]`` (``nll_loss`` and ``cross_entropy``).

    ``labels`` are integers (or whole-number floats) in ``[0, C)``, an array
    or a Tensor; they get no gradient.  VJP: ``g`` at each row's label.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> from microgradnp.engine import function
    >>> from microgradnp.ops import REGISTRY
    >>> logp = mg.tensor([[0.1, 0.9], [0.7, 0.3]], requires_grad=True)
    >>> function(REGISTRY["pick"])(logp, np.array([1, 0]))
    tensor([0.9, 0.7], op=pick)
    """
    if not hasattr(labels, "requires_grad"):
        labels = np.asarray(labels)
    return (log_probs, labels), None
