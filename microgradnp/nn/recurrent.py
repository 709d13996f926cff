"""Recurrent cells, PyTorch's ``RNNCell`` and ``GRUCell``: one time step each, loop over a sequence yourself.

Weights follow PyTorch's layout (``weight_ih`` ``(k * hidden, input)``,
``weight_hh`` ``(k * hidden, hidden)``, the gates stacked in PyTorch's order)
and start uniform in ``+-1/sqrt(hidden_size)``, so a ``state_dict`` carries
over.  Every step is made of registry ops: backpropagation through time is
the ordinary backward pass.
"""

from __future__ import annotations

import math

import numpy as np

from ..api import linear, relu, sigmoid, tanh
from ..creation import as_rng, zeros
from .module import Module, Parameter

__all__ = ["RNNCell", "GRUCell"]


class _Cell(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, rng=None, dtype=np.float64):
        super().__init__()
        name = type(self).__name__
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        r, bound, k = as_rng(rng), 1.0 / math.sqrt(hidden_size), self._gates * hidden_size
        self.weight_ih = Parameter(r.uniform(-bound, bound, (k, input_size)).astype(dtype))
        self.weight_hh = Parameter(r.uniform(-bound, bound, (k, hidden_size)).astype(dtype))
        self.bias_ih = Parameter(r.uniform(-bound, bound, k).astype(dtype)) if bias else None
        self.bias_hh = Parameter(r.uniform(-bound, bound, k).astype(dtype)) if bias else None

    def _start(self, x, h):
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{self.path + ' ' if self.path else ''}({type(self).__name__} {self.input_size} -> "
                             f"{self.hidden_size}): input of shape {x.shape} has {x.shape[-1]} features; the cell "
                             f"takes {self.input_size}")
        self._same_dtype(x, self.weight_ih)
        expected = x.shape[:-1] + (self.hidden_size,)
        if h is None:
            return zeros(*expected, dtype=self.weight_ih.dtype)
        if np.shape(h) != expected:  # a batch of 1 would broadcast silently: refused, as PyTorch does
            raise ValueError(f"{self.path + ' ' if self.path else ''}({type(self).__name__} {self.input_size} -> "
                             f"{self.hidden_size}): the hidden state h must have shape {expected} for an input of "
                             f"shape {x.shape}, got {np.shape(h)}")
        self._same_dtype(h, self.weight_ih, "the hidden state h")
        return h

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_Cell):
    """Elman cell: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (``nonlinearity="relu"`` for ReLU).

    ``cell(x, h)`` takes ``x`` ``(batch, input_size)`` (or ``(input_size,)``)
    and the previous state (zeros when omitted) and returns the new state.

    Examples
    --------
    >>> import microgradnp as mg
    >>> cell = mg.nn.RNNCell(3, 5, rng=0)
    >>> h = None
    >>> for x in mg.randn(7, 2, 3, rng=1):      # 7 steps, batch of 2
    ...     h = cell(x, h)
    >>> h.shape
    (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", rng=None,
                 dtype=np.float64):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, rng, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        h = self._start(x, h)
        pre = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        return tanh(pre) if self.nonlinearity == "tanh" else relu(pre)


class GRUCell(_Cell):
    """Gated recurrent unit (Cho et al., 2014), PyTorch's equations and gate order (reset, update, new).

    ``r = s(W_ir x + b_ir + W_hr h + b_hr)``, ``z = s(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> cell = mg.nn.GRUCell(3, 4, rng=0)
    >>> cell(mg.randn(2, 3, rng=1)).shape
    (2, 4)
    """

    _gates = 3

    def forward(self, x, h=None):
        h = self._start(x, h)
        k = self.hidden_size
        gi = linear(x, self.weight_ih, self.bias_ih)
        gh = linear(h, self.weight_hh, self.bias_hh)
        r = sigmoid(gi[..., :k] + gh[..., :k])
        z = sigmoid(gi[..., k:2 * k] + gh[..., k:2 * k])
        n = tanh(gi[..., 2 * k:] + r * gh[..., 2 * k:])
        return (1 - z) * n + z * h
