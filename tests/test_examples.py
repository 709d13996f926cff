"""The three reference workloads: every example runs, and each training step is the exact gradient step.

The hand-written NumPy references below follow the seeds' vectorised formulas
(Ng's backpropagation and the moons notebook's ``backpropagation``) and, for
the 2-2-2 network, the exact chain rule (the notebook's own rule is not the
exact gradient).
"""

import numpy as np
import pytest
from scipy.special import expit

import microgradnp as mg
from examples import check_notebook_rule, digits, gaussian_blobs, moons

# ---------------------------------------------------------------------------
# Every example runs end to end on small settings and writes its figures
# ---------------------------------------------------------------------------


def test_gaussian_blobs_main(tmp_path, capsys):
    assert gaussian_blobs.main(["--replay-seed", "--n", "200", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "correct predictions" in out and "true negatives" in out
    assert (tmp_path / "blobs_classes.png").stat().st_size > 1000
    assert (tmp_path / "blobs_predictions.png").stat().st_size > 1000


def test_digits_main(tmp_path, capsys):
    assert digits.main(["--maxiter", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "relative difference" in out
    assert (tmp_path / "digits_hidden_units.png").stat().st_size > 1000


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


def test_moons_main(tmp_path, capsys):
    assert moons.main(["--n", "200", "--iters", "50", "--long-iters", "50", "--long-subset", "100", "--out", str(tmp_path)]) == 0
    assert "right" in capsys.readouterr().out
    for name in ("moons_cost.png", "moons_boundary_short.png", "moons_boundary.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_check_notebook_rule_main():
    assert check_notebook_rule.main([]) == 0


# ---------------------------------------------------------------------------
# Workload 1: the 2-2-2 network
# ---------------------------------------------------------------------------


def test_blobs_step_is_the_exact_gradient_step():
    X, y, model, rng = gaussian_blobs.build(replay_seed=True)
    W1, W2 = (layer.weight.data.copy() for layer in model.linears)
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    for r in (0, 999, 17):
        x, t = X[r], gaussian_blobs.TARGETS[y[r]]
        gaussian_blobs.exact_step(model, opt, x, t)
        # The chain rule for L = 1/2 sum (t - o)^2, by hand:
        xc, tc = x.reshape(2, 1), t.reshape(2, 1)
        h = expit(W1 @ xc)
        o = expit(W2 @ h)
        d_o = (o - tc) * o * (1 - o)
        d_h = (W2.T @ d_o) * h * (1 - h)
        W2 = W2 - 0.1 * d_o @ h.T
        W1 = W1 - 0.1 * d_h @ xc.T
        np.testing.assert_allclose(model.linears[0].weight.data, W1, rtol=0, atol=1e-10)
        np.testing.assert_allclose(model.linears[1].weight.data, W2, rtol=0, atol=1e-10)


def test_blobs_notebook_rule_replays_the_notebooks_894():
    s = gaussian_blobs.run(replay_seed=True, notebook_rule=True)
    assert s["correct"] == 894
    assert s["confusion"] == {"true negatives": 394, "false positives": 106, "false negatives": 0, "true positives": 500}
    exact = gaussian_blobs.run(replay_seed=True)
    assert exact["correct"] > 894  # the exact gradient does better on the same draws


# ---------------------------------------------------------------------------
# Workload 2: Ng's digit network
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Workload 3: the moons network
# ---------------------------------------------------------------------------


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


@pytest.mark.parametrize("workload", ["blobs", "digits", "moons"])
def test_run_summaries_have_what_the_demo_prints(workload):
    module = {"blobs": gaussian_blobs, "digits": digits, "moons": moons}[workload]
    small = {"blobs": {"n": 100}, "digits": {"maxiter": 2}, "moons": {"n": 100, "iters": 5, "long_iters": 5, "long_subset": 50}}
    s = module.run(**small[workload])
    for key in ("workload", "model", "accuracy", "final loss", "seconds", "model_obj", "example"):
        assert key in s
