"""Workload 3 from the command line: a 2-5-5-2 net on two moons, full-batch gradient descent.

The workload itself is ``microgradnp.workloads.moons``; this script parses
options and prints.  The first run trains on all the points, the second on
the first ``--long-subset`` points from the same initial weights.

Run: ``python examples/moons.py``
"""

from __future__ import annotations

import argparse

from microgradnp.workloads import moons


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--n", type=int, default=1000, help="number of points (default 1000)")
    parser.add_argument("--noise", type=float, default=0.1, help="noise of the moons (default 0.1)")
    parser.add_argument("--alpha", type=float, default=0.5, help="gradient-descent step (default 0.5)")
    parser.add_argument("--iters", type=int, default=1000, help="iterations of the first run (default 1000)")
    parser.add_argument("--long-iters", type=int, default=5000, help="iterations of the second run (default 5000; 0 skips it)")
    parser.add_argument("--long-subset", type=int, default=500, help="points of the second run (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
    parser.add_argument("--out", default="microgradnp-out", help="folder for the figures")
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    s = moons.run(args.n, args.noise, args.alpha, args.iters, args.long_iters, args.long_subset, args.seed,
                  None if args.no_plots else args.out, progress=True)
    print(f"{s['model']}, full-batch gradient descent, step {args.alpha}")
    print(f"after {args.iters} iterations on all {args.n} points: {100 * s['short-run accuracy']:.1f}% right")
    if args.long_iters:
        print(f"after {args.long_iters} iterations on the first {args.long_subset}: {100 * s['accuracy']:.1f}% of all "
              f"{args.n} right, final cost {s['final loss']:.4f}")
    for path in s["figures"]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
