#!/usr/bin/env python
"""Conv2d forward and backward on a batch of 64 8x8 images: microgradnp against im2col written by hand in NumPy.

One layer as in a small digits CNN: 1 -> 16 channels, 3x3 kernel, padding 1,
then a second 16 -> 32 layer; forward, and the gradients of a sum of the
outputs with respect to the input, the weights and the bias.  Both rows are
checked against each other before timing; one thread, rounds interleaved,
medians.  ``python benchmarks/conv.py`` (``--quick``: fewer rounds) prints the
table and writes ``conv.md`` into ``--out``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

import microgradnp as mg  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import interleaved_medians, publish  # noqa: E402

LAYERS = [(1, 16), (16, 32)]  # (in, out) channels, 3x3 kernels, padding 1


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    d = {"x": rng.standard_normal((64, 1, 8, 8))}
    for i, (c, o) in enumerate(LAYERS):
        d[f"w{i}"] = rng.standard_normal((o, c, 3, 3)) / 3.0
        d[f"b{i}"] = rng.standard_normal(o) * 0.1
    return d


def _im2col(x):
    """(N, C, H, W) -> (N H W, C 9) rows of the padded 3x3 windows, and the padded input's shape."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    rows = np.arange(h)[:, None, None, None] + np.arange(3)[None, None, :, None]
    cols = np.arange(w)[None, :, None, None] + np.arange(3)[None, None, None, :]
    return xp.transpose(0, 2, 3, 1)[:, rows, cols, :].reshape(n * h * w, 9 * c), xp.shape


def _col2im(dcols, padded_shape, c):
    """The adjoint of :func:`_im2col`: window gradients added back into the (unpadded) input."""
    n, _, hp, wp = padded_shape
    h, w = hp - 2, wp - 2
    rows = np.arange(h)[:, None, None, None] + np.arange(3)[None, None, :, None]
    cols = np.arange(w)[None, :, None, None] + np.arange(3)[None, None, None, :]
    dxp = np.zeros((n, hp, wp, c))
    np.add.at(dxp, (slice(None), rows, cols, slice(None)), dcols.reshape(n, h, w, 3, 3, c))
    return dxp[:, 1:-1, 1:-1, :].transpose(0, 3, 1, 2)


def numpy_by_hand(d):
    def run():
        acts, caches = d["x"], []
        for i in range(len(LAYERS)):
            w, b = d[f"w{i}"], d[f"b{i}"]
            n, c, h, wd = acts.shape
            cols, padded = _im2col(acts)
            kernel = w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
            out = (cols @ kernel.T + b).reshape(n, h, wd, -1).transpose(0, 3, 1, 2)
            caches.append((cols, padded, kernel, c))
            acts = out
        grads, g = {}, np.ones_like(acts)
        for i in reversed(range(len(LAYERS))):
            cols, padded, kernel, c = caches[i]
            g_rows = g.transpose(0, 2, 3, 1).reshape(-1, g.shape[1])
            grads[f"b{i}"] = g_rows.sum(axis=0)
            grads[f"w{i}"] = (g_rows.T @ cols).reshape(-1, 3, 3, c).transpose(0, 3, 1, 2)
            g = _col2im(g_rows @ kernel, padded, c)
        grads["x"] = g
        return grads

    return run


def microgradnp_layers(d):
    x = mg.tensor(d["x"], requires_grad=True)
    params = [(mg.tensor(d[f"w{i}"], requires_grad=True), mg.tensor(d[f"b{i}"], requires_grad=True))
              for i in range(len(LAYERS))]
    leaves = [x] + [t for pair in params for t in pair]

    def run():
        acts = x
        for w, b in params:
            acts = mg.nn.functional.conv2d(acts, w, b, padding=1)
        grads = mg.grad(acts.sum(), leaves)
        out = {"x": grads[0].numpy()}
        for i in range(len(LAYERS)):
            out[f"w{i}"], out[f"b{i}"] = grads[1 + 2 * i].numpy(), grads[2 + 2 * i].numpy()
        return out

    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 21)
    d = make_data()
    runs = {"NumPy im2col by hand": numpy_by_hand(d), "microgradnp conv2d": microgradnp_layers(d)}
    expected = runs["NumPy im2col by hand"]()
    got = runs["microgradnp conv2d"]()
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-10, atol=1e-10, err_msg=k)
    medians = interleaved_medians(runs, rounds)
    base = medians["NumPy im2col by hand"]
    lines = [f"Conv2d forward + backward, batch 64 of 1x8x8, layers 1->16->32 (3x3, padding 1), float64, one thread; "
             f"median of {rounds} rounds.", "", "| | time (ms) | x NumPy by hand |", "|---|---:|---:|"]
    lines += [f"| {name} | {1000 * m:.2f} | {m / base:.2f} |" for name, m in medians.items()]
    publish("\n".join(lines), args.out, "conv.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
