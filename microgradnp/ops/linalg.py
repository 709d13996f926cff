"""Linear algebra: ``matmul`` and ``linear``, and ``mg.linalg``'s decompositions, inverses and norms.

Every function of ``mg.linalg`` works on stacks of matrices (the last two
axes) as NumPy's does.  Their gradients are the ones of the literature
(M. Giles, "An extended collection of matrix derivative results for forward
and reverse mode algorithmic differentiation", 2008; I. Murray 2016 for the
Cholesky factor; J. Townsend 2016 for the SVD), each written once with the
VJP vocabulary, so they run on arrays and, recorded, to any order.

Ops with several results (``eigh``, ``svd``, ``qr``, ``slogdet``) record one
packed output (every result flattened and laid end to end along a last axis)
and the public function hands out its slices as a named tuple, as NumPy does;
a result that is not used gets a zero gradient.

Where a derivative does not exist (repeated eigenvalues or singular values
for the vectors, zero singular values of a non-square matrix) the terms
whose denominator is zero up to rounding are left out; docs/design.md says what
that gives.
"""

from __future__ import annotations

import math
from collections import namedtuple
from types import SimpleNamespace

import numpy as np

from .complex import _holds_complex
from .reduce import _eye, _kept_shape, _others_generic, axis_arg, checked_axis
from .registry import OpTest, concrete_value, defop
from .rules import batch_aligned, ndim_of


