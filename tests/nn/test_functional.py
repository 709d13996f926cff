"""nn.functional: losses (values, reductions, clamping, errors), activations, penalties."""

import warnings

import numpy as np
import pytest
from hypothesis import given

import microgradnp as mg
from microgradnp.nn import functional as F
from microgradnp.testing import gradcheck
from microgradnp.testing import strategies as mst


def test_losses_refuse_silent_broadcasting():
    a = mg.tensor(np.ones((3, 1)), requires_grad=True)
    for fn in (F.mse_loss, F.squared_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match=r"\(3, 1\).*\(3,\)"):
            fn(a * 0.5, np.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(a, np.ones((3, 1)), reduction="avg")


def test_mse_and_squared_loss_values_and_reductions():
    x, t = mg.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True), np.array([[0.0, 2.0], [1.0, 1.0]])
    assert F.mse_loss(x, t).item() == (1 + 0 + 4 + 16) / 4
    assert F.mse_loss(x, t, reduction="sum").item() == 21
    assert F.mse_loss(x, t, reduction="batchmean").item() == 21 / 2
    assert F.mse_loss(x, t, reduction="none").shape == (2, 2)
    loss = F.squared_loss(x, t)
    assert loss.item() == 10.5
    loss.backward()
    np.testing.assert_array_equal(x.grad, x.data - t)  # the 1/2 convention: gradient is the error


def test_binary_cross_entropy_clamps_and_matches_the_logits_version():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = mg.tensor([0.0, 1.0, 0.3], requires_grad=True)
        loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]), reduction="sum")
        assert np.isfinite(loss.item()) and np.isclose(loss.item(), 200 - np.log(0.3))
        loss.backward()
        assert np.all(np.isfinite(p.grad))
        z = mg.tensor([1000.0, -1000.0, 0.5, -3.0], requires_grad=True)
        t = np.array([0.0, 1.0, 1.0, 0.0])
        lz = F.binary_cross_entropy_with_logits(z, t, reduction="none")
        np.testing.assert_allclose(lz.data[:2], [1000.0, 1000.0])
        np.testing.assert_allclose(lz.data[2:], F.binary_cross_entropy(mg.sigmoid(z[2:]), t[2:], reduction="none").data)
        lz.sum().backward()
        np.testing.assert_allclose(z.grad, mg.sigmoid(z.data).data - t)


def test_binary_cross_entropy_gradients_on_the_wrong_side_are_large_and_finite_as_in_pytorch():
    # torch: dL/dp = (p - t) / max(p (1 - p), 1e-12), log clamped at -100.
    p = mg.tensor([1.0, 0.0, 1e-300, 0.25], requires_grad=True)
    t = np.array([0.0, 1.0, 1.0, 1.0])
    loss = F.binary_cross_entropy(p, t, reduction="sum")
    np.testing.assert_allclose(loss.item(), 300.0 - np.log(0.25))
    loss.backward()
    np.testing.assert_allclose(p.grad, [1e12, -1e12, -1e12, -1.0 / 0.25])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_of_a_saturated_sigmoid_has_no_nan(dtype):
    z = mg.tensor(np.array([20.0, -20.0, 40.0], dtype=dtype), requires_grad=True)
    t = np.array([0.0, 1.0, 0.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy(mg.sigmoid(z), t)
        loss.backward()
    assert np.isfinite(loss.item()) and loss.item() > 0
    assert np.all(np.isfinite(z.grad)) and z.grad.dtype == dtype


@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan])
def test_binary_cross_entropy_refuses_values_outside_0_1(bad):
    with pytest.raises(ValueError, match=r"probability in \[0, 1\].*with_logits"):
        F.binary_cross_entropy(mg.tensor([0.5, bad]), np.array([1.0, 0.0]))


def test_binary_cross_entropy_target_gradient():
    p = mg.tensor([0.2, 0.7], requires_grad=True)
    t = mg.tensor([0.0, 1.0], requires_grad=True)
    assert gradcheck(lambda p, t: F.binary_cross_entropy(p, t), [p, t])


def test_cross_entropy_labels_and_probabilities():
    rng = np.random.default_rng(0)
    logits = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    labels = np.array([2, 0, 1, 2])
    ref = -np.mean(np.log(np.exp(logits.data) / np.exp(logits.data).sum(1, keepdims=True))[np.arange(4), labels])
    assert np.isclose(F.cross_entropy(logits, labels).item(), ref)
    assert np.isclose(F.cross_entropy(logits, F.one_hot(labels, 3)).item(), ref)
    assert np.isclose(F.cross_entropy(logits, mg.tensor(labels)).item(), ref)  # whole floats accepted
    assert np.isclose(F.cross_entropy(logits[0], 2).item(), -np.log(np.exp(logits.data[0, 2]) / np.exp(logits.data[0]).sum()))
    assert gradcheck(lambda z: F.cross_entropy(z, labels), logits)
    big = mg.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert F.cross_entropy(big, [0]).item() == 0.0
        assert F.cross_entropy(big, [1]).item() == 2000.0


