"""mg.compile(backend="numba"): replay equals eager on every op (or the step stays on NumPy, saying why)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg

from .test_replay import _PROGRAMS, OPS, _op_replays_as_eager, _program_replays_as_eager, _train_step

numba = pytest.importorskip("numba")


@pytest.mark.parametrize("name", OPS)
@settings(max_examples=max(2, settings().max_examples // 25), deadline=None)
@given(data=st.data())
def test_machine_code_equals_eager_on_every_op_or_says_why_not(name, data):
    # Each op and its backward pass, traced on one draw and replayed on another (test_replay.py): the kernel
    # must compute, not remember; an op without a machine-code form runs on the NumPy backend, named.
    step, caught = _op_replays_as_eager(name, data, backend="numba")
    if step is None or step.program is None:
        return  # the draw left the op's domain, or the op decides from values and runs eagerly
    backend = step.program.stats["backend"]
    if backend != "numba":
        assert backend.startswith("numpy (numba: ")
        assert any("runs on the NumPy backend, not numba" in str(w.message) for w in caught)


@settings(max_examples=max(3, settings().max_examples // 8), deadline=None)
@given(**_PROGRAMS)
def test_random_training_steps_in_machine_code_equal_eager(program, optimizer, seed):
    # A chain of ops, a loss, backward and an optimizer (SGD, momentum, Adam or by hand), four steps.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a program with an op without a form stays on NumPy
        compiled = _program_replays_as_eager(program, optimizer, seed, backend="numba")
    backend = compiled.program.stats["backend"]
    assert backend == "numba" or backend.startswith("numpy (numba: op ")


def test_the_workloads_steps_run_in_machine_code():
    # Per-example SGD of the 2-2-2 net, and the moons step: all their ops have forms.
    for sizes in ([2, 2, 2], [2, 5, 5, 2]):
        net = mg.nn.MLP(sizes, activation="sigmoid", rng=0)
        opt = mg.optim.SGD(net.parameters(), lr=0.5)
        step = mg.compile(_train_step(opt, lambda x, y, net=net: mg.nn.functional.mse_loss(net(x), y)),
                          backend="numba")
        twin = mg.nn.MLP(sizes, activation="sigmoid", rng=0)
        twin_opt = mg.optim.SGD(twin.parameters(), lr=0.5)
        eager = _train_step(twin_opt, lambda x, y, twin=twin: mg.nn.functional.mse_loss(twin(x), y))
        rng = np.random.default_rng(0)
        for _ in range(5):
            x, y = rng.standard_normal((7, sizes[0])), rng.standard_normal((7, sizes[-1]))
            np.testing.assert_allclose(step(x, y).data, eager(mg.tensor(x), y).data, rtol=1e-12)
        assert step.program.stats["backend"] == "numba", step.program.stats["backend"]
        assert step.stats["compile_seconds"] == step.program.stats["compile_seconds"] >= 0
        assert "def kernel(" in step.code
        for p, q in zip(net.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-12)


def test_what_the_backend_cannot_do_is_named_and_runs_on_numpy():
    w = mg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    step = mg.compile(lambda x: (w * x).sum(), backend="numba")
    with pytest.warns(RuntimeWarning, match="runs on the NumPy backend, not numba: mul computes in float32"):
        step(np.ones(3, dtype=np.float32))
    assert step(np.full(3, 2.0, dtype=np.float32)).item() == 6.0
    with pytest.raises(ValueError, match="backend must be 'numpy' or 'numba'"):
        mg.compile(lambda x: x, backend="jax")


def test_a_second_process_loads_the_kernel_from_the_disk_cache(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "step.py"
    script.write_text(
        "import numpy as np, microgradnp as mg\n"
        "w = mg.tensor([0.5, -0.25], requires_grad=True)\n"
        "step = mg.compile(lambda x: (mg.tanh(w * x) ** 2).sum(), backend='numba')\n"
        "step(np.ones(2)); step(np.ones(2))\n"
        "print(step.program.stats['from_disk_cache'])\n")
    env = {**__import__("os").environ, "MICROGRADNP_CACHE": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
            for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["False", "True"], [r.stderr[-2000:] for r in runs]


def test_fusion_writes_an_elementwise_chain_as_one_expression_and_changes_no_number():
    from microgradnp.compiler import PASSES

    w = mg.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)

    def f(x):
        loss = (mg.sigmoid(mg.tanh(x @ w) * 2.0 + 1.0) ** 2).sum()
        loss.backward()
        return loss

    fused = mg.compile(f, backend="numba")
    plain = mg.compile(f, backend="numba", passes=list(PASSES))  # every pass but fuse_elementwise
    x = np.random.default_rng(0).standard_normal((4, 2))
    results = []
    for step in (fused, plain):
        w.grad = None
        step(x)
        w.grad = None
        results.append((step(x).item(), w.grad.copy()))
        assert step.program.stats["backend"] == "numba"
    w.grad = None
    expected = f(mg.tensor(x)).item()
    np.testing.assert_allclose([results[0][0], results[1][0]], expected, rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)

    def kernel_lines(step):
        return step.code.split("def kernel(")[1].count("\n")

    assert kernel_lines(fused) < kernel_lines(plain)


def test_a_long_elementwise_chain_is_fused_in_pieces_and_equals_eager():
    # Fused without a bound, the backward chain would be one expression nested too deep for Python's parser.
    x = mg.tensor(np.linspace(-1.0, 1.0, 16), requires_grad=True)

    def f(x):
        y = x
        for i in range(60):
            y = mg.tanh(y) if i % 2 == 0 else y * 1.1
        y.sum().backward()
        return y

    step = mg.compile(f, backend="numba")
    for _ in range(2):
        x.grad = None
        out = step(x)
    grad = x.grad.copy()
    x.grad = None
    expected = f(x)
    assert step.program.stats["backend"] == "numba"
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-12)
    np.testing.assert_allclose(grad, x.grad, rtol=1e-12)


def _per_example(optimizer="by hand", clear=True, returns=False):
    """The seeds' per-example SGD on the 2-2-2 net as one function: a Python loop over the examples."""
    W1 = mg.tensor(np.random.default_rng(0).standard_normal((2, 2)), requires_grad=True)
    W2 = mg.tensor(np.random.default_rng(1).standard_normal((2, 2)), requires_grad=True)
    params = [W1, W2]
    opt = {"by hand": None, "sgd": mg.optim.SGD(params, lr=0.1), "adam": mg.optim.Adam(params, lr=0.01)}[optimizer]

    def epoch(X, T):
        loss = None
        for x, t in zip(X, T):
            if opt is not None:
                opt.zero_grad()
            loss = mg.nn.functional.squared_loss(mg.sigmoid(W2 @ mg.sigmoid(W1 @ x)), t)
            loss.backward()
            if opt is not None:
                opt.step()
                continue
            with mg.no_grad():
                for p in params:
                    p -= 0.1 * p.grad
                    if clear:
                        p.grad = None
        return loss if returns else None

    return epoch, params


