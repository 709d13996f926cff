"""MyGrad: NumPy-backed tensors with ``backward()``."""

from __future__ import annotations

import mygrad as mgr
import numpy as np
from mygrad.nnet.activations import sigmoid
from mygrad.nnet.losses import softmax_crossentropy

NAME = "mygrad"


def _softplus(z):
    return mgr.logaddexp(0.0, z)


def ng(d):
    X, Y, lam = d["X"], d["Y"], d["lam"]
    m = len(X)
    keys = ("W1", "b1", "W2", "b2")

    def run():
        params = [mgr.tensor(d[k]) for k in keys]
        W1, b1, W2, b2 = params
        z = mgr.matmul(sigmoid(mgr.matmul(X, W1.T) + b1), W2.T) + b2
        J = mgr.sum(_softplus(z) - Y * z) / m + lam / (2 * m) * (mgr.sum(W1 * W1) + mgr.sum(W2 * W2))
        J.backward()
        return {"J": J.item(), **{k: p.grad for k, p in zip(keys, params)}}

    return run


def sgd(d):
    Xs, Ts, lr = d["X"], d["T"], d["lr"]

    def run():
        W1, W2 = mgr.tensor(d["W1"].copy()), mgr.tensor(d["W2"].copy())
        for x, t in zip(Xs, Ts):
            o = sigmoid(mgr.matmul(W2, sigmoid(mgr.matmul(W1, x))))
            loss = 0.5 * mgr.sum((o - t) ** 2)
            loss.backward()
            W1.data -= lr * W1.grad
            W2.data -= lr * W2.grad
        return {"W1": W1.data, "W2": W2.data}

    return run


KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")  # moons and wide: three dense layers


def _train(d, lr, loss_of):
    """``d["steps"]`` full-batch SGD steps of a three-layer net; ``loss_of(W1, b1, ...)`` is the loss."""

    def run():
        params = [mgr.tensor(d[k].copy()) for k in KEYS]
        for _ in range(d["steps"]):
            loss_of(*params).backward()
            for p in params:
                p.data -= lr * p.grad
        return {k: p.data for k, p in zip(KEYS, params)}

    return run


def moons(d):
    X, Y = d["X"], d["Y"]

    def loss_of(W1, b1, W2, b2, W3, b3):
        z = mgr.matmul(sigmoid(mgr.matmul(sigmoid(mgr.matmul(X, W1.T) + b1), W2.T) + b2), W3.T) + b3
        return mgr.sum(_softplus(z) - Y * z) / len(X)

    return _train(d, d["alpha"], loss_of)


def wide(d):
    X, y = d["X"], d["y"]

    def loss_of(W1, b1, W2, b2, W3, b3):
        h = mgr.maximum(mgr.matmul(X, W1.T) + b1, np.float32(0))
        h = mgr.maximum(mgr.matmul(h, W2.T) + b2, np.float32(0))
        return softmax_crossentropy(mgr.matmul(h, W3.T) + b3, y)

    return _train(d, d["lr"], loss_of)


def chain(d):
    x0, n = d["x"], d["n"]

    def run():
        x = mgr.tensor(x0)
        y = x
        for i in range(n):
            y = mgr.tanh(y) if i % 2 == 0 else y * 1.1
        mgr.sum(y).backward()
        return {"x": x.grad}

    return run


WORKLOADS = {"ng": ng, "sgd": sgd, "moons": moons, "wide": wide, "chain": chain}
