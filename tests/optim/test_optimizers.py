"""SGD and Adam follow PyTorch's formulas; steps record nothing; they train a model."""

import inspect
import warnings

import numpy as np
import pytest

import microgradnp as mg


def _quadratic_grads(w, A, b, steps, opt):
    history = []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (w @ (mg.tensor(A) @ w)) - (mg.tensor(b) * w).sum()
        loss.backward()
        opt.step()
        history.append(w.data.copy())
    return history


A = np.array([[3.0, 0.5], [0.5, 1.0]])
B = np.array([1.0, -2.0])


def _grad(x):
    return A @ x - B


@pytest.mark.parametrize("momentum,nesterov,wd", [(0.0, False, 0.0), (0.9, False, 0.0), (0.9, True, 0.01), (0.0, False, 0.1)])
def test_sgd_follows_pytorchs_formulas(momentum, nesterov, wd):
    w = mg.tensor([1.0, 1.0], requires_grad=True)
    got = _quadratic_grads(w, A, B, 5, mg.optim.SGD([w], lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=wd))
    x, buf = np.array([1.0, 1.0]), None
    for step in range(5):
        g = _grad(x) + wd * x
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        x = x - 0.1 * g
        np.testing.assert_allclose(got[step], x, rtol=1e-13)


def test_adam_follows_the_paper():
    w = mg.tensor([1.0, 1.0], requires_grad=True)
    got = _quadratic_grads(w, A, B, 5, mg.optim.Adam([w], lr=0.05, betas=(0.8, 0.99), weight_decay=0.01))
    x, m, v = np.array([1.0, 1.0]), np.zeros(2), np.zeros(2)
    for t in range(1, 6):
        g = _grad(x) + 0.01 * x
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g * g
        x = x - 0.05 * (m / (1 - 0.8 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-8)
        np.testing.assert_allclose(got[t - 1], x, rtol=1e-12)


def test_optimizer_step_records_nothing_and_skips_missing_grads():
    w = mg.tensor([1.0], requires_grad=True)
    u = mg.tensor([5.0], requires_grad=True)
    opt = mg.optim.SGD([w, u], lr=0.5, momentum=0.9)
    (w * 2).sum().backward()
    opt.step()
    assert w.is_leaf and w.data[0] == 0.0 and u.data[0] == 5.0
    opt.zero_grad()
    assert w.grad is None
    opt.zero_grad(set_to_none=False)  # stays None when there was no gradient
    (w * 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad, [0.0])


def test_optimizer_argument_checks():
    with pytest.raises(ValueError, match="empty"):
        mg.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="requires_grad"):
        mg.optim.SGD([mg.tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="nesterov"):
        mg.optim.SGD([mg.tensor([1.0], requires_grad=True)], lr=0.1, nesterov=True)


@pytest.mark.parametrize("make, match", [
    (lambda w: mg.optim.SGD([w * 2.0], lr=0.1), r"parameter 0 is not a leaf \(it was computed by mul\)"),
    (lambda w: mg.optim.SGD([w, w], lr=0.1), "parameters 0 and 1 are the same tensor"),
    (lambda w: mg.optim.SGD(w, lr=0.1), "a single Tensor"),
    (lambda w: mg.optim.SGD([w], lr=-0.1), r"SGD: lr must be >= 0 and finite, got -0.1"),
    (lambda w: mg.optim.SGD([w], lr=float("nan")), "lr must be >= 0"),
    (lambda w: mg.optim.SGD([w], lr=0.1, momentum=-0.9), "SGD: momentum must be >= 0"),
    (lambda w: mg.optim.SGD([w], lr=0.1, weight_decay=-1e-4), "SGD: weight_decay must be >= 0"),
    (lambda w: mg.optim.Adam([w], eps=-1e-8), "Adam: eps must be >= 0"),
    (lambda w: mg.optim.Adam([w], weight_decay=-0.01), "Adam: weight_decay must be >= 0"),
    (lambda w: mg.optim.Adam([w], betas=(0.9, 1.0)), r"Adam: betas\[1\] must be in \[0, 1\)"),
    (lambda w: mg.optim.Adam([w], betas=(-0.1, 0.9)), r"betas\[0\]"),
    (lambda w: mg.optim.Adam([w], betas=(0.9,)), "a pair"),
    (lambda w: mg.optim.SGD([w], lr="fast"), "SGD: lr must be a number, got 'fast'"),
])
def test_optimizers_refuse_what_pytorch_refuses(make, match):
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises((ValueError, TypeError), match=match):
        make(w)


@pytest.mark.parametrize("make", [lambda ps: mg.optim.SGD(ps, lr=0.1), lambda ps: mg.optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: mg.optim.Adam(ps)])
def test_a_gradient_of_the_wrong_shape_is_refused_not_broadcast(make):
    # Replacing .data with an array of another shape leaves a stale .grad behind;
    # an in-place update would silently broadcast a (1,) gradient over (3,).
    u = mg.tensor([0.0], requires_grad=True)
    w = mg.tensor([1.0], requires_grad=True)
    opt = make([u, w])
    (w * 3.0).sum().backward()
    w.data = np.zeros(3)
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(3,\) but its .grad has shape \(1,\)"):
        opt.step()


@pytest.mark.parametrize("owner", ["optimizer", "module"])
def test_zero_grad_without_none_zeroes_in_place_as_in_pytorch(owner):
    net = mg.nn.Linear(2, 1, rng=0)
    clear = (mg.optim.SGD(net.parameters(), lr=0.1) if owner == "optimizer" else net).zero_grad
    net(mg.tensor([[1.0, 2.0]])).sum().backward()
    held = net.weight.grad
    clear(set_to_none=False)
    assert net.weight.grad is held and np.all(held == 0)  # the same array, zeroed
    net(mg.tensor([[1.0, 2.0]])).sum().backward()
    np.testing.assert_array_equal(net.weight.grad, [[1.0, 2.0]])  # accumulates from zero
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    net.bias.grad = None
    (net.bias * x.sum()).sum().backward(create_graph=True)  # a Tensor gradient
    clear(set_to_none=False)
    assert isinstance(net.bias.grad, np.ndarray) and net.bias.grad.tolist() == [0.0]
    clear()
    assert net.weight.grad is None and net.bias.grad is None


def test_optimizers_train_a_model():
    X, y = mg.data.make_moons(200, noise=0.1, rng=0)
    for opt_cls, kw in [(mg.optim.SGD, {"lr": 0.5, "momentum": 0.9}), (mg.optim.Adam, {"lr": 0.05})]:
        net = mg.nn.MLP([2, 8, 2], activation="tanh", rng=1)
        opt = opt_cls(net.parameters(), **kw)
        for _ in range(300):
            opt.zero_grad()
            mg.nn.functional.cross_entropy(net(mg.tensor(X)), y).backward()
            opt.step()
        with mg.no_grad():
            assert np.mean(net(mg.tensor(X)).data.argmax(1) == y) > 0.95


def _run(opt_cls, w0, grads, **kwargs):
    w = mg.tensor(w0.copy(), requires_grad=True)
    opt = opt_cls([w], **kwargs)
    for g in grads:
        w.grad = g.copy()
        opt.step()
    return w.data


def _steps(w0, grads, update):
    """A reference: ``update(w, g, t, state)`` applied step by step, written from PyTorch's documented algorithm."""
    w, state = w0.copy(), {}
    for t, g in enumerate(grads, start=1):
        w = update(w, g, t, state)
    return w


_W0 = np.random.default_rng(3).standard_normal(4)
_GRADS = [np.random.default_rng(10 + k).standard_normal(4) for k in range(5)]


def test_adamw_decays_the_weights_apart_from_the_gradient():
    lr, wd, (b1, b2), eps = 0.1, 0.3, (0.9, 0.999), 1e-8

    def update(w, g, t, s):
        w = w * (1 - lr * wd)
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        return w - lr / (1 - b1 ** t) * s["m"] / (np.sqrt(s["v"]) / np.sqrt(1 - b2 ** t) + eps)

    np.testing.assert_allclose(_run(mg.optim.AdamW, _W0, _GRADS, lr=lr, weight_decay=wd), _steps(_W0, _GRADS, update),
                               rtol=1e-13)
    # with no decay it is Adam
    np.testing.assert_allclose(_run(mg.optim.AdamW, _W0, _GRADS, lr=lr, weight_decay=0.0),
                               _run(mg.optim.Adam, _W0, _GRADS, lr=lr), rtol=1e-15)


@pytest.mark.parametrize("momentum,centered,wd", [(0.0, False, 0.0), (0.9, True, 0.1), (0.5, False, 0.0)])
def test_rmsprop_follows_pytorchs_formulas(momentum, centered, wd):
    lr, alpha, eps = 0.05, 0.99, 1e-8

    def update(w, g, t, s):
        g = g + wd * w
        s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
        v = s["v"]
        if centered:
            s["m"] = alpha * s.get("m", 0.0) + (1 - alpha) * g
            v = v - s["m"] ** 2
        step = g / (np.sqrt(v) + eps)
        if momentum:
            s["buf"] = momentum * s.get("buf", 0.0) + step
            step = s["buf"]
        return w - lr * step

    got = _run(mg.optim.RMSprop, _W0, _GRADS, lr=lr, momentum=momentum, centered=centered, weight_decay=wd)
    np.testing.assert_allclose(got, _steps(_W0, _GRADS, update), rtol=1e-13)


@pytest.mark.parametrize("lr_decay,wd,init", [(0.0, 0.0, 0.0), (0.1, 0.2, 0.5)])
def test_adagrad_follows_pytorchs_formulas(lr_decay, wd, init):
    lr, eps = 0.3, 1e-10

    def update(w, g, t, s):
        g = g + wd * w
        s["sum"] = s.get("sum", init) + g * g
        return w - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s["sum"]) + eps)

    got = _run(mg.optim.Adagrad, _W0, _GRADS, lr=lr, lr_decay=lr_decay, weight_decay=wd, initial_accumulator_value=init)
    np.testing.assert_allclose(got, _steps(_W0, _GRADS, update), rtol=1e-13)


