"""Where transforms meet: every example of the transforms issue, each correct or a named error, never a silent number."""

import warnings

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import func
from microgradnp.func import TransformError, functional_call, grad, hessian, jacfwd, jacrev, jvp, vjp, vmap
from microgradnp.testing import compositions

X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])


def test_mg_grad_inside_vmap_is_each_examples_own_or_says_how():
    w = mg.tensor([0.5, -0.25], requires_grad=True)
    # A mapped input does not require grad (as in torch.func): the error says what to do.
    with pytest.raises(RuntimeError, match="inside vmap as everywhere: call x.requires_grad_"):
        vmap(lambda x: mg.grad((x @ w) ** 2, x)[0])(X)

    def per_row(x):
        x.requires_grad_()
        return mg.grad((x @ w) ** 2, x)[0]

    expected = np.stack([2 * (x @ w.data) * w.data for x in X])
    np.testing.assert_allclose(vmap(per_row)(X).data, expected, rtol=1e-15)
    # with respect to a closure parameter: each example's own gradient, not their sum
    per_example = vmap(lambda x: mg.grad((x @ w) ** 2, w)[0])(X)
    np.testing.assert_allclose(per_example.data, np.stack([2 * (x @ w.data) * x for x in X]), rtol=1e-15)


def test_backward_inside_vmap_into_a_closure_parameter_is_refused_by_name():
    w = mg.tensor([0.5, -0.25], requires_grad=True)
    with pytest.raises(TransformError, match=r"backward\(\) into the .grad of a tensor of shape \(2,\) made outside"):
        vmap(lambda x: ((x @ w) ** 2).backward())(X)
    assert w.grad is None

    def own(x):  # into the example's own tensor it is fine
        x.requires_grad_()
        (x ** 3).sum().backward()
        return x.grad

    np.testing.assert_allclose(vmap(own)(X).data, 3 * X ** 2)


def test_grad_of_vmap_differentiates_the_batched_computation():
    g = grad(lambda a: vmap(lambda r: (r * r).sum())(a).sum())(X)
    np.testing.assert_array_equal(g.data, 2 * X)
    # a closure parameter read inside vmap gets its gradient from an outer backward()
    W = mg.tensor([1.0, 2.0], requires_grad=True)
    vmap(lambda x: (x * W).sum())(X).sum().backward()
    np.testing.assert_array_equal(W.grad, X.sum(axis=0))


def test_a_pullback_is_differentiable_in_its_cotangent():
    _, pull = vjp(lambda x: x ** 2, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(grad(lambda u: pull(u)[0].sum())(np.ones(2)).data, [2.0, 4.0])
    # and batched: vmap of the pullback is the Jacobian
    np.testing.assert_array_equal(vmap(lambda u: pull(u)[0])(np.eye(2)).data, np.diag([2.0, 4.0]))


def test_forward_mode_through_constants_of_any_dtype():
    _, t = jvp(lambda x: mg.concatenate([x, np.array([1, 2])]), (np.ones(2),), (np.ones(2),))
    np.testing.assert_array_equal(t.data, [1.0, 1.0, 0.0, 0.0])
    out, t = jvp(lambda x: mg.stack([x, 0.5]), (mg.tensor(1.0),), (mg.tensor(1.0),))
    np.testing.assert_array_equal(out.data, [1.0, 0.5])
    np.testing.assert_array_equal(t.data, [1.0, 0.0])


def test_numpy_code_never_drops_a_tensor_silently():
    def f(th):  # ordinary NumPy code
        L = np.zeros((3, 3))
        L[np.tril_indices(3)] = th
        return (L ** 2).sum()

    with pytest.raises(TypeError, match=r"NumPy .*requires grad.*t\.detach\(\)"):
        grad(f)(np.arange(6.0) + 1)
    t = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="requires grad"):
        np.vectorize(lambda a: a * 2)(t)
    with pytest.raises(TypeError, match="requires grad"):
        np.sum([t[0], t[1]])
    with pytest.raises(TypeError, match="requires grad"):
        np.asarray(t)
    # what the message points at works: detach() says the gradient is not wanted; so does no_grad
    assert np.asarray(t.detach()).tolist() == [1.0, 2.0]
    with mg.no_grad():
        assert np.asarray(t).tolist() == [1.0, 2.0]
    # inside a transform the tracer refuses too, naming the transform
    with pytest.raises(TransformError, match="vmap: the function reads the value"):
        vmap(lambda x: mg.tensor(np.asarray(x) * 2))(X)
    with pytest.raises(TransformError, match="jvp: NumPy"):
        jvp(lambda x: mg.tensor(np.asarray(x)), (np.ones(2),), (np.ones(2),))


def test_a_dataset_of_a_tensor_that_requires_grad_is_refused():
    with pytest.raises(TypeError, match="TensorDataset: array 0 is a Tensor that requires grad"):
        mg.data.TensorDataset(mg.tensor(np.ones((3, 2)), requires_grad=True))
    ds = mg.data.TensorDataset(mg.tensor(np.ones((3, 2)), requires_grad=True).detach())
    assert len(ds) == 3


