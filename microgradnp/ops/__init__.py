"""The op registry and the differentiable functions built on it.

Each submodule groups ops of one kind; each op is one :func:`defop` entry
(forward, VJP, formula, test metadata) plus a public function of one line.
"""

from __future__ import annotations

from .registry import NUMPY_NS, REGISTRY, TENSOR_NS, Op, OpTest, defop
from .arithmetic import add, sub, mul, div, pow, neg, subtract, multiply, divide, power, negative
from .elementwise import (
    exp, log, log1p, sqrt, abs, sigmoid, log_sigmoid, softplus, tanh, relu, sin, cos, clip,
    maximum, minimum, where, astype,
)
from .reduce import sum, mean, max, min, var, logsumexp, softmax, log_softmax
from .shape import (
    reshape, transpose, squeeze, expand_dims, unsqueeze, flatten, broadcast_to, getitem, index_put,
    concatenate, stack,
)
from .linalg import linear, matmul
from . import loss  # noqa: F401  (registers the fused losses; nn.functional is their public face)

from ..tensor import _value

import numpy as _np


# The namespace the VJPs see when the backward pass is recorded
# (create_graph=True): the same names as NUMPY_NS, but differentiable.
TENSOR_NS.value = _value
TENSOR_NS.exp = exp
TENSOR_NS.log = log
TENSOR_NS.sin = sin
TENSOR_NS.cos = cos
TENSOR_NS.sigmoid = sigmoid
TENSOR_NS.sign = lambda x: _np.sign(_value(x))  # piecewise constant: no gradient to record
TENSOR_NS.where = where
TENSOR_NS.expand_dims = expand_dims
TENSOR_NS.broadcast_to = broadcast_to
TENSOR_NS.index_put = index_put

assert set(vars(TENSOR_NS)) == set(vars(NUMPY_NS)), "the two VJP namespaces must offer the same names"

__all__ = [
    "REGISTRY", "Op", "OpTest", "defop", "NUMPY_NS", "TENSOR_NS",
    "add", "sub", "mul", "div", "pow", "neg", "subtract", "multiply", "divide", "power", "negative",
    "exp", "log", "log1p", "sqrt", "abs", "sigmoid", "log_sigmoid", "softplus", "tanh", "relu", "sin", "cos",
    "clip", "maximum", "minimum", "where", "astype",
    "sum", "mean", "max", "min", "var", "logsumexp", "softmax", "log_softmax",
    "reshape", "transpose", "squeeze", "expand_dims", "unsqueeze", "flatten", "broadcast_to", "getitem",
    "index_put", "concatenate", "stack",
    "matmul", "linear",
]
