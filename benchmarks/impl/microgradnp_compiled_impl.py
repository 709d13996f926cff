"""microgradnp with ``mg.compile``: the eager programs of microgradnp_impl.py, each step compiled once.

Each workload compiles its step when it is built; ``run()`` puts the initial
parameters back (in place, so the compiled step keeps reading the same
tensors) and replays.  The first call of a step traces it; the benchmark's
warm-up run makes that call, and :data:`TRACE_SECONDS` keeps what it cost,
reported apart from the timings.
"""

from __future__ import annotations

import microgradnp as mg
from microgradnp.nn import functional as F

from .microgradnp_impl import moons_loss, wide_loss

NAME = "microgradnp compiled"

#: Seconds each workload spent tracing (its first call), per backend, filled as the workloads run;
#: with ``backend="numba"`` also the seconds its kernel took to compile (or load from the disk cache).
TRACES: dict = {"numpy": {}, "numba": {}}
COMPILES: dict = {}
TRACE_SECONDS = TRACES["numpy"]


def _params(d, keys, dtype=None):
    return [mg.tensor(d[k], requires_grad=True, dtype=dtype) for k in keys]


def _reset(params, d, keys):
    for p, k in zip(params, keys):
        p.data[...] = d[k]


def _traced(name, step):
    TRACES[step.backend][name] = step.stats["trace_seconds"]
    if step.backend == "numba":
        COMPILES[name] = step.program.stats.get("compile_seconds", step.program.stats.get("backend"))


def ng(d, backend="numpy"):
    X, Y, lam = d["X"], d["Y"], d["lam"]
    m = len(d["X"])
    params = _params(d, ("W1", "b1", "W2", "b2"))
    W1, b1, W2, b2 = params

    @mg.compile(backend=backend)
    def cost_and_gradient(X, Y):
        logits = mg.linear(mg.sigmoid(mg.linear(X, W1, b1)), W2, b2)
        J = F.binary_cross_entropy_with_logits(logits, Y, reduction="batchmean")
        J = J + (lam / (2 * m)) * ((W1 * W1).sum() + (W2 * W2).sum())
        return J, mg.grad(J, params)

    def run():
        J, grads = cost_and_gradient(X, Y)
        _traced("ng", cost_and_gradient)
        return {"J": J.item(), **{k: g.data for k, g in zip(("W1", "b1", "W2", "b2"), grads)}}

    return run


def sgd_step(params, lr, x, t):
    """One per-example SGD step of the 2-2-2 net (no biases), squared loss, the update written by hand."""
    W1, W2 = params
    o = mg.sigmoid(W2 @ mg.sigmoid(W1 @ x))
    loss = F.squared_loss(o, t)  # 1/2 sum((o - t)^2)
    loss.backward()
    with mg.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None


def sgd(d, backend="numpy"):
    Xs, Ts, lr = d["X"], d["T"], d["lr"]
    keys = ("W1", "W2")
    params = _params(d, keys)
    W1, W2 = params

    @mg.compile(backend=backend)
    def step(x, t):
        sgd_step(params, lr, x, t)

    def run():
        _reset(params, d, keys)
        for x, t in zip(Xs, Ts):
            step(x, t)
        _traced("sgd", step)
        return {"W1": W1.data.copy(), "W2": W2.data.copy()}

    return run


KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")  # moons and wide: three dense layers


def _train(d, lr, loss_of, name, dtype=None, backend="numpy"):
    """``d["steps"]`` full-batch SGD steps of a three-layer net, each step compiled."""
    params = _params(d, KEYS, dtype)
    opt = mg.optim.SGD(params, lr=lr)

    @mg.compile(backend=backend)
    def step():
        loss = loss_of(*params)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def run():
        _reset(params, d, KEYS)
        for _ in range(d["steps"]):
            step()
        _traced(name, step)
        return {k: p.data.copy() for k, p in zip(KEYS, params)}

    return run


def moons(d, backend="numpy"):
    return _train(d, d["alpha"], moons_loss(d), "moons", backend=backend)


def wide(d, backend="numpy"):
    return _train(d, d["lr"], wide_loss(d), "wide", backend=backend)


def chain(d, backend="numpy"):
    x0, n = d["x"], d["n"]
    x = mg.tensor(x0, requires_grad=True)

    @mg.compile(backend=backend)
    def forward_backward(x):
        y = x
        for i in range(n):
            y = mg.tanh(y) if i % 2 == 0 else y * 1.1
        y.sum().backward()

    def run():
        x.grad = None
        forward_backward(x)
        _traced("chain", forward_backward)
        return {"x": x.grad}

    return run


WORKLOADS = {"ng": ng, "sgd": sgd, "moons": moons, "wide": wide, "chain": chain}
