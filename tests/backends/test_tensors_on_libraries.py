"""Tensors that hold another library's arrays: every registry op through the engine, forward and
backward, on torch CPU and array-api-strict, equal to the same program on NumPy.

Where ``test_registry_on_libraries`` calls the rules directly, this runs them as a user does: Tensors
made from the library's arrays, ``apply`` (what every public function calls), ``backward``; the
results and the gradients stay on the library.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp import backends
from microgradnp.engine import apply
from microgradnp.ops import REGISTRY
from microgradnp.testing import strategies as mst

from ..compiler.test_replay import _UNARY, training_program
from .test_registry_on_libraries import LIBRARIES, gap_errors

FEW = settings(max_examples=max(5, settings().max_examples // 4))


def _on(library, x: mg.Tensor) -> mg.Tensor:
    integral = x.dtype.kind in "biu"  # labels, indices and masks keep their dtype (mg.tensor makes numbers float64)
    return mg.tensor(backends.from_numpy(x.numpy(), library), requires_grad=x.requires_grad,
                     dtype=x.dtype if integral else None)


def _gauged(op, out, attrs):
    """``out`` with the signs LAPACK chose fixed by the op's gauge, as the registry's tests differentiate it."""
    if op.test.gauge is None:
        return out
    signs = op.test.gauge(out.numpy(), **attrs)
    return out * (signs if out.library == "numpy" else backends.from_numpy(signs, out.library, device=out.device))


def _run(op, inputs, attrs, upstream):
    out = _gauged(op, apply(op, tuple(inputs), attrs), attrs)
    if out.requires_grad:
        out.backward(upstream)
    return out, [x.grad if x.requires_grad else None for x in inputs]


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", sorted(REGISTRY))
@FEW
@given(data=st.data())
def test_every_op_runs_forward_and_backward_on_the_library(name, library, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    theirs = [_on(library, x) for x in inputs]
    shape = apply(op, tuple(inputs), attrs).shape
    g = data.draw(mst.arrays(shape=shape), label="upstream")
    try:
        got, got_grads = _run(op, theirs, attrs, backends.from_numpy(g, library))
    except gap_errors(library, name):
        return  # a listed gap, raised by name
    want, want_grads = _run(op, inputs, attrs, g)
    assert got.library == library, f"{name}: the result left {library}"
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=max(op.test.rtol, 1e-10), atol=1e-12)
    for i, (a, b) in enumerate(zip(got_grads, want_grads)):
        if b is None:
            continue
        assert backends.library_of(a) == library, f"{name}: the gradient of input {i} left {library}"
        np.testing.assert_allclose(backends.to_numpy(a), b, rtol=max(op.test.rtol, 1e-10), atol=1e-12,
                                   err_msg=f"{name}: gradient of input {i}")


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items() if op.differentiable))
@FEW
@given(data=st.data())
def test_every_vjp_on_the_library_agrees_with_finite_differences(name, library, data):
    """gradcheck on the library's tensors: the analytic side is the library's own backward pass, the finite
    differences run on float64 NumPy copies (gradcheck's notes)."""
    from microgradnp.testing import gradcheck

    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    theirs = [_on(library, x) for x in inputs]

    def f(*xs):
        return _gauged(op, apply(op, xs, attrs), attrs)  # signs fixed as the registry's test does

    try:
        assert gradcheck(f, theirs, name=f"{name} on {library}")
    except gap_errors(library, name):
        pass


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items() if op.differentiable and op.test.smooth))
@settings(max_examples=max(3, settings().max_examples // 10))
@given(data=st.data())
def test_every_second_derivative_on_the_library_agrees_with_finite_differences(name, library, data):
    """gradgradcheck on the library's tensors: the recorded backward pass (create_graph=True) on the library,
    its constants made there too; finite differences of the first derivative on NumPy copies."""
    from microgradnp.testing import gradgradcheck

    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    theirs = [_on(library, x) for x in inputs]
    try:
        assert gradgradcheck(lambda *xs: _gauged(op, apply(op, xs, attrs), attrs), theirs,
                             name=f"{name} on {library}")
    except gap_errors(library, name):
        pass


OPTIMIZERS = [(mg.optim.SGD, {"lr": 0.5, "momentum": 0.9, "nesterov": True}), (mg.optim.Adam, {"lr": 0.05}),
              (mg.optim.AdamW, {"lr": 0.05, "weight_decay": 0.1}), (mg.optim.RMSprop, {"lr": 0.01, "centered": True}),
              (mg.optim.Adagrad, {"lr": 0.1})]


def _train(library, optimizer, settings_, steps=8):
    from microgradnp.nn import functional as F

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 2)), rng.integers(0, 2, 32)
    model = mg.nn.MLP([2, 4, 2], activation="tanh", rng=np.random.default_rng(1)).to(library)
    Xt = mg.tensor(X).to(library)
    labels = y if library == "numpy" else backends.from_numpy(y, library)
    opt = optimizer(model.parameters(), **settings_)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(Xt), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses), model


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("optimizer, settings_", OPTIMIZERS, ids=[o.__name__ for o, _ in OPTIMIZERS])
def test_every_optimizer_trains_on_the_library_as_on_numpy(library, optimizer, settings_):
    want, _ = _train("numpy", optimizer, settings_)
    got, model = _train(library, optimizer, settings_)
    assert all(p.library == library for p in model.parameters())
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_state_dict_round_trips_through_a_file_onto_the_library(library, tmp_path):
    model = mg.nn.MLP([3, 4, 2], rng=np.random.default_rng(0)).to(library)
    mg.save(model.state_dict(), tmp_path / "state.npz")
    other = mg.nn.MLP([3, 4, 2], rng=np.random.default_rng(9)).to(library)
    other.load_state_dict(mg.load(tmp_path / "state.npz"))
    for p, q in zip(model.parameters(), other.parameters()):
        assert q.library == library
        np.testing.assert_array_equal(q.numpy(), p.numpy())


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_tensor_says_where_it_lives_and_moves_only_when_asked(library):
    x = mg.tensor(backends.from_numpy(np.array([[1.0, 2.0], [3.0, 4.0]]), library), requires_grad=True)
    assert x.library == library and x.requires_grad and x.is_leaf
    assert x.to(library) is x
    assert x.to("numpy").library == "numpy"
    np.testing.assert_array_equal(x.numpy(), [[1.0, 2.0], [3.0, 4.0]])
    assert x.size == 4 and len(x) == 2 and x.sum().item() == 10.0
    assert f"library='{library}'" in repr(x)
    y = (x * x).sum()
    y.backward()
    assert backends.library_of(x.grad) == library


