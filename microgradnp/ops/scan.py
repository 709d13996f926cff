"""Scans, orderings and gathers: cumsum, cumprod, diff, sort, argsort, flip, take_along_axis, take, repeat, select.

``axis=None`` works on the flattened input, as in NumPy.  The VJPs of the
scans work along the last axis of the input with that axis moved there
(:func:`~microgradnp.ops.reduce.to_last`); ``sort``'s VJP sends each
gradient back to where its element came from.
"""

from __future__ import annotations

import math

import numpy as np

from . import xp as numpy_xp
from .reduce import axis_arg, checked_axis, from_last, to_last
from .registry import OpTest, concrete_value, defop
from .rules import batch_aligned, keyed_batch, ndim_of


def _along_last(rule):
    """A scan's VJP from ``rule(ns, g, y, x)``, written for ``(..., n)`` arrays scanned along the last axis."""
    def vjp(ns, g, out, a, axis=None):
        x, perm = to_last(ns, a, axis)
        if axis is None:  # the flattened input was scanned: g and out are already (n,)
            return ns.reshape(rule(ns, g, out, x), a.shape)
        return from_last(ns, rule(ns, to_last(ns, g, axis)[0], to_last(ns, out, axis)[0], x), a.shape, perm)

    return vjp


def _reverse_cumsum(ns, g):
    """``sum(g[..., i:])`` for every ``i``: the adjoint of a cumulative sum."""
    return ns.flip(ns.cumsum(ns.flip(g, -1), -1), -1)


def _cumprod_rule_generic(ns, g, y, x):
    # dx_j = sum_{i >= j} g_i prod_{k <= i, k != j} x_k.  The inner products are a
    # cumulative product down the columns of an (n, n) matrix holding x_i in row i,
    # with 1 on the diagonal: exact with zeros and itself differentiable (O(n^2)).
    n = x.shape[-1]
    lower = ns.tri(n, n, 0, dtype=x.dtype)
    eye = lower - ns.tri(n, n, -1, dtype=x.dtype)
    column = ns.reshape(x, x.shape + (1,))
    products = ns.cumprod(column * (1 - eye) + eye, axis=-2)
    return ns.sum(ns.reshape(g, g.shape + (1,)) * lower * products, axis=-2)


def _cumprod_rule_numpy(xp, g, y, x):
    # Without zeros, dx_j = sum_{i >= j} g_i y_i / x_j: O(n).  A zero anywhere
    # takes the exact O(n^2) rule above.
    if xp.all(x != 0):
        return _reverse_cumsum(xp, g * y) / x
    return _cumprod_rule_generic(xp, g, y, x)


def _scan(name, x, axis):
    return (x,), {"axis": checked_axis(name, x, axis)}


@defop(
    forward=lambda xp, a, axis=None: xp.cumsum(a, axis=axis),
    vjp=_along_last(lambda ns, g, y, x: _reverse_cumsum(ns, g)),
    jvp="linear",
    batch="axis",
    formula="running sums of a along axis;  da = running sums of g from the end",
    test=OpTest("scan", ref=lambda a, axis=None: np.add.accumulate(a.reshape(-1) if axis is None else a,
                                                                   axis=0 if axis is None else axis)),
    method=True,
)
def cumsum(x, axis=None, *, dim=None):
    """Cumulative sum along ``axis`` (of the flattened input when ``axis`` is ``None``, as in NumPy).

    VJP: the cumulative sum of ``g`` taken from the end.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.cumsum(mg.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=1)
    tensor([[1., 3.],
            [3., 7.]])
    """
    return _scan("cumsum", x, axis_arg(axis, dim))