@pytest.mark.parametrize("optimizer, returns", [("by hand", False), ("sgd", True)])
def test_a_loop_over_the_examples_stays_a_loop_in_machine_code_and_equals_eager(optimizer, returns):
    rng = np.random.default_rng(2)
    X, T = rng.standard_normal((50, 2)), rng.standard_normal((50, 2))
    epoch, params = _per_example(optimizer, returns=returns)
    eager, eager_params = _per_example(optimizer, returns=returns)
    step = mg.compile(epoch, backend="numba", unroll=False)
    for _ in range(2):  # a trace, then a replay
        out, expected = step(X, T), eager(X, T)
        if returns:
            np.testing.assert_allclose(out.data, expected.data, rtol=1e-12)
        for p, q in zip(params, eager_params):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-14)
            assert (p.grad is None) == (q.grad is None)
            if q.grad is not None:
                np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12)
    assert step.program.stats["backend"] == "numba"
    # The first iteration runs before the loop (it reads what .grad held); with zero_grad() at the top, the
    # last iteration's clear is missing, so it runs after the loop.
    looped = step.program.stats["loop"]["iterations_in_loop"]
    assert looped == (49 if optimizer == "by hand" else 48)
    assert step.code.count(f"for _w in range(1, {looped + 1}):") == 1


