"""Linear algebra: ``matmul`` with NumPy's semantics (1-D operands, batched N-D operands)."""

from __future__ import annotations

import numpy as np

from ..engine import _apply
from .registry import NUMPY_NS, OpTest, defop

__all__ = ["matmul", "linear"]


def _matmul(a, b):
    # For operands of one or two dimensions np.dot and np.matmul agree, and
    # ndarray.dot is about three times faster on the small matrices of
    # per-example training.  0-d and N-d operands go to np.matmul, which also
    # raises for scalars as matmul must.
    if 0 < a.ndim <= 2 and 0 < b.ndim <= 2:
        return a.dot(b)
    return np.matmul(a, b)


def _mT(x):
    """Swap the last two axes (the matrix transpose of a stack of matrices)."""
    if x.ndim == 2:
        return x.T
    return x.transpose(*range(x.ndim - 2), x.ndim - 1, x.ndim - 2)


def _mm(ns, x, y):
    """``x @ y``, through ndarray.dot on the NumPy path when that is the same product."""
    if ns is NUMPY_NS and x.ndim <= 2 and y.ndim <= 2:
        return x.dot(y)
    return x @ y


def _col(x):
    """``x`` with a trailing axis of size 1 (np.expand_dims is a slow Python function)."""
    return x[..., None]


def _row(x):
    """``x`` with an axis of size 1 before its last one."""
    return x.reshape(x.shape[:-1] + (1, x.shape[-1]))


def _matmul_vjp_a(ns, g, out, a, b):
    if b.ndim == 1:
        if a.ndim == 1:  # (k,) @ (k,) -> scalar
            return g * b
        return _col(g) * b  # (..., m, k) @ (k,) -> (..., m): outer products g b^T
    if a.ndim == 1:  # (k,) @ (..., k, n) -> (..., n); batch axes are summed by the engine
        return _mm(ns, b, g) if b.ndim == 2 else (b @ _col(g)).reshape(b.shape[:-1])
    return _mm(ns, g, _mT(b))


def _matmul_vjp_b(ns, g, out, a, b):
    if a.ndim == 1:
        if b.ndim == 1:
            return g * a
        return _col(a) * _row(g)  # outer products a g^T
    if b.ndim == 1:  # (..., m, k) @ (k,): g has shape (..., m)
        return _mm(ns, g, a) if a.ndim == 2 else (_mT(a) @ _col(g)).reshape(a.shape[:-2] + (a.shape[-1],))
    return _mm(ns, _mT(a), g)


def _matmul_ref(a, b):
    """matmul by einsum, 1-D operands promoted and demoted by hand."""
    r = np.einsum("...ij,...jk->...ik", a[None, :] if a.ndim == 1 else a, b[:, None] if b.ndim == 1 else b)
    if a.ndim == 1:
        r = r[..., 0, :]
    if b.ndim == 1:
        r = r[..., 0]
    return r


MATMUL = defop(
    "matmul", _matmul,
    _matmul_vjp_a,
    _matmul_vjp_b,
    formula="a @ b;  da = g @ b^T, db = a^T @ g  (batch axes summed back)",
    test=OpTest("matmul", ref=lambda a, b: _matmul_ref(a, b), rtol=1e-10),
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
    return _apply(MATMUL, a, b)


# ---------------------------------------------------------------------------
# linear: x @ W^T + b fused into one node.  Fused for speed (one graph node
# per layer instead of matmul + transpose + add); tests/test_ops.py checks it
# against its composed twin.
# ---------------------------------------------------------------------------


def _linear(x, W, b=None):
    out = x.dot(W.T) if x.ndim <= 2 else np.matmul(x, W.T)
    if b is not None:
        out += b  # out is a fresh array: add in place, no extra allocation
    return out


def _linear_vjp_x(ns, g, out, x, W, b=None):
    return _mm(ns, g, W)


def _linear_vjp_W(ns, g, out, x, W, b=None):
    # Sum over every batch axis: dW = sum_n g_n x_n^T.
    g2 = g.reshape(-1, W.shape[0])
    x2 = x.reshape(-1, W.shape[1])
    return _mm(ns, g2.T, x2)


LINEAR = defop(
    "linear", _linear,
    _linear_vjp_x,
    _linear_vjp_W,
    lambda ns, g, out, x, W, b=None: g.reshape(-1, W.shape[0]).sum(axis=0),  # summed over the batch axes
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
    if bias is None:
        return _apply(LINEAR, x, weight)
    return _apply(LINEAR, x, weight, bias)