@defop(
    forward=lambda xp, a, axis=None: xp.cumprod(a, axis=axis),
    vjp=_along_last(_cumprod_rule_generic),
    numpy_vjp=_along_last(_cumprod_rule_numpy),
    batch="axis",
    formula="running products of a along axis;  da_j = sum over i >= j of g_i * prod(a_k, k <= i, k != j)",
    test=OpTest("scan", ref=lambda a, axis=None: np.multiply.accumulate(a.reshape(-1) if axis is None else a,
                                                                        axis=0 if axis is None else axis),
                domain=(-2.0, 2.0), rtol=1e-10),
    method=True,
)
def cumprod(x, axis=None, *, dim=None):
    """Cumulative product along ``axis`` (of the flattened input when ``axis`` is ``None``).

    VJP: exact where elements are zero (never a division by ``x``).  On
    arrays without zeros it costs ``O(n)``; otherwise, and when recorded for
    higher derivatives, ``O(n^2)`` per slice.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> y = mg.cumprod(x)
    >>> y
    tensor([2., 0., 0.], op=cumprod)
    >>> y.sum().backward()
    >>> x.grad
    array([1., 8., 0.])
    """
    return _scan("cumprod", x, axis_arg(axis, dim))


def _diff_vjp(ns, g, out, a, n=1, axis=-1):
    # The adjoint of one difference out[k] = a[k + 1] - a[k], applied n times.
    ax = axis % a.ndim
    if n > a.shape[ax]:  # the output is empty: nothing flows back
        return ns.zeros_like(ns.value(a))
    head = (slice(None),) * ax
    for _ in range(n):
        shape = g.shape[:ax] + (g.shape[ax] + 1,) + g.shape[ax + 1 :]
        g = ns.index_put(g, head + (slice(1, None), ...), shape) - ns.index_put(g, head + (slice(None, -1), ...), shape)
    return g


@defop(
    forward=lambda xp, a, n=1, axis=-1: xp.diff(a, n=n, axis=axis),
    vjp=_diff_vjp,
    jvp="linear",
    batch="axis",
    formula="a[k + 1] - a[k] along axis, n times;  da = g shifted by one minus g, n times",
    test=OpTest("diff", ref=lambda a, n=1, axis=-1: _repeated_difference(a, n, axis)),
)
def diff(x, n=1, axis=-1, *, dim=None):
    """The ``n``-th discrete difference along ``axis``: ``x[k + 1] - x[k]``, repeated ``n`` times.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.diff(mg.tensor([1.0, 4.0, 9.0, 16.0]), n=2)
    tensor([2., 2.])
    """
    if np.ndim(x) == 0:
        raise ValueError("diff needs an input with at least one dimension, got a 0-d tensor")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"diff: the order n must be a non-negative int, got {n!r}")
    return (x,), {"n": int(n), "axis": checked_axis("diff", x, axis_arg(axis, dim, -1))}


def _repeated_difference(a, n, axis):
    for _ in range(n):
        a = np.moveaxis(np.moveaxis(a, axis, 0)[1:] - np.moveaxis(a, axis, 0)[:-1], 0, axis)
    return a


def _permutation(ns, a, axis):
    """The sorting permutation of ``a`` along ``axis``: indices when its values are known, else a one-hot matrix.

    Inside ``vmap`` the values are each example's own, so the permutation is
    applied as a product with its one-hot matrix (ops on the order, batched
    like any other) instead of as an index attribute.
    """
    order = ns.argsort(ns.value(a), axis)
    if concrete_value(order) is not None:
        return order, None
    shape = a.shape if axis is not None else (math.prod(a.shape),)
    rows, perm = to_last(ns, order if axis is not None else ns.reshape(order, (-1,)), -1 if axis is None else axis)
    hot = ns.astype(ns.reshape(rows, rows.shape + (1,)) == ns.arange(shape[perm[-1]]), a.dtype)  # hot[.., i, j]: j goes to i
    return hot, (shape, perm)


def _sort_vjp(ns, g, out, a, axis=-1):
    # out = a taken at the sorting permutation, so g goes back through its inverse.
    order, layout = _permutation(ns, a, axis)
    if layout is None:
        back = ns.argsort(order, -1 if axis is None else axis)
        if axis is None:
            return ns.reshape(ns.take_along_axis(g, back, 0), a.shape)
        return ns.take_along_axis(g, back, axis)
    shape, perm = layout
    rows, _ = to_last(ns, g if axis is not None else ns.reshape(g, (-1,)), -1 if axis is None else axis)
    back = ns.matmul(ns.reshape(rows, rows.shape[:-1] + (1, rows.shape[-1])), order)  # g @ hot: place -> element
    return ns.reshape(from_last(ns, back, shape, perm), a.shape)


