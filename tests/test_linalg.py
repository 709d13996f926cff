"""mg.linalg: NumPy's values and result types, closed-form gradients, one-triangle reading,
degenerate spectra, singular matrices, the composite norms, matrix_power and lstsq.

Each registry op of the namespace also runs through the registry-driven property
tests (tests/ops/test_properties.py): forward against NumPy, first and second
derivatives against finite differences, float32 and float16.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.ops import REGISTRY
from microgradnp.testing import gradcheck, gradgradcheck
from microgradnp.testing import strategies as mst

rng = np.random.default_rng(7)


def T(a):
    return mg.tensor(np.asarray(a, dtype=float), requires_grad=True)


def spd(n, seed=0):
    M = np.random.default_rng(seed).standard_normal((n, n))
    return M @ M.T + n * np.eye(n)


def test_the_namespace_offers_every_linalg_op_of_the_registry():
    registered = {name for name, op in REGISTRY.items() if op.namespace == "linalg"}
    assert registered <= set(mg.linalg.__all__)
    for name in registered:
        assert getattr(mg.linalg, name).op is REGISTRY[name]
        assert not hasattr(mg, name), f"mg.{name} should live in mg.linalg only, as in NumPy"


def test_results_have_numpys_named_fields():
    A = spd(3)
    for ours, theirs in [(mg.linalg.eigh(A), np.linalg.eigh(A)), (mg.linalg.svd(A), np.linalg.svd(A)),
                         (mg.linalg.qr(A), np.linalg.qr(A)), (mg.linalg.slogdet(A), np.linalg.slogdet(A))]:
        assert ours._fields == theirs._fields
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.data, b)


def test_closed_form_gradients():
    A = T(spd(3) + rng.standard_normal((3, 3)))
    inv_t = np.linalg.inv(A.data).T
    mg.linalg.slogdet(A).logabsdet.backward()  # d log|det A| = A^-T
    np.testing.assert_allclose(A.grad, inv_t, rtol=1e-12)
    A.grad = None
    mg.linalg.det(A).backward()  # d det A = det(A) A^-T
    np.testing.assert_allclose(A.grad, np.linalg.det(A.data) * inv_t, rtol=1e-10)
    A.grad = None
    mg.trace(mg.linalg.inv(A)).backward()  # d tr(A^-1) = -(A^-2)^T
    np.testing.assert_allclose(A.grad, -(np.linalg.inv(A.data) @ np.linalg.inv(A.data)).T, rtol=1e-10)


def test_det_of_a_singular_matrix_has_the_adjugate_as_gradient():
    a, b, c, d = 1.0, 2.0, 3.0, 6.0  # rank 1
    A = T([[a, b], [c, d]])
    mg.linalg.det(A).backward()
    np.testing.assert_allclose(A.grad, [[d, -c], [-b, a]], atol=1e-12)
    A3 = T([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])
    assert gradcheck(mg.linalg.det, A3)


def test_singular_and_indefinite_matrices_raise_linalg_error():
    with pytest.raises(np.linalg.LinAlgError, match="inv"):
        mg.linalg.inv(T([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(np.linalg.LinAlgError, match="cholesky"):
        mg.linalg.cholesky(T([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        mg.linalg.det(T(np.ones((2, 3))))
    with pytest.raises(ValueError, match="rows"):
        mg.linalg.solve(T(np.eye(2)), T(np.ones(3)))


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_and_eigh_read_one_triangle_and_differentiate_that_function(upper):
    S = spd(3)
    junk = rng.standard_normal((3, 3))
    A = np.triu(S) + np.tril(junk, -1) if upper else np.tril(S) + np.triu(junk, 1)
    x = T(A)
    L = mg.linalg.cholesky(x, upper=upper)
    np.testing.assert_allclose(L.data, np.linalg.cholesky(S, upper=upper) if hasattr(np, "matrix_transpose")
                               else (np.linalg.cholesky(S).T if upper else np.linalg.cholesky(S)), rtol=1e-12)
    (L * rng.standard_normal((3, 3))).sum().backward()
    unread = np.tril(np.ones((3, 3)), -1) if upper else np.triu(np.ones((3, 3)), 1)
    assert np.all(x.grad[unread == 1] == 0)
    w, V = mg.linalg.eigh(x, UPLO="U" if upper else "L")
    np.testing.assert_allclose(w.data, np.linalg.eigvalsh(S), rtol=1e-12)


def test_through_a_symmetric_parametrisation_the_gradient_is_pytorchs():
    # K = B B^T + I is symmetric; d/dB of sum(cholesky(K)) does not depend on which triangle is read.
    B = T(rng.standard_normal((3, 3)))
    assert gradcheck(lambda b: mg.linalg.cholesky(b @ b.T + mg.tensor(np.eye(3))).sum(), B)
    assert gradcheck(lambda b: mg.linalg.cholesky(b @ b.T + mg.tensor(np.eye(3)), upper=True).sum(), B)
    assert gradcheck(lambda b: mg.linalg.eigh(b @ b.T).eigenvalues @ mg.tensor([1.0, 2.0, 3.0]), B)


def test_eigenvalue_losses_are_exact_at_repeated_eigenvalues():
    x = T(2.0 * np.eye(3))
    w, _ = mg.linalg.eigh(x)
    (w * w).sum().backward()  # sum w^2 = |A|_F^2 for symmetric A: gradient 2A, on the lower triangle
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(x.grad, 4.0 * np.eye(3), atol=1e-12)


def test_the_projector_onto_a_repeated_eigenspace_differentiates_correctly():
    # A has eigenvalue 1 twice and 3 once; the projector P = V2 V2^T onto the repeated
    # eigenspace is smooth near A, so finite differences are valid; the basis V2 is not.
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    A = (Q * [1.0, 1.0, 3.0]) @ Q.T
    C = rng.standard_normal((3, 3))

    def loss(a):
        V = mg.linalg.eigh(a).eigenvectors[:, :2]
        return ((V @ V.T) * mg.tensor(C)).sum()

    assert gradcheck(loss, T((A + A.T) / 2))


def test_singular_value_losses_are_exact_at_repeated_and_zero_singular_values():
    A = T([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # singular values 1, 1; a wide matrix
    mg.linalg.svd(A, compute_uv=False).sum().backward()  # nuclear norm: gradient U Vh
    np.testing.assert_allclose(A.grad, A.data, atol=1e-12)
    B = T([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])  # a zero singular value of a tall matrix
    U, S, Vh = mg.linalg.svd(B, full_matrices=False)
    (S * S).sum().backward()  # |B|_F^2: gradient 2B, through the packed result with U and Vh unused
    np.testing.assert_allclose(B.grad, 2.0 * B.data, atol=1e-12)


def test_full_matrices_gives_numpys_shapes_and_the_reduced_gradient():
    A = T(rng.standard_normal((4, 2)))
    U, S, Vh = mg.linalg.svd(A)
    assert (U.shape, S.shape, Vh.shape) == ((4, 4), (2,), (2, 2))
    A2 = T(A.data)
    U2, S2, Vh2 = mg.linalg.svd(A2, full_matrices=False)
    ((U[:, :2] * U[:, :2] * 3.0).sum() + S.sum()).backward()
    ((U2 * U2 * 3.0).sum() + S2.sum()).backward()
    np.testing.assert_allclose(A.grad, A2.grad, atol=1e-12)


def test_qr_modes():
    A = rng.standard_normal((4, 3))
    Q, R = mg.linalg.qr(T(A))
    np.testing.assert_allclose((Q @ R).data, A, atol=1e-12)
    np.testing.assert_array_equal(mg.linalg.qr(T(A), mode="r").data, np.linalg.qr(A, mode="r"))
    wide = rng.standard_normal((2, 4))
    np.testing.assert_array_equal(mg.linalg.qr(T(wide), mode="complete").Q.data, np.linalg.qr(wide, "complete")[0])
    with pytest.raises(ValueError, match="complete"):
        mg.linalg.qr(T(A), mode="complete")


MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norms_match_numpy_and_finite_differences(ord):
    A = rng.standard_normal((3, 4))
    x = T(A)
    np.testing.assert_allclose(mg.linalg.norm(x, ord).data, np.linalg.norm(A, ord), rtol=1e-12)
    assert gradcheck(lambda a: mg.linalg.norm(a, ord), x)
    stack = rng.standard_normal((2, 3, 4))
    got = mg.linalg.norm(T(stack), ord, axis=(2, 0), keepdims=True)
    np.testing.assert_allclose(got.data, np.linalg.norm(stack, ord, axis=(2, 0), keepdims=True), rtol=1e-12)
    assert gradcheck(lambda a: mg.linalg.norm(a, ord, axis=(-1, 0)), T(stack))


@given(data=st.data())
def test_vector_norms_match_numpy(data):
    [x], attrs = data.draw(mst.op_inputs("vector_norm"))
    ord_ = attrs["ord"]
    axis = attrs["axis"]
    if axis is not None and len(axis) == 1:
        expected = np.linalg.norm(x.data, ord_, axis=axis[0], keepdims=attrs["keepdims"])
        np.testing.assert_allclose(mg.linalg.norm(x, ord_, axis[0], attrs["keepdims"]).data, expected, rtol=1e-12)


def test_norm_choices_and_errors():
    v = T([3.0, -4.0, 0.0])
    np.testing.assert_allclose(mg.linalg.norm(v, 1).data, 7.0)
    np.testing.assert_allclose(mg.linalg.norm(v, np.inf).data, 4.0)
    x = T(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_allclose(mg.linalg.norm(x).data, np.linalg.norm(x.data))
    np.testing.assert_allclose(mg.linalg.norm(x, axis=1).data, np.linalg.norm(x.data, axis=1))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        mg.linalg.norm(x, 2)
    with pytest.raises(ValueError, match="vectors"):
        mg.linalg.norm(v, "fro")
    with pytest.raises(ValueError, match="matrices"):
        mg.linalg.norm(T(np.eye(2)), 3)


def test_the_two_norm_of_zero_has_gradient_zero():
    z = T(np.zeros(3))
    mg.linalg.norm(z).backward()
    np.testing.assert_array_equal(z.grad, np.zeros(3))


@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 3, 4, 5, 7, 12])
def test_matrix_power_is_numpys_and_differentiable(n):
    A = rng.standard_normal((2, 3, 3)) / 2 + np.eye(3)
    x = T(A)
    P = mg.linalg.matrix_power(x, n)
    np.testing.assert_array_equal(P.data, np.linalg.matrix_power(A, n)) if n >= 0 else \
        np.testing.assert_allclose(P.data, np.linalg.matrix_power(A, n), rtol=1e-12)
    assert P.requires_grad
    assert gradcheck(lambda a: mg.linalg.matrix_power(a, n), x)
    if n == 0:
        P.sum().backward()
        np.testing.assert_array_equal(x.grad, np.zeros_like(A))


@pytest.mark.parametrize("m,n,kb", [(5, 3, None), (5, 3, 2), (2, 4, None), (3, 3, 2)])
def test_lstsq_gives_numpys_four_results(m, n, kb):
    a = rng.standard_normal((m, n))
    b = rng.standard_normal((m,) if kb is None else (m, kb))
    x, res, rank, s = mg.linalg.lstsq(T(a), T(b))
    ex, eres, erank, es = np.linalg.lstsq(a, b, rcond=None)
    np.testing.assert_allclose(x.data, ex, rtol=1e-10, atol=1e-12)
    assert res.shape == eres.shape and rank == erank
    np.testing.assert_allclose(res.data, eres, rtol=1e-10)
    np.testing.assert_allclose(s.data, es, rtol=1e-12)
    assert gradcheck(lambda a_, b_: mg.linalg.lstsq(a_, b_)[0], (T(a), T(b)))
    if res.size:
        assert gradcheck(lambda a_, b_: mg.linalg.lstsq(a_, b_)[1], (T(a), T(b)))


def test_lstsq_of_a_rank_deficient_matrix_is_the_minimum_norm_solution():
    a = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
    b = np.array([1.0, 2.0, 3.0])
    x, res, rank, s = mg.linalg.lstsq(T(a), T(b))
    ex, eres, erank, _ = np.linalg.lstsq(a, b, rcond=None)
    np.testing.assert_allclose(x.data, ex, rtol=1e-10)
    assert rank == erank == 1 and res.shape == eres.shape == (0,)


def test_eigvalsh_and_svdvals():
    A = spd(4)
    np.testing.assert_allclose(mg.linalg.eigvalsh(A).data, np.linalg.eigvalsh(A), rtol=1e-12)
    np.testing.assert_allclose(mg.linalg.svdvals(A).data, np.linalg.svd(A, compute_uv=False), rtol=1e-12)


def test_second_derivatives_of_composites():
    A = T(spd(3, seed=3))
    assert gradgradcheck(lambda a: mg.linalg.norm(a, "nuc"), A)
    assert gradgradcheck(lambda a: mg.linalg.matrix_power(a, -2).sum(), A)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "eigh", "svd", "qr", "cholesky", "pinv"])
def test_float16_is_computed_in_float32_and_kept(name):
    A = mg.tensor(spd(3).astype(np.float16), requires_grad=True)
    f = getattr(mg.linalg, name)
    out = f(A)
    for t in out if isinstance(out, tuple) else (out,):
        assert t.dtype == np.float16 and np.all(np.isfinite(t.data))


@pytest.mark.parametrize("sa, sb, axes", [
    ((4, 3, 3), (4, 3), (0, 0)), ((3, 3), (4, 3), (None, 0)), ((4, 3, 3), (3,), (0, None)),
    ((4, 3, 3), (4, 3, 2), (0, 0)), ((4, 2, 3, 3), (4, 3), (0, 0)), ((4, 3, 3), (4, 2, 3, 2), (0, 0))])
def test_vmap_of_solve_is_one_stacked_solve_equal_to_the_loop(sa, sb, axes):
    # NumPy 2 reads an example's 1-D b as a vector, a 2-D one as a matrix; a stack of a meets b's own stack.
    import warnings

    from microgradnp.func import grad, vmap

    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa) + 3 * np.eye(sa[-1])
    b = rng.standard_normal(sb)

    def example(i, x, axis):
        return x[i] if axis == 0 else x

    def loss(a, b):
        return (mg.linalg.solve(a, b) ** 2).sum()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "runs once per example" warning: the rule batches it
        out = vmap(mg.linalg.solve, in_axes=axes)(a, b)
        grads = vmap(grad(loss, argnums=(0, 1)), in_axes=axes)(a, b)
    for i in range(4):
        ai, bi = example(i, a, axes[0]), example(i, b, axes[1])
        np.testing.assert_allclose(out.data[i], mg.linalg.solve(ai, bi).data, rtol=1e-12)
        expected = grad(loss, argnums=(0, 1))(ai, bi)
        np.testing.assert_allclose(grads[0].data[i], expected[0].data, rtol=1e-10)
        np.testing.assert_allclose(grads[1].data[i], expected[1].data, rtol=1e-10)