def test_std_of_equal_elements_has_the_zero_subgradient():
    x = mg.tensor([3.0], requires_grad=True)
    mg.std(x).backward()
    assert x.grad.tolist() == [0.0]  # PyTorch: 0; 0/0 before
    y = mg.tensor([[2.0, 2.0], [1.0, 3.0]], requires_grad=True)
    mg.std(y, axis=1).sum().backward()
    np.testing.assert_allclose(y.grad, [[0.0, 0.0], [-0.5, 0.5]])


def test_numpy_spellings_of_transpose_and_flattened_concatenate():
    t = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert np.transpose(t, axes=(1, 0)).shape == (3, 2)
    assert np.transpose(t, (1, 0)).shape == (3, 2)
    with pytest.raises(TypeError, match="not both"):
        mg.transpose(t, 1, 0, axes=(1, 0))
    y = np.concatenate([t, 2 * t], axis=None)
    assert y.shape == (12,)
    (y * mg.tensor(np.arange(12.0))).sum().backward()
    np.testing.assert_array_equal(t.grad, np.arange(6.0).reshape(2, 3) + 2 * np.arange(6.0, 12.0).reshape(2, 3))


def test_detect_anomaly_inside_vmap_names_the_example():
    with mg.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(mg.AnomalyError, match=r"log produced nan.*in example 1 of 3"):
            vmap(mg.log)(np.array([1.0, -1.0, 2.0]))


def test_vmap_of_vmap_and_structured_axes():
    A = np.arange(24.0).reshape(2, 3, 4)
    out = vmap(vmap(lambda r: (r * r).sum()))(A)
    np.testing.assert_array_equal(out.data, (A * A).sum(axis=2))
    # the inner vmap over the other axis
    out = vmap(vmap(lambda r: r.sum(), in_axes=1))(A)
    np.testing.assert_array_equal(out.data, A.sum(axis=1))
    # in_axes per leaf of a dict, out_axes per output, torch.func's names, keyword arguments unmapped
    params = {"w": np.ones((3, 4)), "b": np.arange(3.0)}

    def f(p, x, scale=1.0):
        return {"y": (p["w"] * x).sum() * scale + p["b"].sum(), "x": x}

    res = vmap(f, in_dims=({"w": None, "b": 0}, 0), out_dims={"y": 0, "x": 1})(
        {"w": np.ones(4), "b": np.arange(3.0)}, np.arange(12.0).reshape(3, 4), scale=2.0)
    np.testing.assert_array_equal(res["y"].data, 2 * np.arange(12.0).reshape(3, 4).sum(axis=1) + np.arange(3.0))
    assert res["x"].shape == (4, 3)
    with pytest.raises(ValueError, match=r"in_axes .* does not match the argument"):
        vmap(f, in_axes=({"w": None}, 0))(params, np.ones((3, 4)))


def test_vmap_of_grad_of_a_module_through_functional_call():
    rng = np.random.default_rng(0)
    model = mg.nn.MLP([4, 5, 3], activation="tanh", rng=0)
    params = {k: p.detach() for k, p in model.named_parameters()}
    X, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)

    def loss(params, x, t):
        return mg.nn.functional.cross_entropy(functional_call(model, params, (x[None],)), t[None])

    per_example = vmap(grad(loss), in_axes=(None, 0, 0))(params, X, y)
    for i in range(6):
        one = grad(loss)(params, X[i], y[i])
        for k in params:
            np.testing.assert_allclose(per_example[k].data[i], one[k].data, rtol=1e-12, atol=1e-14)
    # the model is left as it was, and misuse is named
    assert all(p is q for p, q in zip(model.parameters(), [dict(model.named_parameters())[k] for k in params]))
    with pytest.raises(ValueError, match="has no parameter or buffer named 'nope'"):
        functional_call(model, {"nope": np.ones(2)}, (X,))
    with pytest.raises(ValueError, match="has shape"):
        functional_call(model, {next(iter(params)): np.ones(2)}, (X,))


