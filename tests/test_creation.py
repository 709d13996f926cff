"""Factories: zeros, ones, full, arange, randn and their _like forms."""

import numpy as np

import microgradnp as mg


def test_factories():
    assert mg.zeros(2, 3).shape == (2, 3) and mg.zeros((2, 3)).shape == (2, 3)
    assert mg.ones(4).data.sum() == 4
    assert mg.zeros_like(mg.ones((2, 2), dtype=np.float32)).dtype == np.float32
    assert mg.ones_like(np.zeros(3, dtype=int)).dtype == np.float64
    np.testing.assert_array_equal(mg.arange(1, 7, 2).data, [1.0, 3.0, 5.0])
    assert mg.arange(3).dtype == np.float64
    w = mg.randn(3, 4, rng=np.random.default_rng(0), requires_grad=True)
    assert w.shape == (3, 4) and w.requires_grad
    np.testing.assert_array_equal(mg.randn((2,), rng=7).data, mg.randn(2, rng=7).data)
    legacy = mg.randn(2, rng=np.random.RandomState(3)).data
    np.testing.assert_array_equal(legacy, np.random.RandomState(3).standard_normal(2))
    assert mg.full((2,), 3.0).data.tolist() == [3.0, 3.0]
