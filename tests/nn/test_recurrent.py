"""Recurrent cells: PyTorch's equations written out in NumPy, and gradients through time by gradcheck."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.testing import gradcheck

RNG = np.random.default_rng(0)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_rnn_cell_follows_the_elman_equation():
    cell = mg.nn.RNNCell(3, 4, rng=0)
    x, h = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 4))
    p = {k: v for k, v in cell.state_dict().items()}
    expected = np.tanh(x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"])
    np.testing.assert_allclose(cell(mg.tensor(x), mg.tensor(h)).data, expected, rtol=1e-13)
    relu_cell = mg.nn.RNNCell(3, 4, nonlinearity="relu", bias=False, rng=0)
    np.testing.assert_allclose(relu_cell(mg.tensor(x)).data, np.maximum(x @ relu_cell.weight_ih.data.T, 0))


def test_gru_cell_follows_pytorchs_equations():
    cell = mg.nn.GRUCell(3, 4, rng=1)
    x, h = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 4))
    p = cell.state_dict()
    gi, gh = x @ p["weight_ih"].T + p["bias_ih"], h @ p["weight_hh"].T + p["bias_hh"]
    r = _sigmoid(gi[:, :4] + gh[:, :4])
    z = _sigmoid(gi[:, 4:8] + gh[:, 4:8])
    n = np.tanh(gi[:, 8:] + r * gh[:, 8:])
    np.testing.assert_allclose(cell(mg.tensor(x), mg.tensor(h)).data, (1 - z) * n + z * h, rtol=1e-13)
    assert cell.weight_ih.shape == (12, 3) and cell.weight_hh.shape == (12, 4)


@pytest.mark.parametrize("cls", [mg.nn.RNNCell, mg.nn.GRUCell])
def test_backpropagation_through_time(cls):
    cell = cls(2, 3, rng=2)
    xs = mg.tensor(RNG.standard_normal((4, 2)), requires_grad=True)

    def unrolled(xs, w_hh):
        cell.weight_hh = w_hh
        h = None
        for t in range(4):
            h = cell(xs[t], h)
        return h

    w = mg.nn.Parameter(cell.weight_hh.data.copy())
    assert gradcheck(unrolled, (xs, w))


def test_cell_errors():
    with pytest.raises(ValueError, match="input of shape"):
        mg.nn.GRUCell(3, 4)(mg.tensor(np.ones((2, 5))))
    with pytest.raises(ValueError, match="nonlinearity"):
        mg.nn.RNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        mg.nn.GRUCell(3, 0)
