"""A complete pytest + Hypothesis file that tests derivatives with microgradnp.testing.

Copy it next to your code, replace the functions under test with yours, and
run ``pytest test_my_derivatives.py``.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.testing import gradcheck, gradgradcheck
from microgradnp.testing import strategies as mst


# --- 1. A function written with microgradnp operations -----------------------
def swish(x):
    """x * sigmoid(x): its gradient comes from autodiff."""
    return x * mg.sigmoid(x)


@given(mst.tensors(shape=mst.shapes(max_dims=2)))
def test_swish_gradient(x):
    assert gradcheck(swish, x)


@given(mst.tensors(shape=(3,)))
def test_swish_second_derivative(x):
    assert gradgradcheck(swish, x)


# --- 2. A custom op with a hand-written backward pass -------------------------
class LogCosh(mg.Function):
    """log(cosh(x)), stable for large |x|; d/dx = tanh(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x) + np.log1p(np.exp(-2.0 * np.abs(x))) - np.log(2.0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        return grad * np.tanh(x)


@given(mst.tensors(shape=mst.shapes(), elements=mst.interval(-20.0, 20.0)))
def test_logcosh_backward(x):
    assert gradcheck(LogCosh.apply, x)


# --- 3. A piecewise function: keep the inputs away from its kinks -------------
def soft_threshold(x, lam=0.5):
    """sign(x) * max(|x| - lam, 0): kinks at +-lam."""
    return mg.where(x.data > 0, 1.0, -1.0) * mg.relu(mg.abs(x) - lam)


@given(mst.tensors(shape=(4,), elements=mst.away_from([-0.5, 0.5], margin=1e-3)))
def test_soft_threshold_gradient(x):
    assert gradcheck(soft_threshold, x)


# --- 4. A hand-derived gradient of a whole loss -------------------------------
def logistic_loss_and_grad(w, X, y):
    """Mean logistic loss and its gradient, derived by hand."""
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return loss, X.T @ (p - y) / len(y)


@settings(max_examples=25)
@given(st.integers(1, 6), st.integers(1, 4), st.data())
def test_hand_derived_gradient_matches_autodiff(m, n, data):
    X = data.draw(mst.arrays((m, n), elements=(-1.0, 1.0)))
    y = data.draw(mst.arrays((m,), elements=st.sampled_from([0.0, 1.0])))
    w = mg.tensor(data.draw(mst.arrays((n,), elements=(-1.0, 1.0))), requires_grad=True)
    # The same loss with microgradnp operations, then compare the gradients.
    z = mg.tensor(X) @ w
    loss = -(y * mg.log_sigmoid(z) + (1 - y) * mg.log_sigmoid(-z)).mean()
    loss.backward()
    expected_loss, expected_grad = logistic_loss_and_grad(w.data, X, y)
    np.testing.assert_allclose(loss.item(), expected_loss, rtol=1e-10)
    np.testing.assert_allclose(w.grad, expected_grad, rtol=1e-9, atol=1e-12)
