"""Contractions beyond the property tests: einsum's subscripts and errors, NumPy's dot on stacks."""

import numpy as np
import pytest

import microgradnp as mg


def test_einsum_reads_implicit_outputs_ellipses_and_repeated_letters_as_numpy_does():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 3)), rng.normal(size=(3, 4))
    for subscripts, ops in [("ij,jk", (a[0], b)), ("...ij,jk->...ik", (a, b)), ("bii->b", (a,)), ("ii", (a[1],)),
                            ("ij,ij->", (a[0], a[1])), ("i,j", (b[0], b[1])), ("ba", (b,))]:
        got = mg.einsum(subscripts, *[mg.tensor(x) for x in ops])
        np.testing.assert_allclose(got.data, np.einsum(subscripts, *ops), rtol=1e-13, err_msg=subscripts)


def test_einsum_gradient_of_a_diagonal_and_of_a_letter_summed_in_one_operand():
    a = mg.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    (mg.einsum("ii->i", a) * mg.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(a.grad, np.diag([1.0, 2.0, 3.0]))
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    mg.einsum("ij->i", x).sum().backward()  # j only in x: the gradient is broadcast along it
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


def test_einsum_errors_name_the_subscripts():
    x = mg.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="names 3 axes of an operand with 2 dimensions"):
        mg.einsum("ijk", x)
    with pytest.raises(ValueError, match="names 2 operand"):
        mg.einsum("ij,jk", x)
    with pytest.raises(ValueError, match="output letter 'q'"):
        mg.einsum("ij->q", x)
    with pytest.raises(TypeError, match="subscripts string"):
        mg.einsum(x, [0, 1])


def test_dot_on_stacks_differs_from_matmul_as_in_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4, 2))
    ta, tb = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
    y = mg.dot(ta, tb)
    assert y.shape == (2, 3, 5, 2) == np.dot(a, b).shape
    np.testing.assert_allclose(y.data, np.dot(a, b), rtol=1e-13)
    y.sum().backward()
    np.testing.assert_allclose(ta.grad, np.broadcast_to(b.sum(axis=(0, 2)), (2, 3, 4)), rtol=1e-13)
    with pytest.raises(ValueError, match="not aligned"):
        mg.dot(ta, ta)


def test_named_products_match_numpy():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 2))
    ta, tb = mg.tensor(a), mg.tensor(b)
    np.testing.assert_allclose(mg.outer(ta, tb).data, np.outer(a, b))
    np.testing.assert_allclose(mg.vdot(ta, tb).data, np.vdot(a, b))
    np.testing.assert_allclose(mg.kron(ta, tb).data, np.kron(a, b))
    np.testing.assert_allclose(mg.inner(ta, tb.T).data, np.inner(a, b.T))
    np.testing.assert_allclose(mg.tensordot(ta, tb, axes=([1, 0], [0, 1])).data, np.tensordot(a, b, ([1, 0], [0, 1])))
    with pytest.raises(ValueError, match="differ in size"):
        mg.vdot(ta, mg.tensor(np.ones(5)))
    with pytest.raises(ValueError, match="axis 1 of a .size 3. and axis 0 of b .size 2. differ"):
        mg.tensordot(ta, mg.tensor(np.ones((2, 3))), axes=([1], [0]))
