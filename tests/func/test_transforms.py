"""microgradnp.func: function transforms against closed forms and finite differences (float64)."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp import func
from microgradnp.func._batching import WARNED
from microgradnp.testing import GradcheckError, jvpcheck
from microgradnp.testing import strategies as mst

RNG = np.random.default_rng(0)


def _central(f, x, v, h=1e-6):
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


def test_grad_of_a_closed_form_and_its_structure():
    x = RNG.standard_normal(5)
    f = lambda x: (mg.sin(x) * x ** 2).sum()  # noqa: E731
    g = func.grad(f)(x)
    assert isinstance(g, mg.Tensor) and not g.requires_grad
    np.testing.assert_allclose(g.data, np.cos(x) * x ** 2 + 2 * x * np.sin(x), rtol=1e-13)
    # argnums tuple, dicts of parameters, has_aux
    w, b = RNG.standard_normal(3), 0.5

    def loss(params, x):
        return ((x @ params["w"] + params["b"]) ** 2).sum(), "aux"

    X = RNG.standard_normal((4, 3))
    (gp, gx), aux = func.grad(loss, argnums=(0, 1), has_aux=True)({"w": w, "b": b}, X)
    r = X @ w + b
    assert aux == "aux" and set(gp) == {"w", "b"}
    np.testing.assert_allclose(gp["w"].data, 2 * X.T @ r, rtol=1e-13)
    np.testing.assert_allclose(gp["b"].data, 2 * r.sum(), rtol=1e-13)
    np.testing.assert_allclose(gx.data, 2 * np.outer(r, w), rtol=1e-13)


def test_value_and_grad():
    (value, aux), g = func.value_and_grad(lambda x: ((x ** 2).sum(), x.shape), has_aux=True)(np.array([1.0, 2.0]))
    assert value.item() == 5.0 and aux == (2,)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])


def test_grad_composes_to_any_order():
    x = mg.tensor(0.7)
    d = func.grad
    np.testing.assert_allclose(d(mg.sin)(x).item(), np.cos(0.7), rtol=1e-14)
    np.testing.assert_allclose(d(d(mg.sin))(x).item(), -np.sin(0.7), rtol=1e-14)
    np.testing.assert_allclose(d(d(d(mg.sin)))(x).item(), -np.cos(0.7), rtol=1e-14)


def test_nested_transforms_do_not_confuse_their_inputs():
    # d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x; confusing y with x gives 4x (Siskind & Pearlmutter).
    f = lambda x: x * func.grad(lambda y: x * y)(x)  # noqa: E731
    assert func.grad(f)(mg.tensor(3.0)).item() == 6.0


def test_a_closure_parameter_stays_differentiable_as_in_torch_func():
    w = mg.tensor([2.0, -1.0], requires_grad=True)
    g = func.grad(lambda x: (w * x ** 2).sum())(np.array([1.0, 3.0]))  # 2 w x
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, 6.0])


def test_vjp_pulls_back_any_cotangent_and_can_be_called_again():
    A = RNG.standard_normal((3, 4))
    x = RNG.standard_normal(4)
    out, pull = func.vjp(lambda A, x: mg.tanh(A @ x), A, x)
    np.testing.assert_allclose(out.data, np.tanh(A @ x), rtol=1e-14)
    for _ in range(2):
        u = RNG.standard_normal(3)
        gA, gx = pull(u)
        s = u * (1 - np.tanh(A @ x) ** 2)
        np.testing.assert_allclose(gA.data, np.outer(s, x), rtol=1e-12)
        np.testing.assert_allclose(gx.data, A.T @ s, rtol=1e-12)
    with pytest.raises(ValueError, match="cotangent 0 has shape"):
        pull(np.ones(4))


def test_jvp_matches_closed_forms_and_central_differences():
    x, v = RNG.standard_normal(6), RNG.standard_normal(6)
    out, t = func.jvp(lambda x: mg.exp(mg.sin(x)) * x, (x,), (v,))
    np.testing.assert_allclose(out.data, np.exp(np.sin(x)) * x, rtol=1e-14)
    expected = (np.exp(np.sin(x)) * np.cos(x) * x + np.exp(np.sin(x))) * v
    np.testing.assert_allclose(t.data, expected, rtol=1e-13)
    # an MLP loss in every parameter at once, against central differences
    W1, b1, W2 = RNG.standard_normal((5, 3)), RNG.standard_normal(5), RNG.standard_normal((2, 5))
    X, y = RNG.standard_normal((7, 3)), RNG.integers(0, 2, 7)

    def loss(W1, b1, W2):
        h = mg.tanh(X @ W1.T + b1)
        return mg.nn.functional.cross_entropy(h @ W2.T, y)

    primals, tangents = (W1, b1, W2), tuple(RNG.standard_normal(p.shape) for p in (W1, b1, W2))
    _, t = func.jvp(loss, primals, tangents)

    def along(s):
        return loss(*(mg.tensor(p + s * d) for p, d in zip(primals, tangents))).item()

    np.testing.assert_allclose(t.item(), (along(1e-5) - along(-1e-5)) / 2e-5, rtol=1e-8)


def test_jvp_through_ops_whose_rule_is_the_transposed_vjp():
    # svd and qr have no forward rule of their own: their JVP transposes the VJP.
    A = RNG.standard_normal((4, 3))
    assert mg.linalg.svdvals.__module__ == "microgradnp.linalg" and mg.ops.REGISTRY["svd"].jvp is None
    f = lambda A: mg.linalg.svdvals(A)  # noqa: E731
    V = RNG.standard_normal(A.shape)
    _, t = func.jvp(f, (A,), (V,))
    np.testing.assert_allclose(t.data, _central(lambda A: np.linalg.svd(A, compute_uv=False), A, V), rtol=1e-7)


@given(x=mst.tensors(shape=(3,), requires_grad=False))
def test_jacrev_and_jacfwd_agree_with_the_closed_form(x):
    A = np.arange(12.0).reshape(4, 3) / 10
    f = lambda x: A @ mg.tanh(x) + mg.sum(x ** 2)  # noqa: E731
    expected = A * (1 - np.tanh(x.data) ** 2) + 2 * x.data
    np.testing.assert_allclose(func.jacrev(f)(x).data, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(func.jacfwd(f)(x).data, expected, rtol=1e-12, atol=1e-14)
    assert func.jacobian is func.jacrev


def test_jacobians_of_several_outputs_and_arguments():
    x, y = RNG.standard_normal(2), RNG.standard_normal(3)
    f = lambda x, y: (x * 2.0, mg.outer(x, y))  # noqa: E731
    for jac in (func.jacrev, func.jacfwd):
        (jx, jy), (ox, oy) = jac(f, argnums=(0, 1))(x, y)
        np.testing.assert_array_equal(jx.data, 2 * np.eye(2))
        assert jy.shape == (2, 3) and not jy.data.any()
        assert ox.shape == (2, 3, 2) and oy.shape == (2, 3, 3)
        np.testing.assert_allclose(ox.data, np.einsum("ik,j->ijk", np.eye(2), y), rtol=1e-14)
        np.testing.assert_allclose(oy.data, np.einsum("i,jk->ijk", x, np.eye(3)), rtol=1e-14)


def test_hessian_is_forward_over_reverse_and_matches_the_closed_form():
    A = RNG.standard_normal((4, 4))
    x = RNG.standard_normal(4)
    f = lambda x: 0.5 * x @ (A @ x) + mg.exp(x).sum() + x[0] * x[1] ** 2  # noqa: E731
    H = A + A.T
    H = 0.5 * H + np.diag(np.exp(x))
    H[0, 1] += 2 * x[1]
    H[1, 0] += 2 * x[1]
    H[1, 1] += 2 * x[0]
    np.testing.assert_allclose(func.hessian(f)(x).data, H, rtol=1e-12)
    # blocks for several arguments
    g = lambda a, b: (a ** 2 * b).sum()  # noqa: E731
    (haa, hab), (hba, hbb) = func.hessian(g, argnums=(0, 1))(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(haa.data, np.diag([6.0, 8.0]))
    np.testing.assert_array_equal(hab.data, np.diag([2.0, 4.0]))
    np.testing.assert_array_equal(hba.data, hab.data)
    assert not hbb.data.any()


def test_hvp_is_the_hessian_times_the_vector():
    A = RNG.standard_normal((5, 5))
    x, v = RNG.standard_normal(5), RNG.standard_normal(5)
    f = lambda x: mg.logsumexp(A @ x) + (x ** 4).sum()  # noqa: E731
    value, (hv,) = func.hvp(f, (x,), (v,))
    H = func.hessian(f)(x).data
    np.testing.assert_allclose(value.item(), f(mg.tensor(x)).item(), rtol=1e-15)
    np.testing.assert_allclose(hv.data, H @ v, rtol=1e-12)
    g = lambda x: func.grad(f)(x).data  # noqa: E731
    np.testing.assert_allclose(hv.data, _central(g, x, v), rtol=1e-7)


def test_push_forward_on_a_graph_already_recorded():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = mg.exp(x) * 2
    (t,) = func.push_forward(y, x, np.array([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(t.data, 2 * np.exp(x.data) * [1.0, 0.0, -1.0], rtol=1e-15)
    unrelated = mg.tensor(1.0, requires_grad=True)
    (z,) = func.push_forward(unrelated * 2, x, np.ones(3))
    assert z.shape == () and z.item() == 0.0
    with pytest.raises(ValueError, match="tangent 0 has shape"):
        func.push_forward(y, x, np.ones(2))


def _power_function(name: str, power: float, backward_factor: float, jvp_factor: float | None):
    """A custom Function for x ** power whose backward and jvp scale the true derivative by the factors."""

    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** power

    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        return backward_factor * power * x ** (power - 1) * grad

    def jvp(ctx, t):
        (x,) = ctx.saved_arrays
        return jvp_factor * power * x ** (power - 1) * t

    body = {"forward": staticmethod(forward), "backward": staticmethod(backward)}
    if jvp_factor is not None:
        body["jvp"] = staticmethod(jvp)
    return type(name, (mg.Function,), body)


def test_a_custom_function_takes_part_in_forward_mode_through_its_jvp():
    Cube = _power_function("Cube", 3, 1.0, 1.0)
    NoJvp = _power_function("NoJvp", 1, 2.0, None)  # d(2x)/dx, no forward rule
    x = np.array([1.0, 2.0])
    _, t = func.jvp(Cube.apply, (x,), (np.ones(2),))
    np.testing.assert_array_equal(t.data, [3.0, 12.0])
    assert jvpcheck(Cube.apply, mg.tensor(x, requires_grad=True))
    with pytest.raises(RuntimeError, match="NoJvp has no jvp"):
        func.jvp(NoJvp.apply, (x,), (np.ones(2),))
    np.testing.assert_array_equal(func.jacrev(NoJvp.apply)(x).data, 2 * np.eye(2))  # reverse mode needs none


def test_jvpcheck_finds_a_wrong_forward_rule_and_a_disagreement_with_backward():
    WrongJvp = _power_function("WrongJvp", 2, 1.0, 1.5)
    WrongBackward = _power_function("WrongBackward", 2, 1.5, 1.0)
    x = mg.randn(30, rng=1, requires_grad=True)
    with pytest.raises(GradcheckError, match="disagrees with central differences"):
        jvpcheck(WrongJvp.apply, x)
    with pytest.raises(GradcheckError, match="forward and reverse mode disagree"):
        jvpcheck(WrongBackward.apply, x)
    assert jvpcheck(WrongJvp.apply, x, raise_exception=False) is False


def test_clear_errors_for_misuse():
    with pytest.raises(ValueError, match="scalar"):
        func.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(TypeError, match="floating-point"):
        func.grad(lambda x: x.sum())(np.arange(3))
    with pytest.raises(ValueError, match="argnums 2"):
        func.grad(lambda x: x.sum(), argnums=2)(np.ones(3))
    with pytest.raises(TypeError, match="pair"):
        func.grad(lambda x: x.sum(), has_aux=True)(np.ones(3))
    with pytest.raises(ValueError, match="tangent 0 has shape"):
        func.jvp(mg.sin, (np.ones(3),), (np.ones(2),))
    with pytest.raises(TypeError, match="tuples"):
        func.jvp(mg.sin, np.ones(3), np.ones(3))


def test_results_of_a_function_that_ignores_its_input_are_zeros():
    assert func.grad(lambda x: mg.tensor(3.0))(np.ones(2)).data.tolist() == [0.0, 0.0]
    _, t = func.jvp(lambda x: mg.tensor([1.0, 2.0]), (np.ones(2),), (np.ones(2),))
    assert t.data.tolist() == [0.0, 0.0]
    assert func.jacfwd(lambda x: mg.tensor([1.0]))(np.ones(2)).shape == (1, 2)


@given(st.data())
def test_jvpcheck_passes_on_a_random_registry_op(data):
    name = data.draw(st.sampled_from(sorted(n for n, op in mg.ops.REGISTRY.items() if op.differentiable)))
    op = mg.ops.REGISTRY[name]
    if op.test.gauge is not None:
        return  # sign-ambiguous results: checked through their gauge in tests/ops
    inputs, attrs = data.draw(mst.op_inputs(op))
    assert jvpcheck(lambda *xs: mg.engine.apply(op, xs, attrs), inputs, name=name, rtol=1e-4)


# ---------------------------------------------------------------------------
# vmap
# ---------------------------------------------------------------------------


def _mlp_loss(params, x, y):
    """A ReLU MLP's softmax cross-entropy on one example with a one-hot target."""
    h = mg.relu(mg.linear(x, params["W1"], params["b1"]))
    return -(mg.log_softmax(mg.linear(h, params["W2"], params["b2"])) * y).sum()


