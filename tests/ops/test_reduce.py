"""Reductions beyond the property tests: ties at max/min, the softmax family at extreme logits."""

import warnings

import numpy as np

import microgradnp as mg


def test_ties_at_max_and_min_share_the_gradient_as_pytorch_does():
    t = mg.tensor([2.0, 5.0, 5.0, 1.0], requires_grad=True)
    t.max().backward()
    np.testing.assert_array_equal(t.grad, [0, 0.5, 0.5, 0])
    t.grad = None
    t.min().backward()
    np.testing.assert_array_equal(t.grad, [0, 0, 0, 1])


def test_softmax_family_is_stable_at_extreme_logits():
    logits = mg.tensor([[1000.0, -1000.0], [-1000.0, -1000.0]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(mg.log_softmax(logits, axis=1).data, [[0.0, -2000.0], [-np.log(2), -np.log(2)]])
        np.testing.assert_allclose(mg.logsumexp(logits, axis=1).data, [1000.0, -1000.0 + np.log(2)], rtol=1e-15)
        mg.log_softmax(logits, axis=1)[:, 0].sum().backward()
        np.testing.assert_allclose(logits.grad, [[0.0, 0.0], [0.5, -0.5]], atol=1e-300)
