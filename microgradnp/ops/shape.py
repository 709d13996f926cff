"""Shape ops: reshape, transpose, squeeze, expand_dims, flatten, broadcast_to,
indexing (``x[key]``) and its adjoint ``index_put``, concatenate and stack.

None of these changes a value, so each VJP only moves the gradient back into
the input's layout.
"""

from __future__ import annotations

import math

import numpy as np

from ..engine import _apply
from ..tensor import Tensor
from .registry import OpTest, defop, index_put_numpy

__all__ = [
    "reshape", "transpose", "squeeze", "expand_dims", "unsqueeze", "flatten", "broadcast_to",
    "getitem", "index_put", "concatenate", "stack",
]


def _back_to_input_shape(ns, g, out, a, **attrs):
    return g.reshape(a.shape)


def _flatten(a, start_dim=0, end_dim=-1):
    shape = a.shape
    if not shape:
        return a.reshape(1)
    nd = len(shape)
    s = start_dim + nd if start_dim < 0 else start_dim
    e = end_dim + nd if end_dim < 0 else end_dim
    if not 0 <= s <= e < nd:
        raise ValueError(f"flatten: start_dim={start_dim}, end_dim={end_dim} do not fit a {nd}-d shape {shape}")
    return a.reshape(shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])


def _transpose_vjp(ns, g, out, a, axes=None):
    if axes is None:
        return g.transpose()
    return g.transpose(*(int(i) for i in np.argsort(axes)))


def _shape_of(x) -> tuple:
    return x.shape if hasattr(x, "shape") else np.shape(x)


def _concatenate_vjp(ns, g, out, inputs, attrs, needs):
    ax = attrs["axis"]
    ax = ax + len(out.shape) if ax < 0 else ax
    grads, start = [], 0
    for x, need in zip(inputs, needs):
        stop = start + _shape_of(x)[ax]
        grads.append(g[(slice(None),) * ax + (slice(start, stop),)] if need else None)
        start = stop
    return grads


def _stack_vjp(ns, g, out, inputs, attrs, needs):
    ax = attrs["axis"]
    ax = ax + len(out.shape) if ax < 0 else ax
    return [g[(slice(None),) * ax + (i,)] if need else None for i, need in enumerate(needs)]


RESHAPE = defop(
    "reshape", lambda a, shape: np.reshape(a, shape),
    _back_to_input_shape,
    formula="a with a new shape;  da = g reshaped back",
    test=OpTest("reshape", ref=lambda a, shape: np.asarray(a).reshape(shape)),
)
TRANSPOSE = defop(
    "transpose", lambda a, axes=None: np.transpose(a, axes),
    _transpose_vjp,
    formula="a with axes permuted;  da = g with the inverse permutation",
    test=OpTest(
        "transpose",
        ref=lambda a, axes=None: np.einsum(a, list(range(a.ndim)), list(range(a.ndim))[::-1] if axes is None else list(axes)),
    ),
)
SQUEEZE = defop(
    "squeeze", lambda a, axis=None: np.squeeze(a, axis=axis),
    _back_to_input_shape,
    formula="a without size-1 axes;  da = g reshaped back",
    test=OpTest("squeeze", ref=lambda a, axis=None: np.squeeze(a.copy(), axis=axis)),
)
EXPAND_DIMS = defop(
    "expand_dims", lambda a, axis: np.expand_dims(a, axis),
    _back_to_input_shape,
    formula="a with new size-1 axes;  da = g reshaped back",
    test=OpTest("expand_dims", ref=lambda a, axis: np.expand_dims(a.copy(), axis)),
)
FLATTEN = defop(
    "flatten", _flatten,
    _back_to_input_shape,
    formula="axes start_dim..end_dim merged into one;  da = g reshaped back",
    test=OpTest("flatten", ref=lambda a, start_dim=0, end_dim=-1: np.asarray(a).reshape(_flatten(a, start_dim, end_dim).shape)),
)
BROADCAST_TO = defop(
    "broadcast_to", lambda a, shape: np.broadcast_to(a, shape),
    lambda ns, g, out, a, shape: g,  # the engine sums g back over the broadcast axes
    formula="a repeated to shape;  da = g summed over the repeated axes",
    test=OpTest("broadcast_to", ref=lambda a, shape: a * np.ones(shape)),
)
GETITEM = defop(
    "getitem", lambda a, key: a[key],
    lambda ns, g, out, a, key: ns.index_put(g, key, a.shape),
    formula="a[key];  da = zeros with g added at key (repeated indices accumulate)",
    test=OpTest("getitem", ref=lambda a, key: np.asarray(a)[key]),
)
INDEX_PUT = defop(
    "index_put", lambda v, key, shape: index_put_numpy(v, key, shape),
    lambda ns, g, out, v, key, shape: g[key],
    formula="zeros(shape) with v added at key;  dv = g[key]",
    test=OpTest("index_put"),
)
CONCATENATE = defop(
    "concatenate", lambda *arrays, axis=0: np.concatenate(arrays, axis=axis),
    vjp_all=_concatenate_vjp,
    formula="inputs joined along axis;  d(input i) = g's slice of input i",
    test=OpTest("concatenate", ref=lambda *arrays, axis=0: np.concatenate([np.asarray(a) for a in arrays], axis=axis)),
)
STACK = defop(
    "stack", lambda *arrays, axis=0: np.stack(arrays, axis=axis),
    vjp_all=_stack_vjp,
    formula="inputs stacked along a new axis;  d(input i) = g[..., i, ...]",
    test=OpTest("stack", ref=lambda *arrays, axis=0: np.moveaxis(np.array([np.asarray(a) for a in arrays]), 0, axis)),
)


