"""Gradient clipping: PyTorch's formulas, in place."""

import numpy as np
import pytest

import microgradnp as mg


def _params_with_grads(*grads):
    params = []
    for g in grads:
        p = mg.tensor(np.zeros_like(g), requires_grad=True)
        p.grad = np.array(g, dtype=float)
        params.append(p)
    return params


def test_clip_grad_norm_scales_all_gradients_together():
    a, b = _params_with_grads([3.0, 0.0], [[0.0], [4.0]])
    held = a.grad
    norm = mg.nn.utils.clip_grad_norm_([a, b], max_norm=2.5)
    assert norm == pytest.approx(5.0)
    coef = 2.5 / (5.0 + 1e-6)
    np.testing.assert_allclose(a.grad, [3.0 * coef, 0.0])
    np.testing.assert_allclose(b.grad, [[0.0], [4.0 * coef]])
    assert a.grad is held  # in place
    # below the limit: untouched; the norm is still returned
    c, = _params_with_grads([0.3, 0.4])
    assert mg.nn.utils.clip_grad_norm_(c, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(c.grad, [0.3, 0.4])


def test_clip_grad_norm_other_norms_and_missing_gradients():
    a, b = _params_with_grads([1.0, -6.0], [2.0])
    skipped = mg.tensor([1.0], requires_grad=True)  # no gradient: left alone
    assert mg.nn.utils.clip_grad_norm_([a, b, skipped], 3.0, norm_type=float("inf")) == pytest.approx(6.0)
    np.testing.assert_allclose(a.grad, np.array([1.0, -6.0]) * 3.0 / (6.0 + 1e-6))
    c, = _params_with_grads([1.0, 1.0, 1.0])
    assert mg.nn.utils.clip_grad_norm_([c], 10.0, norm_type=1) == pytest.approx(3.0)
    assert mg.nn.utils.clip_grad_norm_([skipped], 1.0) == 0.0
    with pytest.raises(ValueError, match="max_norm"):
        mg.nn.utils.clip_grad_norm_([c], -1.0)
    with pytest.raises(ValueError, match="norm_type"):
        mg.nn.utils.clip_grad_norm_([c], 1.0, norm_type=0)


def test_clip_grad_value_clamps_elementwise_in_place():
    a, = _params_with_grads([[-3.0, 0.5], [2.0, -0.25]])
    mg.nn.utils.clip_grad_value_(a, 1.0)
    np.testing.assert_array_equal(a.grad, [[-1.0, 0.5], [1.0, -0.25]])
    with pytest.raises(ValueError, match="clip_value"):
        mg.nn.utils.clip_grad_value_([a], -0.5)


def test_clipping_inside_a_training_step():
    model = mg.nn.Linear(3, 1, rng=0)
    x = mg.tensor(np.ones((4, 3)) * 100.0)
    loss = mg.nn.MSELoss()(model(x), np.zeros((4, 1)))
    loss.backward()
    mg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    total = np.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters()))
    assert total == pytest.approx(1.0, rel=1e-5)
