"""Behaviours HIPS autograd's wrapper tests and JAX's API tests check of their transforms, checked of ours.

Written for microgradnp (their suites import their own packages); each test names the behaviour it takes.
"""

from functools import partial

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.func import grad, hessian, hvp, jacfwd, jacrev, jvp, value_and_grad, vjp, vmap

RNG = np.random.default_rng(7)


def test_value_and_grad_agree_with_grad_on_a_python_scalar():
    f = lambda x: 3.0 * x ** 3.2  # noqa: E731
    value, g = value_and_grad(f)(1.7)
    assert value.item() == pytest.approx(3.0 * 1.7 ** 3.2, rel=1e-15)
    assert g.item() == grad(f)(1.7).item() == pytest.approx(3.0 * 3.2 * 1.7 ** 2.2, rel=1e-14)


def test_hessian_of_a_quadratic_form():
    H = RNG.standard_normal((5, 5))
    np.testing.assert_allclose(hessian(lambda x: (x @ H) @ x)(RNG.standard_normal(5)).data, H + H.T, rtol=1e-13)


@pytest.mark.parametrize("shape", [(5,), (5, 4), (5, 4, 3)])
def test_hessian_products_and_pullbacks_of_arrays_of_any_rank(shape):
    a, v = RNG.standard_normal(shape), RNG.standard_normal(shape)
    f = lambda a: mg.sin(a).sum()  # noqa: E731
    H = hessian(f)(a).data
    np.testing.assert_allclose(hvp(f, (a,), (v,))[1][0].data, np.tensordot(H, v, axes=len(shape)), rtol=1e-12)
    g = lambda a: mg.roll(mg.sin(a), 1)  # noqa: E731  (an asymmetric Jacobian)
    J = jacrev(g)(a).data
    np.testing.assert_allclose(vjp(g, a)[1](v)[0].data, np.tensordot(v, J, axes=len(shape)), rtol=1e-12)
    np.testing.assert_allclose(jacfwd(g)(a).data, J, rtol=1e-13)


def test_transforms_of_partial_functions_and_keyword_arguments():
    def f(x, y, scale=1.0):
        return (x * y).sum() * scale

    np.testing.assert_array_equal(grad(partial(f, y=np.array([2.0, 3.0])))(np.ones(2)).data, [2.0, 3.0])
    np.testing.assert_array_equal(grad(f)(np.ones(2), np.array([2.0, 3.0]), scale=2.0).data, [4.0, 6.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gradients_keep_the_input_dtype(dtype):
    y = RNG.standard_normal((4, 4)).astype(dtype)
    assert grad(lambda x: (x ** 2).sum())(y).dtype == dtype
    assert vmap(grad(lambda x: (x ** 2).sum()))(y).dtype == dtype


def test_python_control_flow_on_concrete_values_under_grad_and_jvp():
    relu = lambda x: x if x > 0 else 0.0 * x  # noqa: E731
    assert grad(relu)(2.0).item() == 1.0 and grad(relu)(-2.0).item() == 0.0
    assert jvp(relu, (2.0,), (1.0,))[1].item() == 1.0


def test_nested_closures_do_not_confuse_their_variables():
    assert grad(lambda x: grad(lambda y: x * y * y)(x))(3.0).item() == 12.0  # d/dx 2x^2
    assert grad(lambda x: jvp(lambda y: x * y, (x,), (1.0,))[1])(3.0).item() == 1.0  # d/dx x


def test_vmap_of_jvp_jvp_of_vmap_and_vmap_of_vjp_agree():
    X, V = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    f = lambda x: mg.tanh(x) * x.sum()  # noqa: E731
    a = vmap(lambda x, v: jvp(f, (x,), (v,))[1])(X, V)
    b = jvp(vmap(f), (X,), (V,))[1]
    loop = np.stack([jvp(f, (x,), (v,))[1].data for x, v in zip(X, V)])
    np.testing.assert_allclose(a.data, loop, rtol=1e-14)
    np.testing.assert_allclose(b.data, loop, rtol=1e-14)
    c = vmap(lambda x, v: vjp(f, x)[1](v)[0])(X, V)
    np.testing.assert_allclose(c.data, np.stack([vjp(f, x)[1](v)[0].data for x, v in zip(X, V)]), rtol=1e-14)


def test_negative_axes_and_unmapped_outputs():
    np.testing.assert_array_equal(vmap(lambda x: x.sum(), in_axes=-1)(np.ones((2, 3))).data, [2.0, 2.0, 2.0])
    out = vmap(lambda x: (x, mg.tensor(5.0)))(np.ones((3, 2)))
    np.testing.assert_array_equal(out[1].data, [5.0, 5.0, 5.0])
