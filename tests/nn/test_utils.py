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


NONFINITE = [("nan", [1.0, np.nan], [3.0]), ("inf", [1.0, np.inf], [3.0]), ("-inf", [2.0], [-np.inf, 0.5])]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("name,first,second", NONFINITE, ids=[n[0] for n in NONFINITE])
def test_clip_grad_norm_with_a_nonfinite_gradient_does_what_pytorch_does(name, first, second, norm_type):
    a, b = _params_with_grads(first, second)
    total = mg.nn.utils.clip_grad_norm_([a, b], 1.0, norm_type=norm_type)
    together = np.concatenate([np.ravel(first), np.ravel(second)])
    with np.errstate(invalid="ignore"):
        if np.isnan(together).any():  # every gradient NaN, never left as it was
            assert np.isnan(total) and np.isnan(a.grad).all() and np.isnan(b.grad).all()
        else:  # an infinite norm scales by 0: finite entries 0, infinite ones NaN (inf * 0)
            assert total == np.inf
            np.testing.assert_array_equal(np.concatenate([a.grad, b.grad]), together * 0.0)
    torch = pytest.importorskip("torch")
    ta, tb = (torch.zeros(len(g), dtype=torch.float64, requires_grad=True) for g in (first, second))
    ta.grad, tb.grad = torch.tensor(first, dtype=torch.float64), torch.tensor(second, dtype=torch.float64)
    expected = torch.nn.utils.clip_grad_norm_([ta, tb], 1.0, norm_type=norm_type)
    np.testing.assert_array_equal(total, expected.item())
    np.testing.assert_array_equal(a.grad, ta.grad.numpy())
    np.testing.assert_array_equal(b.grad, tb.grad.numpy())


@pytest.mark.parametrize("name,first,second", NONFINITE, ids=[n[0] for n in NONFINITE])
def test_clip_grad_norm_error_if_nonfinite_names_the_gradient_and_leaves_them(name, first, second):
    a, b = _params_with_grads(first, second)
    bad = 0 if not np.all(np.isfinite(first)) else 1
    with pytest.raises(RuntimeError, match=rf"total norm of order 2.0 .* gradient {bad} .* not finite"):
        mg.nn.utils.clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(a.grad, first)  # nothing scaled before the error
    huge, = _params_with_grads([1e200, 1e200])
    with pytest.raises(RuntimeError, match="every gradient is finite but the norm overflows"):
        mg.nn.utils.clip_grad_norm_([huge], 1.0, error_if_nonfinite=True)
    finite, = _params_with_grads([3.0, 4.0])
    assert mg.nn.utils.clip_grad_norm_([finite], 1.0, error_if_nonfinite=True) == pytest.approx(5.0)


@pytest.mark.parametrize("clip", [
    lambda ps, **kw: mg.nn.utils.clip_grad_norm_(ps, 1.0, **kw),
    lambda ps, **kw: mg.nn.utils.clip_grad_value_(ps, 1.0, **kw),
], ids=["clip_grad_norm_", "clip_grad_value_"])
def test_foreach_is_accepted_as_pytorch_spells_the_one_implementation_and_refused_otherwise(clip):
    for foreach in (None, False):
        a, = _params_with_grads([3.0, 4.0])
        clip([a], foreach=foreach)
        assert np.abs(a.grad).max() <= 1.0
    with pytest.raises(ValueError, match="foreach=True asks for PyTorch's multi-tensor kernels"):
        clip(_params_with_grads([3.0]), foreach=True)
