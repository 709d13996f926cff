"""HIPS autograd: functions of NumPy arrays differentiated by ``autograd.grad``."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import grad, value_and_grad
from autograd.scipy.special import expit as _sigmoid

NAME = "autograd"


def _softplus(z):
    return anp.logaddexp(0.0, z)


def ng(d):
    X, Y, lam = d["X"], d["Y"], d["lam"]
    m = len(X)

    def cost(params):
        W1, b1, W2, b2 = params
        z = anp.dot(_sigmoid(anp.dot(X, W1.T) + b1), W2.T) + b2
        J = anp.sum(_softplus(z) - Y * z) / m
        return J + lam / (2 * m) * (anp.sum(W1 * W1) + anp.sum(W2 * W2))

    f = value_and_grad(cost)
    params = [d[k] for k in ("W1", "b1", "W2", "b2")]

    def run():
        J, grads = f(params)
        return {"J": J, **dict(zip(("W1", "b1", "W2", "b2"), grads))}

    return run


def sgd(d):
    Xs, Ts, lr = d["X"], d["T"], d["lr"]

    def loss(params, x, t):
        W1, W2 = params
        o = _sigmoid(anp.dot(W2, _sigmoid(anp.dot(W1, x))))
        return 0.5 * anp.sum((o - t) ** 2)

    g = grad(loss)

    def run():
        W1, W2 = d["W1"].copy(), d["W2"].copy()
        for x, t in zip(Xs, Ts):
            g1, g2 = g([W1, W2], x, t)
            W1 -= lr * g1
            W2 -= lr * g2
        return {"W1": W1, "W2": W2}

    return run


KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")  # moons and wide: three dense layers


def _train(d, lr, cost):
    """``d["steps"]`` full-batch gradient steps on ``cost(params)``, params in ``KEYS`` order."""
    g = grad(cost)

    def run():
        params = [d[k].copy() for k in KEYS]
        for _ in range(d["steps"]):
            for p, gp in zip(params, g(params)):
                p -= lr * gp
        return dict(zip(KEYS, params))

    return run


def moons(d):
    X, Y = d["X"], d["Y"]

    def cost(params):
        W1, b1, W2, b2, W3, b3 = params
        z = anp.dot(_sigmoid(anp.dot(_sigmoid(anp.dot(X, W1.T) + b1), W2.T) + b2), W3.T) + b3
        return anp.sum(_softplus(z) - Y * z) / len(X)

    return _train(d, d["alpha"], cost)


def wide(d):
    X, y = d["X"], d["y"]
    rows = np.arange(len(X))

    def cost(params):
        W1, b1, W2, b2, W3, b3 = params
        h = anp.maximum(anp.dot(X, W1.T) + b1, 0.0)
        h = anp.maximum(anp.dot(h, W2.T) + b2, 0.0)
        z = anp.dot(h, W3.T) + b3
        zmax = anp.max(z, axis=1, keepdims=True)
        logp = z - zmax - anp.log(anp.sum(anp.exp(z - zmax), axis=1, keepdims=True))
        return -anp.mean(logp[rows, y])

    return _train(d, d["lr"], cost)


def chain(d):
    x0, n = d["x"], d["n"]

    def f(x):
        y = x
        for i in range(n):
            y = anp.tanh(y) if i % 2 == 0 else y * 1.1
        return anp.sum(y)

    g = grad(f)

    def run():
        return {"x": g(x0)}

    return run


WORKLOADS = {"ng": ng, "sgd": sgd, "moons": moons, "wide": wide, "chain": chain}
