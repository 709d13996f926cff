"""Engine semantics: reuse, accumulation, release, freeing, threads, higher order, custom functions."""

import gc
import threading
import warnings
import weakref

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.testing import gradcheck


def test_reuse_of_a_tensor_sums_its_paths():
    a = mg.tensor(3.0, requires_grad=True)
    (a * a + a).backward()
    assert a.grad == 7.0
    assert type(a.grad) is np.ndarray and a.grad.shape == ()  # an array, never a NumPy scalar


def test_diamond():
    a = mg.tensor(2.0, requires_grad=True)
    b = a * 3.0
    c = mg.exp(a)
    d = b * c  # d = 3 a e^a, d' = 3 e^a (1 + a)
    d.backward()
    assert np.isclose(a.grad, 3 * np.exp(2.0) * 3.0)


def test_repeated_integer_indices_accumulate():
    x = mg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x[np.array([0, 0, 3, 0])] * mg.tensor([1.0, 2.0, 3.0, 4.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [7.0, 0.0, 0.0, 3.0])


def test_boolean_mask_and_slices():
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (x[x.data > 2].sum() + x[:, 1:].sum() * 10).backward()
    np.testing.assert_array_equal(x.grad, [[0, 10, 10], [1, 11, 11]])


def test_long_chain_has_no_recursion_error():
    x = mg.tensor(np.ones(4), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(4))


def test_leaves_accumulate_across_backward_calls():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0 + 2.0, 3.0 + 4.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_interior_nodes_keep_no_gradient_unless_asked():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    k = (h * h).retain_grad()
    k.sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(k.grad, [1.0, 1.0])
    np.testing.assert_array_equal(x.grad, 8.0 * x.data)


def test_second_backward_through_a_released_graph_raises():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (mg.sigmoid(x) * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_which_accumulates():
    x = mg.tensor([1.0, -2.0], requires_grad=True)
    y = (mg.sigmoid(x) * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_released_graph_keeps_its_structure():
    x = mg.tensor([1.0], requires_grad=True)
    y = mg.exp(x) * 2.0
    y.sum().backward()
    assert y.op == "mul" and y._parents[0].op == "exp"


def test_graph_is_freed_by_reference_counting_alone():
    gc.collect()
    gc.disable()
    try:
        x = mg.tensor(np.ones(3), requires_grad=True)
        h = mg.sigmoid(x @ np.ones((3, 3))) * x
        loss = (h ** 2).sum()
        refs = [weakref.ref(h), weakref.ref(loss)]
        loss.backward(retain_graph=True)
        del h, loss
        assert all(r() is None for r in refs), "graph kept alive by a reference cycle"
    finally:
        gc.enable()


def test_training_loop_memory_stays_flat():
    import tracemalloc

    rng = np.random.default_rng(0)
    w = mg.tensor(rng.standard_normal((8, 4)), requires_grad=True)
    x = rng.standard_normal((16, 8))

    def step():
        loss = (mg.sigmoid(mg.tensor(x) @ w) ** 2).mean()
        loss.backward()
        with mg.no_grad():
            w.data -= 0.1 * w.grad
        w.grad = None

    for _ in range(50):
        step()
    gc.disable()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(2000):
            step()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert current - base < 64_000


def test_no_grad_is_per_thread():
    x = mg.tensor([1.0], requires_grad=True)
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with mg.no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = (x * 2).requires_grad

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = (x * 2).requires_grad  # the other thread is inside no_grad right now
    release.set()
    t.join()
    assert seen == {"main": True, "worker": False}


def test_no_grad_and_enable_grad_as_decorators_and_nested():
    x = mg.tensor([1.0], requires_grad=True)

    @mg.no_grad()
    def f():
        with mg.enable_grad():
            inner = (x * 2).requires_grad
        return inner, (x * 2).requires_grad

    assert f() == (True, False)
    assert mg.is_grad_enabled()
    assert (x * 2).requires_grad


def test_float32_in_float32_out():
    x = mg.tensor(np.ones((2, 3)), dtype=np.float32, requires_grad=True)
    w = mg.tensor(np.ones((3, 4)), dtype=np.float32, requires_grad=True)
    y = (mg.sigmoid(x @ w) * 0.5 - 1.0) ** 2
    assert y.dtype == np.float32
    y.mean().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_gradient_of_a_float32_input_mixed_with_float64_is_float32():
    x = mg.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    y = x * np.array([1.0, 3.0])  # NumPy promotes the result to float64
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [1.0, 3.0])


def test_backward_on_a_non_scalar_needs_grad_and_names_the_shape():
    y = mg.tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))
    y.backward(np.ones((2, 3)))


