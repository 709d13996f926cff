"""microgradnp, written the way its documentation teaches."""

from __future__ import annotations

import microgradnp as mg
from microgradnp.nn import functional as F

NAME = "microgradnp"


def _params(d, keys, dtype=None):
    return [mg.tensor(d[k], requires_grad=True, dtype=dtype) for k in keys]


def ng(d):
    X, Y, lam = mg.tensor(d["X"]), d["Y"], d["lam"]
    m = len(d["X"])
    params = _params(d, ("W1", "b1", "W2", "b2"))
    W1, b1, W2, b2 = params

    def run():
        logits = mg.linear(mg.sigmoid(mg.linear(X, W1, b1)), W2, b2)
        J = F.binary_cross_entropy_with_logits(logits, Y, reduction="batchmean")
        J = J + (lam / (2 * m)) * ((W1 * W1).sum() + (W2 * W2).sum())
        grads = mg.grad(J, params)
        return {"J": J.item(), **{k: g.data for k, g in zip(("W1", "b1", "W2", "b2"), grads)}}

    return run


def sgd(d):
    Xs, Ts, lr = d["X"], d["T"], d["lr"]

    def run():
        W1, W2 = _params(d, ("W1", "W2"))
        for x, t in zip(Xs, Ts):
            o = mg.sigmoid(W2 @ mg.sigmoid(W1 @ x))
            loss = F.squared_loss(o, t)  # 1/2 sum((o - t)^2)
            loss.backward()
            W1.data -= lr * W1.grad
            W2.data -= lr * W2.grad
            W1.grad = W2.grad = None
        return {"W1": W1.data, "W2": W2.data}

    return run


KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")  # moons and wide: three dense layers


def _train(d, lr, loss_of):
    """``d["steps"]`` full-batch SGD steps of a three-layer net; ``loss_of(W1, b1, ...)`` is the loss."""

    def run():
        params = _params(d, KEYS)
        opt = mg.optim.SGD(params, lr=lr)
        for _ in range(d["steps"]):
            loss = loss_of(*params)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return {k: p.data for k, p in zip(KEYS, params)}

    return run


def moons_loss(d):
    """The moons network's loss as a function of its parameters (the compiled benchmark uses it too)."""
    X, Y = mg.tensor(d["X"]), d["Y"]

    def loss_of(W1, b1, W2, b2, W3, b3):
        logits = mg.linear(mg.sigmoid(mg.linear(mg.sigmoid(mg.linear(X, W1, b1)), W2, b2)), W3, b3)
        return F.binary_cross_entropy_with_logits(logits, Y, reduction="batchmean")

    return loss_of


def wide_loss(d):
    """The wide MLP's loss as a function of its parameters."""
    X, y = mg.tensor(d["X"]), d["y"]

    def loss_of(W1, b1, W2, b2, W3, b3):
        logits = mg.linear(mg.relu(mg.linear(mg.relu(mg.linear(X, W1, b1)), W2, b2)), W3, b3)
        return F.cross_entropy(logits, y)

    return loss_of


def moons(d):
    return _train(d, d["alpha"], moons_loss(d))


def wide(d):
    return _train(d, d["lr"], wide_loss(d))


def chain(d):
    x0, n = d["x"], d["n"]

    def run():
        x = mg.tensor(x0, requires_grad=True)
        y = x
        for i in range(n):
            y = mg.tanh(y) if i % 2 == 0 else y * 1.1
        y.sum().backward()
        return {"x": x.grad}

    return run


WORKLOADS = {"ng": ng, "sgd": sgd, "moons": moons, "wide": wide, "chain": chain}