@pytest.mark.parametrize("make", [
    lambda p: mg.optim.AdamW(p, lr=0.05), lambda p: mg.optim.RMSprop(p, lr=0.05), lambda p: mg.optim.Adagrad(p, lr=0.5),
])
def test_the_new_optimizers_train_and_skip_missing_gradients(make):
    w = mg.tensor([2.0, -3.0], requires_grad=True)
    idle = mg.tensor([1.0], requires_grad=True)
    opt = make([w, idle])
    for _ in range(300):
        opt.zero_grad()
        ((w - 1.0) ** 2).sum().backward()
        opt.step()
    assert np.abs(w.data - 1.0).max() < 0.05
    assert idle.data.tolist() == [1.0]


def test_the_new_optimizers_refuse_bad_hyperparameters():
    w = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="alpha"):
        mg.optim.RMSprop([w], alpha=1.5)
    with pytest.raises(ValueError, match="lr_decay"):
        mg.optim.Adagrad([w], lr_decay=-1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        mg.optim.AdamW([w], weight_decay=float("nan"))


def test_parameter_groups_override_the_defaults_per_group():
    a = mg.tensor([1.0], requires_grad=True)
    b = mg.tensor([1.0], requires_grad=True)
    opt = mg.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5] and opt.param_groups[0]["momentum"] == 0.0
    for _ in range(2):
        a.grad, b.grad = np.array([1.0]), np.array([1.0])
        opt.step()
    np.testing.assert_allclose(a.data, [1.0 - 0.2])
    np.testing.assert_allclose(b.data, [1.0 - 0.5 * 1.0 - 0.5 * 1.9])  # momentum buffer 1, then 1.9
    opt.lr = 0.01  # sets every group
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.01] and opt.lr == 0.01
    assert "2 groups" in repr(opt)
    with pytest.raises(TypeError, match="unknown hyperparameter"):
        mg.optim.Adam([{"params": [a], "momentum": 0.9}])
    with pytest.raises(ValueError, match="same tensor"):
        mg.optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1)
    with pytest.raises(ValueError, match="lr must be"):
        mg.optim.SGD([{"params": [a], "lr": -1.0}], lr=0.1)