def _mlp(rng, n_in=6, n_hidden=5, n_out=3):
    return {"W1": rng.standard_normal((n_hidden, n_in)), "b1": rng.standard_normal(n_hidden),
            "W2": rng.standard_normal((n_out, n_hidden)), "b2": rng.standard_normal(n_out)}


def test_vmap_of_grad_gives_the_per_example_gradients_of_an_mlp():
    rng = np.random.default_rng(1)
    params = _mlp(rng)
    X = rng.standard_normal((7, 6))
    Y = np.eye(3)[rng.integers(0, 3, 7)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every op of an MLP and of its backward pass has a batching rule
        per_example = func.vmap(func.grad(_mlp_loss), in_axes=(None, 0, 0))(params, X, Y)
    for i in range(7):
        one = func.grad(_mlp_loss)(params, X[i], Y[i])
        for k in params:
            np.testing.assert_allclose(per_example[k].data[i], one[k].data, rtol=1e-12, atol=1e-14)
    # ReLU masks differ between examples: the replay computes each one again
    assert len({tuple((X[i] @ params["W1"].T + params["b1"] > 0).tolist()) for i in range(7)}) > 1


def test_vmap_axes_and_structures():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((3, 4, 5))  # batch along axis 1
    f = lambda a, b: {"sum": (a * b).sum(axis=0), "outer": mg.outer(a[0], b)}  # noqa: E731
    b = rng.standard_normal(5)
    out = func.vmap(f, in_axes=(1, None), out_axes=1)(A, b)
    for i in range(4):
        ref = f(mg.tensor(A[:, i]), mg.tensor(b))
        np.testing.assert_allclose(out["sum"].data[:, i], ref["sum"].data, rtol=1e-14)
        np.testing.assert_allclose(out["outer"].data[:, i], ref["outer"].data, rtol=1e-14)
    # an output that does not depend on the batch is repeated for every example
    const = func.vmap(lambda x: (x * 2, mg.tensor([1.0, 2.0])))(np.ones((3, 2)))
    assert const[1].shape == (3, 2) and const[1].data.tolist() == [[1.0, 2.0]] * 3


def test_vmap_of_jvp_and_of_hessian():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 3))
    f = lambda x: (mg.tanh(x) ** 3).sum()  # noqa: E731
    H = func.vmap(func.hessian(f))(X)
    for i in range(4):
        np.testing.assert_allclose(H.data[i], func.hessian(f)(X[i]).data, rtol=1e-12)
    V = rng.standard_normal((4, 3))
    _, tangents = func.vmap(lambda x, v: func.jvp(mg.sin, (x,), (v,)))(X, V)
    np.testing.assert_allclose(tangents.data, np.cos(X) * V, rtol=1e-14)


