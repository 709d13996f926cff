"""Reductions (sum mean max min var logsumexp) and the softmax family.

``axis`` may be ``None`` (all axes), an int (negative counts from the end) or
a tuple of ints; ``keepdims`` keeps the reduced axes with size 1.  Each VJP
broadcasts the upstream gradient back over the reduced axes with
:func:`_unreduce`.
"""

from __future__ import annotations

import builtins

import numpy as np

from ..engine import _apply
from .registry import OpTest, defop

__all__ = ["sum", "mean", "max", "min", "var", "logsumexp", "softmax", "log_softmax"]


def _kept_shape(shape: tuple, axis) -> tuple:
    """``shape`` with the reduced axes set to 1 (the ``keepdims=True`` shape)."""
    if axis is None:
        return (1,) * len(shape)
    kept = list(shape)
    for ax in (axis,) if isinstance(axis, (int, np.integer)) else axis:
        kept[ax] = 1  # negative axes index the list from the end, as in NumPy
    return tuple(kept)


def _count(shape: tuple, axis) -> int:
    """How many elements each output element reduces over."""
    return int(np.prod(shape)) // builtins.max(int(np.prod(_kept_shape(shape, axis))), 1)


def _unreduce(ns, g, shape: tuple, axis, keepdims: bool):
    """Broadcast the gradient of a reduction back to the input's shape."""
    if axis is None:
        return ns.broadcast_to(g, shape)  # g is 0-d (or all ones): it broadcasts as it is
    if not keepdims:
        g = g.reshape(_kept_shape(shape, axis))
    return ns.broadcast_to(g, shape)


def _logsumexp(a, axis=None, keepdims=False):
    # Shift by the max so exp never overflows; a row of -inf (or +inf) would
    # give inf - inf = nan, so a non-finite max is replaced by 0.
    m = np.max(a, axis=axis, keepdims=True)
    if not np.all(np.isfinite(m)):
        m = np.where(np.isfinite(m), m, 0.0)
    s = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=keepdims))
    return s + (m if keepdims else np.squeeze(m, axis=axis))


def _softmax(a, axis=-1):
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def _log_softmax(a, axis=-1):
    # (a - max) - log(sum(exp(a - max))): the max-shift is exact, so logits of
    # +-1000 give exact results (a - logsumexp(a) would cancel catastrophically).
    m = np.max(a, axis=axis, keepdims=True)
    if not np.all(np.isfinite(m)):
        m = np.where(np.isfinite(m), m, 0.0)
    shifted = a - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _extreme_vjp(ns, g, out, a, axis=None, keepdims=False):
    # The gradient goes to the element(s) equal to the extreme; ties share it
    # evenly (each gets g / count), the PyTorch convention.
    va = ns.value(a)
    hit = va == ns.value(out).reshape(_kept_shape(va.shape, axis))
    share = hit / hit.sum(axis=axis, keepdims=True)
    return _unreduce(ns, g, va.shape, axis, keepdims) * share.astype(g.dtype, copy=False)


def _var_vjp(ns, g, out, a, axis=None, ddof=0, keepdims=False):
    n = _count(a.shape, axis)
    centered = a - a.mean(axis=axis, keepdims=True)
    return _unreduce(ns, g, a.shape, axis, keepdims) * centered * (2.0 / (n - ddof))