def _sort_jvp(ns, ts, out, a, axis=-1):
    # The tangent goes through the same permutation as the values.
    order, layout = _permutation(ns, a, axis)
    if layout is None:
        if axis is None:
            return ns.take_along_axis(ns.reshape(ts[0], (-1,)), order, 0)
        return ns.take_along_axis(ts[0], order, axis)
    shape, perm = layout
    rows, _ = to_last(ns, ts[0] if axis is not None else ns.reshape(ts[0], (-1,)), -1 if axis is None else axis)
    moved = ns.matmul(order, ns.reshape(rows, rows.shape + (1,)))  # hot @ t: element -> place
    return from_last(ns, moved, shape, perm)


@defop(
    forward=lambda xp, a, axis=-1: xp.sort(a, axis=axis),
    vjp=_sort_vjp,
    jvp=_sort_jvp,
    batch="axis",
    formula="a sorted along axis (a permutation);  da = g sent back through the permutation",
    test=OpTest("sort", ref=lambda a, axis=-1: np.sort(a, axis=axis, kind="heapsort"), distinct=True),
    method=True,
)
def sort(x, axis=-1, *, dim=None):
    """Sorted copy along ``axis`` (ascending; the flattened input when ``axis`` is ``None``).

    Differentiable by its permutation: each element's gradient goes back to
    where it came from.  Equal elements keep their order (a stable sort).
    Unlike PyTorch's ``sort``, this returns the values only, as NumPy does;
    :func:`argsort` gives the indices.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([3.0, 1.0, 2.0], requires_grad=True)
    >>> y = mg.sort(x)
    >>> (y * mg.tensor([1.0, 10.0, 100.0])).sum().backward()
    >>> x.grad
    array([100.,   1.,  10.])
    """
    return (x,), {"axis": checked_axis("sort", x, axis_arg(axis, dim, -1))}


@defop(
    forward=lambda xp, a, axis=-1: xp.argsort(a, axis=axis),
    batch="axis",
    formula="the permutation that sorts a along axis;  no gradient (integer result)",
    test=OpTest("sort", ref=lambda a, axis=-1: np.argsort(a, axis=axis, kind="mergesort"), distinct=True),
    method=True, differentiable=False,
)
def argsort(x, axis=-1, *, dim=None):
    """Indices that sort ``x`` along ``axis`` (stable: equal elements keep their order).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.argsort(mg.tensor([3.0, 1.0, 2.0]))
    tensor([1, 2, 0], dtype=int64)
    """
    return (x,), {"axis": checked_axis("argsort", x, axis_arg(axis, dim, -1))}


@defop(
    forward=lambda xp, a, axis=None: xp.flip(a, axis=axis),
    vjp=lambda ns, g, out, a, axis=None: ns.flip(g, axis),
    jvp="linear",
    batch="reduce",
    formula="a reversed along axis;  da = g reversed along axis",
    test=OpTest("flip", ref=lambda a, axis=None: a[tuple(slice(None, None, -1) if axis is None or i in
                (axis if isinstance(axis, tuple) else (axis,)) or i - a.ndim in
                (axis if isinstance(axis, tuple) else (axis,)) else slice(None) for i in range(a.ndim))]),
    method=True,
)
def flip(x, axis=None, *, dims=None):
    """Reverse the order of elements along ``axis`` (all axes when ``None``).  PyTorch's ``dims=`` is accepted.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.flip(mg.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=1)
    tensor([[2., 1.],
            [4., 3.]])
    """
    return (x,), {"axis": checked_axis("flip", x, axis_arg(axis, dims))}


def _along_key(shape: tuple, indices: np.ndarray, axis: int) -> tuple:
    """The full index tuple that picks ``indices`` along ``axis`` and everything along the other axes."""
    nd = len(shape)
    return tuple(indices if d == axis else np.arange(shape[d]).reshape((-1,) + (1,) * (nd - 1 - d))
                 for d in range(nd))