@pytest.mark.parametrize("make", [
    lambda p: mg.optim.SGD(p, lr=0.1, momentum=0.9), lambda p: mg.optim.Adam(p, lr=0.1),
    lambda p: mg.optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5), lambda p: mg.optim.Adagrad(p, lr=0.3),
])
def test_state_dict_resumes_training_exactly(make):
    def train(opt, w, steps):
        for _ in range(steps):
            opt.zero_grad()
            ((w - 3.0) ** 2).sum().backward()
            opt.step()

    w = mg.tensor([1.0, -1.0], requires_grad=True)
    opt = make([w])
    train(opt, w, 3)
    saved, w_saved = opt.state_dict(), w.data.copy()
    train(opt, w, 3)
    straight = w.data.copy()
    w2 = mg.tensor(w_saved, requires_grad=True)
    opt2 = make([w2])
    opt2.load_state_dict(saved)
    train(opt2, w2, 3)
    np.testing.assert_array_equal(w2.data, straight)
    saved["state"][0] = {k: (v * 0 if isinstance(v, np.ndarray) else v) for k, v in saved["state"][0].items()}
    assert opt2.state_dict()["state"][0] != {}  # state_dict gave copies: changing them changed nothing
    with pytest.raises(ValueError, match="do not match"):
        make([w2, mg.tensor([0.0], requires_grad=True)]).load_state_dict(opt.state_dict())


