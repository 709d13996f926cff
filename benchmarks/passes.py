#!/usr/bin/env python
"""What each pass of ``mg.compile`` buys: the compiled workloads with all passes, and with each one off.

The workloads are ``run.py``'s (``impl/microgradnp_compiled_impl.py``, on the
data of ``data.py``); each is built once per set of passes and checked
against the build with all passes (the same results to 1e-12: a pass never
changes what is computed, only how).  Reported: each replay's median time
with the pass off, as a ratio to all passes on (above 1: the pass saves
time), and the lines of generated code each stage leaves on the ``sgd``
step.  Interleaved rounds, one thread, as ``run.py``.

Run ``python benchmarks/passes.py`` (``--quick`` for small workloads,
``--only sgd moons`` for some). Writes ``passes.md`` into ``--out``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"  # one thread, as run.py, before NumPy loads a BLAS

import argparse  # noqa: E402
import functools  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data as benchdata  # noqa: E402
from timing import interleaved_medians, publish  # noqa: E402

import microgradnp as mg  # noqa: E402
from microgradnp.compiler import PASSES  # noqa: E402

WORKLOADS = ("ng", "sgd", "moons", "wide", "chain")


def build(workload: str, data, passes):
    """The workload's runner with ``mg.compile`` running ``passes``, warmed up (traced), and its first result."""
    from impl import microgradnp_compiled_impl as impl

    original = mg.compile
    mg.compile = functools.partial(original, passes=passes)  # what the workload's @mg.compile picks up
    try:
        run = impl.WORKLOADS[workload](getattr(data, workload))
    finally:
        mg.compile = original
    return run, run()


def same(a: dict, b: dict) -> bool:
    return all(np.allclose(np.asarray(a[k], dtype=float), np.asarray(b[k], dtype=float), rtol=1e-12, atol=1e-12)
               for k in a)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    data = benchdata.make(quick=args.quick)
    workloads = [w for w in WORKLOADS if not args.only or w in args.only]
    configs = {"all": tuple(PASSES), **{f"no {p}": tuple(q for q in PASSES if q != p) for p in PASSES}}
    rows = {}
    for wl in workloads:
        runners = {}
        reference = None
        for label, passes in configs.items():
            run, result = build(wl, data, passes)
            if reference is None:
                reference = result
            elif not same(result, reference):
                print(f"{wl}, {label}: a result differs from all passes on", file=sys.stderr)
                return 1
            runners[label] = run
        rows[wl] = interleaved_medians(runners, rounds)
        print(f"  {wl}: done", file=sys.stderr)
    lines = ["| workload | all passes | " + " | ".join(f"`{p}` off" for p in PASSES) + " |",
             "|---|---|" + "---|" * len(PASSES)]
    for wl, t in rows.items():
        lines.append(f"| {wl} | {t['all'] * 1e3:.2f} ms | "
                     + " | ".join(f"{t['no ' + p] / t['all']:.2f}x" for p in PASSES) + " |")
    table = ("Replay time with one pass off, as a ratio to all passes on (median of "
             f"{rounds} interleaved rounds{', quick data' if args.quick else ''}; above 1: the pass saves time)\n\n"
             + "\n".join(lines))
    publish(table, args.out, "passes.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
