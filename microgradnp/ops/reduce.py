"""Reductions (sum mean prod max min ptp var std average nansum nanmean logsumexp argmax argmin) and the softmax family.

``axis`` may be ``None`` (all axes), an int (negative counts from the end) or
a tuple of ints; ``keepdims`` keeps the reduced axes with size 1.  PyTorch's
spellings ``dim=`` and ``keepdim=`` are accepted too.  Each VJP broadcasts the
upstream gradient back over the reduced axes with :func:`_unreduce`.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .registry import OpTest, concrete_value, defop


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


def inverse_permutation(axes) -> tuple:
    """The inverse of a permutation of axes."""
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


def _axes(ndim: int, axis) -> tuple:
    """The reduced axes as sorted non-negative ints (all of them for ``None``)."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(ax % ndim for ax in (axis if isinstance(axis, tuple) else (axis,))))


def to_last(ns, a, axis):
    """``a`` with the axes in ``axis`` moved to the end and merged into one.

    Returns the array of shape ``(kept..., n)`` and the permutation used;
    :func:`from_last` undoes it.  Reductions and scans whose VJP works along
    one axis (``prod``, ``cumprod``) use the pair.
    """
    shape = a.shape
    reduced = _axes(len(shape), axis)
    kept = tuple(i for i in range(len(shape)) if i not in reduced)
    perm = kept + reduced
    if perm != tuple(range(len(shape))):
        a = ns.transpose(a, perm)
    return ns.reshape(a, tuple(shape[i] for i in kept) + (math.prod(shape[i] for i in reduced),)), perm


def from_last(ns, x, shape: tuple, perm: tuple):
    """Undo :func:`to_last` on an array of the same size: back to ``shape``."""
    x = ns.reshape(x, tuple(shape[i] for i in perm))
    return ns.transpose(x, inverse_permutation(perm)) if perm != tuple(range(len(shape))) else x


def _eye(ns, n: int, dtype):
    return ns.tri(n, n, 0, dtype=dtype) - ns.tri(n, n, -1, dtype=dtype)


def _others_generic(ns, x):
    """For each element along the last axis, the product of all the *other* elements.

    Zeros need no special case: the products are taken over an ``(n, n)``
    matrix holding ``x`` off the diagonal and 1 on it, so this is itself
    made of differentiable ops (any order).  ``O(n^2)`` memory: the rule
    used when the backward pass is recorded.
    """
    n = x.shape[-1]
    eye = _eye(ns, n, x.dtype)
    return ns.prod(ns.reshape(x, x.shape[:-1] + (1, n)) * (1 - eye) + eye, axis=-1)


