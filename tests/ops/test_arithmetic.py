"""Arithmetic ops and comparisons beyond the registry-driven property tests."""

import numpy as np

import microgradnp as mg
from microgradnp.testing import gradcheck, gradgradcheck


def test_comparisons_give_boolean_tensors_without_grad():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal((x == 2.0).data, [False, True, False])
    assert hash(x) == id(x) or isinstance(hash(x), int)


def test_pow_with_integer_exponent_on_negative_base():
    x = mg.tensor([-2.0, -0.5, 1.5], requires_grad=True)
    assert gradcheck(lambda x: x ** 3, x)
    assert gradgradcheck(lambda x: x ** 3, x)


def test_gradient_of_x_to_the_zero_is_zero_even_at_zero():
    # Polynomial features hit this: PyTorch gives 0, the formula 0 * 0**-1 gives NaN.
    x = mg.tensor([0.0, 2.0, -1.5], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])
    x = mg.tensor([0.0, 2.0], requires_grad=True)
    b = mg.tensor([0.0, 0.0], requires_grad=True)
    (x ** b).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    np.testing.assert_allclose(b.grad, [0.0, np.log(2.0)])


def test_tensor_exponent_zero_has_finite_second_derivative():
    x = mg.tensor([0.0, 1.5], requires_grad=True)
    b = mg.tensor([0.0, 0.0], requires_grad=True)
    (gx,) = mg.grad((x ** b).sum(), x, create_graph=True)
    (h,) = mg.grad(gx.sum(), b)
    assert np.all(np.isfinite(h.data))
    np.testing.assert_allclose(h.data, [0.0, 1.0 / 1.5])  # d/db (b x^(b-1)) at b = 0 is 1/x


def test_negative_power_of_zero_has_pytorch_infinite_gradients():
    x = mg.tensor(0.0, requires_grad=True)
    b = mg.tensor(-1.0, requires_grad=True)
    with np.errstate(divide="ignore"):
        y = x ** b
        y.backward()
    assert y.item() == np.inf
    assert x.grad == -np.inf and b.grad == -np.inf  # torch: -inf and inf * log(0) = -inf