def test_aux_outputs_leave_the_transform_cut_from_its_graph():
    (g, aux) = grad(lambda x: ((x ** 2).sum(), {"twice": x * 2}), has_aux=True)(np.array([1.0, 2.0]))
    assert not aux["twice"].requires_grad and aux["twice"].data.tolist() == [2.0, 4.0]
    H, aux = hessian(lambda x: ((x ** 3).sum(), x.sum()), has_aux=True)(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(H.data, np.diag([6.0, 12.0]))
    assert aux.item() == 3.0 and not aux.requires_grad


def test_a_tracer_kept_after_its_transform_returned_is_refused():
    kept = []
    vmap(lambda x: kept.append(x) or x * 2)(X)
    with pytest.raises(TransformError, match="used after vmap returned"):
        kept[0] + 1


def test_random_draws_inside_vmap_are_refused():
    drop = mg.nn.Dropout(0.5)
    with pytest.raises(TransformError, match="vmap: Dropout .* one draw would serve every example"):
        vmap(drop)(np.ones((3, 4)))
    drop.eval()
    np.testing.assert_array_equal(vmap(drop)(np.ones((3, 4))).data, np.ones((3, 4)))


def test_jacobians_and_hessians_inside_vmap_and_of_vmap():
    f = lambda x: (mg.sin(x) * x).sum()  # noqa: E731
    H = vmap(hessian(f))(X)
    for i, x in enumerate(X):
        np.testing.assert_allclose(H.data[i], np.diag(2 * np.cos(x) - x * np.sin(x)), rtol=1e-13)
    J = jacrev(vmap(lambda r: mg.sin(r) * 2.0))(X)  # (3, 2, 3, 2): block diagonal across examples
    assert J.shape == (3, 2, 3, 2)
    np.testing.assert_allclose(np.einsum("ijij->ij", J.data), 2 * np.cos(X), rtol=1e-14)
    assert np.count_nonzero(J.data) == 6
    np.testing.assert_allclose(jacfwd(vmap(lambda r: mg.sin(r) * 2.0))(X).data, J.data, rtol=1e-14)


def test_a_numpy_function_class_composes_for_first_order_and_names_the_rest():
    cube = compositions.subjects()["Function (NumPy backward)"][0]  # cube: x ** 3, NumPy backward, no jvp

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(vmap(cube)(X).data, X ** 3)  # once per example, no warning
    np.testing.assert_array_equal(grad(lambda a: vmap(cube)(a).sum())(X).data, 3 * X ** 2)
    with pytest.raises(RuntimeError, match="Cube.backward runs on NumPy arrays"):
        grad(lambda x: grad(lambda y: cube(y).sum())(x).sum())(np.ones(2))
    with pytest.raises(TransformError, match="backward of the custom Function Cube.*custom_vjp"):
        vmap(grad(lambda x: cube(x).sum()))(X)
    with pytest.raises(RuntimeError, match="Cube has no jvp"):
        jvp(cube, (np.ones(2),), (np.ones(2),))


def test_transforms_report_misuse_of_their_own_arguments():
    with pytest.raises(TypeError, match="primal 0 has dtype int64"):
        jvp(lambda x: x, (np.arange(2),), (np.ones(2),))
    with pytest.raises(TypeError, match="in_axes must be an int or None"):
        vmap(lambda x: x, in_axes=(0.5,))(X)
    with pytest.raises(ValueError, match="out_axes 3 is out of range"):
        vmap(lambda x: x, out_axes=3)(X)
    assert func.TransformError is mg.func.TransformError


def test_vmap_batches_integer_index_arguments():
    X = np.arange(12.0).reshape(3, 4)
    idx = np.array([0, 3, -1])
    np.testing.assert_array_equal(vmap(lambda x, i: x[i])(X, idx).data, X[np.arange(3), idx])
    table = np.arange(20.0).reshape(5, 4)
    np.testing.assert_array_equal(vmap(lambda i: mg.tensor(table)[i])(idx).data, table[idx])  # rows of one table
    np.testing.assert_array_equal(vmap(lambda x, i: x[i])(X, np.array([[0, 1], [2, 3], [1, 1]])).data,
                                  [[0.0, 1.0], [6.0, 7.0], [9.0, 9.0]])
    # gradients through the lookup, per example and summed over the batch (a negative index included)
    per = vmap(grad(lambda t, i: (t[i] ** 2).sum()), in_axes=(None, 0))(table, idx)
    for k, i in enumerate(idx):
        expected = np.zeros_like(table)
        expected[i] = 2 * table[i]
        np.testing.assert_array_equal(per.data[k], expected)
    w = mg.tensor(table, requires_grad=True)
    vmap(lambda i: (w[i] ** 2).sum())(np.array([1, 1, -1])).sum().backward()
    np.testing.assert_array_equal(w.grad[:, 0], [0.0, 2 * 2 * 4.0, 0.0, 0.0, 2 * 16.0])
    # a mask computed from mapped values cannot be one index for the batch: named
    with pytest.raises(TransformError, match="reads the value"):
        vmap(lambda x: x[x > 2.0])(X)


def test_compiled_steps_replay_transforms_inside_them():
    w = mg.tensor([0.5, -1.0], requires_grad=True)
    per_example = lambda x: (mg.tanh(x @ w)) ** 2  # noqa: E731
    steps = {
        "vmap": (mg.compile(lambda X: vmap(per_example)(X).sum()),
                 lambda X: (np.tanh(X @ w.data) ** 2).sum()),
        "vmap o grad": (mg.compile(lambda X: vmap(grad(per_example))(X)),
                        lambda X: np.stack([grad(per_example)(x).data for x in X])),
        "jvp": (mg.compile(lambda x: jvp(mg.sin, (x,), (mg.ones_like(x),))[1]), lambda x: np.cos(x)),
    }
    rng = np.random.default_rng(3)
    for name, (step, reference) in steps.items():
        for _ in range(3):
            X = rng.standard_normal((4, 2))
            np.testing.assert_allclose(step(X).data, reference(X), rtol=1e-13, err_msg=name)
        assert step.stats["replays"] == 2 and step.stats["eager_calls"] == 0, name
