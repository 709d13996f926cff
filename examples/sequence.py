"""Workload 5 from the command line: a GRU that learns to continue noisy sine waves.

The workload itself is ``microgradnp.workloads.sequence``; this script parses
options and prints.

Run: ``python examples/sequence.py``
"""

from __future__ import annotations

import argparse

from microgradnp.workloads import sequence


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--epochs", type=int, default=40, help="passes over the training waves (default 40)")
    parser.add_argument("--train", type=int, default=512, help="training waves (default 512)")
    parser.add_argument("--test", type=int, default=128, help="held-out waves (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the waves, the weights and the shuffles")
    parser.add_argument("--out", default="microgradnp-out", help="folder for the figure")
    parser.add_argument("--no-plots", action="store_true", help="skip the figure")
    args = parser.parse_args(argv)
    s = sequence.run(args.epochs, args.train, args.test, args.seed, None if args.no_plots else args.out,
                     progress=True)
    print(f"{s['model']}: held-out one-step MSE {s['test mse']:.4f} (repeating the last value: "
          f"{s['baseline mse']:.4f}) ({s['seconds']:.1f} s)")
    for path in s["figures"]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
