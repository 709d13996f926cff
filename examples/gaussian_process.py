"""Porting NumPy code: a Gaussian process's negative log marginal likelihood, written in plain
NumPy, differentiated unchanged by passing it a Tensor; its three hyperparameters are then fitted
with SciPy, and the posterior is drawn.

    python -m examples.gaussian_process --out microgradnp-out
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from scipy.optimize import minimize

import microgradnp as mg

from ._figures import saved, subplots


# --8<-- [start:model]
def neg_log_marginal_likelihood(log_params, X, y):
    """-log p(y | X) for a GP with a squared-exponential kernel, in plain NumPy.

    log_params = (log length scale, log signal std, log noise std).
    """
    log_ell, log_sf, log_sn = log_params[0], log_params[1], log_params[2]
    sq_dist = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = np.exp(2 * log_sf) * np.exp(-0.5 * sq_dist / np.exp(2 * log_ell)) + np.exp(2 * log_sn) * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))  # K^-1 y by two triangular solves
    _, logdet = np.linalg.slogdet(K)
    return 0.5 * y @ alpha + 0.5 * logdet + 0.5 * len(X) * np.log(2 * np.pi)
# --8<-- [end:model]


# --8<-- [start:grad]
def value_and_grad(log_params, X, y):
    """The same function, given a Tensor: every NumPy call above records its op."""
    p = mg.tensor(log_params, requires_grad=True)
    loss = neg_log_marginal_likelihood(p, X, y)
    loss.backward()
    return float(loss.data), p.grad
# --8<-- [end:grad]


def make_data(n: int = 30, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(-3.0, 3.0, n))[:, None]
    y = np.sin(2.0 * X[:, 0]) + 0.1 * rng.standard_normal(n)
    return X, y


def posterior(log_params, X, y, Xs):
    """Posterior mean and standard deviation at ``Xs`` (plain NumPy, for the figure)."""
    ell, sf, sn = np.exp(log_params)

    def k(A, B):
        return sf ** 2 * np.exp(-0.5 * np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=-1) / ell ** 2)

    K = k(X, X) + sn ** 2 * np.eye(len(X))
    Ks = k(Xs, X)
    mean = Ks @ np.linalg.solve(K, y)
    var = sf ** 2 - np.sum(Ks * np.linalg.solve(K, Ks.T).T, axis=1)
    return mean, np.sqrt(np.maximum(var, 0.0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="number of training points")
    parser.add_argument("--out", default=None, help="folder for the figure (none: no figure)")
    args = parser.parse_args(argv)

    X, y = make_data(args.n)
    x0 = np.log([1.0, 1.0, 0.5])

    value, grad = value_and_grad(x0, X, y)
    plain = neg_log_marginal_likelihood(x0, X, y)  # the same code on plain arrays
    h = 1e-6 * np.eye(len(x0))  # central differences of the plain-NumPy function
    numeric = np.array([(neg_log_marginal_likelihood(x0 + d, X, y) - neg_log_marginal_likelihood(x0 - d, X, y)) / 2e-6
                        for d in h])
    print(f"-log p(y|X) at the start: {value:.6f} (plain NumPy: {plain:.6f})")
    print(f"gradient (microgradnp):      {np.array2string(grad, precision=6)}")
    print(f"gradient (finite differences): {np.array2string(numeric, precision=6)}")
    print(f"largest relative difference: {np.max(np.abs(grad - numeric) / np.maximum(np.abs(numeric), 1e-8)):.2e}")

    result = minimize(value_and_grad, x0, args=(X, y), jac=True, method="L-BFGS-B")
    ell, sf, sn = np.exp(result.x)
    print(f"fitted in {result.nit} iterations: length scale {ell:.3f}, signal std {sf:.3f}, noise std {sn:.3f} "
          f"(-log p(y|X) = {result.fun:.4f})")

    if args.out:
        os.makedirs(args.out, exist_ok=True)
        Xs = np.linspace(-3.5, 3.5, 200)[:, None]
        mean, std = posterior(result.x, X, y, Xs)
        fig, ax = subplots(figsize=(6, 3.5))
        ax.fill_between(Xs[:, 0], mean - 2 * std, mean + 2 * std, alpha=0.25, label="mean ± 2 std")
        ax.plot(Xs[:, 0], mean, label="posterior mean")
        ax.plot(Xs[:, 0], np.sin(2 * Xs[:, 0]), "k--", lw=1, label="sin(2x)")
        ax.scatter(X[:, 0], y, s=12, c="k", label="data")
        ax.set_title(f"GP fitted by its own gradient: length {ell:.2f}, noise {sn:.2f}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4, fontsize=8, frameon=False)
        print(f"wrote {saved(fig, os.path.join(args.out, 'gp_posterior.png'), dpi=120)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