def test_what_a_loop_in_machine_code_cannot_carry_is_named_or_unrolled_and_equals_eager():
    rng = np.random.default_rng(3)
    X, T = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    # Gradients accumulated over the examples: each iteration reads the one before, so the iterations are not
    # the same code and there is no loop to roll (a short one is unrolled); Adam's iterations count its steps
    # and set .grad between array operations, which one kernel call cannot follow: the NumPy backend, named.
    for optimizer, clear, why in (("by hand", False, None), ("adam", True, "runs on the NumPy backend, not numba")):
        (epoch, params), (eager, eager_params) = _per_example(optimizer, clear), _per_example(optimizer, clear)
        step = mg.compile(epoch, backend="numba", unroll=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            step(X, T)
        step(X, T)
        eager(X, T)
        eager(X, T)
        for p, q in zip(params, eager_params):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-12)
            if q.grad is not None:
                np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12)
        assert "loop" not in step.program.stats
        if why is None:
            assert step.program.stats["backend"] == "numba" and not caught
        else:
            assert any(why in str(w.message) for w in caught), [str(w.message) for w in caught]
    with pytest.raises(ValueError, match='unroll=False keeps a loop in machine code: it needs backend="numba"'):
        mg.compile(lambda x: x, unroll=False)


def test_a_classifier_step_with_integer_labels_runs_in_machine_code_and_checks_its_labels():
    rng = np.random.default_rng(4)
    nets = [mg.nn.MLP([4, 16, 3], activation="relu", rng=0) for _ in range(2)]
    opts = [mg.optim.Adam(net.parameters(), lr=0.01) for net in nets]

    def step_of(net, opt):
        def step(x, y):
            opt.zero_grad()
            loss = mg.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss
        return step

    compiled, eager = mg.compile(step_of(nets[0], opts[0]), backend="numba"), step_of(nets[1], opts[1])
    for _ in range(4):
        x, y = rng.standard_normal((32, 4)), rng.integers(0, 3, 32)
        np.testing.assert_allclose(compiled(x, y).data, eager(mg.tensor(x), y).data, rtol=1e-12)
    assert compiled.program.stats["backend"] == "numba"
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, C\)"):
        compiled(x, np.full(32, 3))  # a label out of range: an error, as eager, never a number read past the row


@settings(max_examples=max(3, settings().max_examples // 8), deadline=None)
@given(program=_PROGRAMS["program"], optimizer=st.sampled_from(["sgd", "momentum", "by hand"]),
       seed=st.integers(0, 2 ** 16))
def test_random_programs_in_a_loop_over_examples_equal_eager(program, optimizer, seed):
    # A chain of ops on one example at a time, a loss, backward and an update, over 6 examples in a Python loop:
    # rolled into a machine-code loop where the iterations are the same code, or named; never another number.
    from .test_replay import training_program

    rng = np.random.default_rng(seed)
    X, W0, V0 = rng.standard_normal((6, 3)), rng.standard_normal((3, 5)), rng.standard_normal((5, 2))

    def make():
        step, params = training_program(program, optimizer, W0, V0)

        def epoch(X):
            for x in X:
                step(x.reshape(1, -1))

        return epoch, params

    (epoch, params), (eager, eager_params) = make(), make()
    step = mg.compile(epoch, backend="numba", unroll=False)
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(2):  # a trace, then a replay
            step(X * (1.0 + 0.1 * k))
            eager(mg.tensor(X * (1.0 + 0.1 * k)))
    for p, q in zip(params, eager_params):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-11, atol=1e-12)
    backend = step.program.stats["backend"]
    assert backend == "numba" or any("runs on the NumPy backend, not numba" in str(w.message) for w in caught)


# -- roll_repeats: repeated stretches of ops rolled back into loops ----------------------------------------------

def _chain(n):
    def f(x):
        y = x
        for i in range(n):
            y = mg.tanh(y) if i % 2 == 0 else y * 1.1
        y.sum().backward()
        return y
    return f


def test_a_chain_too_long_to_compile_straight_is_rolled_into_loops_and_equals_eager():
    # 400 ops forward, about 1,200 with the backward pass: over the 1,000 ops a straight kernel may hold.
    from microgradnp.compiler import PASSES

    x = mg.tensor(np.linspace(-1.0, 1.0, 16), requires_grad=True)
    step = mg.compile(_chain(400), backend="numba")
    for _ in range(2):
        x.grad = None
        out = step(x)
    grad = x.grad.copy()
    x.grad = None
    expected = _chain(400)(x)
    assert step.program.stats["backend"] == "numba"
    # the forward's (tanh, * 1.1) and the backward's four ops, each a loop; the backward reads the forward's
    # tanh values in reverse from the array the forward's loop kept them in
    assert step.program.stats["rolled"] == [{"iterations": 199, "ops_each": 2}, {"iterations": 197, "ops_each": 4}]
    assert "S0_0[_w - 1] = " in step.code and "S0_0[197 + -1 * _w]" in step.code
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-12)
    np.testing.assert_allclose(grad, x.grad, rtol=1e-12)
    # without the pass the kernel is too long for Numba: the NumPy backend, named
    plain = mg.compile(_chain(400), backend="numba", passes=list(PASSES) + ["fuse_elementwise", "small_products"])
    x.grad = None
    with pytest.warns(RuntimeWarning, match=r"not numba: 1199 ops, more than 1000"):
        plain(x)
    np.testing.assert_allclose(grad, x.grad, rtol=1e-12)


