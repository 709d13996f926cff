"""Fit a damped oscillator's stiffness and damping to noisy observations of its position, through
``microgradnp.func.odeint`` (SciPy integrates; the gradient comes from the adjoint method), with
SciPy's L-BFGS-B. Writes the fit's figure.

    python -m examples.ode_fit --out microgradnp-out
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from scipy.optimize import minimize

import microgradnp as mg
from microgradnp.func import odeint, value_and_grad

from ._figures import saved, subplots

TRUE = np.array([2.0, 0.3])  # stiffness k, damping c
START = np.array([1.0, 1.0])


# --8<-- [start:model]
def oscillator(y, t, p):
    """x'' = -k x - c x' as a first-order system: y = (x, x'), p = (k, c)."""
    x, v = y[0], y[1]
    return mg.stack([v, -p[0] * x - p[1] * v])


def positions(p, times, y0=(1.0, 0.0)):
    return odeint(oscillator, mg.tensor(y0), times, p, rtol=1e-9, atol=1e-9)[:, 0]


def loss(p, times, observed):
    return ((positions(p, times) - observed) ** 2).mean()
# --8<-- [end:model]


def make_data(n: int = 40, noise: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    times = np.linspace(0.0, 10.0, n)
    clean = positions(mg.tensor(TRUE), times).data
    return times, clean + noise * rng.standard_normal(n)


# --8<-- [start:fit]
def fit(times, observed, start=START):
    loss_and_grad = value_and_grad(loss)

    def fun(p):
        value, g = loss_and_grad(mg.tensor(p), times, observed)
        return float(value.item()), np.asarray(g.data, dtype=float)

    found = minimize(fun, start, jac=True, method="L-BFGS-B", bounds=[(1e-3, None), (0.0, None)])
    return found.x, found
# --8<-- [end:fit]


def plot(times, observed, fitted, path: str) -> str:
    dense = np.linspace(times[0], times[-1], 400)
    fig, ax = subplots(figsize=(7.5, 3.6))
    ax.plot(times, observed, "o", ms=4, color="0.35", label="observed position (noise 0.05)")
    ax.plot(dense, positions(mg.tensor(START), dense).data, "--", color="tab:orange",
            label=f"start: k={START[0]:.2f}, c={START[1]:.2f}")
    ax.plot(dense, positions(mg.tensor(fitted), dense).data, color="tab:blue",
            label=f"fitted: k={fitted[0]:.3f}, c={fitted[1]:.3f} (true {TRUE[0]:.1f}, {TRUE[1]:.1f})")
    ax.set_xlabel("t")
    ax.set_ylabel("x(t)")
    ax.set_title("A damped oscillator fitted through odeint's adjoint gradient")
    ax.legend(loc="upper right", fontsize=8)
    return saved(fig, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="microgradnp-out", help="folder for the figure")
    parser.add_argument("--n", type=int, default=40, help="number of observations")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    times, observed = make_data(args.n)
    fitted, found = fit(times, observed)
    print(f"fitted k = {fitted[0]:.4f}, c = {fitted[1]:.4f} (true {TRUE[0]}, {TRUE[1]}) in {found.nit} "
          f"L-BFGS-B iterations; mean squared error {found.fun:.5f}")
    print("wrote", plot(times, observed, fitted, os.path.join(args.out, "ode_fit.png")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
