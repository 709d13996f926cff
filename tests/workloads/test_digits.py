"""Workload 2, Ng's digit network: the cost and step match Ng's backpropagation; gradient check; CG training."""

import numpy as np
from scipy.special import expit

import microgradnp as mg
from microgradnp.workloads import digits


def _ng_reference(theta1, theta2, X, Y, lam):
    """Ng's cost and its gradient, the exercise's vectorised backpropagation."""
    m = len(X)
    a1 = np.c_[np.ones(m), X]
    z2 = a1 @ theta1.T
    a2 = np.c_[np.ones(m), expit(z2)]
    h = expit(a2 @ theta2.T)
    J = np.sum(-Y * np.log(h) - (1 - Y) * np.log(1 - h)) / m
    J += lam / (2 * m) * (np.sum(theta1[:, 1:] ** 2) + np.sum(theta2[:, 1:] ** 2))
    d3 = h - Y
    d2 = (d3 @ theta2[:, 1:]) * expit(z2) * (1 - expit(z2))
    D1, D2 = d2.T @ a1 / m, d3.T @ a2 / m
    D1[:, 1:] += lam / m * theta1[:, 1:]
    D2[:, 1:] += lam / m * theta2[:, 1:]
    return J, D1, D2


def test_digits_cost_and_step_match_ngs_backpropagation():
    rng = np.random.default_rng(0)
    X, y = mg.data.load_digits()
    X, y = X[:200], y[:200]
    Y = mg.nn.functional.one_hot(y, 10)
    model = digits.make_model([64, 25, 10], rng)
    theta1, theta2 = model.to_thetas()
    J = digits.cost(model, mg.tensor(X), Y, lam=1.0)
    J_ref, D1, D2 = _ng_reference(theta1, theta2, X, Y, 1.0)
    assert abs(J.item() - J_ref) < 1e-12
    opt = mg.optim.SGD(model.parameters(), lr=2.0)
    opt.zero_grad()
    J.backward()
    opt.step()
    new1, new2 = model.to_thetas()
    np.testing.assert_allclose(new1, theta1 - 2.0 * D1, rtol=0, atol=1e-10)
    np.testing.assert_allclose(new2, theta2 - 2.0 * D2, rtol=0, atol=1e-10)


def test_debug_network_gradient_check_is_below_1e9():
    assert digits.debug_gradient_check(0.0) < 1e-9
    assert digits.debug_gradient_check(3.0) < 1e-9


def test_conjugate_gradients_reach_95_percent_held_out():
    s = digits.run(maxiter=100)
    assert s["accuracy"] >= 0.95, s["accuracy"]
    assert s["iterations"] <= 100 and s["train accuracy"] > s["accuracy"] - 0.05


def test_digits_sweep_and_mat_files(tmp_path):
    import scipy.io

    rng = np.random.default_rng(0)
    X8, y8 = mg.data.load_digits()
    # A stand-in for ex4data1.mat with the exercise's layout: 400 columns, labels 1..10.
    X = np.kron(X8[:300].reshape(300, 8, 8), np.ones((1, 3, 3)))[:, :20, :20].reshape(300, 400)
    scipy.io.savemat(tmp_path / "ex4data1.mat", {"X": X, "y": np.where(y8[:300] == 0, 10, y8[:300]).reshape(-1, 1)})
    scipy.io.savemat(tmp_path / "ex4weights.mat", {"Theta1": rng.uniform(-0.1, 0.1, (25, 401)),
                                                   "Theta2": rng.uniform(-0.1, 0.1, (10, 26))})
    s = digits.run(mat=str(tmp_path / "ex4data1.mat"), weights=str(tmp_path / "ex4weights.mat"), maxiter=3,
                   sweep=True, out_dir=str(tmp_path))
    assert s["model"] == "MLP(400 -> 25 -> 10, sigmoid)"
    assert len(s["sweep"]) == 5 and "pretrained cost (lambda=1)" in s
    assert (tmp_path / "digits_sweep_4.png").exists()