def test_a_recurrent_network_is_rolled_over_its_time_steps_and_equals_eager():
    # h = tanh(W h + U x_k): the rows of X move with the iteration, h and the loss are carried, and the
    # backward pass sums W's and U's gradients over the steps, reading the forward's values in reverse.
    rng = np.random.default_rng(0)
    W0, U0 = rng.standard_normal((4, 4)) * 0.5, rng.standard_normal((4, 3)) * 0.5

    def make():
        W, U = mg.tensor(W0, requires_grad=True), mg.tensor(U0, requires_grad=True)

        def f(X):
            h, total = mg.zeros(4), 0.0
            for k in range(X.shape[0]):
                h = mg.tanh(W @ h + U @ X[k])
                total = total + (h * h).sum()
            total.backward()
            return total

        return f, (W, U)

    (f, params), (eager, eager_params) = make(), make()
    step = mg.compile(f, backend="numba")
    for _ in range(3):  # a trace, then replays on other sequences
        X = rng.standard_normal((60, 3))
        for p, q in zip(params, eager_params):
            p.grad = q.grad = None
        np.testing.assert_allclose(step(X).item(), eager(mg.tensor(X)).item(), rtol=1e-12)
        for p, q in zip(params, eager_params):
            np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12, atol=1e-14)
    assert step.program.stats["backend"] == "numba"
    assert [r["iterations"] for r in step.program.stats["rolled"]] == [58, 55]
    assert "a0[1 + 1 * _w]" in step.code  # X[k], k moving with the loop


def _repeated(op, y, k, c, w, W, X):
    if op == "tanh":
        return mg.tanh(y)
    if op == "sin":
        return mg.sin(y)
    if op == "scale":
        return y * c
    if op == "shift":
        return y + 0.1
    if op == "weight":
        return y * w
    if op == "matvec":
        return W @ y
    return y + X[k]  # "row"


# at least one op whose backward pass reads the forward (else constant folding leaves a short kernel)
_BODY = st.lists(st.sampled_from(["tanh", "sin", "scale", "shift", "weight", "matvec", "row"]), min_size=1,
                 max_size=3).filter(lambda body: {"tanh", "sin", "weight", "matvec"} & set(body))


