"""Shape ops: reshape, transpose, squeeze, expand_dims, flatten, broadcast_to,
indexing (``x[key]``) and its adjoint ``index_put``, concatenate and stack.

None of these changes a value, so each VJP only moves the gradient back into
the input's layout.
"""

from __future__ import annotations

import math

import numpy as np

from .reduce import axis_arg
from .registry import OpTest, defop


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


def _inverse(axes) -> tuple:
    """The inverse of a permutation of axes."""
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


def _concatenate_vjp(ns, g, out, inputs, attrs, needs):
    ax = attrs["axis"]
    ax = ax + len(out.shape) if ax < 0 else ax
    grads, start = [], 0
    for x, need in zip(inputs, needs):
        stop = start + x.shape[ax]
        grads.append(g[(slice(None),) * ax + (slice(start, stop),)] if need else None)
        start = stop
    return grads


def _stack_vjp(ns, g, out, inputs, attrs, needs):
    ax = attrs["axis"]
    ax = ax + len(out.shape) if ax < 0 else ax
    return [g[(slice(None),) * ax + (i,)] if need else None for i, need in enumerate(needs)]


def _shape_arg(shape) -> tuple:
    """``f(x, 2, 3)``, ``f(x, (2, 3))`` and ``f(x, [2, 3])`` all mean the shape ``(2, 3)``."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


@defop(
    forward=lambda xp, a, shape: xp.reshape(a, shape),
    vjp=_back_to_input_shape,
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
    vjp=lambda ns, g, out, a, axes=None: ns.transpose(g, None if axes is None else _inverse(axes)),
    formula="a with axes permuted;  da = g with the inverse permutation",
    test=OpTest(
        "transpose",
        ref=lambda a, axes=None: np.einsum(a, list(range(a.ndim)), list(range(a.ndim))[::-1] if axes is None else list(axes)),
    ),
    method=True, properties="T",
)
def transpose(x, *axes):
    """Permute the axes (reverse them when no axes are given, like NumPy's ``.T``).

    ``transpose(x, (1, 0))`` and ``transpose(x, 1, 0)`` are the same; negative
    axes count from the end.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.transpose(mg.tensor([[1.0, 2.0]])).shape
    (2, 1)
    """
    if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
        axes = axes[0]
    if axes is None or len(axes) == 0:
        return (x,), {"axes": None}
    nd = np.ndim(x)
    return (x,), {"axes": tuple(int(a) % nd if -nd <= a < nd else int(a) for a in axes)}


@defop(
    forward=lambda xp, a, axis=None: xp.squeeze(a, axis=axis),
    vjp=_back_to_input_shape,
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
    vjp=lambda ns, g, out, a, shape: g,  # the engine sums g back over the broadcast axes
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
        k = np.asarray(k)  # a Tensor gives its array through __array__
        if k.dtype.kind == "f":
            raise IndexError(
                f"an array or Tensor used as an index must hold integers or booleans, got {k.dtype}; "
                "make it with dtype=int (Tensors made from Python ints default to float64)"
            )
    return k


def _index_key(key):
    return tuple(_index_part(k) for k in key) if isinstance(key, tuple) else _index_part(key)


@defop(
    forward=lambda xp, a, key: a[key],
    vjp=lambda ns, g, out, a, key: ns.index_put(g, key, a.shape),
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
    return (x,), {"key": _index_key(key)}


@defop(
    forward=lambda xp, v, key, shape: xp.index_put(v, key, shape),
    vjp=lambda ns, g, out, v, key, shape: g[key],
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
    return (values,), {"key": _index_key(key), "shape": tuple(shape)}


def _sequence(name: str, tensors) -> tuple:
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError(f"{name}() needs at least one tensor")
    return tensors


@defop(
    forward=lambda xp, *arrays, axis=0: xp.concatenate(arrays, axis=axis),
    vjp_all=_concatenate_vjp,
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
    vjp_all=_stack_vjp,
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
