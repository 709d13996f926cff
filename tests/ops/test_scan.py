"""Scans and orderings beyond the property tests: zeros in cumprod, sort's permutation, repeated indices."""

import numpy as np
import pytest

import microgradnp as mg


def test_cumprod_is_exact_with_zeros_as_in_pytorch():
    # Values from PyTorch 2.13.
    x = mg.tensor([2.0, 0.0, 3.0, 0.5], requires_grad=True)
    mg.cumprod(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 11.0, 0.0, 0.0])
    x = mg.tensor([2.0, 0.0, 3.0, 0.0, 4.0], requires_grad=True)
    (mg.cumprod(x) * mg.tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 22.0, 0.0, 0.0, 0.0])


def test_cumprod_second_derivative_through_a_zero():
    # y = [x0, x0 x1, x0 x1 x2]; d(sum y)/dx0 = 1 + x1 + x1 x2, whose derivative in x1 is 1 + x2.
    x = mg.tensor([0.0, 0.0, 3.0], requires_grad=True)
    (g,) = mg.grad(mg.cumprod(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, [1.0, 0.0, 0.0])
    g[0].backward()
    np.testing.assert_array_equal(x.grad, [0.0, 4.0, 0.0])


def test_cumsum_over_the_flattened_input_by_default():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = mg.cumsum(x)
    np.testing.assert_array_equal(y.data, [1.0, 3.0, 6.0, 10.0])
    (y * mg.tensor([1.0, 0.0, 0.0, 1.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [[2.0, 1.0], [1.0, 1.0]])


def test_sort_sends_each_gradient_back_to_its_element():
    x = mg.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    y = mg.sort(x, axis=1)
    np.testing.assert_array_equal(y.data, [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0]])
    (y * mg.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [[100.0, 1.0, 10.0], [1.0, 100.0, 10.0]])
    np.testing.assert_array_equal(mg.argsort(x, axis=1).data, [[1, 2, 0], [0, 2, 1]])
    flat = mg.tensor([[2.0, 1.0]], requires_grad=True)
    (mg.sort(flat, axis=None) * mg.tensor([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(flat.grad, [[10.0, 1.0]])


def test_take_along_axis_accumulates_repeated_and_negative_indices():
    x = mg.tensor([[10.0, 30.0, 20.0]], requires_grad=True)
    y = mg.take_along_axis(x, np.array([[1, -2, 0]]), axis=1)
    np.testing.assert_array_equal(y.data, [[30.0, 30.0, 10.0]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 2.0, 0.0]])
    with pytest.raises(IndexError, match="indices must be integers"):
        mg.take_along_axis(x, np.array([[0.0]]), axis=1)
    with pytest.raises(ValueError, match="as many dimensions"):
        mg.take_along_axis(x, np.array([0]), axis=1)


def test_diff_of_a_higher_order_than_the_length_is_empty_with_a_zero_gradient():
    x = mg.tensor([1.0, 4.0, 9.0], requires_grad=True)
    y = mg.diff(x, n=5)
    assert y.shape == (0,)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="at least one dimension"):
        mg.diff(mg.tensor(1.0))
    with pytest.raises(ValueError, match="non-negative int"):
        mg.diff(x, n=-1)


def test_flip_accepts_pytorchs_dims():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(x.flip(dims=(0, 1)).data, [[4.0, 3.0], [2.0, 1.0]])
