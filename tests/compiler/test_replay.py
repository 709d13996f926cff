"""mg.compile: replay equals eager (every registry op, random programs, the workloads), guards, breaks, effects."""

import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.compiler import PASSES
from microgradnp.engine import apply
from microgradnp.nn import functional as F
from microgradnp.ops import REGISTRY
from microgradnp.testing import strategies as mst

OPS = sorted(REGISTRY)

# Ops whose backward pass takes a Python decision from values (see tests/ops/test_properties.py):
# a replay could not repeat it, so the trace notices the read and the call stays eager.
DECIDE_FROM_VALUES = {"det", "sort"}


def _fresh(inputs, scale=1.0):
    return [mg.tensor(x.data * scale, requires_grad=True) if x.requires_grad else mg.from_numpy(x.numpy().copy())
            for x in inputs]


def _assert_same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", OPS)
@settings(max_examples=max(10, settings().max_examples // 4))
@given(data=st.data())
def test_replay_equals_eager_on_every_op(name, data):
    _op_replays_as_eager(name, data)


@pytest.mark.parametrize("off", sorted(PASSES))
@settings(max_examples=max(10, settings().max_examples))
@given(data=st.data())
def test_replay_equals_eager_on_every_op_with_each_pass_off(off, data):
    # Each pass of the pipeline is optional: the program without it computes the same.
    name = data.draw(st.sampled_from(OPS), label="op")
    _op_replays_as_eager(name, data, passes=[p for p in PASSES if p != off])


def _op_replays_as_eager(name, data, passes=None, backend="numpy"):
    # The op and its backward pass (a random upstream gradient), traced on one draw and replayed on
    # another: the replay must compute, not remember.
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    u = np.random.default_rng(0).standard_normal(apply(op, tuple(inputs), attrs).shape)

    def f(*xs):
        out = apply(op, xs, attrs)
        if out.requires_grad:
            loss = (out * u).sum()
            (mg.real(loss) if loss.dtype.kind == "c" else loss).backward()  # (the Fourier transforms' complex output)
        return out

    step = mg.compile(f, passes=passes, backend=backend)
    try:
        f(*_fresh(inputs, 1.05))
    except (np.linalg.LinAlgError, ValueError):
        return None, []  # the scaled draw left the op's domain: nothing to compare
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step(*_fresh(inputs))
        replayed = _fresh(inputs, 1.05)
        out = step(*replayed)
    eager = _fresh(inputs, 1.05)
    expected = f(*eager)
    _assert_same(out.data, expected.data)
    for r, e in zip(replayed, eager):
        assert (r.grad is None) == (e.grad is None)
        if e.grad is not None:
            _assert_same(r.grad, e.grad)
    if name in DECIDE_FROM_VALUES and op.differentiable:
        assert step.stats["replays"] == 0 and any("runs eagerly" in str(w.message) for w in caught)
    else:
        assert step.stats == {**step.stats, "traces": 1, "replays": 1, "eager_calls": 0}, step.code
    return step, caught


# Random programs: a chain of ops on a batch and two parameters, a loss, backward and an optimizer step,
# compiled and eager side by side for a few steps.
_UNARY = {
    "tanh": mg.tanh, "sigmoid": mg.sigmoid, "relu": mg.relu, "sin": mg.sin, "square": lambda h: h * h,
    "softplus": mg.softplus, "exp_neg_square": lambda h: mg.exp(-h * h), "log1p_square": lambda h: mg.log1p(h * h),
    "abs": mg.abs, "scale": lambda h: 0.5 * h - 1.0, "transpose_twice": lambda h: h.T.T,
    "reshape": lambda h: h.reshape(-1).reshape(h.shape), "normalize": lambda h: h / (1.0 + (h * h).sum()),
    "max_keep": lambda h: h - h.max(axis=1, keepdims=True), "softmax": lambda h: F.softmax(h, axis=1),
    "clip": lambda h: mg.clip(h, -0.8, 0.8), "where": lambda h: mg.where(h > 0, h, 0.1 * h),
}


_PROGRAMS = dict(program=st.lists(st.sampled_from(sorted(_UNARY)), min_size=1, max_size=5),
                 optimizer=st.sampled_from(["sgd", "momentum", "adam", "by hand"]), seed=st.integers(0, 2 ** 16))


@settings(max_examples=max(10, settings().max_examples // 2), deadline=None)
@given(**_PROGRAMS)
def test_random_programs_replay_equals_eager(program, optimizer, seed):
    _program_replays_as_eager(program, optimizer, seed)


@pytest.mark.parametrize("off", sorted(PASSES))
@settings(max_examples=max(5, settings().max_examples // 3), deadline=None)
@given(**_PROGRAMS)
def test_random_programs_replay_equals_eager_with_each_pass_off(off, program, optimizer, seed):
    _program_replays_as_eager(program, optimizer, seed, passes=[p for p in PASSES if p != off])


def training_program(program, optimizer, W0, V0, library="numpy"):
    """``(step, (W, V))``: ``step(x)`` runs ``x @ W``, the ops of ``program``, a loss through ``V``, backward and
    the update (an optimizer, or by hand under ``no_grad``), and returns the loss.  ``library``: where the
    parameters live (the array-library tests run the same programs on torch and array-api-strict)."""
    from microgradnp import backends

    W, V = (mg.tensor(a if library == "numpy" else backends.from_numpy(a, library), requires_grad=True) for a in (W0, V0))
    opt = {"sgd": lambda: mg.optim.SGD([W, V], lr=0.1), "momentum": lambda: mg.optim.SGD([W, V], lr=0.1, momentum=0.9),
           "adam": lambda: mg.optim.Adam([W, V], lr=0.05), "by hand": lambda: None}[optimizer]()

    def step(x):
        h = x @ W
        for name in program:
            h = _UNARY[name](h)
        loss = ((h @ V) ** 2).mean()
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            loss.backward()
            with mg.no_grad():
                for p in (W, V):
                    p -= 0.1 * p.grad
                    p.grad = None
        return loss

    return step, (W, V)


def _program_replays_as_eager(program, optimizer, seed, passes=None, backend="numpy"):
    rng = np.random.default_rng(seed)
    X, W0, V0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    eager, eager_params = training_program(program, optimizer, W0, V0)
    compiled_fn, params = training_program(program, optimizer, W0, V0)
    compiled = mg.compile(compiled_fn, passes=passes, backend=backend)
    with np.errstate(all="ignore"):  # a program of squares may diverge: then both must diverge alike
        for k in range(4):
            x = X * (1.0 + 0.1 * k)
            np.testing.assert_allclose(compiled(x).data, eager(x).data, rtol=1e-12, atol=1e-12)
    for p, q in zip(params, eager_params):
        assert p.dtype == q.dtype
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-12)
    assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 3
    return compiled


# ---------------------------------------------------------------------------
# The workloads, compiled
# ---------------------------------------------------------------------------


def _train_step(opt, loss_of):
    """A training step: the loss of the arguments, backward, an optimizer step; returns the loss."""
    def step(*args):
        loss = loss_of(*args)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def _twins(build):
    """Two identical (model, optimizer) pairs from ``build(rng)``."""
    return build(np.random.default_rng(0)), build(np.random.default_rng(0))


def test_blobs_per_example_sgd_compiled_equals_eager():
    from microgradnp.workloads import blobs

    X, y, _, _ = blobs.build(seed=0, n=200)

    def build(rng):
        model = mg.nn.MLP([2, 2, 2], activation="sigmoid", output_activation="sigmoid", bias=False, init="normal",
                          rng=rng)
        return model, mg.optim.SGD(model.parameters(), lr=0.1)

    (m1, o1), (m2, o2) = _twins(build)

    def step(model, opt):
        return _train_step(opt, lambda x, t: F.squared_loss(model(mg.tensor(x)), t))

    eager, compiled = step(m1, o1), mg.compile(step(m2, o2))
    for i in range(200):
        t = blobs.TARGETS[y[i]]
        assert eager(X[i], t).item() == pytest.approx(compiled(X[i], t).item(), rel=1e-12, abs=1e-15)
    for p, q in zip(m1.parameters(), m2.parameters()):
        _assert_same(p.data, q.data)
    assert compiled.stats["replays"] == 199


def test_digits_cost_and_gradient_compiled_equals_eager():
    from microgradnp.workloads import digits

    rng = np.random.default_rng(1)
    X, Y = rng.random((50, 400)), np.eye(10)[rng.integers(0, 10, 50)]
    model = digits.make_model([400, 25, 10], np.random.default_rng(0))
    params = list(model.parameters())

    def cost_and_grad(X, Y):
        J = digits.cost(model, X, Y, 1.0)
        return J, mg.grad(J, params)

    compiled = mg.compile(cost_and_grad)
    compiled(X, Y)
    for scale in (0.5, 2.0):
        with mg.no_grad():
            for p in params:
                p *= scale  # new values, same tensors: the replay reads them
        J, grads = compiled(X, Y)
        J_e, grads_e = cost_and_grad(mg.tensor(X), mg.tensor(Y))
        _assert_same(J.data, J_e.data)
        for g, ge in zip(grads, grads_e):
            _assert_same(g.data, ge.data)
    assert compiled.stats["replays"] == 2


def test_moons_full_batch_training_compiled_equals_eager():
    from microgradnp.workloads import moons

    X, y = mg.data.make_moons(100, noise=0.1, rng=0)
    Y = np.eye(2)[y]
    (m1, o1), (m2, o2) = _twins(lambda rng: (lambda m: (m, mg.optim.SGD(m.parameters(), lr=0.5)))(moons.make_model(rng)))

    def step(model, opt):
        return _train_step(opt, lambda: moons.cost(model, X, Y))

    eager, compiled = step(m1, o1), mg.compile(step(m2, o2))
    for _ in range(30):
        _assert_same(eager().data, compiled().data)
    for p, q in zip(m1.parameters(), m2.parameters()):
        _assert_same(p.data, q.data)


# ---------------------------------------------------------------------------
# Guards, breaks and effects
# ---------------------------------------------------------------------------


def _linear_step():
    w = mg.tensor([1.0, -2.0, 0.5], requires_grad=True)

    def step(x, lr=0.1):
        loss = ((x @ w) ** 2).sum()
        loss.backward()
        update = lr * w.grad  # inside a compiled function .grad is a Tensor (the trace follows it)
        w.grad = None
        return loss, update

    return w, step


def test_a_new_shape_dtype_python_value_or_grad_mode_traces_again():
    w, f = _linear_step()
    step = mg.compile(f)
    x = np.ones((2, 3))
    step(x)
    step(x)
    assert step.stats["traces"] == 1
    step(np.ones((4, 3)))  # shape
    step(np.ones((2, 3), dtype=np.float32))  # dtype
    step(x, 0.5)  # a Python value: a constant of its trace
    _, update = step(x, 0.5)
    _, expected = f(mg.tensor(x), 0.5)
    _assert_same(np.asarray(update), np.asarray(expected))
    assert step.stats["traces"] == 4 and step.stats["replays"] == 2
    forward = mg.compile(lambda x, scale=1.0: (x * w).sum() * scale)
    forward(x, scale=2.0)
    with mg.no_grad():
        out = forward(x, scale=2.0)  # grad mode (and a keyword)
        with pytest.raises(RuntimeError, match="does not require grad"):
            mg.compile(lambda x: (x * w).sum().backward())(x)  # as eager backward refuses under no_grad
    assert forward.stats["traces"] == 2 and not out.requires_grad


def test_a_closure_tensor_that_changes_shape_traces_again():
    w = mg.tensor(np.ones(3), requires_grad=True)
    step = mg.compile(lambda x: (x * w).sum())
    assert step(np.ones(3)).item() == 3.0
    w.data = np.ones(4)  # replaced by an array of another shape
    assert step(np.ones(4)).item() == 4.0
    assert step.stats["traces"] == 2


def test_fullgraph_raises_instead_of_tracing_again_or_running_eagerly():
    w = mg.tensor(np.ones(3), requires_grad=True)
    step = mg.compile(lambda x: (x * w).sum(), fullgraph=True)
    step(np.ones(3))
    with pytest.raises(mg.CompileError, match="traced for other arguments"):
        step(np.ones(5))
    reads = mg.compile(lambda x: (x * w).sum().item(), fullgraph=True)
    with pytest.raises(mg.CompileError, match="reads the value of a tensor"):
        reads(np.ones(3))


def test_reading_a_value_runs_eagerly_with_a_warning_and_the_right_results():
    w = mg.tensor([1.0, 2.0], requires_grad=True)

    def f(x):
        loss = (x * w).sum()
        return loss * 2.0 if loss.item() > 0 else loss  # a Python decision on a value

    step = mg.compile(f)
    with pytest.warns(RuntimeWarning, match="runs eagerly for these arguments: the function reads the value"):
        assert step(np.array([1.0, 1.0])).item() == 6.0
    assert step(np.array([-1.0, -1.0])).item() == -3.0  # eager: the other branch
    assert step.stats["eager_calls"] == 1 and step.stats["replays"] == 0


def test_random_draws_statistics_in_arrays_and_data_writes_are_detected():
    drop = mg.nn.Dropout(0.5, rng=0)
    step = mg.compile(lambda x: drop(x).sum())
    with pytest.warns(RuntimeWarning, match="Dropout .* draws random numbers"):
        step(np.ones(8))
    bn = mg.nn.BatchNorm1d(3)
    train = mg.compile(lambda x: bn(x).sum())
    with pytest.warns(RuntimeWarning, match="BatchNorm1d updates its running statistics"):
        train(np.arange(12.0).reshape(4, 3))
    train(np.arange(12.0).reshape(4, 3) * 2)  # eagerly: the statistics move every call
    means = np.arange(12.0).reshape(4, 3).mean(axis=0)
    np.testing.assert_allclose(bn.running_mean, 0.9 * 0.1 * means + 0.1 * 2 * means, rtol=1e-12)
    bn.eval()
    evaluate = mg.compile(lambda x: bn(x))
    x = np.ones((4, 3))
    evaluate(x)
    np.testing.assert_allclose(evaluate(x).data, bn(mg.tensor(x)).data, rtol=1e-12)
    assert evaluate.stats["replays"] == 1
    w = mg.tensor([1.0, 2.0], requires_grad=True)

    def raw_update(x):
        loss = (x * w).sum()
        loss.backward()
        w.data -= 0.1 * w.grad  # NumPy on the values of a traced tensor
        w.grad = None
        return loss

    step = mg.compile(raw_update)
    with pytest.warns(RuntimeWarning, match=r"NumPy on .data such as `w.data -= lr \* w.grad`"):
        step(np.ones(2))
    step(np.ones(2))
    np.testing.assert_allclose(w.data, [0.8, 1.8])  # both calls updated it: the second one eagerly

    def decay(x):
        w.data *= 0.5  # NumPy on .data: invisible to the trace, found by its write stamp
        return (x * w).sum()

    step = mg.compile(decay)
    with pytest.warns(RuntimeWarning, match=r"written through \.data or NumPy"):
        step(np.ones(2))
    assert step(np.ones(2)).item() == pytest.approx(0.65)
    assert step.stats["eager_calls"] == 1


def test_gradients_accumulate_across_calls_as_eager_backward_does():
    w = mg.tensor([1.0, 2.0], requires_grad=True)

    def f(x):
        (x * w * w).sum().backward()

    step = mg.compile(f)
    for _ in range(3):
        step(np.array([1.0, 3.0]))
    np.testing.assert_allclose(w.grad, 3 * np.array([2.0, 12.0]))
    w.grad = None
    step(np.array([1.0, 3.0]))
    np.testing.assert_allclose(w.grad, [2.0, 12.0])
    assert step.stats["replays"] == 3


def test_gradients_reach_arguments_that_require_grad():
    step = mg.compile(lambda x: (x ** 3).sum().backward())
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    step(x)
    y = mg.tensor([3.0, -1.0], requires_grad=True)
    step(y)
    np.testing.assert_allclose(x.grad, [3.0, 12.0])
    np.testing.assert_allclose(y.grad, [27.0, 3.0])
    assert step.stats["replays"] == 1


def test_adam_and_a_scheduler_are_replayed_each_call():
    def make():
        w = mg.tensor([2.0, -1.0], requires_grad=True)
        opt = mg.optim.Adam([w], lr=0.1)
        sched = mg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

        def step():
            opt.zero_grad()
            loss = ((w - 1.0) ** 2).sum()
            loss.backward()
            opt.step()
            sched.step()
            return loss

        return w, opt, step

    w1, o1, eager = make()
    w2, o2, f = make()
    compiled = mg.compile(f)
    for _ in range(6):
        _assert_same(eager().data, compiled().data)
    _assert_same(w1.data, w2.data)
    assert o1.lr == o2.lr == 0.0125
    assert "Adam_step()" in compiled.code and "StepLR_step()" in compiled.code or "step()" in compiled.code


def test_results_are_new_tensors_without_a_graph():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    step = mg.compile(lambda x: x * w)
    step(np.ones(2))
    a = step(np.ones(2))
    b = step(np.full(2, 2.0))
    assert not a.requires_grad and a.is_leaf
    np.testing.assert_allclose(a.data, [1.0, 2.0])  # not overwritten by the next call
    np.testing.assert_allclose(b.data, [2.0, 4.0])


def test_large_temporaries_reuse_buffers_and_results_stay_intact():
    rng = np.random.default_rng(0)
    W = mg.tensor(rng.standard_normal((300, 300)), requires_grad=True)
    opt = mg.optim.SGD([W], lr=1e-4)

    def f(x):
        opt.zero_grad()
        h = mg.tanh(x @ W)
        loss = (h * h).mean()
        loss.backward()
        opt.step()
        return h

    step = mg.compile(f)
    x = rng.standard_normal((300, 300))
    first = step(x)
    second = step(x)
    kept = second.data.copy()
    third = step(x)
    assert "out=B[" in step.code  # a 300x300 float64 temporary (720 kB) goes to a buffer
    np.testing.assert_array_equal(second.data, kept)  # the buffers never hold a result
    assert not np.shares_memory(second.data, third.data)
    assert not np.array_equal(first.data, third.data)


def test_threads_replay_with_their_own_buffers():
    W = mg.tensor(np.random.default_rng(0).standard_normal((256, 256)))
    step = mg.compile(lambda x: mg.tanh(x @ W) @ W)
    xs = [np.full((256, 256), 0.01 * k) for k in range(8)]
    expected = [mg.tanh(mg.tensor(x) @ W) @ W for x in xs]
    step(xs[0])
    results = {}

    def work(k):
        for _ in range(5):
            results[k] = step(xs[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(8):
        np.testing.assert_allclose(results[k].data, expected[k].data, rtol=1e-12)


def test_code_shows_the_numpy_that_runs():
    w = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    step = mg.compile(lambda x: mg.sigmoid(w @ x).sum())
    assert step.code == ""
    step(np.ones(2))
    code = step.code
    assert code.startswith("def replay(A):") and "expit(" in code and ".dot(" in code
    assert "apply" not in code and "Tensor" not in code


def test_gradient_clipping_is_replayed_and_its_norm_returned():
    def make():
        w = mg.tensor([1.0, 2.0], requires_grad=True)
        opt = mg.optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            (x * w * w).sum().backward()
            norm = mg.nn.utils.clip_grad_norm_(iter([w]), 1.0)  # an iterator, as model.parameters() is
            opt.step()
            return norm

        return w, step

    w1, eager = make()
    w2, step = make()
    compiled = mg.compile(step)
    for k in range(4):
        x = np.array([1.0, 3.0]) * (k + 1)
        assert compiled(x) == pytest.approx(eager(x), rel=1e-12)
    _assert_same(w1.data, w2.data)
    assert compiled.stats["replays"] == 3 and "= clip_grad_norm_()" in compiled.code


def test_a_replayed_call_given_a_traced_tensor_runs_eagerly():
    def step(x):
        loss = (x * x).sum()
        mg.nn.utils.clip_grad_norm_([loss], 1.0)  # a tensor computed inside: the replay could not pass it again
        return loss

    with pytest.warns(RuntimeWarning, match="is given a tensor computed inside the function"):
        mg.compile(step)(np.ones(2))


def test_compile_as_a_decorator_and_its_errors():
    @mg.compile(cache_size=2)
    def square(x):
        return x * x

    for n in (1, 2, 3, 1):
        square(np.ones(n))
    assert square.stats["traces"] == 4  # (1,) was evicted by (3,)
    assert square.__name__ == "square"
    with pytest.raises(TypeError, match="expected a function"):
        mg.compile(3)
    with pytest.raises(ValueError, match="cache_size"):
        mg.compile(square, cache_size=0)


def test_inlined_forwards_decide_dtype_conditions_from_the_trace():
    # xp.sigmoid goes through float32 for float16: the inliner keeps that branch for float16 only.
    step = mg.compile(lambda x: mg.sigmoid(x))
    for dtype in (np.float64, np.float16):
        x = np.linspace(-3, 3, 5).astype(dtype)
        out = step(x)
        assert out.dtype == dtype
        np.testing.assert_allclose(out.data, mg.sigmoid(mg.tensor(x)).data, rtol=1e-3)
    assert "astype" in step.code


def test_integer_labels_compile_as_inputs_and_an_integer_index_runs_eagerly_with_a_hint():
    def make():
        net = mg.nn.MLP([4, 8, 3], rng=0)
        opt = mg.optim.Adam(net.parameters(), lr=0.01)

        def step(X, labels):
            opt.zero_grad()
            loss = F.cross_entropy(net(X), labels)  # the labels are an input of pick: the trace follows them
            loss.backward()
            opt.step()
            return loss

        return step

    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((16, 4)), rng.integers(0, 3, 16)) for _ in range(4)]
    eager, compiled = make(), mg.compile(make())
    for X, y in batches:
        _assert_same(compiled(X, y).data, eager(mg.tensor(X), y).data)
    assert compiled.stats["replays"] == 3
    rows = mg.compile(lambda x, idx: x[idx].sum())  # an index read as Python values: not followed
    with pytest.warns(RuntimeWarning, match="reads the values of argument 1"):
        rows(np.ones((5, 2)), np.array([0, 2]))


def test_an_embedding_step_compiles_with_new_indices_on_every_call():
    def make():
        emb, head = mg.nn.Embedding(10, 4, rng=0), mg.nn.Linear(4, 3, rng=1)
        opt = mg.optim.SGD([*emb.parameters(), *head.parameters()], lr=0.1)

        def step(tokens, labels):
            opt.zero_grad()
            loss = F.cross_entropy(head(emb(tokens).mean(axis=1)), labels)  # the indices are an input
            loss.backward()
            opt.step()
            return loss

        return step, emb

    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, 10, (6, 5)), rng.integers(0, 3, 6)) for _ in range(4)]
    (eager, emb_e), (step, emb_c) = make(), make()
    compiled = mg.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no eager fallback
        for tokens, y in batches:
            _assert_same(compiled(tokens, y).data, eager(tokens, y).data)
    assert compiled.stats["replays"] == 3
    _assert_same(emb_c.weight.data, emb_e.weight.data)
    with pytest.raises(IndexError, match="must lie in"):  # the check runs at replay too
        compiled(np.full((6, 5), 10), batches[0][1])


def test_a_grad_read_after_the_optimizer_step_is_followed_where_it_goes_into_an_op():
    def make():
        w = mg.tensor([1.0, -2.0], requires_grad=True)
        opt = mg.optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            ((w * x) ** 2).sum().backward()
            opt.step()
            return (w * w.grad).sum()  # .grad is an array here, stored by the step: read again at replay

        return step

    eager, compiled = make(), mg.compile(make())
    for k in range(3):
        x = np.array([1.0, 2.0]) * (k + 1)
        _assert_same(compiled(x).data, eager(mg.tensor(x)).data)
    assert compiled.stats["replays"] == 2 and "._grad" in compiled.code