def _gather(xp, a, key, flat_shape=None):
    """``a[key]``, on ``a`` flattened when ``flat_shape`` is given: take, take_along_axis and repeat."""
    return (a if flat_shape is None else xp.reshape(a, flat_shape))[key]


def _scatter(ns, g, out, a, key, flat_shape=None):
    """The adjoint of :func:`_gather`: ``g`` added into zeros at ``key`` (repeated indices accumulate)."""
    return ns.reshape(ns.index_put(g, key, flat_shape or a.shape), a.shape)


@defop(
    forward=_gather,
    vjp=_scatter,
    batch=keyed_batch,
    jvp="linear",
    formula="a at indices along axis;  da = zeros with g added at those indices (repeats accumulate)",
    test=OpTest("take_along_axis", ref=lambda a, key, flat_shape=None: a.reshape(flat_shape or a.shape)[key]),
)
def take_along_axis(x, indices, axis=-1, *, dim=None):
    """Pick elements along ``axis`` at integer ``indices`` (NumPy's ``take_along_axis``, PyTorch's ``gather``).

    ``indices`` has as many dimensions as ``x`` (``axis=None``: ``x`` is
    flattened and ``indices`` is 1-D).  ``axis`` defaults to the last, as in
    NumPy 2.3 and later; PyTorch's ``dim=`` is accepted.  VJP: the gradient is
    added back at the picked positions; repeated indices accumulate.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> x = mg.tensor([[10.0, 30.0, 20.0]], requires_grad=True)
    >>> mg.take_along_axis(x, np.array([[1, 1]]), axis=1)
    tensor([[30., 30.]], op=take_along_axis)
    """
    axis = axis_arg(axis, dim, -1)
    idx = _integer_indices("take_along_axis", indices)
    shape = np.shape(x)
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f"take_along_axis: with axis=None the indices must be 1-D, got shape {idx.shape}")
        flat = (int(np.prod(shape)),)
        return (x,), {"key": (np.where(idx < 0, idx + flat[0], idx),), "flat_shape": flat}
    axis = checked_axis("take_along_axis", x, axis)
    if idx.ndim != len(shape):
        raise ValueError(f"take_along_axis: indices of shape {idx.shape} need as many dimensions as the input "
                         f"of shape {shape}")
    axis %= len(shape)
    return (x,), {"key": _along_key(shape, np.where(idx < 0, idx + shape[axis], idx), axis)}


def _take_ref(a, key, flat_shape=None):
    """NumPy's ``take`` with the positions the adapter resolved (the last part of ``key``)."""
    return np.take(a, key[-1], axis=None if flat_shape else len(key) - 1)


@defop(
    forward=_gather,
    vjp=_scatter,
    batch=keyed_batch,
    jvp="linear",
    formula="a at indices along axis (flattened when None);  da = zeros with g added at the indices",
    test=OpTest("take", ref=_take_ref),
)
def take(x, indices, axis=None, *, dim=None):
    """Elements at integer ``indices`` along ``axis`` (of the flattened input when ``None``), as NumPy's ``take``.

    PyTorch's ``dim=`` is accepted for ``axis``.

    Negative indices count from the end; repeated indices accumulate their gradients.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    >>> mg.take(x, [2, 2, 0], axis=1).sum().backward()
    >>> x.grad
    array([[1., 0., 2.]])
    """
    axis = axis_arg(axis, dim)
    idx = _integer_indices("take", indices)
    shape = np.shape(x)
    if axis is None:
        n = int(np.prod(shape))
        return (x,), {"key": (_in_range("take", idx, n),), "flat_shape": (n,)}
    axis = checked_axis("take", x, axis) % max(len(shape), 1)
    return (x,), {"key": (slice(None),) * axis + (_in_range("take", idx, shape[axis]),)}