def _others_numpy(xp, x):
    """The same in ``O(n)``: the product of the elements before times the product of those after."""
    if x.shape[-1] == 0:
        return x
    one = xp.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    before = xp.cumprod(xp.concatenate([one, x[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([x[..., 1:], one], axis=-1), axis=-1), axis=-1), axis=-1)
    return before * after


def _prod_vjp(others):
    def vjp(ns, g, out, a, axis=None, keepdims=False):
        x, perm = to_last(ns, a, axis)
        return _unreduce(ns, g, a.shape, axis, keepdims) * from_last(ns, others(ns, x), a.shape, perm)

    return vjp


def _hits(ns, va, extreme, axis):
    """1 at the elements equal to ``extreme`` (kept dims), shared evenly: ``g / count`` on ties."""
    hit = ns.astype(va == extreme, va.dtype)
    return hit / ns.sum(hit, axis=axis, keepdims=True)


def _ptp_vjp(ns, g, out, a, axis=None, keepdims=False):
    va = ns.value(a)
    share = _hits(ns, va, ns.max_reduce(va, axis=axis, keepdims=True), axis) \
        - _hits(ns, va, ns.min_reduce(va, axis=axis, keepdims=True), axis)
    return _unreduce(ns, g, va.shape, axis, keepdims) * share


def _std_vjp(ns, g, out, a, axis=None, ddof=0, keepdims=False):
    # Where the deviation is 0 (one element, or all equal) every element is at the
    # kink of the square root: the subgradient 0, as PyTorch takes it, not 0/0.
    centered = a - ns.sum(a, axis=axis, keepdims=True) * _per_element(a.shape, axis)
    flat = ns.value(out) == 0
    scaled = ns.where(flat, 0.0, g / ns.where(flat, 1.0, out))
    return _unreduce(ns, scaled, a.shape, axis, keepdims) * centered * (1.0 / (count(a.shape, axis) - ddof))


def _present(ns, a):
    """1.0 where ``a`` is a number, 0.0 where it is NaN."""
    va = ns.value(a)
    return ns.astype(va == va, va.dtype)


def _average(xp, a, w=None, axis=None, wshape=None):
    if w is None:
        return xp.mean(a, axis=axis)
    if wshape is not None:
        w = xp.reshape(w, wshape)
    return xp.sum(a * w, axis=axis) / xp.sum(w, axis=axis)


def _average_scale(ns, g, a, w, axis, wshape):
    """``g / sum(w)`` broadcast to the input's shape, and the weights in that layout."""
    if w is not None and wshape is not None:
        w = ns.reshape(w, wshape)
    total = ns.sum(w, axis=axis, keepdims=True) if w is not None else count(a.shape, axis)
    return _unreduce(ns, g, a.shape, axis, False) / total, w


def _average_vjp_a(ns, g, out, a, w=None, axis=None, wshape=None):
    scale, w = _average_scale(ns, g, a, w, axis, wshape)
    return scale if w is None else scale * w


def _average_vjp_w(ns, g, out, a, w, axis=None, wshape=None):
    scale, wb = _average_scale(ns, g, a, w, axis, wshape)
    dw = scale * (a - ns.reshape(out, _kept_shape(a.shape, axis)))
    if wshape is not None:  # 1-D weights along one axis: sum over the others, then back to (n,)
        return ns.reshape(ns.sum(dw, axis=tuple(i for i, s in enumerate(wshape) if s == 1), keepdims=True), w.shape)
    return dw


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
    hit = ns.astype(va == ns.reshape(ns.value(out), _kept_shape(va.shape, axis)), va.dtype)
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


def _with_ddof(name, x, axis, ddof, keepdims, dim, keepdim):
    """The arguments of ``var`` and ``std``, refusing a ``ddof`` that leaves no degrees of freedom."""
    (x,), attrs = _reduction(name, x, axis, keepdims, dim, keepdim)
    shape = x.shape if hasattr(x, "shape") else np.shape(x)
    n = count(shape, attrs["axis"])
    if n - ddof <= 0:  # NumPy and PyTorch give nan (or inf) with a warning
        raise ValueError(
            f"{name}: ddof={ddof} leaves no degrees of freedom: each value is over {n} element(s) of the input of "
            f"shape {shape} (axis={attrs['axis']}); it needs more than ddof elements"
        )
    return (x,), {"axis": attrs["axis"], "ddof": ddof, "keepdims": attrs["keepdims"]}


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.sum(a, axis=axis, keepdims=keepdims),
    vjp=lambda ns, g, out, a, axis=None, keepdims=False: _unreduce(ns, g, a.shape, axis, keepdims),
    jvp="linear",
    batch="reduce",
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
    jvp="linear",
    batch="reduce",
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
    jvp="reduction",
    batch="reduce",
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
    jvp="reduction",
    batch="reduce",
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
    jvp="reduction",
    batch="reduce",
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
    return _with_ddof("var", x, axis, ddof, keepdims, dim, keepdim)


@defop(
    forward=_logsumexp,
    vjp=lambda ns, g, out, a, axis=None, keepdims=False: _unreduce(ns, g, a.shape, axis, keepdims)
    * ns.exp(a - ns.reshape(out, _kept_shape(a.shape, axis))),
    jvp="reduction",
    batch="reduce",
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
    jvp="elementwise",  # not elementwise, but the Jacobian diag(s) - s s^T is symmetric: the JVP is the VJP
    batch="axis",
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
    jvp=lambda ns, ts, out, a, axis=-1: ts[0] - ns.sum(ns.exp(out) * ts[0], axis=axis, keepdims=True),
    batch="axis",
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


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.prod(a, axis=axis, keepdims=keepdims),
    vjp=_prod_vjp(_others_generic),
    numpy_vjp=_prod_vjp(_others_numpy),
    jvp="reduction",
    batch="reduce",
    formula="product of a over axis;  da = g * (product of the other elements)  (exact with zeros)",
    test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: np.multiply.reduce(a, axis=axis, keepdims=keepdims),
                domain=(-2.0, 2.0), rtol=1e-10),
    method=True,
)
def prod(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Product over ``axis``.

    VJP: ``g`` times the product of the *other* elements of each slice,
    never ``out / x``: it is exact where elements are zero (one zero: only
    that element gets a gradient; two or more: all gradients are 0), as in
    PyTorch.  On arrays it costs ``O(n)`` (products before and after each
    element); recorded for higher derivatives, ``O(n^2)`` per slice.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> mg.prod(x).backward()
    >>> x.grad
    array([0., 6., 0.])
    """
    return _reduction("prod", x, axis, keepdims, dim, keepdim)


@defop(
    forward=lambda xp, a, axis=None, ddof=0, keepdims=False: xp.std(a, axis=axis, ddof=ddof, keepdims=keepdims),
    vjp=_std_vjp,
    jvp="reduction",
    batch="reduce",
    formula="sqrt(var(a));  da = g * (a - mean) / ((n - ddof) * out)",
    test=OpTest(
        "std",
        ref=lambda a, axis=None, ddof=0, keepdims=False: np.sqrt(np.sum(
            (a - np.mean(a, axis=axis, keepdims=True)) ** 2, axis=axis, keepdims=keepdims
        ) / (count(a.shape, axis) - ddof)),
        distinct=True, margin=0.05, rtol=1e-10,
    ),
    method=True,
)
def std(x, axis=None, ddof=0, keepdims=False, *, dim=None, keepdim=None):
    """Standard deviation over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0).

    VJP: ``g * (x - mean) / ((n - ddof) * std)``; where all elements of a
    slice are equal the standard deviation is 0 and its gradient NaN (the
    square root has no derivative at 0), as in PyTorch.  PyTorch's ``std``
    defaults to ``ddof=1``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.std(mg.tensor([1.0, 3.0]))
    tensor(1.)
    """
    return _with_ddof("std", x, axis, ddof, keepdims, dim, keepdim)


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.ptp(a, axis=axis, keepdims=keepdims),
    vjp=_ptp_vjp,
    jvp="reduction",
    batch="reduce",
    formula="max - min over axis;  da = g at the maximum minus g at the minimum (ties share evenly)",
    test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: np.max(a, axis=axis, keepdims=keepdims)
                - np.min(a, axis=axis, keepdims=keepdims), distinct=True),
    method=True,
)
def ptp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Range (peak to peak) over ``axis``: ``max - min``.

    VJP: ``g`` to the maximum and ``-g`` to the minimum; tied extremes share
    evenly, as for :func:`max`.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.ptp(mg.tensor([[1.0, 5.0], [2.0, 2.5]]), axis=1)
    tensor([4. , 0.5])
    """
    return _reduction("ptp", x, axis, keepdims, dim, keepdim)


