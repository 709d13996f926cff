"""custom_vjp and custom_jvp: the user's rules hold under every transform and their compositions."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.func import custom_jvp, custom_vjp, grad, hessian, jacfwd, jacrev, jvp, vjp, vmap
from microgradnp.testing import gradcheck, gradgradcheck

X = np.array([[0.3, -1.2, 2.0], [1.5, 0.2, -0.7]])


def _softplus_vjp():
    """softplus with a reverse rule of its own, written with microgradnp ops (so differentiable again)."""

    @custom_vjp
    def softplus(x):
        return mg.log(1.0 + mg.exp(x))

    def fwd(x):
        return softplus(x), x

    def bwd(x, g):
        return (g * mg.sigmoid(x),)

    softplus.defvjp(fwd, bwd)
    return softplus


def _softplus_jvp():
    @custom_jvp
    def softplus(x):
        return mg.log(1.0 + mg.exp(x))

    softplus.defjvp(lambda p, t: (softplus(p[0]), t[0] * mg.sigmoid(p[0])))
    return softplus


def _sig(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("make", [_softplus_vjp, _softplus_jvp], ids=["custom_vjp", "custom_jvp"])
def test_every_transform_and_composition_uses_the_rule(make):
    f = make()
    x = X[0]
    np.testing.assert_allclose(f(mg.tensor(x)).data, np.log1p(np.exp(x)), rtol=1e-14)
    s = lambda v: f(v).sum()  # noqa: E731
    np.testing.assert_allclose(grad(s)(x).data, _sig(x), rtol=1e-14)
    np.testing.assert_allclose(grad(lambda v: grad(s)(v).sum())(x).data, _sig(x) * (1 - _sig(x)), rtol=1e-12)
    np.testing.assert_allclose(hessian(s)(x).data, np.diag(_sig(x) * (1 - _sig(x))), rtol=1e-12)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(jvp(f, (x,), (v,))[1].data, _sig(x) * v, rtol=1e-14)
    np.testing.assert_allclose(jacfwd(f)(x).data, np.diag(_sig(x)), rtol=1e-14)
    np.testing.assert_allclose(jacrev(f)(x).data, np.diag(_sig(x)), rtol=1e-14)
    np.testing.assert_allclose(vmap(f)(X).data, np.log1p(np.exp(X)), rtol=1e-14)
    np.testing.assert_allclose(vmap(grad(s))(X).data, _sig(X), rtol=1e-14)
    np.testing.assert_allclose(grad(lambda a: vmap(s)(a).sum())(X).data, _sig(X), rtol=1e-14)
    np.testing.assert_allclose(vmap(vmap(f))(X[None]).data[0], np.log1p(np.exp(X)), rtol=1e-14)
    _, pull = vjp(f, x)
    np.testing.assert_allclose(pull(v)[0].data, _sig(x) * v, rtol=1e-14)
    t = mg.tensor(x, requires_grad=True)
    assert gradcheck(f, t) and gradgradcheck(f, t)
    f(t).sum().backward()
    np.testing.assert_allclose(t.grad, _sig(x), rtol=1e-14)


def test_the_rule_is_used_not_the_function_s_own_derivative():
    # A rule that differs from the function's derivative on purpose: every transform must give the rule's.
    @custom_vjp
    def clipped(x):
        return x * 1.0

    clipped.defvjp(lambda x: (x * 1.0, None), lambda res, g: (mg.clip(g, -1.0, 1.0),))
    loss = lambda x: (3.0 * clipped(x)).sum()  # noqa: E731
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(grad(loss)(x).data, [1.0, 1.0])
    np.testing.assert_array_equal(vmap(grad(loss))(np.ones((2, 2))).data, np.ones((2, 2)))
    np.testing.assert_array_equal(grad(lambda a: vmap(loss)(a).sum())(np.ones((2, 2))).data, np.ones((2, 2)))
    t = mg.tensor(x, requires_grad=True)
    loss(t).backward()
    np.testing.assert_array_equal(t.grad, [1.0, 1.0])

    @custom_jvp
    def straight(x):
        return mg.sign(x)

    straight.defjvp(lambda p, t: (mg.sign(p[0]), t[0]))
    np.testing.assert_array_equal(grad(lambda x: (straight(x) * 2.0).sum())(x).data, [2.0, 2.0])
    np.testing.assert_array_equal(vmap(grad(lambda x: straight(x).sum()))(np.ones((3, 2))).data, np.ones((3, 2)))


def test_static_arguments_several_inputs_and_unused_gradients():
    @custom_vjp
    def scaled_dot(a, b, k):
        return (a * b).sum() * k

    def fwd(a, b, k):
        return scaled_dot(a, b, k), (a, b)

    def bwd(k, res, g):
        a, b = res
        return g * k * b, None  # b gets no gradient by the rule

    scaled_dot = custom_vjp(scaled_dot.fun, nondiff_argnums=(2,))
    scaled_dot.defvjp(fwd, bwd)
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    ga, gb = grad(lambda a, b: scaled_dot(a, b, 2.0), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ga.data, 2.0 * b)
    np.testing.assert_array_equal(gb.data, [0.0, 0.0])
    per = vmap(grad(lambda a, b: scaled_dot(a, b, 2.0)), in_axes=(0, None))(np.stack([a, 2 * a]), b)
    np.testing.assert_array_equal(per.data, [2.0 * b, 2.0 * b])


def test_misuse_is_named():
    @custom_vjp
    def f(x):
        return x * 2

    with pytest.raises(TypeError, match=r"give its rules first \(f.defvjp"):
        f(mg.tensor(1.0))
    f.defvjp(lambda x: (x * 2, None), lambda res, g: (g * 2, g))
    with pytest.raises(ValueError, match="bwd returned 2 gradient"):
        grad(lambda x: f(x).sum())(np.ones(2))
    g = custom_vjp(lambda x: (x, x))
    g.defvjp(lambda x: ((x, x), None), lambda res, gg: (gg,))
    with pytest.raises(TypeError, match="return one Tensor"):
        g(mg.tensor(1.0))
    with pytest.raises(TypeError, match="argument 0 is a str"):
        f("x")


def test_a_custom_rule_inside_a_compiled_training_step():
    softplus = _softplus_vjp()
    w = mg.tensor([0.5, -0.5, 1.0], requires_grad=True)
    opt = mg.optim.SGD([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = softplus(x * w).sum()
        loss.backward()
        opt.step()
        return loss

    compiled = mg.compile(step)
    w_eager = mg.tensor(w.data.copy(), requires_grad=True)
    opt_eager = mg.optim.SGD([w_eager], lr=0.1)
    for x in X:
        compiled(x)
        opt_eager.zero_grad()
        softplus(mg.tensor(x) * w_eager).sum().backward()
        opt_eager.step()
    np.testing.assert_allclose(w.data, w_eager.data, rtol=1e-14)