def _row_indices(xp, indices, rows: int):
    """``indices`` checked: integers in ``[0, rows)`` (the lookup of :func:`embedding`)."""
    if xp.kind(indices.dtype) not in "iu":
        raise TypeError(f"embedding indices must be integers, got dtype {indices.dtype}")
    if math.prod(indices.shape) and (xp.min_reduce(indices, axis=None) < 0 or xp.max_reduce(indices, axis=None) >= rows):
        raise IndexError(f"embedding indices must lie in [0, {rows}), got values from {int(xp.min_reduce(indices, axis=None))} "
                         f"to {int(xp.max_reduce(indices, axis=None))}")
    return indices


def _embedding(xp, weight, indices):
    return weight[_row_indices(xp, indices, weight.shape[0])]


def _embedding_vjp(ns, g, out, weight, indices):
    # The rows of g added into the looked-up rows: a one-hot matrix product, so that the
    # backward pass, recorded, is ops on the indices (no index attribute: vmap and
    # mg.compile follow new indices).  The NumPy path adds in place instead.
    rows, width = weight.shape
    m = math.prod(indices.shape)
    hot = ns.astype(ns.reshape(indices, (m, 1)) == ns.arange(rows), g.dtype)
    return ns.matmul(ns.transpose(hot), ns.reshape(g, (m, width)))


def _embedding_vjp_numpy(ns, g, out, weight, indices):
    return ns.index_put(g, (indices,), weight.shape)  # np.add.at: no (m, rows) one-hot matrix


def _embedding_batch(ns, args, batched, size):
    (weight, indices), (bw, bi) = args, batched
    if not bw:
        return ns.call("embedding", weight, indices)  # a stack of index arrays is an index array
    # A batch of tables: one table of their rows one after another, each example's
    # indices moved to its own table's rows (checked against one table first).
    rows = weight.shape[1]
    if getattr(indices, "_trace", None) is None:
        _row_indices(numpy_xp, np.asarray(getattr(indices, "_data", indices)), rows)
    offsets = ns.reshape(ns.arange(size) * rows, (size,) + (1,) * (indices.ndim - (1 if bi else 0)))
    return ns.call("embedding", ns.reshape(weight, (size * rows,) + weight.shape[2:]), indices + offsets)


@defop(
    forward=_embedding,
    vjp=(_embedding_vjp, lambda ns, g, out, weight, indices: ns.zeros_like(indices)),  # indices: no gradient
    numpy_vjp=(_embedding_vjp_numpy, lambda ns, g, out, weight, indices: ns.zeros_like(indices)),
    jvp="linear",
    batch=_embedding_batch,
    indices=(1,),
    formula="out[..., :] = weight[indices[...], :];  dweight = the rows of g added at their indices",
    test=OpTest("embedding", ref=lambda weight, indices: np.asarray(weight)[indices]),
    public=False,
)
def embedding(weight, indices):
    """The rows of ``weight`` at integer ``indices``: ``weight[indices]``, shape ``indices.shape + (dim,)``.

    ``indices`` are an input (an array or an integer Tensor), not an index
    attribute, so :func:`~microgradnp.func.vmap` and ``mg.compile`` follow new
    indices; they get no gradient.  ``nn.functional.embedding`` and
    ``nn.Embedding`` use it.  VJP: each row of ``g`` added at its index
    (repeated indices accumulate).

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], requires_grad=True)
    >>> mg.nn.functional.embedding([2, 0, 2], w)  # PyTorch's order: indices first
    tensor([[4., 5.],
            [0., 1.],
            [4., 5.]], op=embedding)
    """
    if not hasattr(indices, "requires_grad"):
        indices = np.asarray(indices)
    return (weight, indices), None


