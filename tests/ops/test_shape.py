"""Indexing and shape ops beyond the property tests: repeated indices, masks, index_put, transpose axes."""

import numpy as np
import pytest

import microgradnp as mg


def test_repeated_integer_indices_accumulate():
    x = mg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x[np.array([0, 0, 3, 0])] * mg.tensor([1.0, 2.0, 3.0, 4.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [7.0, 0.0, 0.0, 3.0])


def test_boolean_mask_and_slices():
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (x[x.data > 2].sum() + x[:, 1:].sum() * 10).backward()
    np.testing.assert_array_equal(x.grad, [[0, 10, 10], [1, 11, 11]])


def test_index_tensors_must_be_integer():
    x = mg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match="dtype=int"):
        x[mg.tensor([0, 1])]
    np.testing.assert_array_equal(x[mg.tensor([0, 2], dtype=int)].data, [1.0, 3.0])
    np.testing.assert_array_equal(x[[2, 0]].data, [3.0, 1.0])


def test_index_put_is_the_adjoint_of_getitem():
    # <x[key], v> == <x, index_put(v, key, x.shape)> for every x and v.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    key = (np.array([0, 2, 2, 3]), np.array([1, 1, 1, 0]))
    v = rng.standard_normal(4)
    lhs = np.sum(x[key] * v)
    rhs = np.sum(x * mg.index_put(mg.tensor(v), key, x.shape).data)
    assert np.isclose(lhs, rhs)


def test_transpose_with_negative_axes_has_the_right_gradient():
    x = mg.tensor(np.arange(27.0).reshape(3, 3, 3), requires_grad=True)
    y = mg.transpose(x, (-1, 0, 1))
    np.testing.assert_array_equal(y.data, np.transpose(x.data, (2, 0, 1)))
    g = np.arange(27.0).reshape(3, 3, 3)
    y.backward(g)
    np.testing.assert_array_equal(x.grad, np.transpose(g, np.argsort((2, 0, 1))))