def reshape(x, shape):
    """Give ``x`` a new shape with the same number of elements (``-1`` infers one axis).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.reshape(mg.tensor([1.0, 2.0, 3.0, 4.0]), (2, -1))
    tensor([[1., 2.],
            [3., 4.]])
    """
    return _apply(RESHAPE, x, shape=shape)


def transpose(x, axes=None):
    """Permute the axes (reverse them when ``axes`` is ``None``, like NumPy's ``.T``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.transpose(mg.tensor([[1.0, 2.0]])).shape
    (2, 1)
    """
    return _apply(TRANSPOSE, x, axes=None if axes is None else tuple(axes))


def squeeze(x, axis=None):
    """Remove axes of size 1 (all of them, or those in ``axis``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.squeeze(mg.zeros((1, 3, 1))).shape
    (3,)
    """
    return _apply(SQUEEZE, x, axis=axis)


def expand_dims(x, axis):
    """Insert axes of size 1 at ``axis`` (an int or a tuple).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.expand_dims(mg.zeros(3), 0).shape
    (1, 3)
    """
    return _apply(EXPAND_DIMS, x, axis=axis)


def unsqueeze(x, dim):
    """PyTorch's name for :func:`expand_dims`.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.unsqueeze(mg.zeros(3), -1).shape
    (3, 1)
    """
    return _apply(EXPAND_DIMS, x, axis=dim)


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
    return _apply(FLATTEN, x, start_dim=start_dim, end_dim=end_dim)


def broadcast_to(x, shape):
    """Repeat ``x`` to ``shape`` by NumPy's broadcasting rules (PyTorch's ``expand``).

    The VJP sums the gradient back over the repeated axes.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.broadcast_to(mg.tensor([1.0, 2.0]), (2, 2))
    tensor([[1., 2.],
            [1., 2.]])
    """
    return _apply(BROADCAST_TO, x, shape=tuple(shape) if not isinstance(shape, int) else (shape,))


def _index_part(k):
    if isinstance(k, Tensor):
        k = k.data
        if k.dtype.kind == "f":
            raise IndexError(
                f"a Tensor used as an index must hold integers or booleans, got {k.dtype}; "
                "make it with dtype=int (Tensors made from Python ints default to float64)"
            )
    elif isinstance(k, list):
        k = np.asarray(k)
    return k


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
    key = tuple(_index_part(k) for k in key) if isinstance(key, tuple) else _index_part(key)
    return _apply(GETITEM, x, key=key)


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
    key = tuple(_index_part(k) for k in key) if isinstance(key, tuple) else _index_part(key)
    return _apply(INDEX_PUT, values, key=key, shape=tuple(shape))


def concatenate(tensors, axis=0):
    """Join tensors along an existing ``axis``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.concatenate([mg.ones(2), mg.zeros(1)])
    tensor([1., 1., 0.])
    """
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError("concatenate() needs at least one tensor")
    return _apply(CONCATENATE, *tensors, axis=axis)


def stack(tensors, axis=0):
    """Join tensors of the same shape along a new ``axis``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.stack([mg.ones(2), mg.zeros(2)], axis=1)
    tensor([[1., 0.],
            [1., 0.]])
    """
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError("stack() needs at least one tensor")
    return _apply(STACK, *tensors, axis=axis)
