#!/usr/bin/env python
"""Per-example gradients of ReLU MLPs on 256 examples: vmap(grad) against the loops.

What the per-example gradient costs, side by side in one process, one thread,
rounds interleaved (medians):

* ``vmap(grad)``: ``microgradnp.func.vmap(grad(loss), in_axes=(None, 0, 0))``,
  one vectorised computation;
* ``loop of func.grad``: the same ``grad(loss)`` called once per example;
* ``loop of mg.grad``: the eager loop a user writes (forward, ``mg.grad``,
  keep the gradients), once per example;
* ``NumPy by hand``: the per-example backpropagation written out for the
  whole batch (outer products by broadcasting), the floor for this work;
* ``torch.func`` and ``jax`` ``vmap(grad)`` when installed.

Two networks: the 784-256-10 MLP the issue names (its per-example weight
gradients alone are 417 MB in float64, so writing the result dominates), and
a 20-64-3 one, where the per-example Python overhead of a loop dominates.
Every row returns all per-example gradients and is checked against NumPy's.  Run
``python benchmarks/per_example.py`` (``--quick``: 32 examples); it prints
the table and writes ``per_example.md`` into ``--out``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

import microgradnp as mg  # noqa: E402
from microgradnp.func import grad, vmap  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import interleaved_medians, publish  # noqa: E402

KEYS = ("W1", "b1", "W2", "b2")


#: The networks: inputs, hidden units, classes.
NETWORKS = [(784, 256, 10), (20, 64, 3)]


def make_data(n: int, sizes: tuple, seed: int = 0) -> dict:
    n_in, n_hidden, n_out = sizes
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((n_hidden, n_in)) / np.sqrt(n_in), "b1": rng.standard_normal(n_hidden) * 0.1,
        "W2": rng.standard_normal((n_out, n_hidden)) / np.sqrt(n_hidden), "b2": rng.standard_normal(n_out) * 0.1,
        "X": rng.standard_normal((n, n_in)), "Y": np.eye(n_out)[rng.integers(0, n_out, n)],
    }


def loss(params, x, y):
    """Softmax cross-entropy of one example (one-hot target) through a ReLU MLP."""
    h = mg.relu(mg.linear(x, params["W1"], params["b1"]))
    return -(mg.log_softmax(mg.linear(h, params["W2"], params["b2"])) * y).sum()


def numpy_by_hand(d):
    params = {k: d[k] for k in KEYS}

    def run():
        X, Y = d["X"], d["Y"]
        z1 = X @ params["W1"].T + params["b1"]
        h = np.maximum(z1, 0.0)
        z2 = h @ params["W2"].T + params["b2"]
        z2 = z2 - z2.max(axis=1, keepdims=True)
        p = np.exp(z2) / np.exp(z2).sum(axis=1, keepdims=True)
        d2 = p * Y.sum(axis=1, keepdims=True) - Y
        d1 = (d2 @ params["W2"]) * (z1 > 0)
        return {"W1": d1[:, :, None] * X[:, None, :], "b1": d1, "W2": d2[:, :, None] * h[:, None, :], "b2": d2}

    return run


def microgradnp_vmap(d):
    params = {k: d[k] for k in KEYS}
    per_example = vmap(grad(loss), in_axes=(None, 0, 0))

    def run():
        g = per_example(params, d["X"], d["Y"])
        return {k: g[k].numpy() for k in KEYS}

    return run


def microgradnp_compiled_vmap(d):
    params = {k: d[k] for k in KEYS}
    per_example = mg.compile(vmap(grad(loss), in_axes=(None, 0, 0)))

    def run():
        g = per_example(params, d["X"], d["Y"])
        return {k: g[k].numpy() for k in KEYS}

    run()  # the first call traces
    return run


def microgradnp_func_loop(d):
    params = {k: d[k] for k in KEYS}
    g = grad(loss)

    def run():
        grads = [g(params, x, y) for x, y in zip(d["X"], d["Y"])]
        return {k: np.stack([r[k].numpy() for r in grads]) for k in KEYS}

    return run


def microgradnp_eager_loop(d):
    params = {k: mg.tensor(d[k], requires_grad=True) for k in KEYS}
    leaves = [params[k] for k in KEYS]

    def run():
        grads = [mg.grad(loss(params, x, y), leaves) for x, y in zip(d["X"], d["Y"])]
        return {k: np.stack([r[i].numpy() for r in grads]) for i, k in enumerate(KEYS)}

    return run


def torch_vmap(d):
    import torch
    from torch.func import grad as tgrad
    from torch.func import vmap as tvmap

    torch.set_num_threads(1)
    params = {k: torch.from_numpy(d[k]) for k in KEYS}

    def tloss(p, x, y):
        h = torch.relu(x @ p["W1"].T + p["b1"])
        return -(torch.log_softmax(h @ p["W2"].T + p["b2"], dim=-1) * y).sum()

    per_example = tvmap(tgrad(tloss), in_dims=(None, 0, 0))
    X, Y = torch.from_numpy(d["X"]), torch.from_numpy(d["Y"])

    def run():
        g = per_example(params, X, Y)
        return {k: g[k].numpy() for k in KEYS}

    return run


def jax_vmap(d):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    params = {k: jnp.asarray(d[k]) for k in KEYS}

    def jloss(p, x, y):
        h = jax.nn.relu(x @ p["W1"].T + p["b1"])
        return -(jax.nn.log_softmax(h @ p["W2"].T + p["b2"]) * y).sum()

    per_example = jax.jit(jax.vmap(jax.grad(jloss), in_axes=(None, 0, 0)))
    X, Y = jnp.asarray(d["X"]), jnp.asarray(d["Y"])

    def run():
        g = per_example(params, X, Y)
        return {k: np.asarray(g[k].block_until_ready()) for k in KEYS}

    return run


ROWS = [
    ("NumPy by hand", numpy_by_hand),
    ("microgradnp vmap(grad)", microgradnp_vmap),
    ("microgradnp compile(vmap(grad))", microgradnp_compiled_vmap),
    ("microgradnp loop of func.grad", microgradnp_func_loop),
    ("microgradnp loop of mg.grad", microgradnp_eager_loop),
    ("torch.func vmap(grad)", torch_vmap),
    ("jax jit(vmap(grad))", jax_vmap),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 examples, 2 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args(argv)
    n = 32 if args.quick else 256
    rounds = args.rounds or (2 if args.quick else 7)
    tables = [_measure(make_data(n, sizes), sizes, n, rounds) for sizes in NETWORKS]
    publish("\n\n".join(tables), args.out, "per_example.md")
    return 0


def _measure(d: dict, sizes: tuple, n: int, rounds: int) -> str:
    runs = {}
    for name, make in ROWS:
        try:
            runs[name] = make(d)
        except ImportError:
            continue
    expected = runs["NumPy by hand"]()
    for name, run in runs.items():  # every row does the same work
        got = run()
        for k in KEYS:
            np.testing.assert_allclose(got[k], expected[k], rtol=1e-9, atol=1e-12, err_msg=f"{name}: {k}")
    medians = interleaved_medians(runs, rounds)
    names = list(runs)
    loop = medians["microgradnp loop of func.grad"]
    lines = [
        f"Per-example gradients, {'-'.join(map(str, sizes))} ReLU MLP, {n} examples, float64, one thread; "
        f"median of {rounds} rounds.",
        "",
        "| | time (ms) | x NumPy by hand | speed-up over the loop of func.grad |",
        "|---|---:|---:|---:|",
    ]
    for name in names:
        m = medians[name]
        lines.append(f"| {name} | {1000 * m:.1f} | {m / medians['NumPy by hand']:.2f} | {loop / m:.1f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
