#!/usr/bin/env python
"""How long a drawing takes: graphs from a tiny expression to a 30-step RNN written with plain ops.

Drawing time is measured here, never asserted in a test: what a picture looks
like depends only on the graph and the options (the layout is chosen by the
node count), and how long it takes depends on the machine.  Each row renders
the graph to SVG with :func:`microgradnp.viz.render` (the DOT text, then
Graphviz's ``dot``); medians over ``--rounds``.  The 30-step plain-op RNN
(no modules) is the one the issue tracker asked to see well under 10 s: by
default its repeated steps are folded by structure (35 nodes); every node
(340) is laid out with bounded passes.  ``python benchmarks/render.py`` prints the
table and writes ``render.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

import microgradnp as mg
from microgradnp import viz

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import publish  # noqa: E402


def plain_rnn(steps: int = 30):
    """An Elman RNN written with plain ops (no modules), unrolled ``steps`` times, after backward."""
    rng = np.random.default_rng(0)
    W_xh = mg.tensor(rng.standard_normal((3, 8)) * 0.3, requires_grad=True, name="W_xh")
    W_hh = mg.tensor(rng.standard_normal((8, 8)) * 0.3, requires_grad=True, name="W_hh")
    b = mg.tensor(np.zeros(8), requires_grad=True, name="b")
    x, h = mg.randn(steps, 4, 3, rng=0), mg.zeros(4, 8)
    for t in range(steps):
        h = mg.tanh(x[t] @ W_xh + h @ W_hh + b)
    loss = (h ** 2).mean()
    loss.backward(retain_graph=True)
    return loss


def mlp_step():
    net = mg.nn.MLP([2, 5, 5, 2], rng=0)
    loss = mg.nn.functional.cross_entropy(net(mg.randn(8, 2, rng=0)), np.arange(8) % 2)
    loss.backward(retain_graph=True)
    return loss


def tiny():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    loss = (mg.tanh(x) * x).sum()
    loss.backward(retain_graph=True)
    return loss


#: (title, the loss, render's options)
GRAPHS = [("tiny expression", tiny, {}), ("2-5-5-2 MLP step", mlp_step, {}),
          ("30-step plain-op RNN, steps folded (default)", plain_rnn, {}),
          ("30-step plain-op RNN, every node (collapse=False)", plain_rnn, {"collapse": False})]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args(argv)
    if shutil.which("dot") is None:
        print("Graphviz's dot is not installed: nothing to time", file=sys.stderr)
        return 1
    rounds = 1 if args.quick else args.rounds
    rows = ["| graph | nodes | seconds to SVG (median) |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for title, make, options in GRAPHS:
            loss = make()
            nodes = viz.to_dot(loss, **options).count("[label=")
            times = []
            for k in range(rounds):
                start = time.perf_counter()
                viz.render(loss, os.path.join(tmp, f"g{k}.svg"), **options)
                times.append(time.perf_counter() - start)
            rows.append(f"| {title} | {nodes} | {float(np.median(times)):.2f} |")
    publish("\n".join(rows), args.out, "render.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
