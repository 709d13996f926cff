"""The fused loss ops agree with their composed twins, in value and gradient."""

import numpy as np
import pytest

import microgradnp as mg


@pytest.mark.parametrize("reduction", ["sum", "mean", "batchmean", "none"])
def test_fused_losses_match_their_composed_twins(reduction):
    from microgradnp.nn import functional as F

    rng = np.random.default_rng(3)
    a0, b0 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))

    def reduce(x):
        return {"sum": x.sum(), "mean": x.mean(), "batchmean": x.sum() / 4, "none": x}[reduction]

    cases = [
        (lambda a, b: F.mse_loss(a, b, reduction), lambda a, b: reduce((a - b) * (a - b))),
        (lambda a, b: F.squared_loss(a, b, reduction), lambda a, b: reduce((a - b) ** 2) * 0.5),
        (lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction), lambda a, b: reduce(mg.softplus(a) - b * a)),
    ]
    for fused, composed in cases:
        a1, b1 = mg.tensor(a0, requires_grad=True), mg.tensor(b0, requires_grad=True)
        a2, b2 = mg.tensor(a0, requires_grad=True), mg.tensor(b0, requires_grad=True)
        y1, y2 = fused(a1, b1), composed(a2, b2)
        assert len(y1.parents) == 2 and y1.op in ("squared_error", "bce_with_logits")  # one node
        np.testing.assert_allclose(y1.data, y2.data, rtol=1e-13)
        up = rng.standard_normal(y1.shape)
        y1.backward(up)
        y2.backward(up)
        np.testing.assert_allclose(a1.grad, a2.grad, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b1.grad, b2.grad, rtol=1e-12, atol=1e-15)
