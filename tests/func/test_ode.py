"""odeint: the adjoint gradient and the forward tangent against an unrolled RK4, closed forms and finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.func import grad, hessian, jvp, odeint, vmap
from microgradnp.testing import gradcheck, jvpcheck


def _field(y, t, p):
    return mg.tanh(y @ p["A"]) + p["b"] * np.cos(t)


def _rk4(f, y0, times, p, steps=40):
    """A fixed-step RK4 written with microgradnp operations: recorded, so every transform differentiates it."""
    out, y = [y0], y0
    for t0, t1 in zip(times[:-1], times[1:]):
        h, t = (t1 - t0) / steps, t0
        for _ in range(steps):
            k1 = f(y, t, p)
            k2 = f(y + h / 2 * k1, t + h / 2, p)
            k3 = f(y + h / 2 * k2, t + h / 2, p)
            k4 = f(y + h * k3, t + h, p)
            y, t = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), t + h
        out.append(y)
    return mg.stack(out, axis=0)


def _rk4_extrapolated(f, y0, times, p):
    """RK4 at 40 and 80 steps per interval, their h^4 error terms cancelled (Richardson): a reference whose
    own error (about 1e-9 of the value at 40 steps alone, Hypothesis found one) stays below the tolerance."""
    return (16 * _rk4(f, y0, times, p, steps=80) - _rk4(f, y0, times, p, steps=40)) / 15


@settings(max_examples=max(5, settings().max_examples // 4), deadline=None)
@given(size=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_the_adjoint_gradient_and_the_tangent_equal_an_unrolled_rk4s(size, seed):
    rng = np.random.default_rng(seed)
    times = np.array([0.0, 0.4, 1.0])
    y0 = rng.standard_normal(size)
    p = {"A": rng.standard_normal((size, size)) * 0.8, "b": rng.standard_normal(size)}
    c = rng.standard_normal((3, size))

    def loss(solve):
        return lambda y0, p: (solve(_field, y0, times, p) * c).sum()

    got = grad(loss(odeint), argnums=(0, 1))(y0, p)
    expected = grad(loss(_rk4_extrapolated), argnums=(0, 1))(y0, p)
    np.testing.assert_allclose(got[0].data, expected[0].data, rtol=1e-7, atol=1e-9)
    for k in p:
        np.testing.assert_allclose(got[1][k].data, expected[1][k].data, rtol=1e-7, atol=1e-9)
    tangents = (mg.tensor(rng.standard_normal(size)), {k: mg.tensor(rng.standard_normal(v.shape)) for k, v in p.items()})
    _, t_ode = jvp(lambda y0, p: odeint(_field, y0, times, p), (mg.tensor(y0), p), tangents)
    _, t_rk4 = jvp(lambda y0, p: _rk4_extrapolated(_field, y0, times, p), (mg.tensor(y0), p), tangents)
    np.testing.assert_allclose(t_ode.data, t_rk4.data, rtol=1e-7, atol=1e-9)


def test_exponential_decay_matches_its_closed_form_and_finite_differences():
    times = np.array([0.0, 0.5, 1.5, 3.0])

    def decay(y, t, k):
        return -k * y

    y = odeint(decay, mg.tensor([1.0, 2.0]), times, mg.tensor(0.7))
    np.testing.assert_allclose(y.data, np.exp(-0.7 * times)[:, None] * [1.0, 2.0], rtol=1e-9)
    k, y0 = mg.tensor(0.7, requires_grad=True), mg.tensor([1.0, 2.0], requires_grad=True)
    odeint(decay, y0, times, k).sum().backward()
    np.testing.assert_allclose(k.grad, -(times * np.exp(-0.7 * times)).sum() * 3.0, rtol=1e-8)
    np.testing.assert_allclose(y0.grad, np.exp(-0.7 * times).sum() * np.ones(2), rtol=1e-8)
    assert gradcheck(lambda k, y0: odeint(decay, y0, times, k), (k, y0), rtol=1e-6, atol=1e-8)
    assert jvpcheck(lambda k, y0: odeint(decay, y0, times, k), (k, y0), rtol=1e-6, atol=1e-8)


def test_vmap_integrates_each_example_and_its_gradient_is_each_examples():
    times = [0.0, 1.0]
    ks = np.array([0.2, 0.5, 1.3])
    final = lambda k: odeint(lambda y, t, k: -k * y, mg.tensor([1.0]), times, k)[-1].sum()  # noqa: E731
    np.testing.assert_allclose(vmap(final)(ks).data, np.exp(-ks), rtol=1e-9)
    np.testing.assert_allclose(vmap(grad(final))(ks).data, -np.exp(-ks), rtol=1e-8)


def test_a_second_derivative_is_refused_by_name():
    final = lambda k: odeint(lambda y, t, k: -k * y, mg.tensor([1.0]), [0.0, 1.0], k).sum()  # noqa: E731
    for second in (hessian(final), grad(grad(final)),
                   grad(lambda k: jvp(final, (k,), (mg.tensor(1.0),))[1])):
        with pytest.raises(mg.func.TransformError, match="a second derivative through odeint"):
            second(mg.tensor(0.5))


def test_bad_times_are_named_and_the_solve_is_one_node_keeping_no_step():
    with pytest.raises(ValueError, match="increasing"):
        odeint(lambda y, t, k: -k * y, mg.tensor([1.0]), [1.0, 0.0], mg.tensor(1.0))
    with pytest.raises(TypeError, match="the times are not differentiated"):
        odeint(lambda y, t, k: -k * y, mg.tensor([1.0]), mg.tensor([0.0, 1.0], requires_grad=True), mg.tensor(1.0))
    k = mg.tensor(0.5, requires_grad=True)
    y = odeint(lambda y, t, k: -k * y, mg.tensor([1.0]), np.linspace(0, 10, 5), k, rtol=1e-8)
    assert len(list(mg.graph.walk(y))) <= 3  # whatever the number of steps
    assert "odeint, DOP853, rtol=1e-08" in mg.viz.to_dot(y)


def test_under_mg_compile_the_step_runs_eagerly_and_sees_new_parameters():
    k = mg.tensor(0.5, requires_grad=True)
    step = mg.compile(lambda y0: odeint(lambda y, t, k: -k * y, y0, [0.0, 1.0], k)[-1].sum())
    with pytest.warns(RuntimeWarning, match="odeint runs a solver in Python"):
        step(np.ones(1))
    with mg.no_grad():
        k += 0.5
    assert step(np.ones(1)).item() == pytest.approx(np.exp(-1.0), rel=1e-9)
