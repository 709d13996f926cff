"""matmul and the fused linear op: NumPy's shape rules, agreement with the composed form."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.testing import gradcheck


@pytest.mark.parametrize(
    "a_shape,b_shape",
    [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((3,), (5, 3, 4)),
     ((5, 2, 3), (3,)), ((1, 2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2))],
)
def test_matmul_shapes_like_numpy(a_shape, b_shape):
    rng = np.random.default_rng(1)
    a = mg.tensor(rng.standard_normal(a_shape), requires_grad=True)
    b = mg.tensor(rng.standard_normal(b_shape), requires_grad=True)
    assert (a @ b).shape == np.matmul(a.data, b.data).shape
    np.testing.assert_allclose((a @ b).data, np.matmul(a.data, b.data))
    assert gradcheck(mg.matmul, (a, b))


@pytest.mark.parametrize("x_shape", [(3,), (5, 3), (2, 5, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_fused_linear_matches_its_composed_twin(x_shape, with_bias):
    rng = np.random.default_rng(2)
    x1 = mg.tensor(rng.standard_normal(x_shape), requires_grad=True)
    W1 = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b1 = mg.tensor(rng.standard_normal(4), requires_grad=True)
    x2, W2, b2 = (mg.tensor(t.data, requires_grad=True) for t in (x1, W1, b1))
    fused = mg.linear(x1, W1, b1 if with_bias else None)
    composed = x2 @ W2.T + b2 if with_bias else x2 @ W2.T
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-14)
    upstream = rng.standard_normal(fused.shape)
    fused.backward(upstream)
    composed.backward(upstream)
    for a, b in [(x1, x2), (W1, W2)] + ([(b1, b2)] if with_bias else []):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-13)
