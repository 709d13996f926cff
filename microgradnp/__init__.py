"""microgradnp: small, fast, correct reverse-mode automatic differentiation on NumPy.

>>> import microgradnp as mg
>>> w = mg.tensor([0.5, -1.0], requires_grad=True)
>>> x = mg.tensor([2.0, 3.0])
>>> loss = (mg.sigmoid(w @ x) - 1.0) ** 2
>>> loss.backward()
>>> w.grad.shape
(2,)
"""

from __future__ import annotations

from ._mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor, tensor
from .engine import Function, FunctionCtx, backward, grad
from .creation import arange, as_rng, full, ones, ones_like, randn, zeros, zeros_like
from .ops import (
    abs, add, astype, broadcast_to, clip, concatenate, cos, div, divide, exp, expand_dims, flatten,
    getitem, index_put, linear, log, log1p, log_sigmoid, log_softmax, logsumexp, matmul, max, maximum, mean,
    min, minimum, mul, multiply, neg, negative, pow, power, relu, reshape, sigmoid, sin, softmax,
    softplus, sqrt, squeeze, stack, sub, subtract, sum, tanh, transpose, unsqueeze, var, where,
)

from . import data, nn, optim, testing, viz  # noqa: E402  (they build on everything above)

__version__ = "0.1.0"

__all__ = [
    "nn", "optim", "testing", "data", "viz",
    "Tensor", "tensor", "Function", "FunctionCtx", "backward", "grad",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "randn", "as_rng",
    "add", "sub", "mul", "div", "pow", "neg", "subtract", "multiply", "divide", "power", "negative",
    "exp", "log", "log1p", "sqrt", "abs", "sigmoid", "log_sigmoid", "softplus", "tanh", "relu",
    "sin", "cos", "clip", "maximum", "minimum", "where", "astype",
    "sum", "mean", "max", "min", "var", "logsumexp", "softmax", "log_softmax",
    "reshape", "transpose", "squeeze", "expand_dims", "unsqueeze", "flatten", "broadcast_to",
    "getitem", "index_put", "concatenate", "stack", "matmul", "linear",
]
