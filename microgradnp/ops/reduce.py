"""Reductions (sum mean max min var logsumexp) and the softmax family.

``axis`` may be ``None`` (all axes), an int (negative counts from the end) or
a tuple of ints; ``keepdims`` keeps the reduced axes with size 1.  PyTorch's
spellings ``dim=`` and ``keepdim=`` are accepted too.  Each VJP broadcasts the
upstream gradient back over the reduced axes with :func:`_unreduce`.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .registry import OpTest, defop


def axis_arg(axis, dim, default=None):
    """NumPy's ``axis`` or PyTorch's ``dim`` (one of them), lists made tuples."""
    if dim is not None:
        if axis is not None and axis is not default:
            raise TypeError("give either axis= or dim=, not both")
        axis = dim
    return tuple(axis) if isinstance(axis, list) else axis


def _keep(keepdims, keepdim) -> bool:
    return bool(keepdims if keepdim is None else keepdim)


def _kept_shape(shape: tuple, axis) -> tuple:
    """``shape`` with the reduced axes set to 1 (the ``keepdims=True`` shape)."""
    if axis is None:
        return (1,) * len(shape)
    kept = list(shape)
    for ax in axis if isinstance(axis, tuple) else (axis,):
        kept[ax] = 1  # negative axes index the list from the end, as in NumPy
    return tuple(kept)


def count(shape: tuple, axis) -> int:
    """How many elements each output element of a reduction over ``axis`` reduces over."""
    return math.prod(shape) // builtins.max(math.prod(_kept_shape(shape, axis)), 1)


def _per_element(shape: tuple, axis) -> float:
    """``1 / count``: the mean's gradient scale.  An empty reduction (count 0) has
    an empty input, so its gradient is empty and any scale will do."""
    return 1.0 / builtins.max(count(shape, axis), 1)


def _unreduce(ns, g, shape: tuple, axis, keepdims: bool):
    """Broadcast the gradient of a reduction back to the input's shape."""
    if axis is not None and not keepdims:
        g = ns.reshape(g, _kept_shape(shape, axis))
    return ns.broadcast_to(g, shape)  # with axis None, g is 0-d (or all ones): it broadcasts as it is


def _finite_max(xp, a, axis):
    # The max-shift of logsumexp and log_softmax.  A row of -inf (or +inf)
    # would give inf - inf = nan, so a non-finite max is replaced by 0.
    m = xp.max_reduce(a, axis=axis, keepdims=True)
    if not xp.all(xp.isfinite(m)):
        m = xp.where(xp.isfinite(m), m, 0.0)
    return m


def _logsumexp(xp, a, axis=None, keepdims=False):
    m = _finite_max(xp, a, axis)
    s = xp.log(xp.sum(xp.exp(a - m), axis=axis, keepdims=keepdims))
    return s + (m if keepdims else xp.reshape(m, s.shape))


def _softmax(xp, a, axis=-1):
    e = xp.exp(a - xp.max_reduce(a, axis=axis, keepdims=True))
    e /= xp.sum(e, axis=axis, keepdims=True)
    return e


def _log_softmax(xp, a, axis=-1):
    # (a - max) - log(sum(exp(a - max))): the max-shift is exact, so logits of
    # +-1000 give exact results (a - logsumexp(a) would cancel catastrophically).
    shifted = a - _finite_max(xp, a, axis)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def _extreme_vjp(ns, g, out, a, axis=None, keepdims=False):
    # The gradient goes to the element(s) equal to the extreme; ties share it
    # evenly (each gets g / count), the PyTorch convention.
    va = ns.value(a)
    hit = (va == ns.reshape(ns.value(out), _kept_shape(va.shape, axis))) * 1.0
    share = hit / ns.sum(hit, axis=axis, keepdims=True)
    return _unreduce(ns, g, va.shape, axis, keepdims) * share


def _var_vjp(ns, g, out, a, axis=None, ddof=0, keepdims=False):
    centered = a - ns.sum(a, axis=axis, keepdims=True) * _per_element(a.shape, axis)
    return _unreduce(ns, g, a.shape, axis, keepdims) * centered * (2.0 / (count(a.shape, axis) - ddof))


