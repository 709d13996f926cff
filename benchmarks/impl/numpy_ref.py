"""Hand-written NumPy: the seeds' vectorised backpropagation, the practical floor."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

NAME = "numpy"


def ng(d):
    X, Y, lam = d["X"], d["Y"], d["lam"]
    m = len(X)

    def run():
        W1, b1, W2, b2 = d["W1"], d["b1"], d["W2"], d["b2"]
        a2 = expit(X @ W1.T + b1)
        h = expit(a2 @ W2.T + b2)
        J = -np.sum(Y * np.log(h) + (1 - Y) * np.log(1 - h)) / m
        J += lam / (2 * m) * (np.sum(W1 * W1) + np.sum(W2 * W2))
        d3 = (h - Y) / m
        d2 = (d3 @ W2) * a2 * (1 - a2)
        return {"J": J, "W1": d2.T @ X + lam / m * W1, "b1": d2.sum(0),
                "W2": d3.T @ a2 + lam / m * W2, "b2": d3.sum(0)}

    return run


def sgd(d):
    Xs, Ts, lr = d["X"], d["T"], d["lr"]

    def run():
        W1, W2 = d["W1"].copy(), d["W2"].copy()
        for x, t in zip(Xs, Ts):
            x = x.reshape(2, 1)
            t = t.reshape(2, 1)
            h = expit(W1.dot(x))
            o = expit(W2.dot(h))
            d_o = (o - t) * o * (1 - o)
            d_h = W2.T.dot(d_o) * h * (1 - h)
            W2 -= lr * d_o.dot(h.T)
            W1 -= lr * d_h.dot(x.T)
        return {"W1": W1, "W2": W2}

    return run


def moons(d):
    X, Y, alpha, steps = d["X"], d["Y"], d["alpha"], d["steps"]
    m = len(X)

    def run():
        W1, b1, W2, b2, W3, b3 = (d[k].copy() for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
        costs = np.empty(steps)
        for i in range(steps):
            a1 = expit(X @ W1.T + b1)
            a2 = expit(a1 @ W2.T + b2)
            h = expit(a2 @ W3.T + b3)
            costs[i] = -np.sum(Y * np.log(h) + (1 - Y) * np.log(1 - h)) / m  # the notebook records the cost
            d3 = (h - Y) / m
            d2 = (d3 @ W3) * a2 * (1 - a2)
            d1 = (d2 @ W2) * a1 * (1 - a1)
            W3 -= alpha * (d3.T @ a2)
            b3 -= alpha * d3.sum(0)
            W2 -= alpha * (d2.T @ a1)
            b2 -= alpha * d2.sum(0)
            W1 -= alpha * (d1.T @ X)
            b1 -= alpha * d1.sum(0)
        return {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}

    return run


def wide(d):
    X, y, lr, steps = d["X"], d["y"], d["lr"], d["steps"]
    B = len(X)
    rows = np.arange(B)

    def run():
        W1, b1, W2, b2, W3, b3 = (d[k].copy() for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
        losses = []
        for _ in range(steps):
            z1 = X @ W1.T + b1
            a1 = np.maximum(z1, 0)
            z2 = a1 @ W2.T + b2
            a2 = np.maximum(z2, 0)
            z3 = a2 @ W3.T + b3
            e = np.exp(z3 - z3.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
            losses.append(-np.mean(np.log(p[rows, y])))  # the loss, as any training loop reports it
            p[rows, y] -= 1
            g3 = p / B
            g2 = (g3 @ W3) * (z2 > 0)
            g1 = (g2 @ W2) * (z1 > 0)
            W3 -= lr * (g3.T @ a2)
            b3 -= lr * g3.sum(0)
            W2 -= lr * (g2.T @ a1)
            b2 -= lr * g2.sum(0)
            W1 -= lr * (g1.T @ X)
            b1 -= lr * g1.sum(0)
        return {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}

    return run


def chain(d):
    x0, n = d["x"], d["n"]

    def run():
        outs = []
        y = x0
        for i in range(n):
            y = np.tanh(y) if i % 2 == 0 else y * 1.1
            outs.append(y)  # tanh's derivative is 1 - tanh^2: keep the outputs
        g = np.ones_like(y)
        for i in range(n - 1, -1, -1):
            g = g * (1 - outs[i] * outs[i]) if i % 2 == 0 else g * 1.1
        return {"x": g}

    return run


WORKLOADS = {"ng": ng, "sgd": sgd, "moons": moons, "wide": wide, "chain": chain}
