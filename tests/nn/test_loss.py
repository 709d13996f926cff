"""Loss modules: the functional losses with their reduction held, as PyTorch's classes."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.nn import functional as F

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_each_loss_module_equals_its_function(reduction):
    x, t = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    p, y = 1 / (1 + np.exp(-x)), (t > 0).astype(float)
    labels = np.array([0, 2, 1, 1])
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    cases = [
        (mg.nn.MSELoss, F.mse_loss, x, t),
        (mg.nn.BCELoss, F.binary_cross_entropy, p, y),
        (mg.nn.BCEWithLogitsLoss, F.binary_cross_entropy_with_logits, x, y),
        (mg.nn.CrossEntropyLoss, F.cross_entropy, x, labels),
        (mg.nn.NLLLoss, F.nll_loss, logp, labels),
    ]
    for cls, fn, a, b in cases:
        module = cls(reduction=reduction)
        inp = mg.tensor(a, requires_grad=True)
        out = module(inp, b)
        ref = fn(mg.tensor(a), b, reduction=reduction)
        np.testing.assert_allclose(out.data, ref.data, rtol=1e-14)
        out.sum().backward()
        assert inp.grad is not None and inp.grad.shape == a.shape
        assert f"reduction='{reduction}'" in repr(module)


def test_a_loss_module_refuses_an_unknown_reduction():
    with pytest.raises(ValueError, match="reduction must be"):
        mg.nn.MSELoss(reduction="average")