@defop(
    forward=_average,
    vjp=(_average_vjp_a, _average_vjp_w),
    formula="sum(a * w) / sum(w) over axis;  da = g * w / sum(w), dw = g * (a - out) / sum(w)",
    test=OpTest("average", ref=lambda a, w=None, axis=None, wshape=None: np.sum(
        a * (1.0 if w is None else w.reshape(wshape or w.shape)), axis=axis) / (
        count(a.shape, axis) if w is None else np.sum(w.reshape(wshape or w.shape) * np.ones(a.shape), axis=axis)),
        rtol=1e-10),
)
def average(x, axis=None, weights=None, *, dim=None):
    """Weighted mean over ``axis`` (NumPy's ``average``): ``sum(x * w) / sum(w)``.

    ``weights`` has the shape of ``x``, or is 1-D along the one ``axis``;
    it may be a Tensor that requires grad.  Without weights this is
    :func:`mean`.  Weights summing to zero raise ``ZeroDivisionError``, as
    in NumPy.

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0, 3.0], requires_grad=True)
    >>> y = mg.average(mg.tensor([2.0, 4.0]), weights=w)
    >>> y
    tensor(3.5, op=average)
    >>> y.backward()
    >>> w.grad
    array([-0.375,  0.125])
    """
    axis = checked_axis("average", x, axis_arg(axis, dim))
    if weights is None:
        return (x,), {"axis": axis}
    xshape, wshape = np.shape(x), np.shape(weights)
    reshape_to = None
    if wshape != xshape:
        if not (isinstance(axis, (int, np.integer)) and len(wshape) == 1 and wshape[0] == xshape[axis]):
            raise ValueError(
                f"average: weights of shape {wshape} do not fit an input of shape {xshape} along axis={axis}; "
                "give weights of the input's shape, or 1-D weights as long as that one axis"
            )
        reshape_to = tuple(wshape[0] if i == axis % len(xshape) else 1 for i in range(len(xshape)))
    values = concrete_value(weights)
    total = None if values is None else np.sum(np.reshape(values, reshape_to or wshape) * np.ones(xshape), axis=axis)
    if total is not None and np.any(total == 0):
        raise ZeroDivisionError("average: the weights sum to zero along the averaged axis, so the mean is undefined")
    return (x, weights), {"axis": axis, "wshape": reshape_to}


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.nansum(a, axis=axis, keepdims=keepdims),
    vjp=lambda ns, g, out, a, axis=None, keepdims=False: _unreduce(ns, g, a.shape, axis, keepdims) * _present(ns, a),
    jvp="reduction",
    batch="reduce",
    formula="sum over axis, NaN counted as 0;  da = g where a is a number, 0 at NaN",
    test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims)),
    method=True,
)
def nansum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Sum over ``axis`` treating NaN as zero.  VJP: ``g`` where ``x`` is a number, 0 at NaN.

    Examples
    --------
    >>> import math
    >>> import microgradnp as mg
    >>> mg.nansum(mg.tensor([1.0, math.nan, 2.0]))
    tensor(3.)
    """
    return _reduction("nansum", x, axis, keepdims, dim, keepdim)


def _nanmean_vjp(ns, g, out, a, axis=None, keepdims=False):
    present = _present(ns, a)
    return _unreduce(ns, g, a.shape, axis, keepdims) * present / ns.sum(present, axis=axis, keepdims=True)


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.nanmean(a, axis=axis, keepdims=keepdims),
    vjp=_nanmean_vjp,
    jvp="reduction",
    batch="reduce",
    formula="mean over axis of the elements that are not NaN (m of them);  da = g / m there, 0 at NaN",
    test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims)
                / count(a.shape, axis)),
    method=True,
)
def nanmean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Mean over ``axis`` ignoring NaN.  VJP: ``g / m`` to each of the ``m`` numbers of a slice, 0 at NaN.

    Examples
    --------
    >>> import math
    >>> import microgradnp as mg
    >>> mg.nanmean(mg.tensor([1.0, math.nan, 2.0]))
    tensor(1.5)
    """
    return _reduction("nanmean", x, axis, keepdims, dim, keepdim)