def checked_axis(name: str, x, axis):
    """``axis`` checked against the dimensions of ``x``, before anything is recorded.

    An axis out of range raises NumPy's ``AxisError`` naming the op.  A 0-d
    input counts as one dimension, as in PyTorch: reducing it over axis 0 or
    -1 reduces nothing (the axis becomes ``None``).
    """
    if axis is None:
        return None
    ndim = x.ndim if hasattr(x, "ndim") else np.ndim(x)
    for ax in axis if isinstance(axis, tuple) else (axis,):
        if not isinstance(ax, (int, np.integer)) or isinstance(ax, bool):
            raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -builtins.max(ndim, 1) <= ax < builtins.max(ndim, 1):
            raise np.exceptions.AxisError(f"{name}: axis {ax} is out of bounds for a tensor of dimension {ndim}")
    return axis if ndim else None


def _reduction(name, x, axis, keepdims, dim, keepdim):
    axis = axis_arg(axis, dim)
    if axis is not None:
        axis = checked_axis(name, x, axis)
    return (x,), {"axis": axis, "keepdims": _keep(keepdims, keepdim)}


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.sum(a, axis=axis, keepdims=keepdims),
    vjp=lambda ns, g, out, a, axis=None, keepdims=False: _unreduce(ns, g, a.shape, axis, keepdims),
    formula="sum of a over axis;  da = g broadcast over the reduced axes",
    test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims)),
    method=True,
)
def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Sum over ``axis`` (``None``: all; int or tuple, negative allowed).

    VJP: the upstream gradient broadcast back over the reduced axes.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> mg.sum(x, axis=0)
    tensor([4., 6.])
    >>> x.sum(dim=-1, keepdim=True)
    tensor([[3.],
            [7.]])
    """
    return _reduction("sum", x, axis, keepdims, dim, keepdim)


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.mean(a, axis=axis, keepdims=keepdims),
    vjp=lambda ns, g, out, a, axis=None, keepdims=False: _unreduce(ns, g * _per_element(a.shape, axis), a.shape,
                                                                 axis, keepdims),
    formula="mean of a over axis (n elements);  da = g / n broadcast over the reduced axes",
    test=OpTest(
        "reduce",
        ref=lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims) / count(a.shape, axis),
    ),
    method=True,
)
def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Arithmetic mean over ``axis``.  VJP: ``g / n`` broadcast over the reduced axes.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.mean(mg.tensor([1.0, 2.0, 6.0]))
    tensor(3.)
    """
    return _reduction("mean", x, axis, keepdims, dim, keepdim)


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.max_reduce(a, axis=axis, keepdims=keepdims),
    vjp=_extreme_vjp,
    formula="max of a over axis;  da = g at the maximum (shared evenly on ties)",
    test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: -np.min(-a, axis=axis, keepdims=keepdims),
                distinct=True),
    method=True,
)
def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Maximum over ``axis``.  VJP: ``g`` to the maximal element; ties share it evenly.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 3.0, 3.0], requires_grad=True)
    >>> mg.max(x).backward()
    >>> x.grad
    array([0. , 0.5, 0.5])
    """
    return _reduction("max", x, axis, keepdims, dim, keepdim)


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.min_reduce(a, axis=axis, keepdims=keepdims),
    vjp=_extreme_vjp,
    formula="min of a over axis;  da = g at the minimum (shared evenly on ties)",
    test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: -np.max(-a, axis=axis, keepdims=keepdims),
                distinct=True),
    method=True,
)
def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Minimum over ``axis``.  VJP: ``g`` to the minimal element; ties share it evenly.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.min(mg.tensor([[1.0, 3.0], [0.0, 5.0]]), axis=1)
    tensor([1., 0.])
    """
    return _reduction("min", x, axis, keepdims, dim, keepdim)


