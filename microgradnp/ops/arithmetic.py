"""Arithmetic: + - * / ** and unary minus, with NumPy broadcasting.

Broadcasting is *not* undone here: each VJP returns the gradient in the
output's (broadcast) shape and the engine sums it back to each input's shape
in one place (``engine._sum_to``).
"""

from __future__ import annotations

import numpy as np

from ..engine import _apply
from .registry import OpTest, defop

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "subtract", "multiply", "divide", "power", "negative"]


def _pow_vjp_exponent(ns, g, out, a, b):
    # d(a**b)/db = a**b * log(a).  Where a == 0 the limit of the product is 0
    # for b > 0 (PyTorch's convention); log(1) = 0 gives exactly that without
    # evaluating log(0).
    return g * out * ns.log(ns.where(ns.value(a) == 0, 1.0, a))


ADD = defop(
    "add", np.add,
    lambda ns, g, out, a, b: g,
    lambda ns, g, out, a, b: g,
    formula="a + b;  da = g, db = g",
    test=OpTest("binary", ref=lambda a, b: a + b),
)
SUB = defop(
    "sub", np.subtract,
    lambda ns, g, out, a, b: g,
    lambda ns, g, out, a, b: -g,
    formula="a - b;  da = g, db = -g",
    test=OpTest("binary", ref=lambda a, b: a - b),
)
MUL = defop(
    "mul", np.multiply,
    lambda ns, g, out, a, b: g * b,
    lambda ns, g, out, a, b: g * a,
    formula="a * b;  da = g * b, db = g * a",
    test=OpTest("binary", ref=lambda a, b: a * b),
)
DIV = defop(
    "div", np.true_divide,
    lambda ns, g, out, a, b: g / b,
    lambda ns, g, out, a, b: -g * out / b,
    formula="a / b;  da = g / b, db = -g * a / b^2",
    test=OpTest("binary", ref=lambda a, b: a * (1.0 / b), domain=((-3.0, 3.0), (0.5, 3.0))),
)
def _pow_vjp_base(ns, g, out, a, b):
    if b.__class__ is int or b.__class__ is float:
        # A constant exponent, the common case (x ** 2): fold the constants first.
        return g * (b * a) if b == 2 else g * (b * a ** (b - 1))
    return g * b * a ** (b - 1)


POW = defop(
    "pow", lambda a, b: a ** b,  # the operator: ndarray.__pow__ squares twice as fast as np.power(a, 2)
    _pow_vjp_base,
    _pow_vjp_exponent,
    formula="a ** b;  da = g * b * a^(b-1), db = g * a^b * log(a)",
    test=OpTest("binary", ref=lambda a, b: np.exp(b * np.log(a)), domain=((0.2, 3.0), (-2.0, 2.0)), rtol=1e-10),
)
NEG = defop(
    "neg", np.negative,
    lambda ns, g, out, a: -g,
    formula="-a;  da = -g",
    test=OpTest("unary", ref=lambda a: 0.0 - a),
)


def add(a, b):
    """Elementwise ``a + b`` with broadcasting; either side may be a constant.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.add(mg.tensor([1.0, 2.0]), 1.0)
    tensor([2., 3.])
    """
    return _apply(ADD, a, b)


def sub(a, b):
    """Elementwise ``a - b`` with broadcasting.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.sub(5.0, mg.tensor([1.0, 2.0]))
    tensor([4., 3.])
    """
    return _apply(SUB, a, b)


def mul(a, b):
    """Elementwise ``a * b`` with broadcasting.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.mul(mg.tensor([1.0, 2.0]), mg.tensor([[1.0], [10.0]]))
    tensor([[ 1.,  2.],
            [10., 20.]])
    """
    return _apply(MUL, a, b)


def div(a, b):
    """Elementwise true division ``a / b`` with broadcasting.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.div(mg.tensor([1.0, 3.0]), 2.0)
    tensor([0.5, 1.5])
    """
    return _apply(DIV, a, b)


def pow(a, b):
    """Elementwise power ``a ** b``.

    The gradient with respect to the exponent, ``a**b * log(a)``, is taken as
    0 where ``a == 0`` (PyTorch's convention); it is NaN for negative ``a``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.pow(mg.tensor([2.0, 3.0]), 2)
    tensor([4., 9.])
    """
    return _apply(POW, a, b)


def neg(a):
    """Elementwise ``-a``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.neg(mg.tensor([1.0, -2.0]))
    tensor([-1.,  2.])
    """
    return _apply(NEG, a)


# NumPy's names for the same functions.
subtract, multiply, divide, power, negative = sub, mul, div, pow, neg
