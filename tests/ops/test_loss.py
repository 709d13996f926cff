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


def test_squared_loss_gradient_is_exactly_the_difference():
    """The 1/2 makes the gradient input - target, bit for bit, in every float dtype (the NumPy-only
    VJP skips its factor when it is exactly 1); another upstream gradient scales it."""
    from microgradnp.nn import functional as F

    rng = np.random.default_rng(5)
    for dtype in (np.float64, np.float32, np.float16):
        o0, t0 = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
        o = mg.tensor(o0, requires_grad=True)
        F.squared_loss(o, t0).backward()
        assert o.grad.dtype == dtype
        np.testing.assert_array_equal(o.grad, o0 - t0)
        o.grad = None
        F.squared_loss(o, t0).backward(np.array(3.0, dtype))
        np.testing.assert_allclose(o.grad, 3.0 * (o0 - t0), rtol=1e-6 if dtype is np.float64 else 1e-3)
