"""What every backend's test compares with: the gradient of the full batch on one process."""

import numpy as np

import microgradnp as mg
from microgradnp.nn import functional as F


def gradients(X, Y) -> list:
    """The mean squared-loss gradient of the 3-4-2 tanh MLP (seed 0) over the whole of ``X``, ``Y``."""
    model = mg.nn.MLP([3, 4, 2], activation="tanh", rng=0)
    grads = mg.grad(F.squared_loss(model(X), Y) / len(X), list(model.parameters()))
    return [np.asarray(g.data if isinstance(g, mg.Tensor) else g) for g in grads]


def assert_equal_to_full_batch(got: list, X, Y) -> None:
    """``got``, one process's parameter gradients, equal the full batch's to 1e-14 (relative)."""
    for g, e in zip(got, gradients(X, Y), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-14, atol=1e-14 * np.abs(e).max())