@settings(max_examples=max(3, settings().max_examples // 8), deadline=None)
@given(body=_BODY, n=st.integers(110, 160), carried=st.booleans(), kept=st.integers(0, 100),
       size=st.sampled_from([1, 3]), seed=st.integers(0, 2 ** 16))
def test_random_repeated_programs_are_rolled_and_equal_eager(body, n, carried, kept, size, seed):
    # A body of elementwise ops, a weight, a matrix product, a row of an argument, repeated n times; a loss
    # carried over the iterations or not; one value of an iteration in the middle read after the loop.
    rng = np.random.default_rng(seed)
    c, w0, W0 = rng.uniform(0.6, 1.1), rng.uniform(-1, 1, size), rng.uniform(-0.4, 0.4, (size, size))

    def make():
        w, W = mg.tensor(w0, requires_grad=True), mg.tensor(W0, requires_grad=True)

        def f(x, X):
            y, total, middle = x, 0.0, None
            for k in range(n):
                for op in body:
                    y = _repeated(op, y, k, c, w, W, X)
                if carried:
                    total = total + (y * y).mean()
                if k == kept:
                    middle = y
            loss = total + y.sum() + (middle * middle).sum()
            loss.backward()
            return loss

        return f, (w, W)

    (f, params), (eager, eager_params) = make(), make()
    x = mg.tensor(rng.uniform(-1, 1, size), requires_grad=True)
    step = mg.compile(f, backend="numba")
    for _ in range(2):  # a trace, then a replay on other values
        X = rng.uniform(-0.5, 0.5, (n, size))
        for p in (x,) + params + eager_params:
            p.grad = None
        out = step(x, X)
        grads = [np.copy(p.grad) for p in (x,) + params]
        x.grad = None
        np.testing.assert_allclose(out.item(), eager(x, mg.tensor(X)).item(), rtol=1e-12)
        for g, p in zip(grads, (x,) + eager_params):
            if p.grad is None:
                assert not g.shape
            else:
                np.testing.assert_allclose(g, p.grad, rtol=1e-11, atol=1e-13)
    assert step.program.stats["backend"] == "numba"
    assert step.program.stats["rolled"]


def test_a_step_returning_every_iterations_value_stays_on_numpy_by_name():
    x = mg.tensor(np.linspace(-1.0, 1.0, 4), requires_grad=True)

    def f(x):
        ys = [x]
        for _ in range(250):
            ys.append(mg.tanh(ys[-1]) * 1.1)
        return ys

    step = mg.compile(f, backend="numba")
    with pytest.warns(RuntimeWarning, match="returns or stores a value of a repeated stretch of ops other than"):
        out = step(x)
    expected = f(x)
    for a, b in zip(out, expected):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


def test_small_matrix_products_are_written_as_loops_large_ones_stay_blas_and_no_number_changes():
    from microgradnp.compiler import MACHINE_PASSES, PASSES

    rng = np.random.default_rng(5)
    for n_in, batch, small in ((2, 1, True), (20, 30, False)):  # 2x2 products; 30x20 @ 20x20
        W0 = rng.standard_normal((n_in, n_in)) * 0.5
        x = rng.standard_normal((batch, n_in)) if batch > 1 else rng.standard_normal(n_in)
        results = []
        for passes in (None, list(PASSES) + [p for p in MACHINE_PASSES if p != "small_products"]):
            W = mg.tensor(W0, requires_grad=True)

            def f(x, W=W, batch=batch):
                loss = (mg.sigmoid(x @ W) @ W).sum() if batch > 1 else (mg.sigmoid(W @ x) @ W).sum()
                loss.backward()
                return loss

            step = mg.compile(f, backend="numba", passes=passes)
            for _ in range(2):
                W.grad = None
                out = step(x)
            assert step.program.stats["backend"] == "numba"
            kernel = step.code.split("def kernel(")[1]
            assert ("_dot_" in kernel) == (small and passes is None), kernel
            results.append((out.item(), W.grad.copy()))
            W.grad = None
            np.testing.assert_allclose(out.item(), f(mg.tensor(x)).item(), rtol=1e-12)
            np.testing.assert_allclose(results[-1][1], W.grad, rtol=1e-12)
        np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_reductions_of_elementwise_expressions_are_one_loop_and_change_no_number_beyond_the_sum_order():
    # sum and mean of an elementwise expression, the losses' terms: one loop over the elements, no array of terms;
    # a sum along an axis, or of an array already made, stays np.sum.
    from microgradnp.compiler import MACHINE_PASSES, PASSES

    F = mg.nn.functional
    rng = np.random.default_rng(6)
    W0, X, Y = rng.standard_normal((3, 4)), rng.standard_normal((50, 3)), rng.random((50, 4))
    without = list(PASSES) + [p for p in MACHINE_PASSES if p != "fuse_reductions"]
    results = []
    for passes in (None, without):
        W = mg.tensor(W0, requires_grad=True)

        def f(x, y, W=W):
            z = x @ W
            loss = (F.mse_loss(z, y) + F.binary_cross_entropy_with_logits(z, y) + (mg.tanh(z) * 2.0).mean()
                    + (W * W).sum() + z.sum() + (z * z).sum(axis=0).sum())
            loss.backward()
            return loss

        step = mg.compile(f, backend="numba", passes=passes)
        for _ in range(2):
            W.grad = None
            out = step(X, Y)
        assert step.program.stats["backend"] == "numba"
        kernel = step.code.split("def kernel(")[1]
        # the two losses, the mean of tanh and the sum of squares; z.sum() and the sum along an axis: np.sum
        assert kernel.count(" = 0.0\n") == (4 if passes is None else 0), kernel
        results.append((out.item(), W.grad.copy()))
        W.grad = None
        np.testing.assert_allclose(out.item(), f(mg.tensor(X), Y).item(), rtol=1e-12)
        np.testing.assert_allclose(results[-1][1], W.grad, rtol=1e-12)
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