SUM = defop(
    "sum", lambda a, axis=None, keepdims=False: np.add.reduce(a, axis=axis, keepdims=keepdims),
    lambda ns, g, out, a, axis=None, keepdims=False: _unreduce(ns, g, a.shape, axis, keepdims),
    formula="sum of a over axis;  da = g broadcast over the reduced axes",
    test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims), rtol=1e-12),
)
MEAN = defop(
    "mean", lambda a, axis=None, keepdims=False: np.mean(a, axis=axis, keepdims=keepdims),
    lambda ns, g, out, a, axis=None, keepdims=False: _unreduce(ns, g / _count(a.shape, axis), a.shape, axis, keepdims),
    formula="mean of a over axis (n elements);  da = g / n broadcast over the reduced axes",
    test=OpTest(
        "reduce",
        ref=lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims) / _count(a.shape, axis),
    ),
)
MAX = defop(
    "max", lambda a, axis=None, keepdims=False: np.maximum.reduce(a, axis=axis, keepdims=keepdims),
    _extreme_vjp,
    formula="max of a over axis;  da = g at the maximum (shared evenly on ties)",
    test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: -np.min(-a, axis=axis, keepdims=keepdims), distinct=True),
)
MIN = defop(
    "min", lambda a, axis=None, keepdims=False: np.minimum.reduce(a, axis=axis, keepdims=keepdims),
    _extreme_vjp,
    formula="min of a over axis;  da = g at the minimum (shared evenly on ties)",
    test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: -np.max(-a, axis=axis, keepdims=keepdims), distinct=True),
)
VAR = defop(
    "var", lambda a, axis=None, ddof=0, keepdims=False: np.var(a, axis=axis, ddof=ddof, keepdims=keepdims),
    _var_vjp,
    formula="sum((a - mean)^2) / (n - ddof);  da = g * 2 (a - mean) / (n - ddof)",
    test=OpTest(
        "var",
        ref=lambda a, axis=None, ddof=0, keepdims=False: np.sum(
            (a - np.mean(a, axis=axis, keepdims=True)) ** 2, axis=axis, keepdims=keepdims
        ) / (_count(a.shape, axis) - ddof),
        rtol=1e-10,
    ),
)
LOGSUMEXP = defop(
    "logsumexp", _logsumexp,
    lambda ns, g, out, a, axis=None, keepdims=False: _unreduce(ns, g, a.shape, axis, keepdims)
    * ns.exp(a - out.reshape(_kept_shape(a.shape, axis))),
    formula="log(sum(exp(a))) over axis;  da = g * exp(a - out) = g * softmax(a)",
    test=OpTest(
        "reduce",
        ref=lambda a, axis=None, keepdims=False: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)),
        rtol=1e-12,
    ),
)
SOFTMAX = defop(
    "softmax", _softmax,
    lambda ns, g, out, a, axis=-1: out * (g - (g * out).sum(axis=axis, keepdims=True)),
    formula="exp(a) / sum(exp(a)) along axis;  da = s * (g - sum(g * s))",
    test=OpTest("axis", ref=lambda a, axis=-1: np.exp(a) / np.sum(np.exp(a), axis=axis, keepdims=True), rtol=1e-12),
)
LOG_SOFTMAX = defop(
    "log_softmax", _log_softmax,
    lambda ns, g, out, a, axis=-1: g - ns.exp(out) * g.sum(axis=axis, keepdims=True),
    formula="a - logsumexp(a) along axis;  da = g - softmax(a) * sum(g)",
    test=OpTest(
        "axis",
        ref=lambda a, axis=-1: np.log(np.exp(a) / np.sum(np.exp(a), axis=axis, keepdims=True)),
        rtol=1e-11,
    ),
)


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (``None``: all; int or tuple, negative allowed).

    VJP: the upstream gradient broadcast back over the reduced axes.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> mg.sum(x, axis=0)
    tensor([4., 6.])
    >>> x.sum(axis=-1, keepdims=True)
    tensor([[3.],
            [7.]])
    """
    return _apply(SUM, x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``.  VJP: ``g / n`` broadcast over the reduced axes.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.mean(mg.tensor([1.0, 2.0, 6.0]))
    tensor(3.)
    """
    return _apply(MEAN, x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``.  VJP: ``g`` to the maximal element; ties share it evenly.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 3.0, 3.0], requires_grad=True)
    >>> mg.max(x).backward()
    >>> x.grad
    array([0. , 0.5, 0.5])
    """
    return _apply(MAX, x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``.  VJP: ``g`` to the minimal element; ties share it evenly.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.min(mg.tensor([[1.0, 3.0], [0.0, 5.0]]), axis=1)
    tensor([1., 0.])
    """
    return _apply(MIN, x, axis=axis, keepdims=keepdims)


def var(x, axis=None, ddof=0, keepdims=False):
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0).

    Note that PyTorch's ``var`` defaults to the unbiased estimate
    (``ddof=1``); pass ``ddof=1`` for that.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.var(mg.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor(1.25)
    """
    return _apply(VAR, x, axis=axis, ddof=ddof, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, shifted by the maximum so it is exact for huge logits.

    VJP: ``g * softmax(x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.logsumexp(mg.tensor([1000.0, 1000.0])).item()  # 1000 + log 2
    1000.6931471805599
    """
    return _apply(LOGSUMEXP, x, axis=axis, keepdims=keepdims)


def softmax(x, axis=-1):
    """Softmax along ``axis``: ``exp(x) / sum(exp(x))``, max-shifted (no overflow).

    VJP: ``s * (g - sum(g * s))``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.softmax(mg.tensor([0.0, 0.0]))
    tensor([0.5, 0.5])
    """
    return _apply(SOFTMAX, x, axis=axis)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``: stable log-probabilities, exact for logits of +-1000.

    VJP: ``g - softmax(x) * sum(g)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.log_softmax(mg.tensor([1000.0, -1000.0]))
    tensor([    0., -2000.])
    """
    return _apply(LOG_SOFTMAX, x, axis=axis)
