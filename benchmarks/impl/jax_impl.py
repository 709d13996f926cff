"""JAX with jit: each training step (or the cost and gradient) is one compiled function.

The Python loop around the steps is the same as for the eager frameworks, so
per-step dispatch is counted; compilation happens once, before timing.  The
chain workload is left out: tracing 20,000 unrolled ops measures the
compiler, not autodiff.
"""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

NAME = "jax-jit"


def _np(tree):
    return {k: np.asarray(v) for k, v in tree.items()}


def ng(d):
    X, Y, lam = jnp.asarray(d["X"]), jnp.asarray(d["Y"]), d["lam"]
    m = len(d["X"])
    keys = ("W1", "b1", "W2", "b2")

    def cost(p):
        z = jax.nn.sigmoid(X @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"]
        J = jnp.sum(jax.nn.softplus(z) - Y * z) / m
        return J + lam / (2 * m) * (jnp.sum(p["W1"] ** 2) + jnp.sum(p["W2"] ** 2))

    f = jax.jit(jax.value_and_grad(cost))
    params = {k: jnp.asarray(d[k]) for k in keys}
    jax.block_until_ready(f(params))

    def run():
        J, g = jax.block_until_ready(f(params))
        return {"J": float(J), **_np(g)}

    return run


def sgd(d):
    Xs, Ts, lr = jnp.asarray(d["X"]), jnp.asarray(d["T"]), d["lr"]

    def loss(W, x, t):
        o = jax.nn.sigmoid(W["W2"] @ jax.nn.sigmoid(W["W1"] @ x))
        return 0.5 * jnp.sum((o - t) ** 2)

    @jax.jit
    def step(W, x, t):
        g = jax.grad(loss)(W, x, t)
        return {k: W[k] - lr * g[k] for k in W}

    W0 = {"W1": jnp.asarray(d["W1"]), "W2": jnp.asarray(d["W2"])}
    jax.block_until_ready(step(W0, Xs[0], Ts[0]))
    xs, ts = list(Xs), list(Ts)

    def run():
        W = W0
        for x, t in zip(xs, ts):
            W = step(W, x, t)
        return _np(jax.block_until_ready(W))

    return run


def _train(d, keys, cost, lr, steps):
    @jax.jit
    def step(p):
        g = jax.grad(cost)(p)
        return {k: p[k] - lr * g[k] for k in p}

    p0 = {k: jnp.asarray(d[k]) for k in keys}
    jax.block_until_ready(step(p0))

    def run():
        p = p0
        for _ in range(steps):
            p = step(p)
        return _np(jax.block_until_ready(p))

    return run


def moons(d):
    X, Y = jnp.asarray(d["X"]), jnp.asarray(d["Y"])

    def cost(p):
        h = jax.nn.sigmoid(X @ p["W1"].T + p["b1"])
        h = jax.nn.sigmoid(h @ p["W2"].T + p["b2"])
        z = h @ p["W3"].T + p["b3"]
        return jnp.sum(jax.nn.softplus(z) - Y * z) / len(d["X"])

    return _train(d, ("W1", "b1", "W2", "b2", "W3", "b3"), cost, d["alpha"], d["steps"])


def wide(d):
    X, y = jnp.asarray(d["X"]), jnp.asarray(d["y"])

    def cost(p):
        h = jax.nn.relu(X @ p["W1"].T + p["b1"])
        h = jax.nn.relu(h @ p["W2"].T + p["b2"])
        logp = jax.nn.log_softmax(h @ p["W3"].T + p["b3"], axis=1)
        return -jnp.mean(logp[jnp.arange(len(d["X"])), y])

    return _train(d, ("W1", "b1", "W2", "b2", "W3", "b3"), cost, np.float32(d["lr"]), d["steps"])


WORKLOADS = {"ng": ng, "sgd": sgd, "moons": moons, "wide": wide}
