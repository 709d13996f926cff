"""``mg.linalg``: NumPy's ``np.linalg`` on Tensors, differentiable to any order.

The decompositions, inverses and ``vector_norm`` are registry ops
(:mod:`microgradnp.ops.linalg`, installed here from the registry); the
functions below are written with them, so their derivatives come from the
ops they use:

* ``norm`` and ``matrix_norm``: NumPy's choice of vector or matrix norm by
  ``ord`` and ``axis``; ``'nuc'``, ``2`` and ``-2`` from the singular values,
  ``1``, ``-1``, ``inf``, ``-inf`` from sums of absolute values;
* ``matrix_power``: repeated squaring with ``matmul`` (``inv`` first for a
  negative power), in NumPy's order of products;
* ``lstsq``: NumPy's four results (solution, residuals, rank, singular values);
* ``eigvalsh`` and ``svdvals``: the values alone.

``np.linalg.<name>`` called on a Tensor comes here (``Tensor.__array_function__``).
"""

from __future__ import annotations

import math

import numpy as np

from . import api
from ._tensor import Tensor, as_tensor
from .api import implements
from .ops.reduce import checked_axis

#: NumPy's error for singular or non-positive-definite matrices, raised as it is.
LinAlgError = np.linalg.LinAlgError

# The registry's ops of this namespace, by name (a test checks that none is missing).
inv, det, slogdet, solve, cholesky, eigh, eig, svd, qr, pinv, vector_norm = (
    api.NAMESPACES["linalg"][name]
    for name in ("inv", "det", "slogdet", "solve", "cholesky", "eigh", "eig", "svd", "qr", "pinv", "vector_norm")
)

__all__ = [
    "inv", "det", "slogdet", "solve", "cholesky", "eigh", "eig", "svd", "qr", "pinv", "vector_norm",
    "norm", "matrix_norm", "matrix_power", "lstsq", "eigvalsh", "eigvals", "svdvals", "LinAlgError",
]

