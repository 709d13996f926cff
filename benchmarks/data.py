"""The benchmark workloads' data and initial parameters, the same for every framework.

Everything is drawn from fixed seeds (with microgradnp's data helpers); every
framework gets copies of the same NumPy arrays (float64, except ``wide``,
which is float32 throughout).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from microgradnp.data import gaussian_blobs, make_moons
from microgradnp.nn.init import glorot_uniform

#: Sizes of each workload; ``quick`` shrinks them for a fast look.
FULL = {"ng_m": 5000, "sgd_steps": 1000, "moons_steps": 200, "wide_steps": 20, "wide_batch": 512, "chain_ops": 20_000}
QUICK = {"ng_m": 1000, "sgd_steps": 200, "moons_steps": 50, "wide_steps": 2, "wide_batch": 128, "chain_ops": 4000}


@dataclass
class Workloads:
    sizes: dict
    ng: dict = field(default_factory=dict)
    sgd: dict = field(default_factory=dict)
    moons: dict = field(default_factory=dict)
    wide: dict = field(default_factory=dict)
    chain: dict = field(default_factory=dict)


def _glorot(rng, n_out, n_in, dtype=np.float64):
    return glorot_uniform((n_out, n_in), rng, dtype)


def make(quick: bool = False) -> Workloads:
    s = QUICK if quick else FULL
    w = Workloads(sizes=dict(s))

    # ng: cost + gradient of Ng's 400-25-10 sigmoid network, logistic loss + L2, m examples.
    rng = np.random.default_rng(400)
    m = s["ng_m"]
    y = rng.integers(0, 10, m)
    w.ng = {
        "X": rng.random((m, 400)),
        "Y": np.eye(10)[y],
        "W1": rng.uniform(-0.12, 0.12, (25, 400)), "b1": rng.uniform(-0.12, 0.12, 25),
        "W2": rng.uniform(-0.12, 0.12, (10, 25)), "b2": rng.uniform(-0.12, 0.12, 10),
        "lam": 1.0,
    }

    # sgd: per-example SGD steps of the 2-2-2 sigmoid network (no biases), squared loss.
    rs = np.random.RandomState(104729)  # the notebook's draws
    X, yb = gaussian_blobs(1000, rng=rs)
    W1 = rs.normal(0.0, 1 / np.sqrt(2), (2, 2))
    W2 = rs.normal(0.0, 1 / np.sqrt(2), (2, 2))
    idx = rs.randint(0, 1000, s["sgd_steps"])
    targets = np.array([[0.99, 0.01], [0.01, 0.99]])[yb]
    w.sgd = {"X": X[idx], "T": targets[idx], "W1": W1, "W2": W2, "lr": 0.1}

    # moons: full-batch gradient descent of a 2-5-5-2 sigmoid network on 1000 points.
    rng = np.random.default_rng(2)
    Xm, ym = make_moons(1000, noise=0.1, rng=rng)
    w.moons = {
        "X": Xm, "Y": np.eye(2)[ym],
        "W1": _glorot(rng, 5, 2), "b1": np.zeros(5),
        "W2": _glorot(rng, 5, 5), "b2": np.zeros(5),
        "W3": _glorot(rng, 2, 5), "b3": np.zeros(2),
        "alpha": 0.5, "steps": s["moons_steps"],
    }

    # wide: SGD steps of a 784-1024-1024-10 ReLU MLP, softmax cross-entropy, float32.
    rng = np.random.default_rng(784)
    B = s["wide_batch"]
    f32 = np.float32
    w.wide = {
        "X": rng.standard_normal((B, 784)).astype(f32), "y": rng.integers(0, 10, B),
        "W1": _glorot(rng, 1024, 784, f32), "b1": np.zeros(1024, f32),
        "W2": _glorot(rng, 1024, 1024, f32), "b2": np.zeros(1024, f32),
        "W3": _glorot(rng, 10, 1024, f32), "b3": np.zeros(10, f32),
        "lr": 0.01, "steps": s["wide_steps"],
    }

    # chain: forward and backward through a chain of elementwise ops on a (16,) vector,
    # alternating y = tanh(y) and y = y * 1.1.
    w.chain = {"x": np.linspace(-1.0, 1.0, 16), "n": s["chain_ops"]}
    return w
