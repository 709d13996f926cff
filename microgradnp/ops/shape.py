"""Shape ops: reshape, transpose, swapaxes, moveaxis, squeeze, expand_dims, flatten, ravel, broadcast_to,
indexing (``x[key]``) and its adjoint ``index_put``, concatenate, stack, tile, roll, rot90 and pad.

None of these changes a value, so each VJP only moves the gradient back into
the input's layout.
"""

from __future__ import annotations

import math

import numpy as np

from .reduce import axis_arg, checked_axis
from .reduce import inverse_permutation as _inverse
from .registry import OpTest, defop
from .rules import batch_aligned, batched_key, keyed_batch


def _back_to_input_shape(ns, g, out, a, **attrs):
    return ns.reshape(g, a.shape)


def _flatten(xp, a, start_dim=0, end_dim=-1):
    shape = a.shape
    if not shape:
        return xp.reshape(a, (1,))
    nd = len(shape)
    s = start_dim + nd if start_dim < 0 else start_dim
    e = end_dim + nd if end_dim < 0 else end_dim
    if not 0 <= s <= e < nd:
        raise ValueError(f"flatten: start_dim={start_dim}, end_dim={end_dim} do not fit a {nd}-d shape {shape}")
    return xp.reshape(a, shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])


def _concatenate_vjp(ns, g, out, inputs, attrs, needs):
    ax = attrs["axis"]
    grads, start = [], 0
    if ax is None:  # NumPy's axis=None: the inputs flattened, then joined
        for x, need in zip(inputs, needs):
            stop = start + math.prod(x.shape)
            grads.append(ns.reshape(g[start:stop], x.shape) if need else None)
            start = stop
        return grads
    ax = ax + len(out.shape) if ax < 0 else ax
    for x, need in zip(inputs, needs):
        stop = start + x.shape[ax]
        grads.append(g[(slice(None),) * ax + (slice(start, stop), ...)] if need else None)
        start = stop
    return grads


def _stack_vjp(ns, g, out, inputs, attrs, needs):
    ax = attrs["axis"]
    ax = ax + len(out.shape) if ax < 0 else ax
    return [g[(slice(None),) * ax + (i, ...)] if need else None for i, need in enumerate(needs)]


# Batching rules (``func.vmap``): the batch axis is axis 0 of each batched array.


def _permute_batch(ns, args, batched, size, axes=None, perm=None):
    a = args[0]
    order = perm if perm is not None else axes
    nd = a.ndim - 1
    order = tuple(reversed(range(nd))) if order is None else tuple(ax % nd for ax in order)
    return ns.transpose(a, (0,) + tuple(ax + 1 for ax in order))


def _broadcast_batch(ns, args, batched, size, shape):
    return ns.broadcast_to(batch_aligned(ns, args[0], len(shape)), (size,) + tuple(shape))


def _index_put_batch(ns, args, batched, size, key, shape):
    if not batched[0] or (key := batched_key(key)) is None:
        return None
    return ns.index_put(args[0], key, (size,) + tuple(shape))


def _joined_batch(name: str):
    def rule(ns, args, batched, size, axis=0):
        if axis is None:
            return None  # concatenating flattened inputs: once per example
        full = [a if b else ns.broadcast_to(a, (size,) + tuple(np.shape(a))) for a, b in zip(args, batched)]
        return getattr(ns, name)(full, axis=axis + 1 if axis >= 0 else axis)

    return rule


