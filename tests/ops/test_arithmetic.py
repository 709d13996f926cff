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
