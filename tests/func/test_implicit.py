"""Implicit differentiation: the solver's gradient equals the unrolled one and finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.func import fixed_point, grad
from microgradnp.testing import gradcheck


def _contraction(W):
    return lambda x, p: 0.5 * mg.tanh(x @ W + p)  # Lipschitz below 0.5 * |W| < 1


def _unrolled(f, x0, p, n=200):
    x = x0
    for _ in range(n):
        x = f(x, p)
    return x


@settings(max_examples=max(10, settings().max_examples), deadline=None)
@given(size=st.integers(1, 4), seed=st.integers(0, 2 ** 16))
def test_the_implicit_gradient_equals_the_unrolled_one_and_finite_differences(size, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((size, size))
    W /= max(1.0, np.linalg.norm(W, 2))  # a contraction: |0.5 W| <= 0.5
    f, x0 = _contraction(W), mg.zeros(size)
    p0 = rng.standard_normal(size)
    c = rng.standard_normal(size)

    def implicit(p):
        return (fixed_point(f, x0, p) * c).sum()

    def unrolled(p):
        return (_unrolled(f, x0, p) * c).sum()

    g_implicit, g_unrolled = grad(implicit)(p0), grad(unrolled)(p0)
    np.testing.assert_allclose(g_implicit.data, g_unrolled.data, rtol=1e-9, atol=1e-12)
    assert gradcheck(implicit, mg.tensor(p0, requires_grad=True))


def test_backward_stores_the_implicit_gradient_and_keeps_no_iteration():
    W = np.array([[0.3, -0.2], [0.1, 0.4]])
    p = mg.tensor([0.5, -1.0], requires_grad=True)
    x = fixed_point(_contraction(W), mg.zeros(2), p)
    assert len(list(mg.graph.walk(x))) <= 3  # one node for the whole solve, whatever the iterations
    (x ** 2).sum().backward()
    q = mg.tensor([0.5, -1.0], requires_grad=True)
    (_unrolled(_contraction(W), mg.zeros(2), q) ** 2).sum().backward()
    np.testing.assert_allclose(p.grad, q.grad, rtol=1e-9)


def test_a_map_that_does_not_converge_is_named():
    with pytest.raises(RuntimeError, match="the forward iteration did not converge in 50 iterations"):
        fixed_point(lambda x, p: 2.0 * x + p, mg.tensor([1.0]), mg.tensor([1.0], requires_grad=True), max_iter=50)