def _shape_arg(shape) -> tuple:
    """``f(x, 2, 3)``, ``f(x, (2, 3))`` and ``f(x, [2, 3])`` all mean the shape ``(2, 3)``."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


@defop(
    forward=lambda xp, a, shape: xp.reshape(a, shape),
    vjp=_back_to_input_shape,
    jvp="linear",
    batch="reshape",
    formula="a with a new shape;  da = g reshaped back",
    test=OpTest("reshape", ref=lambda a, shape: np.asarray(a).reshape(shape)),
    method=("reshape", "view"),
)
def reshape(x, *shape):
    """Give ``x`` a new shape with the same number of elements (``-1`` infers one axis).

    ``reshape(x, (2, 3))`` and ``reshape(x, 2, 3)`` are the same.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.reshape(mg.tensor([1.0, 2.0, 3.0, 4.0]), (2, -1))
    tensor([[1., 2.],
            [3., 4.]])
    """
    return (x,), {"shape": _shape_arg(shape)}


@defop(
    forward=lambda xp, a, axes=None: xp.transpose(a, axes),
    batch=_permute_batch,
    vjp=lambda ns, g, out, a, axes=None: ns.transpose(g, None if axes is None else _inverse(axes)),
    jvp="linear",
    formula="a with axes permuted;  da = g with the inverse permutation",
    test=OpTest(
        "transpose",
        ref=lambda a, axes=None: np.einsum(a, list(range(a.ndim)), list(range(a.ndim))[::-1] if axes is None else list(axes)),
    ),
    method=True, properties="T",
)
def transpose(x, *dims, axes=None):
    """Permute the axes (reverse them when no axes are given, like NumPy's ``.T``).

    ``transpose(x, (1, 0))``, ``transpose(x, 1, 0)`` and NumPy's
    ``transpose(x, axes=(1, 0))`` are the same; negative axes count from the end.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.transpose(mg.tensor([[1.0, 2.0]])).shape
    (2, 1)
    """
    if dims and axes is not None:
        raise TypeError("transpose: give the axes positionally or as axes=, not both")
    if axes is None:
        axes = dims[0] if len(dims) == 1 and (dims[0] is None or not isinstance(dims[0], (int, np.integer))) else dims
    if axes is None or len(axes) == 0:
        return (x,), {"axes": None}
    nd = np.ndim(x)
    return (x,), {"axes": tuple(int(a) % nd if -nd <= a < nd else int(a) for a in axes)}


@defop(
    forward=lambda xp, a, axis=None: xp.squeeze(a, axis=axis),
    vjp=_back_to_input_shape,
    jvp="linear",
    batch="reshape",
    formula="a without size-1 axes;  da = g reshaped back",
    test=OpTest("squeeze", ref=lambda a, axis=None: np.squeeze(a.copy(), axis=axis)),
    method=True,
)
def squeeze(x, axis=None, *, dim=None):
    """Remove axes of size 1 (all of them, or those in ``axis``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.squeeze(mg.zeros((1, 3, 1))).shape
    (3,)
    """
    return (x,), {"axis": axis_arg(axis, dim)}


@defop(
    forward=lambda xp, a, axis: xp.expand_dims(a, axis),
    vjp=_back_to_input_shape,
    jvp="linear",
    batch="reshape",
    formula="a with new size-1 axes;  da = g reshaped back",
    test=OpTest("expand_dims", ref=lambda a, axis: np.expand_dims(a.copy(), axis)),
    method=("expand_dims", "unsqueeze"), aliases="unsqueeze",
)
def expand_dims(x, axis=None, *, dim=None):
    """Insert axes of size 1 at ``axis`` (an int or a tuple); PyTorch's name is ``unsqueeze``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.expand_dims(mg.zeros(3), 0).shape
    (1, 3)
    >>> mg.unsqueeze(mg.zeros(3), -1).shape
    (3, 1)
    """
    axis = axis_arg(axis, dim)
    if axis is None:
        raise TypeError("expand_dims needs axis= (or dim=)")
    return (x,), {"axis": axis}


@defop(
    forward=_flatten,
    vjp=_back_to_input_shape,
    jvp="linear",
    batch="reshape",
    formula="axes start_dim..end_dim merged into one;  da = g reshaped back",
    test=OpTest("flatten", ref=lambda a, start_dim=0, end_dim=-1: np.asarray(a).reshape(
        _flatten(np, a, start_dim, end_dim).shape)),
    method=True,
)
def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes ``start_dim`` to ``end_dim`` into one (all of them by default, like NumPy).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.flatten(mg.zeros((2, 3, 4))).shape
    (24,)
    >>> mg.flatten(mg.zeros((2, 3, 4)), start_dim=1).shape
    (2, 12)
    """
    return (x,), {"start_dim": start_dim, "end_dim": end_dim}


@defop(
    forward=lambda xp, a, shape: xp.broadcast_view(a, shape),
    batch=_broadcast_batch,
    vjp=lambda ns, g, out, a, shape: g,  # the engine sums g back over the broadcast axes
    jvp="linear",
    formula="a repeated to shape;  da = g summed over the repeated axes",
    test=OpTest("broadcast_to", ref=lambda a, shape: a * np.ones(shape)),
    method=("broadcast_to", "expand"),
)
def broadcast_to(x, *shape):
    """Repeat ``x`` to ``shape`` by NumPy's broadcasting rules (PyTorch's ``expand``).

    The VJP sums the gradient back over the repeated axes.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.broadcast_to(mg.tensor([1.0, 2.0]), (2, 2))
    tensor([[1., 2.],
            [1., 2.]])
    """
    return (x,), {"shape": _shape_arg(shape)}


def _index_part(k):
    if isinstance(k, (list, np.ndarray)) or hasattr(k, "__array__"):
        if hasattr(type(k), "__dlpack__") and not isinstance(k, np.ndarray) and not type(k).__module__.startswith("microgradnp"):
            return k  # an index of another array library: kept there (the op refuses it beside another library's data)
        k = np.asarray(k)  # a Tensor gives its array through __array__
        if k.dtype.kind == "f":
            raise IndexError(
                f"an array or Tensor used as an index must hold integers or booleans, got {k.dtype}; "
                "make it with dtype=int (Tensors made from Python ints default to float64)"
            )
    return k


_PLAIN_KEYS = frozenset({int, slice, type(None), type(Ellipsis), np.ndarray, bool})


def _index_key(key, of=None):
    """The key with its index arrays checked; an index array of another library must index data of that
    library (``of``: the indexed Tensor or array), never be converted to NumPy's."""
    key = tuple(_index_part(k) for k in key) if isinstance(key, tuple) else _index_part(key)
    for k in key if isinstance(key, tuple) else (key,):
        if k.__class__ in _PLAIN_KEYS:  # ints, slices, None, ..., NumPy arrays: the common case, at once
            continue
        if hasattr(type(k), "__dlpack__") and not isinstance(k, np.ndarray):
            index_library = type(k).__module__.split(".")[0]
            data = getattr(of, "_data", of)
            data_library = "numpy" if isinstance(data, (np.ndarray, np.generic)) else type(data).__module__.split(".")[0]
            if index_library != data_library:
                raise TypeError(f"an index of {index_library} for data of {data_library}: microgradnp never converts "
                                "between array libraries silently; move one with t.to(library) first")
    return key


def _getitem_vjp(ns, g, out, a, *index, key):
    if not index:
        return ns.index_put(g, key, a.shape)
    # The rows of a at a traced integer tensor (see the adapter): g's rows added into them, as a one-hot
    # product, so that the pass is ops on the indices (batched by vmap like any input).
    rows, m = a.shape[0], math.prod(index[0].shape)
    at = ns.reshape(index[0], (m, 1))
    at = ns.where(at < 0, at + rows, at)  # NumPy's negative indices
    hot = at == ns.arange(rows)
    return ns.reshape(ns.matmul(ns.transpose(hot), ns.reshape(g, (m, math.prod(a.shape[1:])))), a.shape)


def _getitem_vjp_numpy(ns, g, out, a, *index, key):
    return ns.index_put(g, (index[0],) if index else key, a.shape)


def _getitem_batch(ns, args, batched, size, key):
    if len(args) == 1:
        return keyed_batch(ns, args, batched, size, key)
    (a, index), (ba, bi) = args, batched
    if not bi:
        return a[(slice(None), index)]  # the same rows of every example
    if not ba:
        return a[index]  # a batch of index arrays is one bigger index array
    rows = a.shape[1]  # each example's rows of its own table: one table of them all, the indices moved
    index = ns.where(index < 0, index + rows, index)
    offsets = ns.reshape(ns.arange(size) * rows, (size,) + (1,) * (index.ndim - 1))
    return ns.reshape(a, (size * rows,) + a.shape[2:])[index + offsets]


@defop(
    # (A parameter with a default, not *index: mg.compile inlines a forward of fixed parameters.)
    forward=lambda xp, a, index=None, key=(): a[key] if index is None else a[index],
    batch=_getitem_batch,
    vjp=(_getitem_vjp, lambda ns, g, out, a, index, key: ns.zeros_like(index)),
    numpy_vjp=(_getitem_vjp_numpy, lambda ns, g, out, a, index, key: ns.zeros_like(index)),
    jvp="linear",
    indices=(1,),
    formula="a[key];  da = zeros with g added at key (repeated indices accumulate)",
    test=OpTest("getitem", ref=lambda a, key: np.asarray(a)[key]),
    operators="__getitem__",
)
def getitem(x, key):
    """``x[key]``: basic slices, integers, ``None``, ``...``, integer arrays and boolean masks.

    VJP: the gradient is scattered back into zeros of ``x``'s shape; an index
    repeated in an integer array accumulates (``np.add.at``).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> x[np.array([0, 0, 2])].sum().backward()
    >>> x.grad
    array([2., 0., 1.])
    """
    if getattr(key, "_trace", None) is not None and key.dtype.kind in "iu":
        # An integer index traced by vmap has a value per example: an input of the op, not an attribute.
        return (x, key), {"key": ()}
    return (x,), {"key": _index_key(key, of=x)}


@defop(
    forward=lambda xp, v, key, shape: xp.index_put(v, key, shape),
    vjp=lambda ns, g, out, v, key, shape: g[key],
    jvp="linear",
    batch=_index_put_batch,
    formula="zeros(shape) with v added at key;  dv = g[key]",
    test=OpTest("index_put"),
)
def index_put(values, key, shape):
    """Zeros of ``shape`` with ``values`` added at ``key`` (repeated indices accumulate).

    The adjoint of indexing: ``index_put(g, key, x.shape)`` is the gradient
    of ``x[key]``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> mg.index_put(mg.tensor([1.0, 2.0]), np.array([1, 1]), (3,))
    tensor([0., 3., 0.])
    """
    return (values,), {"key": _index_key(key, of=values), "shape": tuple(shape)}


def _sequence(name: str, tensors) -> tuple:
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError(f"{name}() needs at least one tensor")
    return tensors


@defop(
    forward=lambda xp, *arrays, axis=0: xp.concatenate(arrays, axis=axis),
    batch=_joined_batch("concatenate"),
    vjp_all=_concatenate_vjp,
    jvp="linear",
    formula="inputs joined along axis;  d(input i) = g's slice of input i",
    test=OpTest("concatenate", ref=lambda *arrays, axis=0: np.concatenate([np.asarray(a) for a in arrays], axis=axis)),
    aliases="cat",
)
def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing ``axis`` (PyTorch's name: ``cat``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.concatenate([mg.ones(2), mg.zeros(1)])
    tensor([1., 1., 0.])
    """
    return _sequence("concatenate", tensors), {"axis": axis_arg(axis, dim, 0)}


@defop(
    forward=lambda xp, *arrays, axis=0: xp.stack(arrays, axis=axis),
    batch=_joined_batch("stack"),
    vjp_all=_stack_vjp,
    jvp="linear",
    formula="inputs stacked along a new axis;  d(input i) = g[..., i, ...]",
    test=OpTest("stack", ref=lambda *arrays, axis=0: np.moveaxis(np.array([np.asarray(a) for a in arrays]), 0, axis)),
)
def stack(tensors, axis=0, *, dim=None):
    """Join tensors of the same shape along a new ``axis``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.stack([mg.ones(2), mg.zeros(2)], axis=1)
    tensor([[1., 0.],
            [1., 0.]])
    """
    return _sequence("stack", tensors), {"axis": axis_arg(axis, dim, 0)}


# Axis permutations under NumPy's other names: one transpose each, labelled as called.


def _permute(xp, a, perm):
    return xp.transpose(a, perm)


def _unpermute(ns, g, out, a, perm):
    return ns.transpose(g, _inverse(perm))


def _permuted_by_einsum(a, perm):
    return np.einsum(a, list(range(a.ndim)), list(perm))


def _axis_list(name, x, axes) -> tuple:
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    nd = np.ndim(x)
    for ax in axes:
        checked_axis(name, x, int(ax))
    return tuple(int(ax) % nd for ax in axes)


@defop(
    forward=_permute,
    batch=_permute_batch,
    vjp=_unpermute,
    jvp="linear",
    formula="a with two axes exchanged;  da = g with them exchanged back",
    test=OpTest("permutation", ref=_permuted_by_einsum),
    method=True,
)
def swapaxes(x, axis1, axis2):
    """Exchange two axes (PyTorch also calls it ``transpose(dim0, dim1)``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.swapaxes(mg.zeros((2, 3, 4)), 0, 2).shape
    (4, 3, 2)
    """
    a1, a2 = _axis_list("swapaxes", x, (axis1, axis2))
    perm = list(range(np.ndim(x)))
    perm[a1], perm[a2] = perm[a2], perm[a1]
    return (x,), {"perm": tuple(perm)}


@defop(
    forward=_permute,
    batch=_permute_batch,
    vjp=_unpermute,
    jvp="linear",
    formula="axes of a moved to new positions;  da = g with them moved back",
    test=OpTest("permutation", ref=_permuted_by_einsum),
    method=True,
)
def moveaxis(x, source, destination):
    """Move axes to new positions, keeping the order of the others (NumPy's ``moveaxis``, PyTorch's ``movedim``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.moveaxis(mg.zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    src, dst = _axis_list("moveaxis", x, source), _axis_list("moveaxis", x, destination)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: {len(src)} source axes but {len(dst)} destinations")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axes in source {source!r} or destination {destination!r}")
    rest = iter(i for i in range(np.ndim(x)) if i not in src)
    placed = dict(zip(dst, src))
    return (x,), {"perm": tuple(placed[i] if i in placed else next(rest) for i in range(np.ndim(x)))}


@defop(
    forward=lambda xp, a: xp.reshape(a, (-1,)),
    vjp=_back_to_input_shape,
    jvp="linear",
    batch="reshape",
    formula="a as a vector (row-major order);  da = g reshaped back",
    test=OpTest("unary", ref=lambda a: np.array([a[i] for i in np.ndindex(*a.shape)]).reshape(-1)),
    method=True,
)
def ravel(x):
    """``x`` flattened to one axis in row-major order.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.ravel(mg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([1., 2., 3., 4.])
    """
    return (x,), None


def _tile_attrs(shape: tuple, reps) -> dict:
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: repetitions must be non-negative, got {reps}")
    nd = max(len(reps), len(shape))
    reps_p = (1,) * (nd - len(reps)) + reps
    shape_p = (1,) * (nd - len(shape)) + tuple(shape)
    return {"reps": reps, "blocks": tuple(n for pair in zip(reps_p, shape_p) for n in pair)}


@defop(
    forward=lambda xp, a, reps, blocks: xp.tile(a, reps),
    # The output, seen as (r0, s0, r1, s1, ...): the copies are the r axes; sum them.
    vjp=lambda ns, g, out, a, reps, blocks: ns.reshape(
        ns.sum(ns.reshape(g, blocks), axis=tuple(range(0, len(blocks), 2))), a.shape),
    jvp="linear",
    formula="a repeated as blocks reps times;  da = sum of g over the copies",
    test=OpTest("tile", ref=lambda a, reps, blocks: _tile_by_blocks(a, reps)),
)
def tile(x, reps):
    """``x`` laid out ``reps`` times along each axis (NumPy's ``tile``; PyTorch's ``repeat``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.tile(mg.tensor([1.0, 2.0]), 2)
    tensor([1., 2., 1., 2.])
    """
    return (x,), _tile_attrs(np.shape(x), reps)


def _tile_by_blocks(a, reps):
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = max(len(reps), a.ndim)
    a = a.reshape((1,) * (nd - a.ndim) + a.shape)
    reps = (1,) * (nd - len(reps)) + reps
    out = np.zeros(tuple(r * n for r, n in zip(reps, a.shape)))
    for idx in np.ndindex(*reps):
        out[tuple(slice(i * n, (i + 1) * n) for i, n in zip(idx, a.shape))] = a
    return out


@defop(
    forward=lambda xp, a, shift, axis=None: xp.roll(a, shift, axis),
    vjp=lambda ns, g, out, a, shift, axis=None: ns.roll(g, _negated(shift), axis),
    jvp="linear",
    batch="axis",
    formula="a shifted cyclically along axis;  da = g shifted back",
    test=OpTest("roll", ref=lambda a, shift, axis=None: _roll_by_index(a, shift, axis)),
    method=True,
)
def roll(x, shift, axis=None, *, dims=None):
    """Shift elements cyclically by ``shift`` along ``axis`` (the flattened input when ``None``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.roll(mg.tensor([1.0, 2.0, 3.0]), 1)
    tensor([3., 1., 2.])
    """
    axis = axis_arg(axis, dims)
    if axis is not None:
        for ax in axis if isinstance(axis, tuple) else (axis,):
            checked_axis("roll", x, ax)
    shift = int(shift) if isinstance(shift, (int, np.integer)) else tuple(int(s) for s in shift)
    return (x,), {"shift": shift, "axis": axis}


def _negated(shift):
    return -shift if isinstance(shift, int) else tuple(-s for s in shift)


def _roll_by_index(a, shift, axis):
    if axis is None:
        flat = a.reshape(-1)
        return flat[(np.arange(flat.size) - shift) % max(flat.size, 1)].reshape(a.shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    shifts = shift if isinstance(shift, tuple) else (shift,) * len(axes)
    for ax, s in zip(axes, shifts):
        n = a.shape[ax]
        a = np.take(a, (np.arange(n) - s) % n, axis=ax)
    return a


@defop(
    forward=lambda xp, a, k=1, axes=(0, 1): xp.rot90(a, k, axes),
    vjp=lambda ns, g, out, a, k=1, axes=(0, 1): ns.rot90(g, -k, axes),
    jvp="linear",
    formula="a turned k quarter turns in the plane of axes;  da = g turned back",
    test=OpTest("rot90", ref=lambda a, k=1, axes=(0, 1): _rot90_by_flips(a, k, axes)),
)
def rot90(x, k=1, axes=(0, 1), *, dims=None):
    """Rotate by ``k`` quarter turns in the plane of ``axes``, from the first axis towards the second.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.rot90(mg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[2., 4.],
            [1., 3.]])
    """
    axes = tuple(axis_arg(axes, dims, (0, 1)))
    if len(axes) != 2:
        raise ValueError(f"rot90: axes must name two axes, got {axes!r}")
    a1, a2 = _axis_list("rot90", x, axes)
    if a1 == a2:
        raise ValueError(f"rot90: the two axes must differ, got {axes!r}")
    return (x,), {"k": int(k) % 4, "axes": (a1, a2)}


def _rot90_by_flips(a, k, axes):
    for _ in range(k % 4):  # one quarter turn: reverse the second axis, then exchange the two
        a = np.swapaxes(np.flip(a, axes[1]), *axes)
    return a


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pad_vjp(ns, g, out, a, widths, mode, constant_values, key):
    if mode == "constant":
        return g[key]  # the interior: the padding is constant
    return ns.index_put(g, key, a.shape)  # every copy of an element gives it its gradient


def _pad(xp, a, widths, mode, constant_values, key):
    if not widths:  # a 0-d input: nothing to pad
        return xp.copy(a)
    return xp.pad(a, widths, mode=mode, **({"constant_values": constant_values} if mode == "constant" else {}))


@defop(
    forward=_pad,
    vjp=_pad_vjp,
    formula="a padded (constant, edge, reflect, symmetric, wrap);  da = g of the interior, plus g of every copy",
    test=OpTest("pad", ref=lambda a, widths, mode, constant_values, key: _pad_by_index(a, widths, mode,
                                                                                       constant_values)),
)
def pad(x, pad_width, mode="constant", constant_values=0.0):
    """Pad with NumPy's ``pad_width`` and ``mode`` (``"constant"``, ``"edge"``, ``"reflect"``,
    ``"symmetric"``, ``"wrap"``).

    ``pad_width`` is NumPy's: an int, a ``(before, after)`` pair, or one pair
    per axis (PyTorch's ``F.pad`` lists the last axis first; this does not).
    Padded copies of an element pass their gradient back to it.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = mg.pad(x, (2, 1), mode="edge")
    >>> y
    tensor([1., 1., 1., 2., 3., 3.], op=pad)
    >>> y.sum().backward()
    >>> x.grad
    array([3., 1., 2.])
    """
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(_PAD_MODES)}; got {mode!r}")
    shape = np.shape(x)
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (len(shape), 2)) if shape else \
            np.zeros((0, 2), dtype=np.int64)  # a 0-d input has no axis to pad (NumPy returns it as it is)
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an input of shape {shape}") from None
    if (widths < 0).any():
        raise ValueError(f"pad: widths must be non-negative, got {pad_width!r}")
    widths = tuple((int(b), int(e)) for b, e in widths)
    if mode == "constant":
        key = tuple(slice(b, b + n) for (b, _), n in zip(widths, shape))
    else:
        if any(n == 0 and b + e > 0 for (b, e), n in zip(widths, shape)):
            raise ValueError(f"pad: mode {mode!r} cannot pad an empty axis (shape {shape})")
        # Where each output element comes from: the same padding applied to the positions.
        maps = [np.pad(np.arange(n), w, mode=mode) for w, n in zip(widths, shape)]
        key = tuple(m.reshape((-1,) + (1,) * (len(shape) - 1 - d)) for d, m in enumerate(maps))
    return (x,), {"widths": widths, "mode": mode, "constant_values": float(constant_values), "key": key}


def _pad_by_index(a, widths, mode, constant_values):
    if a.ndim == 0:
        return a
    if mode == "constant":
        out = np.full(tuple(n + b + e for n, (b, e) in zip(a.shape, widths)), constant_values)
        out[tuple(slice(b, b + n) for (b, _), n in zip(widths, a.shape))] = a
        return out
    return np.pad(a, widths, mode=mode)