def test_backward_on_a_tensor_without_grad_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (mg.tensor([1.0]) * 2).sum().backward()


def test_forward_errors_name_the_op_and_the_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        mg.zeros(2, 3) @ mg.zeros(4, 5)
    with pytest.raises(ValueError, match=r"add.*\(2,\).*\(3,\)"):
        mg.zeros(2) + mg.zeros(3)


class _WrongShape(mg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return np.ones(7)


def test_a_wrong_shaped_gradient_is_caught_and_named():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"_WrongShape.*\(7,\).*\(2, 3\)"):
        _WrongShape.apply(x).sum().backward()


class _Square(mg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        return 2 * x * grad


class _ScaledAdd(mg.Function):
    """a * k + b with a non-tensor argument k."""

    @staticmethod
    def forward(ctx, a, k, b):
        ctx.k = k
        return a * k + b

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.k, None, grad


def test_custom_function_matches_finite_differences():
    x = mg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    assert gradcheck(lambda x: _Square.apply(x), x)
    a = mg.tensor([[1.0, 2.0]], requires_grad=True)
    b = mg.tensor([[3.0], [4.0]], requires_grad=True)  # broadcasting is undone for the user
    assert gradcheck(lambda a, b: _ScaledAdd.apply(a, 3.0, b), (a, b))


def test_custom_function_composes_with_ops_and_needs_input_grad():
    seen = {}

    class Probe(mg.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    a = mg.tensor([1.0], requires_grad=True)
    Probe.apply(a, mg.tensor([2.0])).sum().backward()
    assert seen["needs"] == (True, False)
    assert a.grad == 1.0


def test_custom_function_returning_the_wrong_number_of_gradients():
    class Bad(mg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(ValueError, match="1 gradient.*2 forward input"):
        Bad.apply(mg.tensor([1.0], requires_grad=True), mg.tensor([1.0], requires_grad=True)).sum().backward()


def test_second_order_through_a_custom_function_raises_clearly():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = mg.grad(_Square.apply(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="_Square.backward runs on NumPy arrays"):
        g.sum().backward()


def test_grad_returns_tensors_and_leaves_dot_grad_alone():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor([3.0], requires_grad=True)
    gx, gy = mg.grad((x * y).sum(), (x, y))
    assert isinstance(gx, mg.Tensor) and isinstance(gy, mg.Tensor)
    np.testing.assert_array_equal(gx.data, [3.0, 3.0])
    np.testing.assert_array_equal(gy.data, [3.0])
    assert x.grad is None and y.grad is None


def test_grad_with_respect_to_an_interior_tensor_and_unused_inputs():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    z = mg.tensor([1.0], requires_grad=True)
    h = x * 2
    (gh,) = mg.grad((h * h).sum(), h, retain_graph=True)
    np.testing.assert_array_equal(gh.data, 2 * h.data)
    with pytest.raises(RuntimeError, match="not used"):
        mg.grad((h * h).sum(), [x, z], retain_graph=True)
    gx, gz = mg.grad((h * h).sum(), [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_array_equal(gx.data, 8 * x.data)


def test_hessian_vector_product():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    A = a @ a.T
    x = mg.tensor(rng.standard_normal(3), requires_grad=True)
    v = rng.standard_normal(3)
    f = 0.5 * (x @ (A @ x)) + mg.sin(x).sum()  # Hessian: A - diag(sin x)
    (g,) = mg.grad(f, x, create_graph=True)
    (hv,) = mg.grad(g, x, grad_outputs=v)
    np.testing.assert_allclose(hv.data, A @ v - np.sin(x.data) * v, rtol=1e-12)


def test_third_derivative():
    x = mg.tensor(0.7, requires_grad=True)
    y = mg.sigmoid(x) * x ** 3
    (d1,) = mg.grad(y, x, create_graph=True)
    (d2,) = mg.grad(d1, x, create_graph=True)
    (d3,) = mg.grad(d2, x)

    def f(t):
        return t ** 3 / (1 + np.exp(-t))

    h = 1e-2
    numeric = (f(0.7 + 2 * h) - 2 * f(0.7 + h) + 2 * f(0.7 - h) - f(0.7 - 2 * h)) / (2 * h ** 3)
    assert np.isclose(d3.item(), numeric, rtol=1e-4)


def test_backward_with_create_graph_gives_differentiable_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert isinstance(x.grad, mg.Tensor)
    g = x.grad
    x.grad = None
    (g * g).sum().backward()  # d/dx sum((3x^2)^2) = 36 x^3
    np.testing.assert_allclose(x.grad, 36 * x.data ** 3)


def test_leaf_gradients_never_alias():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor([3.0, 4.0], requires_grad=True)
    up = np.array([1.0, 1.0])
    (x + y).backward(up)
    assert not np.shares_memory(x.grad, y.grad)
    assert not np.shares_memory(x.grad, up)
    x.grad += 1  # must not change y.grad
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])
    b = mg.tensor(2.0, requires_grad=True)
    mg.broadcast_to(b, (3,)).sum().backward()
    assert b.grad.flags.writeable


def test_backward_order_is_deterministic():
    def run():
        x = mg.tensor(np.linspace(-1, 1, 7), requires_grad=True)
        ys = [mg.sin(x * k) for k in range(1, 6)]
        total = ys[0]
        for y in ys[1:]:
            total = total + y * total
        total.sum().backward()
        return x.grad.tobytes()

    assert run() == run()


def test_kink_conventions_follow_pytorch():
    x = mg.tensor([0.0], requires_grad=True)
    mg.relu(x).sum().backward()
    assert x.grad[0] == 0.0
    x.grad = None
    mg.abs(x).sum().backward()
    assert x.grad[0] == 0.0
    t = mg.tensor([2.0, 5.0, 5.0, 1.0], requires_grad=True)
    t.max().backward()
    np.testing.assert_array_equal(t.grad, [0, 0.5, 0.5, 0])
    t.grad = None
    t.min().backward()
    np.testing.assert_array_equal(t.grad, [0, 0, 0, 1])
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([1.0, 3.0], requires_grad=True)
    mg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 0.0])
    np.testing.assert_array_equal(b.grad, [0.5, 1.0])


def test_stability_at_extreme_logits():
    x = mg.tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = mg.sigmoid(x)
        s.sum().backward()
        np.testing.assert_array_equal(s.data, [0.0, 0.5, 1.0])
        np.testing.assert_array_equal(x.grad, [0.0, 0.25, 0.0])
        logits = mg.tensor([[1000.0, -1000.0], [-1000.0, -1000.0]], requires_grad=True)
        np.testing.assert_array_equal(mg.log_softmax(logits, axis=1).data, [[0.0, -2000.0], [-np.log(2), -np.log(2)]])
        np.testing.assert_allclose(mg.logsumexp(logits, axis=1).data, [1000.0, -1000.0 + np.log(2)], rtol=1e-15)
        mg.log_softmax(logits, axis=1)[:, 0].sum().backward()
        np.testing.assert_allclose(logits.grad, [[0.0, 0.0], [0.5, -0.5]], atol=1e-300)
        assert mg.log_sigmoid(mg.tensor(-1000.0)).item() == -1000.0


def test_constants_and_arrays_on_either_side():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    arr = np.array([[10.0], [20.0]])
    y = 2.0 - x + arr * x / 4.0 + x ** 2 + 2.0 ** x
    assert isinstance(y, mg.Tensor) and y.shape == (2, 2)
    y.sum().backward()
    expected = -2 + (10 + 20) / 4.0 + 2 * 2 * x.data + 2 * np.log(2.0) * 2.0 ** x.data
    np.testing.assert_allclose(x.grad, expected)


def test_numpy_ufuncs_dispatch_or_refuse():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = np.exp(x)
    assert isinstance(y, mg.Tensor) and y.requires_grad
    with pytest.raises(TypeError, match="not differentiable"):
        np.arctan(x)


def test_grad_mode_counter_returns_to_zero():
    from microgradnp import _mode

    assert _mode.disabled_threads == 0
    with mg.no_grad():
        assert _mode.disabled_threads == 1
        with mg.no_grad():
            assert _mode.disabled_threads == 1  # the same thread, counted once
            with mg.enable_grad():
                assert _mode.disabled_threads == 0
        try:
            with mg.enable_grad():
                raise ValueError
        except ValueError:
            pass
        assert _mode.disabled_threads == 1
    assert _mode.disabled_threads == 0


def test_cached_unit_seed_is_never_handed_out():
    x = mg.tensor(3.0, requires_grad=True)
    x.backward()  # the root is the leaf itself: it must get its own writable array
    x.grad += 1.0
    y = mg.tensor(2.0, requires_grad=True)
    (y + 0.0).backward()
    assert y.grad == 1.0 and x.grad == 2.0


def test_a_function_may_write_into_its_upstream_gradient():
    class InPlace(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, grad):
            grad *= 2.0  # bad style, but it must not break the engine
            return np.ones(3) * grad

    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    InPlace.apply(x).backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
    y = mg.tensor([1.0], requires_grad=True)
    (y * 3.0).sum().backward()  # the shared seed is still intact
    assert y.grad[0] == 3.0