def _arg_reduction(name, x, axis, keepdims, dim, keepdim):
    axis = axis_arg(axis, dim)
    if isinstance(axis, tuple):
        raise TypeError(f"{name}: axis must be None or one int, got {axis!r}")
    return _reduction(name, x, axis, keepdims, None, keepdim)


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.argmax(a, axis=axis, keepdims=keepdims),
    batch="axis",
    formula="index of the maximum along axis;  no gradient (integer result)",
    test=OpTest("argreduce", ref=lambda a, axis=None, keepdims=False: np.argmin(-a, axis=axis, keepdims=keepdims)),
    method=True, differentiable=False,
)
def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the maximum along ``axis`` (of the flattened input when ``axis`` is ``None``).

    An integer Tensor without gradient; the first maximum wins a tie.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.tensor([[1.0, 5.0], [7.0, 2.0]]).argmax(dim=1)
    tensor([1, 0], dtype=int64)
    """
    return _arg_reduction("argmax", x, axis, keepdims, dim, keepdim)


@defop(
    forward=lambda xp, a, axis=None, keepdims=False: xp.argmin(a, axis=axis, keepdims=keepdims),
    batch="axis",
    formula="index of the minimum along axis;  no gradient (integer result)",
    test=OpTest("argreduce", ref=lambda a, axis=None, keepdims=False: np.argmax(-a, axis=axis, keepdims=keepdims)),
    method=True, differentiable=False,
)
def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the minimum along ``axis`` (see :func:`argmax`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.argmin(mg.tensor([3.0, 1.0, 2.0]))
    tensor(1, dtype=int64)
    """
    return _arg_reduction("argmin", x, axis, keepdims, dim, keepdim)


def _truth(name: str, numpy_name: str, word: str):
    def adapter(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _reduction(name, x, axis, keepdims, dim, keepdim)

    adapter.__name__ = adapter.__qualname__ = name
    adapter.__doc__ = f"""Whether {word} element along ``axis`` is true (nonzero): a boolean tensor without gradient.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([[1.0, 0.0], [2.0, 3.0]])
    >>> (x > 0).{name}(axis=1)
    tensor([{"False,  True" if name == "all" else " True,  True"}], dtype=bool)
    """
    reference = getattr(np, name)
    return defop(
        forward=lambda xp, a, axis=None, keepdims=False: getattr(xp, numpy_name)(a, axis=axis, keepdims=keepdims),
        batch="reduce",
        formula=f"{word} element true along axis;  no gradient (boolean result)",
        test=OpTest("reduce", ref=lambda a, axis=None, keepdims=False: reference(a, axis=axis, keepdims=keepdims)),
        method=True, differentiable=False,
    )(adapter)


_truth("all", "all_reduce", "every")
_truth("any", "any_reduce", "some")