def test_cross_entropy_errors_are_clear():
    logits = mg.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"\[0, 3\].*\[4\]"):
        F.cross_entropy(logits, [0, 4, 1])
    with pytest.raises(ValueError, match=r"\[-1\]"):
        F.cross_entropy(logits, [0, -1, 1])
    with pytest.raises(ValueError, match="3 examples.*\\(2,\\)"):
        F.cross_entropy(logits, [0, 1])
    with pytest.raises(ValueError, match="whole numbers"):
        F.cross_entropy(logits, [0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 5\)"):
        F.cross_entropy(logits, np.zeros((3, 5)))


def test_cross_entropy_refuses_integer_targets_shaped_like_the_logits():
    # Integers are class labels (N,), never probabilities: an integer one-hot
    # array would otherwise be read as probabilities and silently "work".
    logits = mg.tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match=r"cross_entropy.*\(3, 4\).*floating point.*int64"):
        F.cross_entropy(logits, np.eye(4, dtype=np.int64)[[0, 1, 2]])
    with pytest.raises(TypeError, match="floating point"):
        F.cross_entropy(mg.tensor(np.zeros(4)), np.array([0, 0, 1, 0]))
    with pytest.raises(ValueError, match=r"\(4,\).*\(1, 2\)"):
        F.cross_entropy(mg.tensor(np.zeros(4)), np.array([[0.5, 0.5]]))


@pytest.mark.parametrize("shape", [(3, 4), (4,)])
def test_cross_entropy_probability_targets_get_their_gradient(shape):
    rng = np.random.default_rng(1)
    logits = mg.tensor(rng.standard_normal(shape), requires_grad=True)
    probs = mg.tensor(rng.dirichlet(np.ones(4), 3).reshape(-1)[: np.prod(shape)].reshape(shape), requires_grad=True)
    F.cross_entropy(logits, probs).backward()
    n = shape[0] if len(shape) == 2 else 1
    log_softmax = logits.data - np.log(np.exp(logits.data).sum(-1, keepdims=True))
    np.testing.assert_allclose(probs.grad, -log_softmax / n, rtol=1e-12)  # PyTorch's value
    assert gradcheck(lambda z, t: F.cross_entropy(z, t), [logits, probs])


EMPTY_LOSSES = {
    "mse_loss": lambda z, r: F.mse_loss(z, np.zeros((0, 3)), reduction=r),
    "squared_loss": lambda z, r: F.squared_loss(z, np.zeros((0, 3)), reduction=r),
    "binary_cross_entropy": lambda z, r: F.binary_cross_entropy(z, np.zeros((0, 3)), reduction=r),
    "binary_cross_entropy_with_logits": lambda z, r: F.binary_cross_entropy_with_logits(z, np.zeros((0, 3)), reduction=r),
    "cross_entropy": lambda z, r: F.cross_entropy(z, np.zeros(0, dtype=int), reduction=r),
    "nll_loss": lambda z, r: F.nll_loss(z, np.zeros(0, dtype=int), reduction=r),
}


@pytest.mark.parametrize("name", EMPTY_LOSSES)
def test_losses_on_an_empty_batch(name):
    z = mg.tensor(np.zeros((0, 3)), requires_grad=True)
    for reduction in ("mean", "batchmean"):  # a division by zero: a clear error, not ZeroDivisionError or nan
        with pytest.raises(ValueError, match=rf"{name}: reduction='{reduction}' over an empty batch .*\(0, 3\)"):
            EMPTY_LOSSES[name](z, reduction)
    total = EMPTY_LOSSES[name](z, "sum")
    assert total.item() == 0.0
    total.backward()
    assert z.grad.shape == (0, 3)
    assert EMPTY_LOSSES[name](z, "none").shape[0] == 0


def test_l2_penalty_skips_biases():
    net = mg.nn.MLP([2, 3, 1], rng=0)
    expected = 0.5 / (2 * 10) * sum(np.sum(p.data ** 2) for n, p in net.named_parameters() if "weight" in n)
    assert np.isclose(F.l2_penalty(net, 0.5, 10).item(), expected)
    assert np.isclose(F.l2_penalty([net.layers[0].weight], 1.0, 1).item(), 0.5 * np.sum(net.layers[0].weight.data ** 2))


@given(mst.tensors(shape=(3, 2), elements=mst.interval(-30, 30)))
def test_bce_with_logits_gradient(z):
    t = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    assert gradcheck(lambda z: F.binary_cross_entropy_with_logits(z, t, reduction="batchmean"), z)


def test_activation_functions_are_exported():
    x = mg.tensor([-1.0, 2.0])
    for name in ("sigmoid", "relu", "tanh", "softmax", "log_softmax", "log_sigmoid"):
        assert isinstance(getattr(F, name)(x), mg.Tensor)


def test_one_hot_names_labels_that_are_not_a_vector():
    with pytest.raises(ValueError, match=r"one_hot: labels must be a vector \(N,\), got shape \(2, 1\)"):
        F.one_hot(np.array([[0], [1]]), 3)