def _mT(ns, x):
    """Swap the last two axes (the matrix transpose of a stack of matrices)."""
    nd = x.ndim
    return ns.transpose(x, None if nd == 2 else tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _mH(ns, x):
    """The conjugate transpose of a stack of matrices (the transpose, for real ones)."""
    return _mT(ns, ns.conj(x)) if _holds_complex(x) else _mT(ns, x)


def _col(x):
    """``x`` with a trailing axis of size 1."""
    return x[..., None]


def _row(x):
    """``x`` with an axis of size 1 before its last one (indexing: 0.2 us, where building the
    shape for a reshape takes 0.5 us on the small arrays of per-example training)."""
    return x[..., None, :]


def _matmul_vjp_a(ns, g, out, a, b):
    if b.ndim == 1:
        if a.ndim == 1:  # (k,) @ (k,) -> scalar
            return g * b
        if a.ndim == 2:  # one outer product g b^T: a matrix product with an inner size of 1 beats broadcasting
            return ns.matmul(g[:, None], b[None, :])  # (1.0 vs 1.3 us on 2x2, 442 vs 575 us on 1024x784)
        return _col(g) * b  # (..., m, k) @ (k,) -> (..., m): outer products g b^T
    if a.ndim == 1:  # (k,) @ (..., k, n) -> (..., n); batch axes are summed by the engine
        return ns.matmul(b, g) if b.ndim == 2 else ns.reshape(ns.matmul(b, _col(g)), b.shape[:-1])
    return ns.matmul(g, _mT(ns, b))


def _matmul_vjp_b(ns, g, out, a, b):
    if a.ndim == 1:
        if b.ndim == 1:
            return g * a
        if b.ndim == 2:  # one outer product a g^T, as in _matmul_vjp_a
            return ns.matmul(a[:, None], g[None, :])
        return _col(a) * _row(g)  # outer products a g^T
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


def _matmul_batch(ns, args, batched, size):
    # Vectors become matrices (a row on the left, a column on the right), a
    # batched operand gets size-1 axes after its batch axis so that the batch
    # axis stays in front of the other operand's stack axes; the product is
    # then the batch of products, reshaped to drop the added axes.
    (a, b), (ba, bb) = args, batched
    row, column = ndim_of(a) - ba == 1, ndim_of(b) - bb == 1
    if row:
        a = ns.reshape(a, a.shape[:-1] + (1,) + a.shape[-1:])
    if column:
        b = ns.reshape(b, b.shape + (1,))
    nd = max(ndim_of(a) - ba, ndim_of(b) - bb)
    if ba:
        a = batch_aligned(ns, a, nd)
    if bb:
        b = batch_aligned(ns, b, nd)
    if a.shape[-1] == 1:
        # An outer product (per-example weight gradients: g^T x): broadcasting
        # multiplies 4x faster than a stack of matmuls with an inner size of 1
        # (0.29 s -> 0.07 s for 256 outer products of 256 x 784, measured).
        out = a * b
    else:
        out = ns.matmul(a, b)
    shape = out.shape
    if column:
        shape = shape[:-1]
    if row:  # the row axis added to a, last once the column axis is gone
        shape = shape[:-1] if column else shape[:-2] + shape[-1:]
    return ns.reshape(out, shape) if shape != out.shape else out


@defop(
    forward="matmul",
    vjp=(_matmul_vjp_a, _matmul_vjp_b),
    batch=_matmul_batch,
    jvp="multilinear",
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


def _linear_jvp(ns, ts, out, x, W, b=None):
    res = 0.0
    if ts[0] is not None:
        res = res + ns.matmul(ts[0], ns.transpose(W))
    if ts[1] is not None:
        res = res + ns.matmul(x, ns.transpose(ts[1]))
    if len(ts) > 2 and ts[2] is not None:
        res = res + ts[2]
    return res


def _linear_batch(ns, args, batched, size):
    if batched[0] and not any(batched[1:]):
        return ns.call("linear", *args)  # a batch of inputs through one layer: the forward takes any leading axes
    x, W = args[0], args[1]
    out = _matmul_batch(ns, [x, ns.swapaxes(W, -1, -2)], batched[:2], size)
    if len(args) > 2:
        b = args[2]
        out = out + (batch_aligned(ns, b, out.ndim - 1) if batched[2] else b)
    return out


def _linear_vjp_W(ns, g, out, x, W, b=None):
    # Sum over every batch axis: dW = sum_n g_n x_n^T.
    return ns.matmul(ns.transpose(_rows(ns, g, W.shape[0])), _rows(ns, x, W.shape[1]))


def _shape_of(a) -> tuple:
    """``a.shape`` when it has one (a Tensor, an array), else NumPy's view of it.  ``np.shape`` on a
    Tensor goes through ``__array_function__``: calling it three times per ``linear`` cost the moons
    workload 11% (benchmarks/against.py); the attribute costs nothing."""
    shape = getattr(a, "shape", None)
    return tuple(shape) if shape is not None else np.shape(a)


@defop(
    forward=_linear,
    vjp=(
        lambda ns, g, out, x, W, b=None: ns.matmul(g, W),
        _linear_vjp_W,
        lambda ns, g, out, x, W, b=None: ns.sum(_rows(ns, g, W.shape[0]), axis=0),  # summed over the batch
    ),
    jvp=_linear_jvp,
    batch=_linear_batch,
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
    ws, xs = _shape_of(weight), _shape_of(x)
    if len(ws) != 2 or not xs or xs[-1] != ws[1]:
        raise ValueError(f"linear: weight must be (out_features, in_features) with in_features = the input's last "
                         f"axis; got a weight of shape {ws} for an input of shape {xs}")
    if bias is not None and _shape_of(bias) != ws[:1]:
        raise ValueError(f"linear: bias must have shape ({ws[0]},) for a weight of shape {ws}, got "
                         f"{_shape_of(bias)}")
    return ((x, weight) if bias is None else (x, weight, bias)), None


# ---------------------------------------------------------------------------
# mg.linalg: helpers
# ---------------------------------------------------------------------------

SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")
EighResult = namedtuple("EighResult", "eigenvalues eigenvectors")
SVDResult = namedtuple("SVDResult", "U S Vh")
QRResult = namedtuple("QRResult", "Q R")


def _matrices(name: str, a, square: bool = True) -> tuple:
    """The shape of ``a``, checked to be a (stack of) matrices, square if asked; NumPy's error type."""
    shape = np.shape(a)
    if len(shape) < 2:
        raise np.linalg.LinAlgError(f"{name}: needs a matrix (at least 2 dimensions), got shape {shape}")
    if square and shape[-1] != shape[-2]:
        raise np.linalg.LinAlgError(f"{name}: needs square matrices (the last two axes), got shape {shape}")
    return shape


def _layout(batch: tuple, *cores) -> tuple:
    """How results of shapes ``batch + core`` are packed: ``(batch, cores)``."""
    return (tuple(batch), tuple(tuple(c) for c in cores))


def _pack(ns, layout, *parts):
    """The results, each flattened to ``batch + (size,)``, concatenated along the last axis."""
    batch, cores = layout
    flat = [ns.reshape(p, batch + (math.prod(c),)) for p, c in zip(parts, cores)]
    return flat[0] if len(flat) == 1 else ns.concatenate(flat, axis=-1)


def _parts(ns, packed, layout) -> list:
    """The inverse of :func:`_pack` (on arrays, or on Tensors: slices of the recorded output)."""
    batch, cores = layout
    out, start = [], 0
    for c in cores:
        size = math.prod(c)
        out.append(ns.reshape(packed[..., start:start + size], batch + c))
        start += size
    return out


def _unpacker(result_type):
    def unpack(out, attrs):
        return result_type(*_parts(_ON_TENSORS, out, attrs["layout"]))

    return unpack


#: What :func:`_parts` needs, as Tensor methods (for ``unpack``) and on arrays (for references and gauges).
_ON_TENSORS = SimpleNamespace(reshape=lambda x, shape: x.reshape(shape))
_NumPy = SimpleNamespace(reshape=np.reshape, concatenate=np.concatenate)


def _NumPy_eig(a):
    """NumPy's eig with complex results always (the reference of the ``eig`` op)."""
    w, V = np.linalg.eig(a)
    c = np.result_type(a.dtype, np.complex64)
    return w.astype(c), V.astype(c)


def _diag_embed(ns, v):
    """``(..., n) -> (..., n, n)``: ``v`` on the diagonal."""
    return _col(v) * _eye(ns, v.shape[-1], v.dtype)


def _reciprocal_or_zero(ns, d, tol):
    """``1 / d``, and 0 where ``|d| <= tol``: a denominator that is zero up to rounding
    (a repeated eigenvalue computes as ``1 +- 1e-16``) marks a derivative that does
    not exist, and its terms are left out instead of being multiplied by ``1e16``."""
    vd = ns.value(d)
    zero = vd * ns.sign(vd) <= tol
    return ns.where(zero, 0.0, 1.0 / ns.where(zero, 1.0, d))


def _rounding(ns, v):
    """How far computed eigenvalues or singular values ``v`` (``..., k``) may be from
    the exact ones: ``8 k eps max|v|``, shaped ``(..., 1, 1)``."""
    vv = ns.value(v)
    k = vv.shape[-1]
    if k == 0:
        return 0.0
    largest = ns.max_reduce(vv * ns.sign(vv), axis=-1, keepdims=True)[..., None]
    return 8 * k * ns.eps(vv.dtype) * largest


def _from_triangle(ns, m, upper: bool):
    """The gradient with respect to a matrix of which only one triangle is read, as a symmetric one.

    The op sees ``S = tril(a) + tril(a, -1)^T``; a gradient ``m`` with respect
    to ``S`` gives ``m_ij + m_ji`` below the diagonal, ``m_ii`` on it, 0 above.
    A complex matrix is read as the Hermitian ``tril(a) + tril(a, -1)^H`` with
    the real part of its diagonal (as LAPACK reads it): ``m_ij + conj(m_ji)``
    below the diagonal, ``Re m_ii`` on it.
    """
    n = m.shape[-1]
    mask = ns.tri(n, n, 0, dtype=m.dtype) * (1.0 - 0.5 * _eye(ns, n, m.dtype))
    return (m + _mH(ns, m)) * (mask.T if upper else mask)


def _primes(k: int) -> list:
    found = []
    n = 2
    while len(found) < k:
        if all(n % p for p in found):
            found.append(n)
        n += 1
    return found


def _gauge_signs(m):
    """+-1 per column of ``m`` (stacked): the sign of its product with a fixed generic vector.

    A test helper (see ``OpTest.gauge``): the choice is continuous wherever that
    product is not zero, which no vector of rational entries makes it.
    """
    r = np.sqrt(_primes(m.shape[-2]))  # linearly independent over the rationals: no simple vector is orthogonal
    s = np.sign(np.einsum("...ij,i->...j", m, r))
    return np.where(s == 0, 1.0, s)[..., None, :]


# ---------------------------------------------------------------------------
# Inverse, determinants, solve
# ---------------------------------------------------------------------------


@defop(
    forward="inv",
    vjp=lambda ns, g, out, a: -ns.matmul(ns.matmul(_mT(ns, out), g), _mT(ns, out)),
    jvp=lambda ns, ts, out, a: -ns.matmul(ns.matmul(out, ts[0]), out),
    batch="trailing",
    formula="A^-1;  dA = -A^-T g A^-T",
    test=OpTest("square", ref=np.linalg.inv, rtol=1e-10),
    namespace="linalg",
)
def inv(a):
    """The inverse of a square matrix (or of each matrix of a stack).

    A singular matrix raises ``numpy.linalg.LinAlgError``, as in NumPy.

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[2.0, 0.0], [0.0, 4.0]], requires_grad=True)
    >>> mg.linalg.inv(A)
    tensor([[0.5 , 0.  ],
            [0.  , 0.25]], op=inv)
    >>> mg.linalg.inv(A).sum().backward()
    >>> A.grad
    array([[-0.25  , -0.125 ],
           [-0.125 , -0.0625]])
    """
    _matrices("inv", a)
    return (a,), None


def _cofactor(ns, a):
    """``adj(a)^T``, the gradient of ``det``, from the SVD: defined at singular matrices too.

    With ``a = U diag(s) Vh``, ``adj(a)^T = det(U Vh) U diag(prod_{j != i} s_j) Vh``;
    the products leave ``s_i`` out without dividing by it.
    """
    U, s, Vh = ns.svd(a, full_matrices=False)
    sign = ns.det(ns.value(ns.matmul(U, Vh)))  # +-1, piecewise constant
    return _col(_col(sign)) * ns.matmul(U * _row(_others_generic(ns, s)), Vh)


def _det_vjp(ns, g, out, a):
    values = concrete_value(out)  # None inside vmap: each example's inverse (a singular one raises there)
    if values is None or ns.all(values != 0):
        cofactor = _col(_col(out)) * _mT(ns, ns.inv(a))
    else:  # a singular matrix: det(A) A^-T cannot be formed; the adjugate from the SVD
        cofactor = _cofactor(ns, a)
    return _col(_col(g)) * cofactor


@defop(
    forward="det",
    vjp=_det_vjp,
    # d det = <cofactor, dA>: the VJP's cofactor matrix (the SVD's adjugate when A is singular).
    jvp=lambda ns, ts, out, a: ns.sum(_det_vjp(ns, ns.zeros_like(ns.value(out)) + 1.0, out, a) * ts[0], axis=(-2, -1)),
    batch="trailing",
    formula="det A;  dA = g det(A) A^-T  (g adj(A)^T, from the SVD, when A is singular)",
    test=OpTest("square", ref=np.linalg.det, rtol=1e-10),
    namespace="linalg",
)
def det(a):
    """The determinant of a square matrix (or of each matrix of a stack).

    Its gradient is the transposed adjugate: ``det(A) A^-T``, and at a
    singular matrix (where that cannot be formed) the adjugate computed from
    the SVD, as PyTorch does.  Second derivatives at a singular matrix with
    repeated singular values lack the terms of the repeated pairs (see ``svd``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)  # singular
    >>> d = mg.linalg.det(A)
    >>> d.backward()
    >>> A.grad.round(12)
    array([[ 4., -2.],
           [-2.,  1.]])
    """
    _matrices("det", a)
    return (a,), None


def _slogdet_forward(xp, a, layout):
    sign, logabsdet = xp.slogdet(a)
    return _pack(xp, layout, sign, logabsdet)


def _slogdet_jvp(ns, ts, out, a, layout):
    tau = ns.sum(_mT(ns, ns.inv(a)) * ts[0], axis=(-2, -1))  # d log det A = tr(A^-1 dA)
    if not _holds_complex(tau):
        return _pack(ns, layout, ns.zeros_like(ns.value(tau)), tau)  # d log|det A|; the sign is constant
    sign, _ = _parts(ns, out, layout)
    # log det = log|det| + i theta, sign = e^(i theta): d log|det| = Re tau, d sign = i sign Im tau
    return _pack(ns, layout, sign * ns.imag(tau) * 1j, ns.real(tau))


def _slogdet_vjp(ns, g, out, a, layout):
    gsign, glog = _parts(ns, g, layout)
    if _holds_complex(out):
        # dL = Re(conj(k) tr(A^-1 dA)) with k = g_log - i Im(conj(g_sign) sign): the gradient k A^-H
        sign, _ = _parts(ns, out, layout)
        k = ns.real(glog) - ns.imag(ns.conj(gsign) * sign) * 1j
        return _col(_col(k)) * _mH(ns, ns.inv(a))
    return _col(_col(glog)) * _mT(ns, ns.inv(a))


def _slogdet_unpack(out, attrs):
    sign, logabsdet = _parts(_ON_TENSORS, out, attrs["layout"])
    return SlogdetResult(sign, logabsdet.real if _holds_complex(logabsdet) else logabsdet)  # a real logarithm


@defop(
    forward=_slogdet_forward,
    vjp=_slogdet_vjp,
    jvp=_slogdet_jvp,
    formula="(sign, log|det A|);  dA = g_log A^-T  (the sign is piecewise constant: no gradient; complex: "
            "dA = (g_log - i Im(conj(g_sign) sign)) A^-H)",
    test=OpTest("slogdet", ref=lambda a, layout: _pack(_NumPy, layout, *np.linalg.slogdet(a)), rtol=1e-10),
    namespace="linalg", unpack=_slogdet_unpack,
)
def slogdet(a):
    """Sign and natural log of the absolute determinant: ``(sign, logabsdet)``, as NumPy returns them.

    Stable where ``det`` under- or overflows.  The log's gradient is ``A^-T``;
    a singular matrix (``logabsdet = -inf``) has none and its backward raises
    ``numpy.linalg.LinAlgError``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
    >>> sign, logdet = mg.linalg.slogdet(A)
    >>> float(sign.data), round(float(logdet.data), 6)
    (1.0, 1.609438)
    >>> logdet.backward()
    >>> A.grad
    array([[ 0.6, -0.2],
           [-0.2,  0.4]])
    """
    shape = _matrices("slogdet", a)
    return (a,), {"layout": _layout(shape[:-2], (), ())}


def _solve_vjp_all(ns, g, out, inputs, attrs, needs):
    a, b = inputs
    vector = b.ndim == 1
    gb = ns.solve(_mT(ns, a), _col(g))[..., 0] if vector else ns.solve(_mT(ns, a), g)
    if not needs[0]:
        return None, gb
    ga = -(_col(gb) * _row(out)) if vector else -ns.matmul(gb, _mT(ns, out))
    return ga, gb


def _solve_jvp(ns, ts, out, a, b):
    # A x = b, so A dx = db - dA x.
    ta, tb = ts
    vector = b.ndim == 1
    rhs = 0.0 if tb is None else tb
    if ta is not None:
        rhs = rhs - (ns.matmul(ta, _col(out))[..., 0] if vector else ns.matmul(ta, out))
    return ns.solve(a, _col(rhs))[..., 0] if vector else ns.solve(a, rhs)


def _solve_batch(ns, args, batched, size):
    """vmap's rule: one stacked solve.  NumPy 2 reads a 1-D ``b`` as a vector, so each example's vector becomes
    a column first (and is dropped after); both are aligned so that an example's own stack axes meet."""
    (a, b), (ba, bb) = args, batched
    a = a if ba else ns.broadcast_to(a, (size,) + tuple(a.shape))
    b = b if bb else ns.broadcast_to(b, (size,) + tuple(b.shape))
    vector = b.ndim == 2
    if vector:
        b = _col(b)
    nd = max(a.ndim, b.ndim) - 1
    out = ns.call("solve", batch_aligned(ns, a, nd), batch_aligned(ns, b, nd))
    return out[..., 0] if vector else out


def _solve_ref(a, b):
    return np.linalg.solve(a, b[:, None])[..., 0] if b.ndim == 1 else np.linalg.solve(a, b)


@defop(
    forward="solve",
    vjp_all=_solve_vjp_all,
    jvp=_solve_jvp,
    batch=_solve_batch,
    formula="x = A^-1 b;  db = A^-T g, dA = -db x^T",
    test=OpTest("solve", ref=_solve_ref, rtol=1e-10),
    namespace="linalg",
)
def solve(a, b):
    """The solution ``x`` of ``a @ x = b`` (stacks broadcast), NumPy 2's rule: ``b`` is a vector only when 1-D.

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[3.0, 1.0], [1.0, 2.0]], requires_grad=True)
    >>> b = mg.tensor([9.0, 8.0], requires_grad=True)
    >>> x = mg.linalg.solve(A, b)
    >>> x
    tensor([2., 3.], op=solve)
    >>> x.sum().backward()
    >>> b.grad
    array([0.2, 0.4])
    """
    sa = _matrices("solve", a)
    sb = np.shape(b)
    if len(sb) == 0 or sb[-1 if len(sb) == 1 else -2] != sa[-1]:
        raise ValueError(f"solve: a of shape {sa} and b of shape {sb} do not match (b needs {sa[-1]} rows)")
    return (a, b), None


# ---------------------------------------------------------------------------
# Decompositions
# ---------------------------------------------------------------------------


def _cholesky_forward(xp, a, upper=False):
    if upper:  # the factor of the matrix read from the upper triangle
        return _mT(xp, xp.cholesky(_mT(xp, a)))
    return xp.cholesky(a)


def _cholesky_jvp(ns, ts, out, a, upper=False):
    # dL = L Phi(L^-1 dS L^-H), dS the symmetric (Hermitian) matrix of the triangle read,
    # Phi the lower triangle with its diagonal halved.
    low = _mH(ns, out) if upper else out
    t = _mH(ns, ts[0]) if upper else ts[0]
    n = a.shape[-1]
    strict = ns.tri(n, n, -1, dtype=out.dtype)
    diag = ns.tri(n, n, 0, dtype=out.dtype) - strict
    sym = t * strict + _mH(ns, t * strict) + (ns.real(t) if _holds_complex(t) else t) * diag
    linv = ns.inv(low)
    dl = ns.matmul(low, ns.matmul(ns.matmul(linv, sym), _mH(ns, linv)) * (strict + 0.5 * diag))
    return _mH(ns, dl) if upper else dl


def _cholesky_vjp(ns, g, out, a, upper=False):
    # Murray (2016): with P = Phi(L^H gL) (lower triangle, diagonal halved), the
    # gradient with respect to the symmetric (Hermitian) matrix is L^-H P L^-1.
    L, gL = (_mH(ns, out), _mH(ns, g)) if upper else (out, g)
    n = L.shape[-1]
    low = ns.tri(n, n, 0, dtype=L.dtype)
    P = ns.matmul(_mH(ns, L), gL * low) * (low * (1.0 - 0.5 * _eye(ns, n, L.dtype)))
    Linv = ns.inv(L)
    return _from_triangle(ns, ns.matmul(ns.matmul(_mH(ns, Linv), P), Linv), upper)


def _cholesky_ref(a, upper=False):
    return np.linalg.cholesky(np.swapaxes(a, -1, -2)).swapaxes(-1, -2) if upper else np.linalg.cholesky(a)


@defop(
    forward=_cholesky_forward,
    vjp=_cholesky_vjp,
    jvp=_cholesky_jvp,
    batch="trailing",
    formula="L with L L^T = A (lower triangle read);  dA = from_triangle(L^-T Phi(L^T g) L^-1)",
    test=OpTest("spd", ref=_cholesky_ref, rtol=1e-10),
    namespace="linalg",
)
def cholesky(a, upper=False):
    """The Cholesky factor of a symmetric positive-definite matrix: lower ``L`` with ``L @ L.T == a``.

    As NumPy, only the lower triangle of ``a`` is read (the upper one with
    ``upper=True``, which returns ``U = L.T``, ``U.T @ U == a``), so the
    gradient is the true one of that function: it lies in that triangle.
    Through a symmetric matrix built from parameters, the chain rule gives
    the same parameter gradients as PyTorch's symmetrised convention.  A
    matrix that is not positive definite raises ``numpy.linalg.LinAlgError``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[4.0, 2.0], [2.0, 5.0]], requires_grad=True)
    >>> L = mg.linalg.cholesky(A)
    >>> L
    tensor([[2., 0.],
            [1., 2.]], op=cholesky)
    >>> L.sum().backward()
    >>> A.grad
    array([[0.1875, 0.    ],
           [0.25  , 0.25  ]])
    """
    _matrices("cholesky", a)
    return (a,), ({"upper": True} if upper else None)


def _eigh_forward(xp, a, UPLO="L", layout=None):
    w, V = xp.eigh(a, UPLO=UPLO)
    return _pack(xp, layout, w, V)


def _eigh_vjp(ns, g, out, a, UPLO="L", layout=None):
    # Giles (2008): dw = diag(V^H dS V), dV = V (F o (V^H dS V)), F_ij = 1/(w_j - w_i).
    gw, gV = _parts(ns, g, layout)
    w, V = _parts(ns, out, layout)
    if _holds_complex(V):
        w = ns.real(w)  # (packed with the complex eigenvectors: real values, in a complex array)
        gw = ns.real(gw)
        _phase_free("eigh", ns, ns.imag(ns.sum(ns.conj(V) * gV, axis=-2)), gV)
    F = _reciprocal_or_zero(ns, _row(w) - _col(w), _rounding(ns, w))
    Vh = _mH(ns, V)
    inner = _diag_embed(ns, gw) + F * ns.matmul(Vh, gV)
    return _from_triangle(ns, ns.matmul(ns.matmul(V, inner), Vh), UPLO == "U")


def _phase_free(name: str, ns, d, gV) -> None:
    """Complex eigenvectors (singular vectors) are fixed only up to a phase each, ``v e^{i phi}``: a loss
    that depends on the phase has no gradient, which shows as ``d = Im(v^H g_v) != 0``.  Raised by name (as
    PyTorch does) where the values are at hand; inside vmap or mg.compile the check is left out."""
    d = ns.value(d)
    if hasattr(d, "requires_grad"):  # a traced value (vmap, mg.compile): no concrete number to check
        return
    size = ns.value(ns.sum(ns.real(ns.conj(gV) * gV)))
    if not bool(ns.all(d * ns.sign(d) <= 1e-8 * (1.0 + size ** 0.5))):
        what = "singular vectors" if name == "svd" else "eigenvectors"
        raise ValueError(f"{name}: the loss depends on the phases of complex {what}, which are arbitrary "
                         "(each v may be v e^(i phi)), so it has no gradient; use a loss that does not (the "
                         "values, |v|^2, or products such as v v^H)")


def _eigh_unpack(out, attrs):
    w, V = _parts(_ON_TENSORS, out, attrs["layout"])
    return EighResult(w.real if _holds_complex(w) else w, V)  # real eigenvalues of a Hermitian matrix


def _eigh_gauge(out, UPLO="L", layout=None):
    w, V = _parts(_NumPy, out, layout)
    return _pack(_NumPy, layout, np.ones(w.shape), np.broadcast_to(_gauge_signs(V), V.shape))


@defop(
    forward=_eigh_forward,
    vjp=_eigh_vjp,
    formula="w, V with S V = V diag(w);  dS = V (diag(g_w) + F o (V^T g_V)) V^T, F_ij = 1/(w_j - w_i)",
    test=OpTest(
        "eigh", ref=lambda a, UPLO, layout: _pack(_NumPy, layout, *np.linalg.eigh(a, UPLO=UPLO)),
        rtol=1e-9, gauge=_eigh_gauge,
    ),
    namespace="linalg", unpack=_eigh_unpack,
)
def eigh(a, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix: ``(eigenvalues, eigenvectors)``.

    Only the lower triangle is read (the upper one with ``UPLO="U"``), as in
    NumPy; the gradient lies in that triangle (see :func:`cholesky`).  Each
    eigenvector is fixed only up to sign, as NumPy returns it.  At a
    repeated eigenvalue the eigenvectors have no derivative: the terms of
    the pairs of equal eigenvalues (up to rounding) are left out, which is exact for a loss
    that does not depend on the basis chosen inside the eigenspace (a
    function of the eigenvalues, or of the projector onto the whole space).

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[2.0, 1.0], [1.0, 2.0]], requires_grad=True)
    >>> w, V = mg.linalg.eigh(A)
    >>> w
    tensor([1., 3.], op=reshape)
    >>> w[1].backward()  # the largest eigenvalue: d w / d A = v v^T, on the lower triangle
    >>> A.grad.round(12)
    array([[0.5, 0. ],
           [1. , 0.5]])
    """
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    shape = _matrices("eigh", a)
    n = shape[-1]
    return (a,), {"UPLO": UPLO, "layout": _layout(shape[:-2], (n,), (n, n))}


EigResult = namedtuple("EigResult", "eigenvalues eigenvectors")


def _eig_forward(xp, a, layout=None):
    return _pack(xp, layout, *xp.eig(a))


def _modulus(ns, z):
    return ns.real(z * ns.conj(z)) ** 0.5


def _eig_vjp(ns, g, out, a, layout=None):
    # A = V diag(w) V^-1, V's columns of unit norm, each up to a phase (PyTorch's linalg_eig_backward):
    # gA = V^-H (diag(gw) + (V^H gV - V^H V diag(Re diag(V^H gV))) / conj(E)) V^H, E_ij = w_j - w_i.
    gw, gV = _parts(ns, g, layout)
    w, V = _parts(ns, out, layout)
    if not _holds_complex(a) and _all_real(ns, w):
        # A real matrix with real eigenvalues has real eigenvectors, which stay real under real changes of
        # A: only the real parts of the gradients count (the imaginary ones move nothing, no phase included).
        gw, gV = ns.real(gw), ns.real(gV)
    Vh = _mH(ns, V)
    VhgV = ns.matmul(Vh, gV)
    diag = ns.sum(ns.conj(V) * gV, axis=-2)  # diag(V^H gV)
    _phase_free("eig", ns, ns.imag(diag), gV)
    inner = VhgV - ns.matmul(Vh, V) * _row(ns.real(diag))
    E = _row(w) - _col(w)
    size = _rounding(ns, _modulus(ns, ns.value(w)))
    F2 = _reciprocal_or_zero(ns, ns.real(E * ns.conj(E)), size * size)  # 1/|E|^2, 0 at repeated eigenvalues
    core = _diag_embed(ns, gw) + inner * E * F2  # inner / conj(E) = inner E / |E|^2
    return ns.solve(Vh, ns.matmul(core, Vh))


def _all_real(ns, w) -> bool:
    """Whether every value of ``w`` (complex) has a zero imaginary part; ``False`` for a traced value."""
    v = ns.value(ns.imag(w))
    return not hasattr(v, "requires_grad") and bool(ns.all(v == 0))


def _eig_gauge(out, layout=None):
    w, V = _parts(_NumPy, out, layout)
    return _pack(_NumPy, layout, np.ones(w.shape), np.broadcast_to(_gauge_signs(V.real), V.shape))


@defop(
    forward=_eig_forward,
    vjp=_eig_vjp,
    formula="w, V with A V = V diag(w), |v_i| = 1;  dA = V^-H (diag(g_w) + (V^H g_V - V^H V diag(Re(V^H g_V))) / "
            "conj(E)) V^H, E_ij = w_j - w_i",
    test=OpTest("eig", ref=lambda a, layout: _pack(_NumPy, layout, *_NumPy_eig(a)), rtol=1e-8, gauge=_eig_gauge),
    namespace="linalg", unpack=_unpacker(EigResult), makes_complex=True,
)
def eig(a):
    """Eigenvalues and right eigenvectors (columns, unit norm) of a general square matrix, as ``np.linalg.eig``:
    ``(eigenvalues, eigenvectors)``, always complex.

    NumPy returns real arrays when every eigenvalue is real; these are complex
    whatever the values (as PyTorch's), so the dtype does not depend on them.
    Each eigenvector is fixed only up to a phase: a loss that depends on it
    has no gradient and is refused by name; at a repeated eigenvalue the
    eigenvectors have no derivative (their terms are left out, as for ``eigh``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[2.0, 1.0], [0.0, 3.0]], requires_grad=True)
    >>> w, V = mg.linalg.eig(A)
    >>> w
    tensor([2.+0.j, 3.+0.j], dtype=complex128, op=reshape)
    >>> mg.real(w[1]).backward()  # d w / d A = u v^T / (u^T v), u and v the left and right eigenvectors
    >>> A.grad
    array([[0., 0.],
           [1., 1.]])
    """
    shape = _matrices("eig", a)
    n = shape[-1]
    return (a,), {"layout": _layout(shape[:-2], (n,), (n, n))}


def _svd_unpack(out, attrs):
    if attrs.get("compute_uv", True) is False:
        return out
    U, s, Vh = _parts(_ON_TENSORS, out, attrs["layout"])
    return SVDResult(U, s.real if _holds_complex(s) else s, Vh)  # real singular values


def _svd_forward(xp, a, full_matrices=True, compute_uv=True, layout=None):
    if not compute_uv:
        return xp.svd(a, full_matrices=False, compute_uv=False)
    return _pack(xp, layout, *xp.svd(a, full_matrices=full_matrices))


def _svd_vjp(ns, g, out, a, full_matrices=True, compute_uv=True, layout=None):
    m, n = a.shape[-2:]
    k = min(m, n)
    if not compute_uv:  # the vectors were not kept: computed again
        U, _, Vh = ns.svd(a, full_matrices=False)
        return ns.matmul(U * _row(g), Vh)
    U, s, Vh = _parts(ns, out, layout)
    gU, gS, gVh = _parts(ns, g, layout)
    cplx = _holds_complex(U)
    if cplx:  # (the real singular values, packed with the complex vectors in a complex array)
        s, gS = ns.real(s), ns.real(gS)
    if full_matrices and m != n:  # the extra columns are not unique: their gradient is left out
        U, gU, Vh, gVh = U[..., :k], gU[..., :k], Vh[..., :k, :], gVh[..., :k, :]
    # Townsend (2016), F_ij = 1/(s_j^2 - s_i^2); complex: conjugate transposes, and the phase term below.
    s2 = s * s
    F = _reciprocal_or_zero(ns, _row(s2) - _col(s2), 2 * _rounding(ns, s2))
    UhgU = ns.matmul(_mH(ns, U), gU)
    VhgV = ns.matmul(Vh, _mH(ns, gVh))
    inner = _diag_embed(ns, gS) + (F * (UhgU - _mH(ns, UhgU))) * _row(s) + _col(s) * (F * (VhgV - _mH(ns, VhgV)))
    if cplx:
        # U e^{i phi} and V e^{i phi} give the same A: a loss that tells them apart has no gradient; for the
        # others the phase of u_i moves with A as i Im(u_i^H gU_i) / s_i (PyTorch's svd_backward).
        diag_u = ns.sum(ns.conj(U) * gU, axis=-2)
        _phase_free("svd", ns, ns.imag(diag_u + ns.sum(Vh * ns.conj(gVh), axis=-1)), gU)  # (V^H gV = Vh gVh^H)
        sinv = _reciprocal_or_zero(ns, s, _rounding(ns, s)[..., 0])
        inner = inner + _diag_embed(ns, ns.imag(diag_u) * sinv * 1j)
    ga = ns.matmul(ns.matmul(U, inner), Vh)
    if m > k or n > k:
        sinv = _reciprocal_or_zero(ns, s, _rounding(ns, s)[..., 0])
        if m > k:
            ga = ga + ns.matmul((gU - ns.matmul(U, UhgU)) * _row(sinv), Vh)
        if n > k:
            ga = ga + ns.matmul(U, (gVh - ns.matmul(_mH(ns, VhgV), Vh)) * _col(sinv))
    return ga


def _svd_ref(a, full_matrices=True, compute_uv=True, layout=None):
    if not compute_uv:
        return np.linalg.svd(a, compute_uv=False)
    return _pack(_NumPy, layout, *np.linalg.svd(a, full_matrices=full_matrices))


def _svd_gauge(out, full_matrices=True, compute_uv=True, layout=None):
    if not compute_uv:
        return np.ones(out.shape)
    U, s, Vh = _parts(_NumPy, out, layout)
    k = s.shape[-1]
    c = _gauge_signs(U[..., :k])  # (..., 1, k): U's columns and Vh's rows flip together
    cu = np.concatenate([c, np.ones(c.shape[:-1] + (U.shape[-1] - k,))], axis=-1)
    cv = np.concatenate([np.swapaxes(c, -1, -2), np.ones(c.shape[:-2] + (Vh.shape[-2] - k, 1))], axis=-2)
    return _pack(_NumPy, layout, np.broadcast_to(cu, U.shape), np.ones(s.shape), np.broadcast_to(cv, Vh.shape))


@defop(
    forward=_svd_forward,
    vjp=_svd_vjp,
    formula="U, s, Vh with A = U diag(s) Vh;  dA = U (diag(g_s) + (F o (U^T g_U - g_U^T U)) S + S (F o (V^T g_V "
            "- g_V^T V))) Vh + (I - U U^T) g_U S^-1 Vh + U S^-1 g_Vh (I - V V^T)",
    test=OpTest("svd", ref=_svd_ref, rtol=1e-9, gauge=_svd_gauge),
    namespace="linalg", unpack=_svd_unpack,
)
def svd(a, full_matrices=True, compute_uv=True):
    """Singular value decomposition ``a = U @ diag(S) @ Vh``: ``(U, S, Vh)``, or ``S`` alone with ``compute_uv=False``.

    As NumPy: ``S`` descending, ``full_matrices=True`` gives square ``U`` and
    ``Vh``.  Singular vectors are fixed only up to a common sign.  The extra
    columns of a full ``U`` (rows of ``Vh``) are not unique, so their
    upstream gradient is ignored (as in PyTorch).  At repeated singular
    values, and at zero ones of a non-square matrix, the vectors have no
    derivative: the terms whose denominator is zero (up to rounding) are left out,
    which is exact for losses of the singular values alone.

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[3.0, 0.0], [0.0, -2.0]], requires_grad=True)
    >>> S = mg.linalg.svd(A, compute_uv=False)
    >>> S
    tensor([3., 2.], op=svd)
    >>> S.sum().backward()  # the nuclear norm: its gradient is U Vh
    >>> A.grad
    array([[ 1.,  0.],
           [ 0., -1.]])
    """
    shape = _matrices("svd", a, square=False)
    m, n = shape[-2:]
    k = min(m, n)
    full_matrices, compute_uv = bool(full_matrices), bool(compute_uv)
    if not compute_uv:
        return (a,), {"compute_uv": False}
    cores = ((m, m), (k,), (n, n)) if full_matrices else ((m, k), (k,), (k, n))
    return (a,), {"full_matrices": full_matrices, "layout": _layout(shape[:-2], *cores)}


def _qr_unpack(out, attrs):
    parts = _parts(_ON_TENSORS, out, attrs["layout"])
    return parts[0] if attrs["mode"] == "r" else QRResult(*parts)


def _qr_forward(xp, a, mode="reduced", layout=None):
    if mode == "r":
        return _pack(xp, layout, xp.qr(a, mode="r"))
    return _pack(xp, layout, *xp.qr(a, mode="reduced"))


def _qr_vjp(ns, g, out, a, mode="reduced", layout=None):
    # A = [X | Y] with X the first k = min(m, n) columns: X = Q U, Y = Q V.
    # Y's part: dV = dQ^T Y + Q^T dY, so gY = Q gV and Q gains Y gV^T; then
    # X = Q U is a square-or-tall QR (Walter and Lehmann 2018; Liao et al. 2019):
    # M = U gU^T - gQ^T Q,  gX = (gQ + Q copyltu(M)) U^-T.
    m, n = a.shape[-2:]
    k = min(m, n)
    if mode == "r":
        (R,), (gR,) = _parts(ns, out, layout), _parts(ns, g, layout)
        gQ = None
    else:
        Q, R = _parts(ns, out, layout)
        gQ, gR = _parts(ns, g, layout)
    U, gU = R[..., :k], gR[..., :k]
    Uinv = ns.inv(U)
    if mode == "r":  # Q was not kept: Q = X U^-1
        Q = ns.matmul(a[..., :k], Uinv)
    if n > k:
        Y, gV = a[..., k:], gR[..., k:]
        gYQ = ns.matmul(Y, _mH(ns, gV))
        gQ = gYQ if gQ is None else gQ + gYQ
    M = ns.matmul(U, _mH(ns, gU))
    if gQ is not None:
        M = M - ns.matmul(_mH(ns, gQ), Q)
    strict = M * ns.tri(k, k, -1, dtype=M.dtype)
    # copyltu(M): the lower triangle mirrored; on complex values the diagonal's real part (R's diagonal is
    # real: its phase is fixed, and Q^H dQ is skew-Hermitian)
    copyltu = strict + _mH(ns, strict) + (ns.real(M) if _holds_complex(M) else M) * _eye(ns, k, M.dtype)
    b = ns.matmul(Q, copyltu) if gQ is None else gQ + ns.matmul(Q, copyltu)
    gX = ns.matmul(b, _mH(ns, Uinv))
    if n > k:
        return ns.concatenate([gX, ns.matmul(Q, gV)], axis=-1)
    return gX


def _qr_ref(a, mode="reduced", layout=None):
    if mode == "r":
        return _pack(_NumPy, layout, np.linalg.qr(a, mode="r"))
    return _pack(_NumPy, layout, *np.linalg.qr(a))


def _qr_gauge(out, mode="reduced", layout=None):
    parts = _parts(_NumPy, out, layout)
    R = parts[-1]
    k = R.shape[-2]
    d = np.sign(np.diagonal(R[..., :k], axis1=-2, axis2=-1))
    d = np.where(d == 0, 1.0, d)  # R = d R' with R' of positive diagonal, the unique factor
    signs = [np.broadcast_to(d[..., None], R.shape)]
    if mode != "r":
        signs.insert(0, np.broadcast_to(d[..., None, :], parts[0].shape))
    return _pack(_NumPy, layout, *signs)


@defop(
    forward=_qr_forward,
    vjp=_qr_vjp,
    formula="Q, R with A = Q R;  M = R g_R^T - g_Q^T Q, dA = (g_Q + Q copyltu(M)) R^-T  (wide A: by blocks)",
    test=OpTest("qr", ref=_qr_ref, rtol=1e-9, gauge=_qr_gauge),
    namespace="linalg", unpack=_qr_unpack,
)
def qr(a, mode="reduced"):
    """QR decomposition ``a = Q @ R``: ``(Q, R)``, or ``R`` alone with ``mode="r"``.

    ``mode="reduced"`` (NumPy's default) gives ``Q`` of shape ``(m, k)`` and
    ``R`` of shape ``(k, n)``, ``k = min(m, n)``; ``"complete"`` is accepted
    when ``m <= n`` (where it is the same).  A tall matrix's complete ``Q``
    has extra columns that are not unique, so it is not offered.  The
    gradient needs the leading ``k`` columns of ``a`` to be independent.

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[3.0, 1.0], [4.0, 2.0]], requires_grad=True)
    >>> Q, R = mg.linalg.qr(A)
    >>> abs(float(R.data[0, 0]))
    5.0
    >>> (R[0, 0] ** 2).backward()  # R_00^2 = |first column|^2
    >>> A.grad
    array([[6., 0.],
           [8., 0.]])
    """
    shape = _matrices("qr", a, square=False)
    m, n = shape[-2:]
    k = min(m, n)
    if mode == "complete" and m <= n:
        mode = "reduced"
    if mode not in ("reduced", "r"):
        raise ValueError(
            f"qr: mode {mode!r} is not supported (use 'reduced' or 'r'; 'complete' only for m <= n, "
            "where it equals 'reduced')"
        )
    cores = ((k, n),) if mode == "r" else ((m, k), (k, n))
    return (a,), {"mode": mode, "layout": _layout(shape[:-2], *cores)}


def _pinv_adjoint(ns, gX, X, A):
    """The gradient with respect to ``A`` of ``X = pinv(A)`` (Golub and Pereyra 1973; constant rank).

    ``-X^T gX X^T + (I - A X) gX^T X X^T + X^T X gX^T (I - X A)`` (conjugate transposes on complex values).
    """
    Xt = _mH(ns, X)
    T = ns.matmul(_mH(ns, gX), ns.matmul(X, Xt))
    W = ns.matmul(ns.matmul(Xt, X), _mH(ns, gX))
    return -ns.matmul(ns.matmul(Xt, gX), Xt) + (T - ns.matmul(A, ns.matmul(X, T))) + (W - ns.matmul(ns.matmul(W, X), A))


def _pinv_forward(xp, a, rcond=1e-15):
    return xp.pinv(a, rcond=rcond)


@defop(
    forward=_pinv_forward,
    vjp=lambda ns, g, out, a, rcond=1e-15: _pinv_adjoint(ns, g, out, a),
    batch="trailing",
    formula="A^+;  dA = -X^T g X^T + (I - A X) g^T X X^T + X^T X g^T (I - X A)  (X = A^+, rank constant)",
    test=OpTest("full_rank", ref=np.linalg.pinv, rtol=1e-9),
    namespace="linalg",
)
def pinv(a, rcond=1e-15):
    """The Moore-Penrose pseudo-inverse (of each matrix of a stack), by the SVD.

    Singular values below ``rcond`` times the largest are treated as zero.
    The derivative exists where the rank does not change; it is the one of
    Golub and Pereyra (1973).

    Examples
    --------
    >>> import microgradnp as mg
    >>> A = mg.tensor([[1.0], [1.0]], requires_grad=True)
    >>> mg.linalg.pinv(A)
    tensor([[0.5, 0.5]], op=pinv)
    """
    _matrices("pinv", a, square=False)
    return (a,), ({"rcond": float(rcond)} if rcond != 1e-15 else None)


def _lstsq_forward(xp, a, b, rcond):
    return xp.lstsq(a, b, rcond)[0]


def _lstsq_vjp_all(ns, g, out, inputs, attrs, needs):
    # x = pinv(a) b: db = pinv(a)^T g, and pinv's rule with upstream g b^T.
    a, b = inputs
    X = ns.pinv(a, rcond=attrs["rcond"])
    gb = ns.matmul(_mH(ns, X), g) if needs[1] else None
    if not needs[0]:
        return None, gb
    bh = ns.conj(b) if _holds_complex(b) else b
    gX = _col(g) * bh if b.ndim == 1 else ns.matmul(g, _mT(ns, bh))
    return _pinv_adjoint(ns, gX, X, a), gb


@defop(
    forward=_lstsq_forward,
    vjp_all=_lstsq_vjp_all,
    formula="x = A^+ b;  db = A^+T g, dA = pinv's rule with g b^T",
    test=OpTest("lstsq", ref=lambda a, b, rcond: np.linalg.lstsq(a, b, rcond=rcond)[0], rtol=1e-9),
    public=False,
)
def lstsq_solution(a, b, rcond=None):
    """The least-squares solution of ``lstsq`` (``mg.linalg.lstsq`` returns it with the residuals, rank and singular values).

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.api import FUNCTIONS
    >>> FUNCTIONS["lstsq_solution"](mg.tensor([[1.0], [1.0]]), mg.tensor([1.0, 3.0]))
    tensor([2.])
    """
    sa = _matrices("lstsq", a, square=False)
    sb = np.shape(b)
    if len(sa) != 2 or len(sb) not in (1, 2) or sb[0] != sa[0]:
        raise np.linalg.LinAlgError(f"lstsq: needs a 2-D a and a 1-D or 2-D b with as many rows, got {sa} and {sb}")
    if rcond is None:
        rcond = float(np.finfo(np.result_type(a)).eps) * max(sa)
    return (a, b), {"rcond": float(rcond)}


# ---------------------------------------------------------------------------
# Norms
# ---------------------------------------------------------------------------


def _vector_norm_vjp(ns, g, out, x, ord=2.0, axis=None, keepdims=False):
    kept = _kept_shape(x.shape, axis)
    g = ns.reshape(g, kept)
    if ord == 0:  # a count of non-zeros: piecewise constant
        return ns.zeros_like(x)
    vx = ns.value(x)
    if _holds_complex(vx):
        # the direction of steepest ascent of |z|, z / |z|, which (unlike a real sign) changes with z: recorded
        modulus = ns.abs(vx)  # (as the forward computes |z|: exactly, for the comparisons below)
        x0 = modulus == 0
        size = ns.abs(x)
        sign = ns.where(x0, 0.0, x / ns.where(x0, 1.0, size))
    else:
        sign = ns.sign(vx)
        modulus, x0, size = vx * sign, vx == 0, x * sign
    if ord in (math.inf, -math.inf):  # |x| at the extreme element(s); ties share it evenly
        hit = ns.astype(modulus == ns.reshape(ns.value(out), kept), modulus.dtype)
        return g * sign * (hit / ns.sum(hit, axis=axis, keepdims=True))
    if ord == 1:
        return g * sign
    r = ns.reshape(out, kept)
    zero = ns.value(r) == 0  # the norm of a zero vector: the gradient 0 (a subgradient)
    if ord == 2:
        return g * ns.where(zero, 0.0, x / ns.where(zero, 1.0, r))
    # d/dx_i (sum |x|^p)^(1/p) = sign(x_i) |x_i|^(p-1) / r^(p-1); 0 at x_i = 0 for p < 1
    ax = ns.where(x0, 1.0, size)
    return g * ns.where(x0 | zero, 0.0, sign * ax ** (ord - 1) / ns.where(zero, 1.0, r) ** (ord - 1))


@defop(
    forward="vector_norm",
    vjp=_vector_norm_vjp,
    jvp="reduction",
    batch="reduce",
    formula="(sum |x|^p)^(1/p) over axis;  dx = g sign(x) |x|^(p-1) / norm^(p-1)  (p = inf: at the max of |x|)",
    test=OpTest("vector_norm", ref=lambda x, ord, axis, keepdims: _vector_norm_ref(x, ord, axis, keepdims), rtol=1e-10),
    namespace="linalg",
)
def vector_norm(x, ord=2, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """The ``ord``-norm of ``x`` over ``axis`` as one vector (all axes by default), as ``np.linalg.vector_norm``.

    ``ord`` is any number, ``inf`` or ``-inf`` (``0`` counts non-zeros).  At
    a zero vector the 2-norm's gradient is 0 (as in PyTorch); the 1-norm's
    is ``sign(x)``; ``inf``'s goes to the largest ``|x_i|``, shared evenly on
    ties.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([3.0, -4.0], requires_grad=True)
    >>> n = mg.linalg.vector_norm(x)
    >>> n
    tensor(5., op=vector_norm)
    >>> n.backward()
    >>> x.grad
    array([ 0.6, -0.8])
    """
    ndim = np.ndim(x)
    axis = checked_axis("vector_norm", x, axis_arg(axis, dim))
    keepdims = keepdims if keepdim is None else keepdim
    if axis is not None:
        axis = tuple(sorted({a % max(ndim, 1) for a in (axis if isinstance(axis, tuple) else (axis,))}))
        if ndim == 0:
            axis = None
    if ord is None:
        ord = 2
    if isinstance(ord, str) or not isinstance(ord, (int, float, np.integer, np.floating)):
        raise ValueError(f"vector_norm: ord must be a number, inf or -inf, got {ord!r}")
    return (x,), {"ord": float(ord), "axis": axis, "keepdims": bool(keepdims)}


def _vector_norm_ref(x, ord, axis, keepdims):
    axes = tuple(range(x.ndim)) if axis is None else axis
    a = np.abs(x)
    if ord == math.inf:
        r = a.max(axis=axes, keepdims=keepdims) if x.size else np.zeros(_kept_shape(x.shape, axis))
    elif ord == -math.inf:
        r = a.min(axis=axes, keepdims=keepdims)
    elif ord == 0:
        r = (a != 0).sum(axis=axes, keepdims=keepdims).astype(x.dtype)
    else:
        r = (a ** ord).sum(axis=axes, keepdims=keepdims) ** (1.0 / ord)
    return np.asarray(r)
