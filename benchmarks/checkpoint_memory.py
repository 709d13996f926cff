#!/usr/bin/env python
"""Checkpointing a deep MLP: the peak memory and the time of one training step, with and without.

A 24-layer tanh MLP (width 128, batch 4096, float64: the issue's 207 MiB network), one step = forward, the
loss, ``backward()``.  With ``mg.checkpoint_sequential(layers, segments, x)``
the activations inside each segment are recomputed in the backward pass.
Peak memory is what ``tracemalloc`` sees NumPy allocate during the step
(the inputs and parameters, allocated before, not counted); the time is the
median of interleaved rounds.  The gradients are compared bit for bit.

Run ``python benchmarks/checkpoint_memory.py``; writes ``checkpoint_memory.md``
into ``--out``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import interleaved_medians, publish  # noqa: E402

import microgradnp as mg  # noqa: E402


def step(net, x, segments: int | None):
    net.zero_grad()
    layers = list(net.layers)
    out = net(x) if segments is None else mg.checkpoint_sequential(layers, segments, x)
    (out ** 2).mean().backward()


def peak(run) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--width", type=int, default=128)
    args = parser.parse_args(argv)
    net = mg.nn.MLP([args.width] * 25 + [1], activation="tanh", rng=0)
    x = mg.randn(args.batch, args.width, rng=0)
    choices = {"plain": None, **{f"checkpoint_sequential, {s} segments": s for s in (3, 5, 6, 7)}}
    grads = {}
    for name, segments in choices.items():
        step(net, x, segments)
        grads[name] = [p.grad.copy() for p in net.parameters()]
    same = {name: all(np.array_equal(a, b) for a, b in zip(grads["plain"], g)) for name, g in grads.items()}
    peaks = {name: peak(lambda s=s: step(net, x, s)) for name, s in choices.items()}
    times = interleaved_medians({name: (lambda s=s: step(net, x, s)) for name, s in choices.items()}, args.rounds)
    lines = [f"One step of a 24-layer tanh MLP (width {args.width}, batch {args.batch}, float64): peak memory and time, "
             f"median of {args.rounds} interleaved rounds.", "",
             "| step | peak memory | less than plain | time | against plain | gradients |",
             "|---|---:|---:|---:|---:|---|"]
    for name in choices:
        lines.append(f"| {name} | {peaks[name] / 2 ** 20:.1f} MiB | {1 - peaks[name] / peaks['plain']:.0%} | "
                     f"{times[name] * 1e3:.1f} ms | {times[name] / times['plain']:.2f}x | "
                     f"{'bit for bit' if same[name] else 'DIFFERENT'} |")
    publish("\n".join(lines), args.out, "checkpoint_memory.md")
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
