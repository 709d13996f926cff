"""Matrix structure: diagonal, diag, trace, tril, triu.

These pick or mask entries, so each VJP puts the gradient back on the same
entries: diagonals through a precomputed index (the adapter builds it once
from the shape), triangles through the same triangular mask.
"""

from __future__ import annotations

import numpy as np

from .reduce import checked_axis, inverse_permutation
from .registry import OpTest, defop


def _diagonal_index(rows: int, cols: int, offset: int) -> tuple:
    """Row and column indices of the ``offset`` diagonal of a ``rows x cols`` matrix."""
    return tuple(np.nonzero(np.eye(rows, cols, k=offset, dtype=bool)))


def _place_on_diagonal(ns, g, a, key, perm):
    """Zeros of ``a``'s shape with ``g`` (last axis: the diagonal) on the diagonal that ``key`` picks."""
    moved = tuple(a.shape[i] for i in perm)
    return ns.transpose(ns.index_put(g, (Ellipsis,) + key, moved), inverse_permutation(perm))


def _needs_matrix(name: str, x) -> int:
    """``x``'s number of dimensions, which must be at least two (a matrix or a stack of them)."""
    nd = np.ndim(x)
    if nd < 2:
        raise ValueError(f"{name} needs an input with at least two dimensions, got shape {np.shape(x)}")
    return nd


def _diagonal_attrs(name, x, offset, axis1, axis2):
    nd = _needs_matrix(name, x)
    a1, a2 = (checked_axis(name, x, ax) % nd for ax in (axis1, axis2))
    if a1 == a2:
        raise ValueError(f"{name}: axis1 and axis2 must differ, both are {a1}")
    shape = np.shape(x)
    perm = tuple(i for i in range(nd) if i not in (a1, a2)) + (a1, a2)
    return {"offset": int(offset), "axis1": a1, "axis2": a2,
            "key": _diagonal_index(shape[a1], shape[a2], int(offset)), "perm": perm}


@defop(
    forward=lambda xp, a, offset, axis1, axis2, key, perm: xp.copy(xp.diagonal(a, offset, axis1, axis2)),
    vjp=lambda ns, g, out, a, offset, axis1, axis2, key, perm: _place_on_diagonal(ns, g, a, key, perm),
    jvp="linear",
    formula="the offset diagonal of a (over axis1, axis2), as the last axis;  da = g placed on that diagonal",
    test=OpTest("diagonal", ref=lambda a, offset, axis1, axis2, key, perm: np.transpose(a, perm)[(Ellipsis,) + key]),
    method=True,
)
def diagonal(x, offset=0, axis1=0, axis2=1):
    """The ``offset`` diagonal over ``axis1`` and ``axis2``, as the last axis (NumPy's ``diagonal``).

    Unlike NumPy's read-only view, the result is a new array.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.diagonal(mg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([1., 4.])
    """
    return (x,), _diagonal_attrs("diagonal", x, offset, axis1, axis2)


@defop(
    forward=lambda xp, a, offset, axis1, axis2, key, perm: xp.trace(a, offset, axis1, axis2),
    vjp=lambda ns, g, out, a, offset, axis1, axis2, key, perm: _place_on_diagonal(
        ns, ns.broadcast_to(ns.reshape(g, g.shape + (1,)), g.shape + (key[0].shape[0],)), a, key, perm),
    jvp="linear",
    formula="sum of the offset diagonal of a;  da = g on that diagonal, 0 elsewhere",
    test=OpTest("diagonal", ref=lambda a, offset, axis1, axis2, key, perm: np.sum(
        np.transpose(a, perm)[(Ellipsis,) + key], axis=-1)),
    method=True,
)
def trace(x, offset=0, axis1=0, axis2=1):
    """Sum along the ``offset`` diagonal (over ``axis1`` and ``axis2``; other axes are kept).

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> mg.trace(x).backward()
    >>> x.grad
    array([[1., 0.],
           [0., 1.]])
    """
    return (x,), _diagonal_attrs("trace", x, offset, axis1, axis2)


def _diag_vjp(ns, g, out, a, k, key):
    if a.ndim == 1:  # a was placed on a diagonal: take it back off
        return g[key]
    return ns.index_put(g, key, a.shape)


@defop(
    forward=lambda xp, a, k, key: xp.diag(a, k),
    vjp=_diag_vjp,
    jvp="linear",
    formula="1-D: a matrix with a on diagonal k; 2-D: diagonal k of a;  da = g's diagonal k, or g on it",
    test=OpTest("diag", ref=lambda a, k, key: np.diagflat(a, k) if a.ndim == 1 else a[key]),
)
def diag(x, k=0):
    """NumPy's ``diag``: a 1-D input becomes a square matrix with it on diagonal ``k``; a 2-D
    input gives its diagonal ``k``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.diag(mg.tensor([1.0, 2.0]))
    tensor([[1., 0.],
            [0., 2.]])
    """
    shape = np.shape(x)
    if len(shape) == 1:
        n = shape[0] + abs(int(k))
        return (x,), {"k": int(k), "key": _diagonal_index(n, n, int(k))}
    if len(shape) == 2:
        return (x,), {"k": int(k), "key": _diagonal_index(shape[0], shape[1], int(k))}
    raise ValueError(f"diag needs a 1-D or 2-D input, got shape {shape}; use diagonal() for stacks of matrices")


def _triangle(ns, a, k, lower: bool):
    """The mask of ``tril(a, k)`` (or ``triu``) over the last two axes, in ``a``'s dtype."""
    n, m = a.shape[-2], a.shape[-1]
    return ns.tri(n, m, k, dtype=a.dtype) if lower else 1 - ns.tri(n, m, k - 1, dtype=a.dtype)


def _triangle_ref(a, k: int, lower: bool):
    """The reference: keep the entries whose column minus row is at most (at least) ``k``."""
    offset = np.arange(a.shape[-1]) - np.arange(a.shape[-2])[:, None]
    return np.where(offset <= k if lower else offset >= k, a, 0.0)


@defop(
    forward=lambda xp, a, k=0: xp.tril(a, k),
    vjp=lambda ns, g, out, a, k=0: g * _triangle(ns, a, k, True),
    jvp="linear",
    batch="trailing",
    formula="a with the entries above diagonal k zeroed;  da = g with the same entries zeroed",
    test=OpTest("triangle", ref=lambda a, k=0: _triangle_ref(a, k, lower=True)),
    method=True,
)
def tril(x, k=0):
    """Lower triangle of the last two axes: entries above diagonal ``k`` become 0.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.tril(mg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[1., 0.],
            [3., 4.]])
    """
    _needs_matrix("tril", x)
    return (x,), {"k": int(k)}


@defop(
    forward=lambda xp, a, k=0: xp.triu(a, k),
    vjp=lambda ns, g, out, a, k=0: g * _triangle(ns, a, k, False),
    jvp="linear",
    batch="trailing",
    formula="a with the entries below diagonal k zeroed;  da = g with the same entries zeroed",
    test=OpTest("triangle", ref=lambda a, k=0: _triangle_ref(a, k, lower=False)),
    method=True,
)
def triu(x, k=0):
    """Upper triangle of the last two axes: entries below diagonal ``k`` become 0.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.triu(mg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[1., 2.],
            [0., 4.]])
    """
    _needs_matrix("triu", x)
    return (x,), {"k": int(k)}
