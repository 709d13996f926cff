"""Workload 1 from the command line: a 2-2-2 net on Gaussian blobs, one example at a time.

The workload itself (data, model, training, plots) is
``microgradnp.workloads.blobs``; this script parses options and prints.
``--replay-seed`` (the default when no ``--seed`` is given) replays the
notebook's random draws; ``--notebook-rule`` trains with the notebook's own
hand-derived update (894 of 1000 right, as the notebook reports).

Run: ``python examples/gaussian_blobs.py --replay-seed``
"""

from __future__ import annotations

import argparse

from microgradnp.workloads import blobs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--replay-seed", action="store_true",
                        help="replay the notebook's np.random.seed(104729) draws (the default without --seed)")
    parser.add_argument("--notebook-rule", action="store_true", help="train with the notebook's hand-derived update")
    parser.add_argument("--seed", type=int, default=None, help="draw data and weights from default_rng(SEED) instead")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--n", type=int, default=1000, help="number of points (default 1000)")
    parser.add_argument("--out", default="microgradnp-out", help="folder for the figures")
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    if args.replay_seed and args.seed is not None:
        parser.error("--replay-seed and --seed exclude each other")
    replay = args.seed is None
    s = blobs.run(replay, args.notebook_rule, args.seed or 0, args.lr, args.n,
                  None if args.no_plots else args.out, progress=True)
    print(f"{s['model']}, {s['gradient']} gradient, one pass of per-example SGD (lr {args.lr})")
    print(f"correct predictions: {s['correct']} of {s['n']} ({100 * s['accuracy']:.1f}%)")
    for k, v in s["confusion"].items():
        print(f"  {k:>16}: {v}")
    if s["confusion"]["false positives"] + s["confusion"]["true positives"] in (0, s["n"]):
        print("every point got the same class: both hidden units are saturated for this draw and, without "
              "biases, their gradient vanishes; try another --seed or --replay-seed")
    for path in s.get("figures", []):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
