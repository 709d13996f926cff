"""Initialisers: the seeds' distributions, seeded and never touching NumPy's global state."""

import numpy as np
import pytest

import microgradnp as mg


def test_initialisers_follow_the_seeds():
    rs = np.random.RandomState(104729)
    w = mg.nn.init.normal_fan_in((2, 2), rng=rs)
    np.testing.assert_array_equal(w, np.random.RandomState(104729).normal(0.0, 1 / np.sqrt(2), (2, 2)))
    u = mg.nn.init.uniform(0.12)((25, 401), rng=np.random.RandomState(1))
    np.testing.assert_array_equal(u, np.random.RandomState(1).rand(25, 401) * (2 * 0.12) - 0.12)
    g = mg.nn.init.glorot_uniform((5, 2), rng=0)
    assert np.all(np.abs(g) <= np.sqrt(6) / np.sqrt(7))
    with pytest.raises(ValueError, match="unknown initialiser"):
        mg.nn.init.get("orthogonal")


def test_randomness_never_touches_numpys_global_state():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    mg.nn.MLP([4, 3, 2], rng=None)
    mg.nn.MLP([4, 3, 2], rng=5)
    mg.data.make_moons(50, rng=1)
    mg.randn(3)
    assert np.random.random() == expected


def test_same_seed_same_weights_and_replayed_notebook_draw():
    a = mg.nn.MLP([3, 4, 2], rng=7).state_dict()
    b = mg.nn.MLP([3, 4, 2], rng=np.random.default_rng(7)).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    rs = np.random.RandomState(104729)
    mg.data.gaussian_blobs(rng=rs)
    net = mg.nn.MLP([2, 2, 2], bias=False, init="normal", rng=rs)
    ref = np.random.RandomState(104729)
    ref.multivariate_normal([0, 0], [[1, .75], [.75, 1]], 500)
    ref.multivariate_normal([5, 5], [[1, .75], [.75, 1]], 500)
    np.testing.assert_array_equal(net.layers[0].weight.data, ref.normal(0, 1 / np.sqrt(2), (2, 2)))
    np.testing.assert_array_equal(net.layers[2].weight.data, ref.normal(0, 1 / np.sqrt(2), (2, 2)))