@defop(
    forward=lambda xp, a, axis=None, ddof=0, keepdims=False: xp.var(a, axis=axis, ddof=ddof, keepdims=keepdims),
    vjp=_var_vjp,
    formula="sum((a - mean)^2) / (n - ddof);  da = g * 2 (a - mean) / (n - ddof)",
    test=OpTest(
        "var",
        ref=lambda a, axis=None, ddof=0, keepdims=False: np.sum(
            (a - np.mean(a, axis=axis, keepdims=True)) ** 2, axis=axis, keepdims=keepdims
        ) / (count(a.shape, axis) - ddof),
        rtol=1e-10,
    ),
    method=True,
)
def var(x, axis=None, ddof=0, keepdims=False, *, dim=None, keepdim=None):
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0).

    Note that PyTorch's ``var`` defaults to the unbiased estimate
    (``ddof=1``); pass ``ddof=1`` for that.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.var(mg.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor(1.25)
    """
    (x,), attrs = _reduction("var", x, axis, keepdims, dim, keepdim)
    shape = x.shape if hasattr(x, "shape") else np.shape(x)
    n = count(shape, attrs["axis"])
    if n - ddof <= 0:  # NumPy and PyTorch give nan (or inf) with a warning
        raise ValueError(
            f"var: ddof={ddof} leaves no degrees of freedom: each variance is over {n} element(s) of the input of "
            f"shape {shape} (axis={attrs['axis']}); it needs more than ddof elements"
        )
    return (x,), {"axis": attrs["axis"], "ddof": ddof, "keepdims": attrs["keepdims"]}


@defop(
    forward=_logsumexp,
    vjp=lambda ns, g, out, a, axis=None, keepdims=False: _unreduce(ns, g, a.shape, axis, keepdims)
    * ns.exp(a - ns.reshape(out, _kept_shape(a.shape, axis))),
    formula="log(sum(exp(a))) over axis;  da = g * exp(a - out) = g * softmax(a)",
    test=OpTest(
        "reduce",
        ref=lambda a, axis=None, keepdims=False: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)),
    ),
    method=True,
)
def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """``log(sum(exp(x)))`` over ``axis``, shifted by the maximum so it is exact for huge logits.

    VJP: ``g * softmax(x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.logsumexp(mg.tensor([1000.0, 1000.0])).item()  # 1000 + log 2
    1000.6931471805599
    """
    return _reduction("logsumexp", x, axis, keepdims, dim, keepdim)


@defop(
    forward=_softmax,
    vjp=lambda ns, g, out, a, axis=-1: out * (g - ns.sum(g * out, axis=axis, keepdims=True)),
    formula="exp(a) / sum(exp(a)) along axis;  da = s * (g - sum(g * s))",
    test=OpTest("axis", ref=lambda a, axis=-1: np.exp(a) / np.sum(np.exp(a), axis=axis, keepdims=True)),
    method=True,
)
def softmax(x, axis=-1, *, dim=None):
    """Softmax along ``axis``: ``exp(x) / sum(exp(x))``, max-shifted (no overflow).

    VJP: ``s * (g - sum(g * s))``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.softmax(mg.tensor([0.0, 0.0]))
    tensor([0.5, 0.5])
    """
    return (x,), {"axis": checked_axis("softmax", x, axis_arg(axis, dim, -1))}


@defop(
    forward=_log_softmax,
    vjp=lambda ns, g, out, a, axis=-1: g - ns.exp(out) * ns.sum(g, axis=axis, keepdims=True),
    formula="a - logsumexp(a) along axis;  da = g - softmax(a) * sum(g)",
    test=OpTest(
        "axis",
        ref=lambda a, axis=-1: np.log(np.exp(a) / np.sum(np.exp(a), axis=axis, keepdims=True)),
        rtol=1e-11,
    ),
    method=True,
)
def log_softmax(x, axis=-1, *, dim=None):
    """``x - logsumexp(x)`` along ``axis``: stable log-probabilities, exact for logits of +-1000.

    VJP: ``g - softmax(x) * sum(g)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.log_softmax(mg.tensor([1000.0, -1000.0]))
    tensor([    0., -2000.])
    """
    return (x,), {"axis": checked_axis("log_softmax", x, axis_arg(axis, dim, -1))}