def _rates(sched, opt, epochs, metrics=None):
    out = []
    for e in range(epochs):
        out.append(opt.lr)
        sched.step(metrics[e]) if metrics else sched.step()
    return out


def _sgd(lr=1.0):
    return mg.optim.SGD([mg.tensor([1.0], requires_grad=True)], lr=lr)


def test_closed_form_schedulers():
    S = mg.optim.lr_scheduler
    opt = _sgd()
    assert _rates(S.StepLR(opt, step_size=2, gamma=0.5), opt, 6) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    opt = _sgd()
    np.testing.assert_allclose(_rates(S.ExponentialLR(opt, gamma=0.9), opt, 4), [1.0, 0.9, 0.81, 0.729])
    opt = _sgd()
    cos = _rates(S.CosineAnnealingLR(opt, T_max=4, eta_min=0.1), opt, 5)
    np.testing.assert_allclose(cos, [0.1 + 0.9 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(5)])
    a, b = mg.tensor([1.0], requires_grad=True), mg.tensor([1.0], requires_grad=True)
    opt = mg.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.1}], lr=1.0)
    sched = S.LambdaLR(opt, [lambda e: 1 / (1 + e), lambda e: 2.0 ** e])
    sched.step()
    np.testing.assert_allclose(sched.get_last_lr(), [0.5, 0.2])
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(_sgd(), step_size=0)
    with pytest.raises(ValueError, match="2 parameter groups"):
        S.LambdaLR(opt, [lambda e: 1.0])


def test_reduce_lr_on_plateau_waits_for_patience_and_cooldown():
    opt = _sgd()
    sched = mg.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1)
    losses = [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.0]
    # bad epochs after the best (4.0): the third one reduces; then one epoch of cooldown
    assert _rates(sched, opt, 9, losses) == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    opt = _sgd()
    sched = mg.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=0, min_lr=0.3)
    _rates(sched, opt, 4, [0.5, 0.4, 0.4, 0.4])
    assert opt.lr == 0.3  # never below min_lr
    with pytest.raises(ValueError, match="mode"):
        mg.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="up")


# Schedulers compose, as PyTorch's chainable form does: each step changes the rate the group has now.

def _schedule(make, epochs, between=None):
    """Rates after each epoch of the schedulers ``make(opt)`` makes; ``between(epoch, opt)`` may set a rate."""
    opt = _sgd()
    scheds = make(opt)
    out = []
    for e in range(epochs):
        for s in scheds:
            s.step()
        if between is not None:
            between(e, opt)
        out.append(opt.lr)
    return out


