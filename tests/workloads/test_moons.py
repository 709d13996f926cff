"""Workload 3, the moons network: each step matches the notebook's backpropagation."""

import numpy as np
from scipy.special import expit

import microgradnp as mg
from microgradnp.workloads import moons


def _moons_reference_step(thetas, X, y, alpha):
    """One step of the notebook's forward_prop / backpropagation / update, vectorised (lambda = 0)."""
    m = len(X)
    y_mat = np.eye(2)[y]
    A, Z = [np.c_[np.ones(m), X]], []
    for i, theta in enumerate(thetas):
        z = A[-1] @ theta.T
        a = expit(z)
        Z.append(z)
        A.append(np.c_[np.ones(m), a] if i < len(thetas) - 1 else a)
    J = -np.sum(y_mat * np.log(A[-1]) + (1 - y_mat) * np.log(1 - A[-1])) / m
    d = A[-1] - y_mat
    grads = [None] * len(thetas)
    for i in reversed(range(len(thetas))):
        grads[i] = d.T @ A[i] / m
        if i:
            d = (d @ thetas[i][:, 1:]) * expit(Z[i - 1]) * (1 - expit(Z[i - 1]))
    return J, [t - alpha * g for t, g in zip(thetas, grads)]


def test_moons_step_matches_the_notebooks_backpropagation():
    rng = np.random.default_rng(1)
    X, y = mg.data.make_moons(300, noise=0.1, rng=rng)
    model = moons.make_model(rng)
    thetas = model.to_thetas()
    for _ in range(3):
        J_ref, thetas = _moons_reference_step(thetas, X, y, 0.5)
        costs = moons.train(model, X, y, alpha=0.5, iters=1)
        assert abs(costs[0] - J_ref) < 1e-12
        for mine, ref in zip(model.to_thetas(), thetas):
            np.testing.assert_allclose(mine, ref, rtol=0, atol=1e-10)