@defop(
    forward=_gather,
    vjp=_scatter,
    batch=keyed_batch,
    jvp="linear",
    formula="each element of a repeated along axis;  da = sum of g over the repeats",
    test=OpTest("repeat", ref=_take_ref),
)
def repeat(x, repeats, axis=None, *, dim=None):
    """Repeat each element ``repeats`` times along ``axis`` (flattened when ``None``), as NumPy's
    ``repeat`` (PyTorch's ``repeat_interleave``); ``repeats`` is an int or one count per element.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.repeat(mg.tensor([1.0, 2.0]), [1, 3])
    tensor([1., 2., 2., 2.])
    """
    axis = axis_arg(axis, dim)
    shape = np.shape(x)
    n = int(np.prod(shape)) if axis is None else shape[checked_axis("repeat", x, axis) % max(len(shape), 1)]
    counts = np.asarray(repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts < 0).any():
        raise ValueError(f"repeat: repeats must be a non-negative int or one per element, got {repeats!r}")
    try:
        idx = np.repeat(np.arange(n), counts)
    except ValueError:
        raise ValueError(f"repeat: {counts.size} counts for {n} elements along axis {axis}") from None
    if axis is None:
        return (x,), {"key": (idx,), "flat_shape": (n,)}
    return (x,), {"key": (slice(None),) * (axis % len(shape)) + (idx,)}


def _integer_indices(name, indices) -> np.ndarray:
    """The indices as a NumPy array: index bookkeeping (checked, normalised, kept as an attribute) is done on
    the host; an op on another library's data gets them back as that library's arrays (engine.apply)."""
    if hasattr(indices, "_data") and hasattr(indices, "numpy"):  # a Tensor, of any library: its values by name
        idx = np.asarray(indices.numpy())
    elif hasattr(type(indices), "__dlpack__") and not isinstance(indices, np.ndarray):
        idx = np.from_dlpack(indices)  # an index array of another library (a rule's argsort on it)
    else:
        idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"{name}: indices must be integers, got {idx.dtype}")
    return idx


def _in_range(name, idx, n: int) -> np.ndarray:
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"{name}: index {int(idx.min() if idx.min() < -n else idx.max())} is out of bounds for "
                         f"size {n}")
    return np.where(idx < 0, idx + n, idx)


def _select_vjp(ns, g, out, inputs, attrs, needs):
    # The first true condition picks its choice; where none is true, the default.
    taken, grads = None, []
    for cond, need in zip(attrs["conds"], needs[:-1]):
        picked = cond if taken is None else cond & ~taken
        grads.append(ns.masked(g, picked) if need else None)
        taken = picked | (cond if taken is None else taken)
    grads.append(ns.masked(g, ~taken) if needs[-1] else None)
    return grads


def _select_batch(ns, args, batched, size, conds):
    # Broadcasting, the batch axis in front; the conditions (of the example's shape) count for its rank.
    ndim = max(*map(np.ndim, conds), *(ndim_of(a) - b for a, b in zip(args, batched)))
    return ns.call("select", *(batch_aligned(ns, a, ndim) if b else a for a, b in zip(args, batched)), conds=conds)


@defop(
    forward=lambda xp, *arrays, conds: xp.select(list(conds), list(arrays[:-1]), arrays[-1]),
    vjp_all=_select_vjp,
    jvp="linear",  # in the choices and the default together; the conditions are attributes
    batch=_select_batch,
    formula="choice i where condition i is the first true one, else default;  d(choice i) = g where it was picked",
    test=OpTest("select", ref=lambda *arrays, conds: _select_by_where(conds, arrays)),
)
def select(condlist, choicelist, default=0.0):
    """Elementwise, the choice of the first true condition, else ``default`` (NumPy's ``select``).

    Conditions are boolean arrays or Tensors (no gradient); each choice and
    the default get the gradient where they were picked.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([-2.0, 0.5, 3.0])
    >>> mg.select([x < 0, x < 1], [-x, x * 10], default=1.0)
    tensor([2., 5., 1.])
    """
    conds = tuple(np.asarray(c, dtype=bool) for c in condlist)
    choices = tuple(choicelist)
    if len(conds) != len(choices):
        raise ValueError(f"select: {len(conds)} conditions but {len(choices)} choices")
    if not choices:
        raise ValueError("select needs at least one condition and choice")
    return choices + (default,), {"conds": conds}


def _select_by_where(conds, arrays):
    out = arrays[-1]
    for cond, choice in zip(conds[::-1], arrays[-2::-1]):
        out = np.where(cond, choice, out)
    return out
