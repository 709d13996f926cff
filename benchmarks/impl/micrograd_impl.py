"""Karpathy's micrograd: a scalar-valued engine (one Value per number).

micrograd's ``Value`` offers +, *, ** and relu; the sigmoid and tanh below
are added in its own style (a forward value and a ``_backward`` closure).
"""

from __future__ import annotations

import math

import numpy as np
from micrograd.engine import Value

NAME = "micrograd"


def _sigmoid(v: Value) -> Value:
    s = 0.5 * (math.tanh(0.5 * v.data) + 1.0)
    out = Value(s, (v,), "sigmoid")

    def _backward():
        v.grad += s * (1 - s) * out.grad

    out._backward = _backward
    return out


def _tanh(v: Value) -> Value:
    t = math.tanh(v.data)
    out = Value(t, (v,), "tanh")

    def _backward():
        v.grad += (1 - t * t) * out.grad

    out._backward = _backward
    return out


def sgd(d):
    Xs, Ts, lr = d["X"], d["T"], d["lr"]

    def run():
        W1 = [[Value(float(w)) for w in row] for row in d["W1"]]
        W2 = [[Value(float(w)) for w in row] for row in d["W2"]]
        params = [w for row in W1 + W2 for w in row]
        for x, t in zip(Xs, Ts):
            h = [_sigmoid(row[0] * float(x[0]) + row[1] * float(x[1])) for row in W1]
            o = [_sigmoid(row[0] * h[0] + row[1] * h[1]) for row in W2]
            loss = 0.5 * ((o[0] - float(t[0])) ** 2 + (o[1] - float(t[1])) ** 2)
            for p in params:
                p.grad = 0.0
            loss.backward()
            for p in params:
                p.data -= lr * p.grad
        return {"W1": np.array([[w.data for w in r] for r in W1]), "W2": np.array([[w.data for w in r] for r in W2])}

    return run


def chain(d):
    x0, n = d["x"], d["n"]

    def run():
        xs = [Value(float(v)) for v in x0]
        ys = list(xs)
        for i in range(n):
            ys = [_tanh(y) for y in ys] if i % 2 == 0 else [y * 1.1 for y in ys]
        total = ys[0]
        for y in ys[1:]:
            total = total + y
        total.backward()  # recursive topological sort: RecursionError on long chains
        return {"x": np.array([x.grad for x in xs])}

    return run


WORKLOADS = {"sgd": sgd, "chain": chain}
