"""optim.minimize, the bridge to scipy.optimize.minimize."""

import numpy as np
import pytest

import microgradnp as mg

# A positive definite quadratic, 1/2 w A w^T - w . B, minimised at w = A^-1 B.
A = np.array([[3.0, 0.5], [0.5, 1.0]])
B = np.array([1.0, -2.0])


@pytest.mark.parametrize("method", ["CG", "L-BFGS-B", "BFGS"])
def test_minimize_finds_the_quadratic_minimum(method):
    w = mg.tensor([[1.0, 1.0]], requires_grad=True)  # a 2-D parameter: flattened and restored
    b = mg.tensor([0.0], requires_grad=True)
    seen = []
    result = mg.optim.minimize(
        lambda: 0.5 * ((w @ mg.tensor(A)) * w).sum() - (w * mg.tensor(B)).sum() + (b - 3.0) ** 2,
        [w, b], method=method, callback=lambda it, loss: seen.append((it, loss)), tol=1e-12,
    )
    assert result.success
    np.testing.assert_allclose(w.data.ravel(), np.linalg.solve(A, B), rtol=1e-6)
    np.testing.assert_allclose(b.data, [3.0], rtol=1e-6)
    assert w.shape == (1, 2) and seen and seen[0][0] == 1 and seen[-1][0] == len(seen)
    assert seen[-1][1] <= seen[0][1]


def test_minimize_respects_maxiter_and_returns_scipys_result():
    import scipy.optimize

    w = mg.tensor(np.full(5, 3.0), requires_grad=True)
    result = mg.optim.minimize(lambda: (mg.cos(w) + 0.1 * w * w).sum(), [w], method="CG", maxiter=2)
    assert isinstance(result, scipy.optimize.OptimizeResult) and result.nit <= 2
    np.testing.assert_array_equal(w.data, result.x)
    with pytest.raises(ValueError, match="one-element"):
        mg.optim.minimize(lambda: w * 2, [w])
