"""Workload 4 from the command line: a small CNN on the 8x8 digits, minibatches and AdamW.

The workload itself is ``microgradnp.workloads.cnn``; this script parses
options and prints.

Run: ``python examples/cnn.py``
"""

from __future__ import annotations

import argparse

from microgradnp.workloads import cnn


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--epochs", type=int, default=30, help="passes over the training digits (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    parser.add_argument("--lr", type=float, default=0.01, help="AdamW's learning rate (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the shuffles")
    parser.add_argument("--out", default="microgradnp-out", help="folder for the figures")
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    s = cnn.run(args.epochs, args.batch_size, args.lr, seed=args.seed, out_dir=None if args.no_plots else args.out,
                progress=True)
    print(f"{s['model']}: held-out accuracy {100 * s['accuracy']:.1f}% of {s['n']} digits after {args.epochs} "
          f"epochs, final training loss {s['final loss']:.4f} ({s['seconds']:.1f} s)")
    for path in s["figures"]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
