"""Linear algebra: ``matmul`` with NumPy's semantics (1-D operands, batched N-D operands), and ``linear``."""

from __future__ import annotations

import math

import numpy as np

from .registry import OpTest, defop


def _mT(ns, x):
    """Swap the last two axes (the matrix transpose of a stack of matrices)."""
    nd = x.ndim
    return ns.transpose(x, None if nd == 2 else tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _col(x):
    """``x`` with a trailing axis of size 1."""
    return x[..., None]


def _row(ns, x):
    """``x`` with an axis of size 1 before its last one."""
    return ns.reshape(x, x.shape[:-1] + (1, x.shape[-1]))


def _matmul_vjp_a(ns, g, out, a, b):
    if b.ndim == 1:
        if a.ndim == 1:  # (k,) @ (k,) -> scalar
            return g * b
        return _col(g) * b  # (..., m, k) @ (k,) -> (..., m): outer products g b^T
    if a.ndim == 1:  # (k,) @ (..., k, n) -> (..., n); batch axes are summed by the engine
        return ns.matmul(b, g) if b.ndim == 2 else ns.reshape(ns.matmul(b, _col(g)), b.shape[:-1])
    return ns.matmul(g, _mT(ns, b))


def _matmul_vjp_b(ns, g, out, a, b):
    if a.ndim == 1:
        if b.ndim == 1:
            return g * a
        return _col(a) * _row(ns, g)  # outer products a g^T
    if b.ndim == 1:  # (..., m, k) @ (k,): g has shape (..., m)
        if a.ndim == 2:
            return ns.matmul(g, a)
        return ns.reshape(ns.matmul(_mT(ns, a), _col(g)), a.shape[:-2] + (a.shape[-1],))
    return ns.matmul(_mT(ns, a), g)


def _matmul_ref(a, b):
    """matmul by einsum, 1-D operands promoted and demoted by hand."""
    r = np.einsum("...ij,...jk->...ik", a[None, :] if a.ndim == 1 else a, b[:, None] if b.ndim == 1 else b)
    if a.ndim == 1:
        r = r[..., 0, :]
    if b.ndim == 1:
        r = r[..., 0]
    return r


@defop(
    forward="matmul",
    vjp=(_matmul_vjp_a, _matmul_vjp_b),
    formula="a @ b;  da = g @ b^T, db = a^T @ g  (batch axes summed back)",
    test=OpTest("matmul", ref=_matmul_ref, rtol=1e-10),
    method=True, operators=("__matmul__", "__rmatmul__"), ufunc="matmul",
)
def matmul(a, b):
    """Matrix product ``a @ b`` with NumPy's rules.

    1-D operands are promoted to a row (left) or column (right) and the added
    axis is removed again; N-D operands are stacks of matrices, broadcast
    over the leading axes.  Mismatched inner dimensions raise ``ValueError``
    naming both shapes.

    Examples
    --------
    >>> import microgradnp as mg
    >>> a = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> (a @ mg.tensor([1.0, 1.0])).sum().backward()
    >>> a.grad
    array([[1., 1.],
           [1., 1.]])
    """
    return (a, b), None


# linear: x @ W^T + b fused into one node.  Fused for speed (one graph node
# per layer instead of matmul + transpose + add); the registry tests check it
# against its composed twin.


def _linear(xp, x, W, b=None):
    out = xp.matmul(x, xp.transpose(W))
    if b is not None:
        out += b  # out is a fresh array: add in place, no extra allocation
    return out


def _rows(ns, a, width: int):
    """``a`` as a matrix of ``width`` columns, every batch axis flattened into rows
    (the row count is explicit: with a zero width, -1 would be ambiguous)."""
    return ns.reshape(a, (math.prod(a.shape[:-1]), width))


def _linear_vjp_W(ns, g, out, x, W, b=None):
    # Sum over every batch axis: dW = sum_n g_n x_n^T.
    return ns.matmul(ns.transpose(_rows(ns, g, W.shape[0])), _rows(ns, x, W.shape[1]))


@defop(
    forward=_linear,
    vjp=(
        lambda ns, g, out, x, W, b=None: ns.matmul(g, W),
        _linear_vjp_W,
        lambda ns, g, out, x, W, b=None: ns.sum(_rows(ns, g, W.shape[0]), axis=0),  # summed over the batch
    ),
    formula="x @ W^T + b;  dx = g @ W, dW = sum over batch of g^T x, db = sum over batch of g",
    test=OpTest(
        "linear",
        ref=lambda x, W, b=None: np.einsum("...i,oi->...o", x, W) + (0.0 if b is None else b),
        rtol=1e-10,
    ),
)
def linear(x, weight, bias=None):
    """Affine map ``x @ weight.T + bias``, as in a dense layer (PyTorch's ``F.linear``).

    ``weight`` has shape ``(out_features, in_features)``; ``x`` has shape
    ``(..., in_features)`` (a single example or any batch axes); ``bias`` is
    ``(out_features,)`` or ``None``.  One graph node instead of three.

    Examples
    --------
    >>> import microgradnp as mg
    >>> W = mg.tensor([[1.0, 2.0], [0.0, 1.0], [1.0, 1.0]], requires_grad=True)
    >>> y = mg.linear(mg.tensor([[1.0, 1.0]]), W, mg.tensor([0.5, 0.0, 0.0]))
    >>> y
    tensor([[3.5, 1. , 2. ]], op=linear)
    >>> y.sum().backward()
    >>> W.grad
    array([[1., 1.],
           [1., 1.],
           [1., 1.]])
    """
    return ((x, weight) if bias is None else (x, weight, bias)), None
