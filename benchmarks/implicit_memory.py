#!/usr/bin/env python
"""Backward memory of a fixed point: differentiated implicitly (``func.fixed_point``) against unrolled.

A deep-equilibrium style map ``x = tanh(x W + p)`` on a batch of 256
examples of width 64, iterated to its fixed point; the loss is the sum of the
squares of the answer.  Reported for 10 to 1,000 iterations (the fixed
point is reached, and then held, by the iterations): the bytes the graph
keeps for backward (``viz.backward_memory``), unrolled and implicit, and the
largest difference of their gradients (10 iterations have not converged yet:
the unrolled gradient is then that of another function).

Run ``python benchmarks/implicit_memory.py``; writes ``implicit_memory.md``
into ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import publish  # noqa: E402

import microgradnp as mg  # noqa: E402
from microgradnp.func import fixed_point  # noqa: E402
from microgradnp.viz import backward_memory  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    W = rng.standard_normal((64, 64))
    W *= 0.5 / np.linalg.norm(W, 2)  # a contraction
    X0 = np.zeros((256, 64))
    lines = ["Backward memory of a fixed point of x = tanh(x W + p), 256 x 64, float64.", "",
             "| iterations | unrolled: kept for backward | implicit: kept for backward | gradient difference |",
             "|---:|---:|---:|---:|"]
    for n in (10, 100, 1000):
        p = mg.tensor(rng.standard_normal((256, 64)) * 0.1, requires_grad=True)

        def f(x, p):
            return mg.tanh(x @ W + p)

        x = mg.tensor(X0)
        for _ in range(n):
            x = f(x, p)
        unrolled = (x ** 2).sum()
        kept_unrolled = backward_memory(unrolled)["total"]
        (g_unrolled,) = mg.grad(unrolled, p)
        implicit = (fixed_point(f, mg.tensor(X0), p) ** 2).sum()  # iterates until it converges (about 40)
        kept_implicit = backward_memory(implicit)["total"]
        (g_implicit,) = mg.grad(implicit, p)
        diff = float(np.max(np.abs(g_unrolled.data - g_implicit.data)))
        lines.append(f"| {n} | {kept_unrolled / 2 ** 20:.1f} MiB | {kept_implicit / 2 ** 20:.2f} MiB | {diff:.1e} |")
    publish("\n".join(lines), args.out, "implicit_memory.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
