"""mg.compile never replays a stale world: change what a traced step read between calls, and the compiled
result equals eager (a new trace), or the step runs eagerly and says why."""

import warnings

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.testing import compositions

X = np.array([1.0, 2.0, 3.0])


def _calls(f, *args, n=1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return [f(*args) for _ in range(n)]


def test_a_tensor_replaced_in_a_dict_of_the_closure():
    g = {"w": mg.tensor([1.0, 2.0, 3.0], requires_grad=True)}
    f = mg.compile(lambda x: (x * g["w"]).sum())
    assert _calls(f, np.ones(3), n=2)[-1].item() == 6.0
    g["w"] = mg.tensor([5.0, 5.0, 5.0], requires_grad=True)
    assert f(np.ones(3)).item() == 15.0
    assert f.stats["traces"] == 2


def test_a_parameter_of_a_module_replaced_and_the_module_replaced():
    m = mg.nn.Linear(3, 1, rng=0)
    holder = [m]
    h = mg.compile(lambda x: holder[0](x).sum())
    _calls(h, np.ones((2, 3)), n=2)
    m.weight = mg.nn.Parameter(np.zeros((1, 3)))
    assert h(np.ones((2, 3))).item() == pytest.approx(2 * m.bias.data.item())
    holder[0] = mg.nn.Linear(3, 1, rng=5)
    assert h(np.ones((2, 3))).item() == pytest.approx(holder[0](np.ones((2, 3))).sum().item())


def test_a_modules_training_flag_and_its_numbers():
    d = mg.nn.Dropout(0.5)
    d.eval()
    k = mg.compile(lambda x: d(x) * 1.0)
    np.testing.assert_array_equal(_calls(k, np.ones(8), n=2)[-1].data, np.ones(8))
    d.train()
    mg.manual_seed(0)
    with pytest.warns(RuntimeWarning, match="Dropout .*draws random numbers"):
        out = k(np.ones(8)).data
    assert set(out.tolist()) <= {0.0, 2.0} and 0.0 in out  # dropped, scaled: the training forward
    d.eval()
    np.testing.assert_array_equal(k(np.ones(8)).data, np.ones(8))  # the eval program again

    class Scaled(mg.nn.Module):  # a forward that reads a Python number of its module
        def __init__(self):
            super().__init__()
            self.factor = 0.1

        def forward(self, x):
            return x * self.factor

    scaled = Scaled()
    f = mg.compile(lambda x: scaled(x).sum())
    assert _calls(f, np.array([-1.0, 3.0]), n=2)[-1].item() == pytest.approx(0.2)
    scaled.factor = 0.5
    assert f(np.array([-1.0, 3.0])).item() == pytest.approx(1.0)


def test_python_numbers_read_from_the_closure():
    cfg = {"s": 2.0}
    q = mg.compile(lambda x: (x * cfg["s"]).sum())
    assert _calls(q, np.ones(3), n=2)[-1].item() == 6.0
    cfg["s"] = 10.0
    assert q(np.ones(3)).item() == 30.0
    scale = 3.0

    def step(x):
        return (x * scale).sum() if use_scale else x.sum()

    use_scale = True
    f = mg.compile(step)
    assert _calls(f, np.ones(3), n=2)[-1].item() == 9.0
    scale = 4.0
    assert f(np.ones(3)).item() == 12.0
    use_scale = False  # a Python decision on a closure variable
    assert f(np.ones(3)).item() == 3.0


def test_an_optimizer_replaced_after_the_trace():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    opt = mg.optim.SGD([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = (w * x).sum()
        loss.backward()
        opt.step()
        return loss

    s = mg.compile(step)
    _calls(s, np.ones(2), n=2)
    np.testing.assert_allclose(w.data, [0.8, 1.8])
    opt = mg.optim.SGD([w], lr=1.0)
    s(np.ones(2))
    np.testing.assert_allclose(w.data, [-0.2, 0.8])


def test_indices_read_from_values_run_eagerly_with_a_hint():
    n = mg.compile(lambda x: x[np.nonzero(x > 0)].sum())
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        assert n(mg.tensor([1.0, -2.0, 3.0])).item() == 4.0
    assert n(mg.tensor([-1.0, 2.0, 3.0])).item() == 5.0
    a = mg.compile(lambda x, v: v[x.astype(int)].sum())
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        assert a(mg.tensor([0.0, 1.0]), mg.tensor([1.0, 2.0, 3.0])).item() == 3.0
    assert a(mg.tensor([2.0, 2.0]), mg.tensor([1.0, 2.0, 3.0])).item() == 6.0


def test_detach_is_computed_again_at_each_replay():
    f = mg.compile(lambda x: (x * x.detach()).sum())
    assert _calls(f, np.array([1.0, 2.0]))[0].item() == 5.0
    assert f(np.array([3.0, 4.0])).item() == 25.0 and f.stats["replays"] == 1
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    g = mg.compile(lambda x: ((w * x).sum() * w.detach()).sum())
    for xv in ([1.0, 1.0], [2.0, 0.0]):
        assert g(np.array(xv)).item() == pytest.approx(((w.data * xv).sum() * w.data).sum())


def test_hooks_run_eagerly_or_retrace():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def step(x):
        w.grad = None
        y = w * x
        y.register_hook(lambda g: seen.append(1))
        y.sum().backward()
        return w.grad

    hs = mg.compile(step)
    with pytest.warns(RuntimeWarning, match="gradient hook"):
        hs(np.ones(2))
    hs(np.ones(2))
    assert len(seen) == 2  # the hook's side effect on every call, as eager
    m = mg.nn.Linear(2, 1, rng=0)
    st = mg.compile(lambda x: m(x).sum())
    _calls(st, np.ones((1, 2)), n=2)
    shapes = []
    m.register_forward_hook(lambda mod, args, out: shapes.append(out.shape))
    with pytest.warns(RuntimeWarning, match="forward hooks"):
        st(np.ones((1, 2)))
    st(np.ones((1, 2)))
    assert shapes == [(1, 1), (1, 1)]


def test_detect_anomaly_sees_inside_a_compiled_step():
    lg = mg.compile(lambda x: mg.log(x))
    lg(np.array([1.0, 2.0]))
    with mg.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(mg.AnomalyError, match="log produced nan"):
            lg(np.array([1.0, -2.0]))


def test_errors_at_replay_name_the_op():
    ce = mg.compile(lambda x, y: mg.nn.functional.cross_entropy(x, y))
    ce(np.ones((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"pick: labels must lie in \[0, 2\].*step\.code"):
        ce(np.ones((2, 3)), np.array([0, 5]))
    so = mg.compile(lambda a, b: mg.linalg.solve(a, b))
    so(np.eye(2), np.ones(2))
    with pytest.raises(np.linalg.LinAlgError, match="solve: Singular matrix"):
        so(np.zeros((2, 2)), np.ones(2))


def test_a_custom_function_inside_a_compiled_step():
    cube = compositions.subjects()["Function (NumPy backward)"][0]  # Cube.apply: x ** 3, a NumPy backward

    w = mg.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        w.grad = None
        loss = cube(w * x).sum()
        loss.backward()
        return loss

    c = mg.compile(step)
    for xv in ([1.0, 1.0], [2.0, 1.0], [3.0, -1.0]):
        out = c(np.array(xv))
        assert out.item() == pytest.approx(((w.data * xv) ** 3).sum())
        np.testing.assert_allclose(w.grad, 3 * (w.data * xv) ** 2 * np.array(xv))
    assert c.stats["replays"] == 2


def test_a_tensor_it_cannot_locate_makes_the_step_eager():
    hidden = (lambda: mg.tensor([2.0, 3.0], requires_grad=True))()

    class Box:
        __slots__ = ("t",)  # no __dict__: not searched

    box = Box()
    box.t = hidden
    f = mg.compile(lambda x: (x * box.t).sum())
    with pytest.warns(RuntimeWarning, match="cannot find where"):
        assert f(np.ones(2)).item() == 5.0
    box.t = mg.tensor([1.0, 1.0], requires_grad=True)
    assert f(np.ones(2)).item() == 2.0


def test_keeps_retracing_says_so():
    cfg = {"step": 0}
    f = mg.compile(lambda x: x * cfg["step"], cache_size=2)
    with pytest.warns(RuntimeWarning, match="has been traced 8 times"):
        for i in range(10):
            cfg["step"] = i
            assert f(np.ones(1)).item() == i


@pytest.mark.parametrize("make", [
    lambda ps: mg.optim.SGD(ps, lr=0.1), lambda ps: mg.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: mg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: mg.optim.Adam(ps, lr=0.1), lambda ps: mg.optim.AdamW(ps, lr=0.1, weight_decay=0.1),
], ids=["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_optimizer_updates_are_written_into_the_code_and_equal_eager_bit_for_bit(make):
    w, w2 = (mg.tensor([1.0, -2.0], requires_grad=True) for _ in range(2))
    opt, opt2 = make([w]), make([w2])
    sched = mg.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    sched2 = mg.optim.lr_scheduler.ExponentialLR(opt2, 0.5)

    def step(x):
        opt.zero_grad()
        loss = ((w * x).sum() - 1.0) ** 2
        loss.backward()
        opt.step()
        return loss

    compiled = mg.compile(step)
    for k in range(8):
        x = np.array([1.0, 0.5 * k])
        compiled(x)
        opt2.zero_grad()
        (((w2 * mg.tensor(x)).sum() - 1.0) ** 2).backward()
        opt2.step()
        if k % 3 == 2:  # a learning rate that changes: read from the parameter group at every replay
            sched.step()
            sched2.step()
        np.testing.assert_array_equal(w.data, w2.data)
    assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 7
    assert ".step()" not in compiled.code and "SETTINGS['lr']" in compiled.code  # the update is in the code
    np.testing.assert_array_equal(opt.state_dict()["state"].get(0, {}).get("m", 0.0),
                                  opt2.state_dict()["state"].get(0, {}).get("m", 0.0))


def test_a_changed_optimizer_decision_traces_again():
    w = mg.tensor([1.0, -2.0], requires_grad=True)
    opt = mg.optim.SGD([w], lr=0.1)
    compiled = mg.compile(lambda x: (opt.zero_grad(), (w * x).sum().backward(), opt.step()))
    _calls(compiled, np.ones(2), n=2)
    opt.param_groups[0]["momentum"] = 0.9  # momentum switched on: another update
    compiled(np.ones(2))
    assert compiled.stats["traces"] == 2
    assert "momentum_buffer" in opt.state[id(w)]


def test_gradients_from_outside_the_step_are_read_at_each_replay():
    w = mg.tensor([1.0, -2.0], requires_grad=True)
    opt = mg.optim.Adam([w], lr=0.1)
    update = mg.compile(lambda: opt.step())
    w2 = mg.tensor([1.0, -2.0], requires_grad=True)
    opt2 = mg.optim.Adam([w2], lr=0.1)
    for k in range(4):
        for t, o in ((w, opt), (w2, opt2)):
            o.zero_grad()
            (t * np.array([1.0, float(k)])).sum().backward()
        update()
        opt2.step()
        np.testing.assert_array_equal(w.data, w2.data)


def test_a_partial_function_and_a_bound_method_are_searched_too():
    import functools

    class Model:
        def __init__(self):
            self.w = mg.tensor([1.0, 2.0], requires_grad=True)

        def loss(self, x):
            return (x * self.w).sum()

    def loss_of(model, x):
        return model.loss(x)

    model = Model()
    for fn in (model.loss, functools.partial(loss_of, model)):
        f = mg.compile(fn)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # found: no eager fallback
            assert _calls(f, np.ones(2), n=2)[-1].item() == 3.0
        model.w = mg.tensor([5.0, 5.0], requires_grad=True)
        assert f(np.ones(2)).item() == 10.0
        model.w = mg.tensor([1.0, 2.0], requires_grad=True)


def test_a_compiled_step_named_by_another_is_not_searched_into():
    # `opt.step()` names "step"; when a compiled function of that name lives in the same globals, the world
    # search of the second step once walked into the first one's generated code and guarded its counters
    # (an Adam step count): the second step then traced again at every call.
    src = (
        "import numpy as np, microgradnp as mg\n"
        "w = mg.tensor([1.0, -1.0], requires_grad=True)\n"
        "opt = mg.optim.Adam([w], lr=0.01)\n"
        "@mg.compile\n"
        "def step(x):\n"
        "    opt.zero_grad(); loss = ((w * x).sum() - 1.0) ** 2; loss.backward(); opt.step(); return loss\n"
        "@mg.compile\n"
        "def other(x):\n"
        "    opt.zero_grad(); loss = ((w * x).sum() - 1.0) ** 2; loss.backward(); opt.step(); return loss\n"
    )
    scope: dict = {}
    exec(compile(src, "<user script>", "exec"), scope)  # noqa: S102 - a script of a user, in a test
    for _ in range(3):
        scope["step"](np.array([1.0, 2.0]))
    for _ in range(4):
        scope["other"](np.array([1.0, 2.0]))
    assert scope["step"].stats["traces"] == 1
    assert scope["other"].stats["traces"] == 1 and scope["other"].stats["replays"] == 3