_CHAINS = {
    "exponential then step": lambda S, o: [S.ExponentialLR(o, 0.9), S.StepLR(o, 2, 0.5)],
    "step then cosine": lambda S, o: [S.StepLR(o, 3, 0.1), S.CosineAnnealingLR(o, T_max=4, eta_min=0.01)],
    "cosine past T_max": lambda S, o: [S.CosineAnnealingLR(o, T_max=3, eta_min=0.1)],
}


@pytest.mark.parametrize("name", sorted(_CHAINS))
def test_schedulers_chain_as_pytorchs_do(name):
    ours = _schedule(lambda o: _CHAINS[name](mg.optim.lr_scheduler, o), 9)
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([w], lr=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about step order; none of its optimizer steps run here
        scheds = _CHAINS[name](torch.optim.lr_scheduler, opt)
        theirs = []
        for _ in range(9):
            for s in scheds:
                s.step()
            theirs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_schedulers_compose_and_keep_a_rate_set_by_hand():
    S = mg.optim.lr_scheduler
    np.testing.assert_allclose(_schedule(lambda o: [S.ExponentialLR(o, 0.9), S.StepLR(o, 2, 0.5)], 4),
                               [0.9, 0.9 ** 2 * 0.5, 0.9 ** 3 * 0.5, 0.9 ** 4 * 0.25])

    def by_hand(epoch, opt):
        if epoch == 1:
            opt.lr = 0.2  # between epochs: the schedule carries on from it
    np.testing.assert_allclose(_schedule(lambda o: [S.ExponentialLR(o, 0.5)], 4, by_hand), [0.5, 0.2, 0.1, 0.05])


def test_a_scheduler_resumes_mid_run_from_its_state_dict():
    S = mg.optim.lr_scheduler
    opt = _sgd()
    sched = S.StepLR(opt, 2, 0.5)
    for _ in range(3):
        sched.step()
    saved, rate = sched.state_dict(), opt.lr
    straight = [(sched.step(), opt.lr)[1] for _ in range(4)]
    opt2 = _sgd(lr=rate)
    resumed = S.StepLR(opt2, 2, 0.5)
    resumed.load_state_dict(saved)
    assert [(resumed.step(), opt2.lr)[1] for _ in range(4)] == straight


#: every built-in optimizer, by name: a new one is covered by adding it here
ALL_OPTIMIZERS = {"SGD": {"lr": 0.1}, "Adam": {}, "AdamW": {}, "RMSprop": {}, "Adagrad": {}}


def test_the_optimizer_list_is_complete():
    public = {n for n in mg.optim.__all__ if isinstance(getattr(mg.optim, n), type)
              and issubclass(getattr(mg.optim, n), mg.optim.Optimizer) and n != "Optimizer"}
    assert public == set(ALL_OPTIMIZERS)


@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_pytorchs_kernel_keywords_are_accepted_as_our_one_loop_or_refused_by_name(name):
    cls, kwargs = getattr(mg.optim, name), ALL_OPTIMIZERS[name]
    keys = [k for k in ("foreach", "fused") if k in inspect.signature(cls).parameters]
    assert "foreach" in keys  # every PyTorch optimizer takes foreach
    for key in keys:
        for value in (None, False):
            w = mg.tensor([1.0], requires_grad=True)
            opt = cls([w], **kwargs, **{key: value})
            (w * w).sum().backward()
            opt.step()
            assert w.data[0] < 1.0
        with pytest.raises(ValueError, match=rf"{name}: {key}=True asks for PyTorch's {key} kernels"):
            cls([mg.tensor([1.0], requires_grad=True)], **kwargs, **{key: True})


@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_our_kernel_keywords_are_pytorchs(name):
    torch = pytest.importorskip("torch")
    ours = {k for k in inspect.signature(getattr(mg.optim, name)).parameters if k in ("foreach", "fused")}
    theirs = {k for k in inspect.signature(getattr(torch.optim, name)).parameters if k in ("foreach", "fused")}
    assert ours == theirs
