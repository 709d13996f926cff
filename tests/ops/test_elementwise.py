"""Elementwise ops beyond the property tests: PyTorch's kink conventions, stability at extremes."""

import warnings

import numpy as np

import microgradnp as mg


def test_kink_conventions_follow_pytorch():
    x = mg.tensor([0.0], requires_grad=True)
    mg.relu(x).sum().backward()
    assert x.grad[0] == 0.0
    x.grad = None
    mg.abs(x).sum().backward()
    assert x.grad[0] == 0.0
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([1.0, 3.0], requires_grad=True)
    mg.maximum(a, b).sum().backward()  # a tie splits the gradient
    np.testing.assert_array_equal(a.grad, [0.5, 0.0])
    np.testing.assert_array_equal(b.grad, [0.5, 1.0])


def test_sigmoid_family_is_stable_at_extreme_logits():
    x = mg.tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = mg.sigmoid(x)
        s.sum().backward()
        np.testing.assert_array_equal(s.data, [0.0, 0.5, 1.0])
        np.testing.assert_array_equal(x.grad, [0.0, 0.25, 0.0])
        assert mg.log_sigmoid(mg.tensor(-1000.0)).item() == -1000.0


def test_astype_to_an_integer_dtype_is_a_constant():
    x = mg.tensor([1.5, -2.7], requires_grad=True)
    y = mg.astype(x, int)
    assert not y.requires_grad and y.is_leaf
    np.testing.assert_array_equal(y.data, [1, -2])
    z = x.astype(np.float32)  # a floating dtype keeps the gradient
    z.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
