"""The engine: recording, the one backward walk (accumulation, release, retain, create_graph, targets), higher order, in-place detection, threads."""

import gc
import sys
import threading
import weakref

import numpy as np
import pytest

import microgradnp as mg


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
    assert y.op == "mul" and y.parents[0].op == "exp"


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


def test_gradients_of_scalar_roots_are_independent_arrays():
    # A scalar root's gradient starts at 1; whatever the caller then does with a
    # gradient it was handed must not change the next backward's answer.
    x = mg.tensor(3.0, requires_grad=True)
    x.backward()  # the root is the leaf itself
    x.grad += 1.0
    y = mg.tensor(2.0, requires_grad=True)
    (y + 0.0).backward()
    assert y.grad == 1.0 and x.grad == 2.0
    z = mg.tensor(5.0, requires_grad=True)
    z.backward()
    assert z.grad == 1.0 and not np.shares_memory(z.grad, x.grad)


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


def test_threaded_backward_into_a_shared_parameter_loses_nothing():
    rng = np.random.default_rng(0)
    w = mg.tensor(rng.standard_normal((16, 16)), requires_grad=True)
    xs = [rng.standard_normal((4, 16)) for _ in range(8)]

    def contribution(x):
        mg.tanh(mg.tensor(x) @ w).sum().backward()

    for x in xs:
        contribution(x)
    expected = w.grad.copy()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: contention in every store
    try:
        for _ in range(40):  # each round starts from no gradient: the first stores race the most
            w.grad = None
            barrier = threading.Barrier(len(xs))

            def work(x, barrier=barrier):
                barrier.wait()
                contribution(x)

            threads = [threading.Thread(target=work, args=(x,)) for x in xs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            np.testing.assert_allclose(w.grad, expected, rtol=1e-10)
    finally:
        sys.setswitchinterval(interval)


def test_results_under_no_grad_are_leaves():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf


def _graph():
    w = mg.tensor([[0.5, -1.0], [2.0, 0.3]], requires_grad=True, name="w")
    x = mg.tensor([1.0, 2.0])
    loss = mg.sigmoid(w @ x).sum()
    return w, x, loss


@pytest.mark.parametrize("write", [
    lambda t: t.data.__setitem__((0, 0), 9.0),
    lambda t: t.data.__isub__(0.1),
    lambda t: t.data[0].fill(3.0),
    lambda t: setattr(t, "data", np.zeros((2, 2))),
])
def test_writing_a_parameter_after_forward_makes_backward_raise(write):
    w, x, loss = _graph()
    write(w)
    with pytest.raises(RuntimeError, match=r"modified in place.*input 0 of matmul.*'w'.*\(2, 2\)"):
        loss.backward()


def test_writing_a_constant_input_after_forward_is_caught_too():
    w, x, loss = _graph()
    x.data[1] = 5.0  # the gradient of w is g x^T: a stale x would give a wrong one
    with pytest.raises(RuntimeError, match="input 1 of matmul"):
        loss.backward()


def test_overwriting_an_output_its_own_vjp_uses_is_caught():
    w = mg.tensor([0.5, -1.0], requires_grad=True)
    s = mg.sigmoid(w)  # sigmoid's VJP uses its output
    s.data[0] = 0.0
    with pytest.raises(RuntimeError, match="the output of sigmoid"):
        s.sum().backward()


def test_an_optimizer_step_between_forward_and_backward_raises():
    w, x, loss = _graph()
    w.grad = np.ones((2, 2))
    mg.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_writes_before_the_forward_and_after_backward_are_fine():
    w, x, _ = _graph()
    w.data[0, 0] = 1.0
    loss = mg.sigmoid(w @ x).sum()
    loss.backward()
    w.data -= 0.1 * w.grad  # after backward: the usual update
    np.testing.assert_allclose(w.numpy()[0, 0], 1.0 - 0.1 * w.grad[0, 0])


@pytest.mark.parametrize("constant", [np.array([1 + 1j]), 1j, np.complex128(2j), [1j]])
def test_complex_constants_promote_and_are_differentiated_with_their_complex_rules(constant):
    # A complex constant mixed into a real computation (tests/test_complex.py has the convention): the real
    # input's gradient is the real part of the conjugated rule, d|x c|^2/dx = 2 x |c|^2.
    x = mg.tensor([1.5], requires_grad=True)
    y = x * constant
    assert y.dtype == np.complex128
    (mg.abs(y) ** 2).sum().backward()
    c = complex(np.asarray(constant).ravel()[0])
    np.testing.assert_allclose(x.grad, [2 * 1.5 * abs(c) ** 2], rtol=1e-12)


def test_real_constants_keep_numpy_type_promotion():
    x = mg.tensor([1.0], dtype=np.float32)
    assert (x * 0.5).dtype == np.float32  # a Python float stays "weak"
    for c in (np.float64(0.5), np.array([0.5]), [0.5], 2, True):
        assert (x * c).dtype == (x.numpy() * c).dtype, c


def test_grad_runs_only_the_vjps_on_paths_to_what_it_is_asked_for():
    calls = []

    class Counted(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3.0

        @staticmethod
        def backward(ctx, grad):
            calls.append(1)
            return grad * 3.0

    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([0.5, -1.0], requires_grad=True)
    h = Counted.apply(w)
    y = (h * x).sum() + (x * x).sum()
    (gx,) = mg.grad(y, x, retain_graph=True)
    np.testing.assert_allclose(gx.data, h.data + 2 * x.data)
    assert calls == []  # the branch through w leads to no target
    (gh,) = mg.grad(y, h, retain_graph=True)  # an interior target: nothing below it is needed
    np.testing.assert_allclose(gh.data, x.data)
    assert calls == []
    gw, gx2 = mg.grad(y, [w, x])
    np.testing.assert_allclose(gw.data, 3.0 * x.data)
    assert calls == [1] and w.grad is None and x.grad is None  # grad() touches no .grad
