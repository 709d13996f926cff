"""Workload 2 from the command line: Ng's digit network, gradient check and conjugate gradients.

The workload itself is ``microgradnp.workloads.digits``; this script parses
options and prints.  By default it trains on scikit-learn's bundled 8x8
digits; ``--mat ex4data1.mat`` trains on the exercise's 20x20 images and
``--weights ex4weights.mat`` evaluates its pre-trained weights; ``--sweep``
runs the notebook's lambda/MaxIter table.

Run: ``python examples/digits.py``
"""

from __future__ import annotations

import argparse

from microgradnp.workloads import digits


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--mat", help="Ng's ex4data1.mat (5000 20x20 digits) instead of the bundled 8x8 digits")
    parser.add_argument("--weights", help="Ng's ex4weights.mat: also evaluate the pre-trained Theta1/Theta2")
    parser.add_argument("--lambda", dest="lam", type=float, default=1.0, help="regularization strength (default 1)")
    parser.add_argument("--maxiter", type=int, default=100, help="CG iterations (default 100)")
    parser.add_argument("--test-size", type=float, default=0.25, help="held-out fraction (default 0.25)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the initial weights")
    parser.add_argument("--sweep", action="store_true", help="also run the notebook's lambda/MaxIter table")
    parser.add_argument("--out", default="microgradnp-out", help="folder for the figures")
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    s = digits.run(args.mat, args.weights, args.lam, args.maxiter, args.test_size, args.seed, args.sweep,
                  None if args.no_plots else args.out, progress=True)
    print(f"debug-network gradient check (3-5-3, sin weights), relative difference: "
          f"{s['gradient check (lambda=0)']:.3e} (lambda=0), {s['gradient check (lambda=3)']:.3e} (lambda=3)")
    if "pretrained cost (lambda=1)" in s:
        print(f"pre-trained Theta1/Theta2: cost {s['pretrained cost (lambda=1)']:.6f} (lambda=1), "
              f"accuracy {100 * s['pretrained accuracy']:.2f}%")
    print(f"{s['model']}, lambda={s['lambda']:g}: {s['iterations']} CG iterations, {s['function evaluations']} "
          f"evaluations, final cost {s['final loss']:.6f}")
    print(f"train accuracy {100 * s['train accuracy']:.2f}%, held-out accuracy {100 * s['accuracy']:.2f}% "
          f"({s['n']} images)")
    if "sweep" in s:
        print(f"\n{'MaxIter':>8} {'lambda':>8} {'cost':>10} {'train':>8} {'test':>8}")
        for r in s["sweep"]:
            print(f"{r['maxiter']:>8} {r['lambda']:>8g} {r['cost']:>10.6f} {100 * r['train accuracy']:>7.2f}% "
                  f"{100 * r['test accuracy']:>7.2f}%")
    for path in s.get("figures", []):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
