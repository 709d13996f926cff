"""PyTorch (CPU, eager), written the usual way: tensors with requires_grad, backward, no_grad updates."""

from __future__ import annotations

import torch
import torch.nn.functional as TF

NAME = "pytorch"
torch.set_num_threads(1)


def _t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def ng(d):
    X, Y, lam = _t(d["X"]), _t(d["Y"]), d["lam"]
    m = len(d["X"])
    params = [_t(d[k], True) for k in ("W1", "b1", "W2", "b2")]
    W1, b1, W2, b2 = params

    def run():
        logits = TF.linear(torch.sigmoid(TF.linear(X, W1, b1)), W2, b2)
        J = TF.binary_cross_entropy_with_logits(logits, Y, reduction="sum") / m
        J = J + lam / (2 * m) * ((W1 * W1).sum() + (W2 * W2).sum())
        grads = torch.autograd.grad(J, params)
        return {"J": J.item(), **{k: g.numpy() for k, g in zip(("W1", "b1", "W2", "b2"), grads)}}

    return run


def sgd(d):
    Xs, Ts, lr = torch.tensor(d["X"]), torch.tensor(d["T"]), d["lr"]

    def run():
        W1, W2 = _t(d["W1"], True), _t(d["W2"], True)
        for x, t in zip(Xs, Ts):
            o = torch.sigmoid(W2 @ torch.sigmoid(W1 @ x))
            loss = 0.5 * TF.mse_loss(o, t, reduction="sum")
            loss.backward()
            with torch.no_grad():
                W1 -= lr * W1.grad
                W2 -= lr * W2.grad
            W1.grad = W2.grad = None
        return {"W1": W1.detach().numpy(), "W2": W2.detach().numpy()}

    return run


KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")  # moons and wide: three dense layers


def _train(d, lr, loss_of):
    """``d["steps"]`` full-batch SGD steps of a three-layer net; ``loss_of(W1, b1, ...)`` is the loss."""

    def run():
        params = [_t(d[k], True) for k in KEYS]
        opt = torch.optim.SGD(params, lr=lr)
        for _ in range(d["steps"]):
            loss = loss_of(*params)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return {k: p.detach().numpy() for k, p in zip(KEYS, params)}

    return run


def moons(d):
    X, Y = _t(d["X"]), _t(d["Y"])

    def loss_of(W1, b1, W2, b2, W3, b3):
        logits = TF.linear(torch.sigmoid(TF.linear(torch.sigmoid(TF.linear(X, W1, b1)), W2, b2)), W3, b3)
        return TF.binary_cross_entropy_with_logits(logits, Y, reduction="sum") / len(X)

    return _train(d, d["alpha"], loss_of)


def wide(d):
    X, y = _t(d["X"]), torch.tensor(d["y"])

    def loss_of(W1, b1, W2, b2, W3, b3):
        logits = TF.linear(torch.relu(TF.linear(torch.relu(TF.linear(X, W1, b1)), W2, b2)), W3, b3)
        return TF.cross_entropy(logits, y)

    return _train(d, d["lr"], loss_of)


def chain(d):
    x0, n = d["x"], d["n"]

    def run():
        x = _t(x0, True)
        y = x
        for i in range(n):
            y = torch.tanh(y) if i % 2 == 0 else y * 1.1
        y.sum().backward()
        return {"x": x.grad.numpy()}

    return run


WORKLOADS = {"ng": ng, "sgd": sgd, "moons": moons, "wide": wide, "chain": chain}
