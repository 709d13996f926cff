"""Workload 1, the 2-2-2 network: each step is the exact gradient step, and the notebook's rule replays its 894."""

import numpy as np
from scipy.special import expit

import microgradnp as mg
from microgradnp.workloads import blobs


def test_blobs_step_is_the_exact_gradient_step():
    X, y, model, rng = blobs.build(replay_seed=True)
    W1, W2 = (layer.weight.data.copy() for layer in model.linears)
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    for r in (0, 999, 17):
        x, t = X[r], blobs.TARGETS[y[r]]
        blobs.exact_step(model, opt, x, t)
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
    s = blobs.run(replay_seed=True, notebook_rule=True)
    assert s["correct"] == 894
    assert s["confusion"] == {"true negatives": 394, "false positives": 106, "false negatives": 0, "true positives": 500}
    exact = blobs.run(replay_seed=True)
    assert exact["correct"] > 894  # the exact gradient does better on the same draws
