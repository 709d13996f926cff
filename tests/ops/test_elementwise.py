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


def test_sign_has_a_zero_gradient_and_still_requires_grad_as_in_pytorch():
    x = mg.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    s = mg.sign(x)
    assert s.requires_grad
    s.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])
    x.grad = None
    (mg.sign(x) * x).sum().backward()  # |x| written as sign(x) * x: the product rule keeps sign(x)
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 1.0])


def test_fmax_and_fmin_give_the_gradient_to_the_number_beside_a_nan():
    # Values from PyTorch 2.13: torch.fmax(a, b).sum().backward()
    a = mg.tensor([1.0, np.nan, np.nan, 4.0, 2.0], requires_grad=True)
    b = mg.tensor([2.0, 5.0, np.nan, np.nan, 2.0], requires_grad=True)
    mg.fmax(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b.grad, [1.0, 1.0, 0.0, 0.0, 0.0])
    a.grad = b.grad = None
    out = mg.fmin(a, b)
    np.testing.assert_array_equal(out.data[[0, 1, 3, 4]], [1.0, 5.0, 4.0, 2.0])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b.grad, [0.0, 1.0, 0.0, 0.0, 0.0])


def test_nan_to_num_passes_no_gradient_to_replaced_elements():
    x = mg.tensor([np.nan, np.inf, -np.inf, 2.0], requires_grad=True)
    y = mg.nan_to_num(x, nan=-1.0, posinf=9.0, neginf=-9.0)
    np.testing.assert_array_equal(y.data, [-1.0, 9.0, -9.0, 2.0])
    (y * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0, 3.0])
    big = mg.nan_to_num(mg.tensor([np.inf]))
    assert big.item() == np.finfo(np.float64).max


def test_remainder_is_pythons_percent_with_the_sign_of_the_divisor():
    a = mg.tensor([-3.5, 3.5, 7.0], requires_grad=True)
    b = mg.tensor([2.0, -2.0, 3.0], requires_grad=True)
    y = a % b
    np.testing.assert_array_equal(y.data, [-3.5 % 2.0, 3.5 % -2.0, 7.0 % 3.0])
    assert mg.mod is mg.remainder
    y.sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b.grad, [2.0, 2.0, -2.0])  # -floor(a / b)
    np.testing.assert_array_equal((5.0 % mg.tensor([3.0])).data, [2.0])
    with mg.no_grad():
        t = mg.tensor([5.0, -1.0])
        before = t.data
        t %= 3.0
    assert t.data is before  # in place under no_grad, as the other in-place operators
    np.testing.assert_array_equal(t.data, [2.0, 2.0])


def test_sinc_is_one_at_zero_with_a_zero_derivative():
    x = mg.tensor([0.0, 0.5], requires_grad=True)
    y = mg.sinc(x)
    np.testing.assert_array_equal(y.data, [1.0, np.sinc(0.5)])
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, -4.0 / np.pi], rtol=1e-15)  # torch: [0, -1.2732]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0 / 0 evaluated at 0, to any order
        (gx,) = mg.grad(mg.sinc(x).sum(), x, create_graph=True)
        gx.sum().backward()


def test_arctan2_and_hypot_have_nan_gradients_only_at_the_origin():
    a = mg.tensor([1.0, 0.0], requires_grad=True)
    b = mg.tensor([-1.0, 2.0], requires_grad=True)
    mg.arctan2(a, b).sum().backward()
    np.testing.assert_allclose(a.grad, [-0.5, 0.5])
    np.testing.assert_allclose(b.grad, [-0.5, 0.0])
    np.testing.assert_allclose(mg.hypot(mg.tensor([3e200]), mg.tensor([4e200])).data, [5e200], rtol=1e-15)
    o = mg.tensor([0.0], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        mg.hypot(o, o).sum().backward()  # the cone point: no derivative
    assert np.isnan(o.grad).all()