_MATRIX_ORDS = (None, "fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


@implements(np.linalg.matrix_norm) if hasattr(np.linalg, "matrix_norm") else (lambda f: f)
def matrix_norm(x, ord="fro", keepdims=False, dim=(-2, -1)):
    """A matrix norm over two axes (``dim``, PyTorch's name: the last two by default), as ``np.linalg.matrix_norm``.

    ``ord``: ``'fro'`` (default), ``'nuc'`` (sum of singular values), ``2`` /
    ``-2`` (largest / smallest singular value), ``1`` / ``-1`` (largest /
    smallest column sum of ``|x|``), ``inf`` / ``-inf`` (row sums).  The
    derivatives are those of the ops used: the singular values' (see
    ``svd``), and ``max``'s even split on ties.

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    >>> mg.linalg.matrix_norm(A, ord=1)  # the largest column sum of |A|
    tensor(6., op=max)
    """
    x = _tensor(x)
    if ord not in _MATRIX_ORDS:
        raise ValueError(f"matrix_norm: invalid norm order {ord!r} for matrices; use one of {_MATRIX_ORDS}")
    axis = checked_axis("matrix_norm", x, tuple(dim))
    if len(axis) != 2 or x.ndim < 2:
        raise ValueError(f"matrix_norm: needs two axes of an array of 2 or more dimensions, got axis={axis} "
                         f"for shape {x.shape}")
    row, col = (a % x.ndim for a in axis)
    if row == col:
        raise ValueError(f"matrix_norm: the two axes must differ, got axis={axis}")
    if ord in (None, "fro"):
        return vector_norm(x, 2, axis=(row, col), keepdims=keepdims)
    if ord in ("nuc", 2, -2):
        s = svd(x.moveaxis((row, col), (-2, -1)), compute_uv=False)
        r = s.sum(axis=-1) if ord == "nuc" else (s.max(axis=-1) if ord == 2 else s.min(axis=-1))
    else:  # 1, -1: over columns (sum down each column); inf, -inf: over rows
        summed, over = (row, col) if ord in (1, -1) else (col, row)
        sums = abs(x).sum(axis=summed)
        over -= over > summed
        r = sums.max(axis=over) if ord in (1, math.inf) else sums.min(axis=over)
    if keepdims:
        r = r.reshape(tuple(1 if i in (row, col) else n for i, n in enumerate(x.shape)))
    return r


@implements(np.linalg.norm)
def norm(x, ord=None, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """A vector or matrix norm, chosen as ``np.linalg.norm`` chooses it.

    ``axis=None``: the 2-norm of all elements when ``ord`` is None;
    otherwise ``x`` must be 1-D (vector norm) or 2-D (matrix norm).  An int
    axis gives vector norms along it, a pair of axes matrix norms over them.
    See :func:`vector_norm` and :func:`matrix_norm` for the orders and the
    gradients at kinks (a zero vector's 2-norm has gradient 0, as in PyTorch).

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([[3.0, 0.0], [0.0, 4.0]], requires_grad=True)
    >>> n = mg.linalg.norm(x)
    >>> n
    tensor(5., op=vector_norm)
    >>> n.backward()
    >>> x.grad
    array([[0.6, 0. ],
           [0. , 0.8]])
    >>> float(mg.linalg.norm(x, ord=2).data)  # the largest singular value
    4.0
    """
    if dim is not None:  # PyTorch's names
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    x = _tensor(x)
    if axis is None:
        if ord is None:
            return vector_norm(x, 2, axis=None, keepdims=keepdims)
        if x.ndim == 1:
            axis = (0,)
        elif x.ndim == 2:
            axis = (0, 1)
        else:
            raise ValueError(f"norm: with ord={ord!r} and no axis, x must be 1-D or 2-D, got shape {x.shape}")
    elif not isinstance(axis, tuple):
        axis = (axis,)
    if len(axis) == 1:
        if isinstance(ord, str):
            raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
        return vector_norm(x, 2 if ord is None else ord, axis=axis[0], keepdims=keepdims)
    if len(axis) == 2:
        return matrix_norm(x, "fro" if ord is None else ord, keepdims=keepdims, dim=axis)
    raise ValueError(f"norm: axis must be None, an int or a pair of ints, got {axis!r}")


@implements(np.linalg.matrix_power)
def matrix_power(a, n):
    """``a`` raised to the integer power ``n`` by repeated squaring (``inv(a)`` first when ``n < 0``).

    The products are taken in NumPy's order, so the values are NumPy's.
    ``n = 0`` gives the identity; it stays attached to ``a`` with a zero
    gradient (as in PyTorch).

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[1.0, 1.0], [0.0, 1.0]], requires_grad=True)
    >>> mg.linalg.matrix_power(A, 3)
    tensor([[1., 3.],
            [0., 1.]], op=matmul)
    """
    a = _tensor(a)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power: the exponent must be an integer, got {n!r}")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise LinAlgError(f"matrix_power: needs square matrices (the last two axes), got shape {a.shape}")
    n = int(n)
    if n == 0:
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
        return api.where(np.ones(a.shape, dtype=bool), eye, a)  # the identity, with a zero gradient to a
    if n < 0:
        a, n = inv(a), -n
    if n == 1:
        return a * 1.0
    if n <= 3:
        return a @ a if n == 2 else (a @ a) @ a
    z = result = None  # NumPy's binary decomposition: the same products in the same order
    while n > 0:
        z = a if z is None else z @ z
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else result @ z
    return result


@implements(np.linalg.lstsq)
def lstsq(a, b, rcond=None):
    """Least squares, as ``np.linalg.lstsq``: ``(x, residuals, rank, s)``.

    ``x`` minimises ``|b - a x|`` (the smallest such ``x`` when ``a`` is
    rank-deficient); ``residuals`` are the squared residual norms per column
    of ``b`` (shape ``(1,)`` for a 1-D ``b``) when ``a`` has full column rank
    and more rows than columns, else empty; ``rank`` is an int; ``s`` are the
    singular values of ``a``.  ``rcond=None`` is machine epsilon times
    ``max(M, N)``.  ``x``, ``residuals`` and ``s`` are differentiable where the
    rank does not change.

    Examples
    --------
    >>> import microgradnp as mg
    >>> a = mg.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    >>> b = mg.tensor([1.0, 2.0, 4.0], requires_grad=True)
    >>> x, residuals, rank, s = mg.linalg.lstsq(a, b)
    >>> x.data.round(6), residuals.data.round(6), rank
    (array([0.833333, 1.5     ]), array([0.166667]), 2)
    """
    a, b = _tensor(a), _tensor(b)
    x = api.FUNCTIONS["lstsq_solution"](a, b, rcond)
    s = svd(a, compute_uv=False)
    m, n = a.shape
    cutoff = (float(np.finfo(a.dtype).eps) * max(m, n) if rcond is None else rcond) * (s.data.max() if s.size else 0)
    rank = int((s.data > cutoff).sum())
    if rank == n and m > n:
        r = b - a @ x
        residuals = (r * r).sum(axis=0)
        residuals = residuals.reshape((1,)) if b.ndim == 1 else residuals
    else:
        residuals = Tensor(np.empty((0,), dtype=np.result_type(a.dtype, b.dtype)))
    return x, residuals, rank, s


@implements(np.linalg.eigvalsh)
def eigvalsh(a, UPLO="L"):
    """The eigenvalues (ascending) of a symmetric matrix: ``eigh(a, UPLO).eigenvalues``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.linalg.eigvalsh(mg.tensor([[2.0, 1.0], [1.0, 2.0]]))
    tensor([1., 3.])
    """
    return eigh(a, UPLO).eigenvalues


@implements(np.linalg.eigvals)
def eigvals(a):
    """The eigenvalues of a general square matrix, complex: ``eig(a).eigenvalues`` (their gradient needs no
    phase of an eigenvector: any loss of them has one).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.linalg.eigvals(mg.tensor([[0.0, -1.0], [1.0, 0.0]]))  # a rotation: e^{+-i pi/2}
    tensor([0.+1.j, 0.-1.j], dtype=complex128)
    """
    return eig(a).eigenvalues


@implements(np.linalg.svdvals) if hasattr(np.linalg, "svdvals") else (lambda f: f)
def svdvals(x):
    """The singular values (descending): ``svd(x, compute_uv=False)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.linalg.svdvals(mg.tensor([[0.0, 2.0], [1.0, 0.0]]))
    tensor([2., 1.])
    """
    return svd(x, compute_uv=False)
