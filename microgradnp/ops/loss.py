"""Fused losses: one graph node where the composed form takes four or five.

Fused for speed (a loss is evaluated at every training step, and on small
networks per-node overhead is most of the cost); each is tested against its
composed twin in ``tests/test_ops.py``.  ``microgradnp.nn.functional`` is the
public face of these ops.

``reduction`` is ``"sum"``, ``"mean"`` (over all elements), ``"batchmean"``
(sum divided by the size of the first axis) or ``"none"``.
"""

from __future__ import annotations

import numpy as np

from .registry import NUMPY_NS, OpTest, defop

__all__ = ["SQUARED_ERROR", "BCE_WITH_LOGITS"]


def _divisor(shape: tuple, reduction: str) -> int:
    if reduction == "mean":
        return int(np.prod(shape))
    if reduction == "batchmean":
        return shape[0] if shape else 1
    return 1


def _divisor_of(a, b, reduction: str) -> int:
    """The divisor of a reduction over the broadcast of ``a`` and ``b`` (1 for sum and none)."""
    if reduction == "sum" or reduction == "none":
        return 1
    sa, sb = getattr(a, "shape", ()), getattr(b, "shape", ())
    return _divisor(sa if sa == sb else np.broadcast_shapes(sa, sb), reduction)


def _reduce(values, reduction: str, scale: float):
    if reduction == "none":
        return values * scale if scale != 1.0 else values
    n = _divisor(values.shape, reduction)
    return values.sum() * (scale / n)  # ndarray.sum, not np.sum: a C call, not a Python wrapper


def _squared_error(a, b, reduction="sum", scale=1.0):
    d = a - b
    if reduction == "none":
        return _reduce(d * d, reduction, scale)
    # vdot(d, d) is the sum of squares in one call: no temporary d * d.
    return np.vdot(d, d) * (scale / _divisor(np.shape(d), reduction))


def _squared_error_vjp(sign):
    def vjp(ns, g, out, a, b, reduction="sum", scale=1.0):
        c = (2.0 * sign * scale) / _divisor_of(a, b, reduction)
        if ns is NUMPY_NS:
            d = a - b
            if d.__class__ is np.ndarray:
                d *= g * c  # in place: one temporary (see elementwise.py)
                return d
        return (g * c) * (a - b)

    return vjp


def _bce_with_logits(z, y, reduction="mean"):
    # -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z, exact for any z.
    return _reduce(np.logaddexp(0.0, z) - y * z, reduction, 1.0)


def _bce_vjp_z(ns, g, out, z, y, reduction="mean"):
    c = g * (1.0 / _divisor_of(z, y, reduction))
    if ns is NUMPY_NS:
        d = ns.sigmoid(z)
        if d.__class__ is np.ndarray:
            d -= y  # in place: one temporary (see elementwise.py)
            d *= c
            return d
    return c * (ns.sigmoid(z) - y)


def _bce_vjp_y(ns, g, out, z, y, reduction="mean"):
    return (g * (-1.0 / _divisor_of(z, y, reduction))) * z


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


SQUARED_ERROR = defop(
    "squared_error", _squared_error,
    _squared_error_vjp(1.0),
    _squared_error_vjp(-1.0),
    formula="scale * reduce((a - b)^2);  da = g * 2 scale (a - b) / n, db = -da",
    test=OpTest("scaled_loss", ref=_ref_squared_error, rtol=1e-12),
)
BCE_WITH_LOGITS = defop(
    "bce_with_logits", _bce_with_logits,
    _bce_vjp_z,
    _bce_vjp_y,
    formula="reduce(softplus(z) - y z);  dz = g (sigmoid(z) - y) / n, dy = -g z / n",
    test=OpTest("loss", ref=_ref_bce, rtol=1e-10),
)