@pytest.mark.parametrize("library", LIBRARIES)
def test_to_is_differentiable_both_ways_as_in_pytorch(library):
    """A graph that changes library: the gradient is copied back at each change."""
    a = mg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    on = a.to(library)
    assert on.library == library and not on.is_leaf
    b = (mg.tanh(on) * 3.0).to("numpy")
    loss = (b * a).sum()  # a is used on both libraries
    loss.backward()
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(a.grad, 3.0 * np.tanh(x) + 3.0 * (1 - np.tanh(x) ** 2) * x, rtol=1e-14)
    assert isinstance(a.grad, np.ndarray)
    with mg.no_grad():
        assert a.to(library).is_leaf


@pytest.mark.parametrize("library", LIBRARIES)
def test_an_in_place_update_of_a_saved_tensor_is_caught_on_the_library(library):
    w = mg.tensor(backends.from_numpy(np.array([1.0, 2.0]), library), requires_grad=True)
    loss = (w * w).sum()
    opt = mg.optim.SGD([w], lr=0.1)
    w.grad = backends.from_numpy(np.ones(2), library)
    opt.step()  # writes w in place after (w * w) saved it
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


@pytest.mark.parametrize("library", LIBRARIES)
def test_creation_functions_make_tensors_like_another(library):
    t = mg.tensor(backends.from_numpy(np.ones(2), library))
    made = {"zeros": mg.zeros(2, 3, like=t), "ones": mg.ones(2, like=t._data), "full": mg.full((2,), 7.0, like=t),
            "arange": mg.arange(3, like=t), "randn": mg.randn(2, rng=0, like=t, requires_grad=True),
            "zeros_like": mg.zeros_like(t), "ones_like": mg.ones_like(t)}
    for name, x in made.items():
        assert x.library == library, name
    np.testing.assert_array_equal(made["full"].numpy(), [7.0, 7.0])
    np.testing.assert_array_equal(made["randn"].numpy(), mg.randn(2, rng=0).numpy())  # the same draws as on NumPy
    assert made["randn"].requires_grad and made["randn"].is_leaf
    assert mg.zeros(2, like=mg.ones(2)).library == "numpy"


@pytest.mark.parametrize("library", LIBRARIES)
def test_creation_functions_take_the_device_a_tensor_gives(library):
    t = mg.tensor(backends.from_numpy(np.ones(2), library))
    made = [mg.zeros(2, device=t.device), mg.ones(2, device=t.device), mg.full((2,), 1.0, device=t.device),
            mg.arange(2, device=t.device), mg.randn(2, rng=0, device=t.device), mg.ones(2, like=t, device=t.device)]
    for x in made:
        assert x.library == library and x.device == t.device
    assert mg.zeros(2, device=mg.ones(2).device).library == "numpy"  # "cpu", what a NumPy tensor's device is
    with pytest.raises(TypeError, match=r"device='cuda'.*names no array library.*like="):
        mg.zeros(2, device="cuda")
    with pytest.raises(TypeError, match=rf"like= is a NumPy tensor.*{library}'s"):
        mg.zeros(2, like=mg.ones(2), device=t.device)


def _random_program(library, program, optimizer, seed, steps=4):
    """The replay tests' random training program (x @ W, a chain of ops, a loss through V, an update), its
    data and parameters on ``library``."""
    rng = np.random.default_rng(seed)
    X, W0, V0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    step, params = training_program(program, optimizer, W0, V0, library)
    losses = [step(mg.tensor(X * (1.0 + 0.1 * k)).to(library)).item() for k in range(steps)]
    return np.array(losses), [p.numpy() for p in params], params


@pytest.mark.parametrize("library", LIBRARIES)
@FEW
@given(program=st.lists(st.sampled_from(sorted(_UNARY)), min_size=1, max_size=5),
       optimizer=st.sampled_from(["sgd", "momentum", "adam", "by hand"]), seed=st.integers(0, 2 ** 16))
def test_random_training_programs_on_the_library_equal_numpy(library, program, optimizer, seed):
    with np.errstate(all="ignore"):  # a program of squares may diverge: then both must diverge alike
        want, want_params, _ = _random_program("numpy", program, optimizer, seed)
        got, got_params, params = _random_program(library, program, optimizer, seed)
    assert all(p.library == library for p in params)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for p, q in zip(got_params, want_params):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_graph_on_the_library_is_drawn_with_its_values_and_gradients(library):
    x = mg.tensor(backends.from_numpy(np.array([[1.0, 2.0]]), library), requires_grad=True)
    y = (mg.tanh(x) * 2.0).sum()
    y.backward(retain_graph=True)
    dot = mg.viz.to_dot(y)
    assert f"(1, 2) float64 on {library}" in dot and "grad" in dot  # interior gradients recomputed on the library
    assert mg.viz.backward_memory(y)["total"] > 0