def test_an_op_without_a_batching_rule_loops_and_says_so_once():
    X = np.arange(12.0).reshape(3, 4)
    f = lambda x: mg.cumsum(x.reshape(2, 2), axis=None)  # noqa: E731  (axis=None flattens: no rule)
    WARNED.discard("cumsum")
    with pytest.warns(RuntimeWarning, match="cumsum has no batching rule"):
        out = func.vmap(f)(X)
    np.testing.assert_array_equal(out.data, np.cumsum(X, axis=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        func.vmap(f)(X)  # once only


def test_vmap_refuses_python_decisions_taken_from_mapped_values():
    X = np.array([[1.0, -1.0], [-2.0, 3.0]])
    for read in (lambda t: t.sum().item(), lambda t: bool(t.sum() > 0), lambda t: float(t[0]),
                 lambda t: np.asarray(t).sum(), lambda t: t.tolist()):
        with pytest.raises(RuntimeError, match="reads the value of a tensor computed from a mapped input"):
            func.vmap(lambda x, read=read: x * read(x))(X)
    # the tensor way of the same choice batches
    out = func.vmap(lambda x: mg.where(x.sum() > 0, x, -x))(X)
    np.testing.assert_array_equal(out.data, [[-1.0, 1.0], [-2.0, 3.0]])
    # reading values that do not depend on the mapped inputs is fine
    w = mg.tensor([2.0, 3.0])
    np.testing.assert_array_equal(func.vmap(lambda x: x * w.sum().item())(X).data, X * 5.0)


def test_vmap_misuse_errors():
    with pytest.raises(ValueError, match="same batch size"):
        func.vmap(lambda a, b: a + b)(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="maps no argument"):
        func.vmap(lambda a: a, in_axes=None)(np.ones(2))
    with pytest.raises(ValueError, match="empty"):
        func.vmap(lambda a: a)(np.ones((0, 2)))
    with pytest.raises(ValueError, match="in_axes has 1 entries for 2"):
        func.vmap(lambda a, b: a, in_axes=(0,))(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="out of range"):
        func.vmap(lambda a: a, in_axes=2)(np.ones((2, 2)))
    with pytest.raises(TypeError, match="in_axes or in_dims"):
        func.vmap(lambda a: a, in_axes=1, in_dims=0)(np.ones((2, 2)))
    with pytest.raises(TypeError, match="returned a str"):
        func.vmap(lambda a: "a")(np.ones((2, 2)))


def test_push_forward_refuses_a_graph_whose_inputs_were_written_since():
    # As backward does: the recording holds the old values, so the tangent would be wrong.
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.exp(x).sum()
    with mg.no_grad():
        x.data[...] = 5.0
    with pytest.raises(RuntimeError, match="modified in place"):
        func.push_forward(y, x, np.ones(2))


def test_vmap_of_grad_batches_integer_class_labels():
    # The labels are an input of the pick op (not an index attribute), so they are mapped like any input.
    W = np.random.default_rng(0).standard_normal((4, 3))
    X, Y = np.random.default_rng(1).standard_normal((5, 4)), np.array([0, 2, 1, 1, 0])

    def loss(W, x, y):
        return mg.nn.functional.cross_entropy(x @ W, y)

    per_example = func.vmap(func.grad(loss), in_axes=(None, 0, 0))(W, X[:, None, :], Y[:, None])
    loop = np.stack([func.grad(loss)(W, x[None, :], y[None]).numpy() for x, y in zip(X, Y)])
    np.testing.assert_allclose(per_example.numpy(), loop, rtol=1e-12, atol=1e-14)


def test_vmap_of_grad_batches_embedding_indices():
    # The indices are an input of the embedding op, so per-example lookups are mapped like any input.
    W = np.random.default_rng(0).standard_normal((6, 3))
    tokens = np.random.default_rng(1).integers(0, 6, (5, 4))
    w = np.arange(3.0)

    def loss(W, t):
        return (mg.nn.functional.embedding(t, W) * w).sum() ** 2

    per_example = func.vmap(func.grad(loss), in_axes=(None, 0))(W, tokens)
    loop = np.stack([func.grad(loss)(W, t).numpy() for t in tokens])
    np.testing.assert_allclose(per_example.numpy(), loop, rtol=1e-12, atol=1e-14)
    per_weights = func.vmap(loss, in_axes=(0, None))(np.stack([W, 2 * W]), tokens[0])  # a batch of tables
    np.testing.assert_allclose(per_weights.numpy(), [loss(W, tokens[0]).item(), loss(2 * W, tokens[0]).item()])
