"""Arithmetic (+ - * / ** and unary minus) and comparisons, with NumPy broadcasting.

Broadcasting is *not* undone here: each VJP returns the gradient in the
output's (broadcast) shape and the engine sums it back to each input's shape
in one place (``engine._sum_to``).  Comparisons give boolean results that
never require grad, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from .registry import OpTest, defop


def _pow_vjp_base(ns, g, out, a, b):
    # b * a^(b-1) is taken as 0 where b == 0 (PyTorch's convention: x ** 0 is
    # constant, so its gradient is 0 even at x = 0, where the formula gives 0 * inf).
    if b.__class__ is int or b.__class__ is float:
        # A constant exponent, the common case (x ** 2): fold the constants first.
        if b == 0:
            return g * 0.0
        return g * (b * a) if b == 2 else g * (b * a ** (b - 1))
    # Masked only where a == 0 too: elsewhere b * a^(b-1) is 0 at b = 0 by itself,
    # and its derivative with respect to b (second order) stays exact.
    zero = (ns.value(b) == 0) & (ns.value(a) == 0)
    safe = ns.where(zero, 1.0, a)  # no 0 ** -1 evaluated, so no inf to mask (and none in second order)
    return g * ns.where(zero, 0.0, b * safe ** (b - 1))


def _pow_vjp_exponent(ns, g, out, a, b):
    # d(a**b)/db = a**b * log(a).  Where a == 0 and b >= 0 the limit of the
    # product is 0 (PyTorch's convention); log(1) = 0 gives exactly that without
    # evaluating log(0).  For b < 0 it is inf * log(0) = -inf, as in PyTorch.
    va = ns.value(a)
    return g * out * ns.log(ns.where((va == 0) & (ns.value(b) >= 0), 1.0, a))


@defop(
    forward="add",
    vjp=(lambda ns, g, out, a, b: g, lambda ns, g, out, a, b: g),
    jvp="elementwise",
    formula="a + b;  da = g, db = g",
    test=OpTest("binary", ref=lambda a, b: a + b),
    operators=("__add__", "__radd__"), ufunc="add",
)
def add(a, b):
    """Elementwise ``a + b`` with broadcasting; either side may be a constant.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.add(mg.tensor([1.0, 2.0]), 1.0)
    tensor([2., 3.])
    """
    return (a, b), None


@defop(
    forward="subtract",
    vjp=(lambda ns, g, out, a, b: g, lambda ns, g, out, a, b: -g),
    jvp="elementwise",
    formula="a - b;  da = g, db = -g",
    test=OpTest("binary", ref=lambda a, b: a + (-b)),
    operators=("__sub__", "__rsub__"), ufunc="subtract", aliases="subtract",
)
def sub(a, b):
    """Elementwise ``a - b`` with broadcasting (NumPy's name: ``subtract``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.sub(5.0, mg.tensor([1.0, 2.0]))
    tensor([4., 3.])
    """
    return (a, b), None


@defop(
    forward="multiply",
    vjp=(lambda ns, g, out, a, b: g * b, lambda ns, g, out, a, b: g * a),
    jvp="elementwise",
    formula="a * b;  da = g * b, db = g * a",
    test=OpTest("binary", ref=lambda a, b: a * b),
    operators=("__mul__", "__rmul__"), ufunc="multiply", aliases="multiply",
)
def mul(a, b):
    """Elementwise ``a * b`` with broadcasting (NumPy's name: ``multiply``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.mul(mg.tensor([1.0, 2.0]), mg.tensor([[1.0], [10.0]]))
    tensor([[ 1.,  2.],
            [10., 20.]])
    """
    return (a, b), None


@defop(
    forward="true_divide",
    vjp=(lambda ns, g, out, a, b: g / b, lambda ns, g, out, a, b: -g * out / b),
    jvp="elementwise",
    formula="a / b;  da = g / b, db = -g * a / b^2",
    test=OpTest("binary", ref=lambda a, b: a * (1.0 / b), domain=((-3.0, 3.0), (0.5, 3.0))),
    operators=("__truediv__", "__rtruediv__"), ufunc=("true_divide", "divide"), aliases="divide",
)
def div(a, b):
    """Elementwise true division ``a / b`` with broadcasting (NumPy's name: ``divide``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.div(mg.tensor([1.0, 3.0]), 2.0)
    tensor([0.5, 1.5])
    """
    return (a, b), None


@defop(
    forward=lambda xp, a, b: a ** b,  # the operator: ndarray.__pow__ squares twice as fast as np.power(a, 2)
    vjp=(_pow_vjp_base, _pow_vjp_exponent),
    jvp="elementwise",
    formula="a ** b;  da = g * b * a^(b-1), db = g * a^b * log(a)",
    test=OpTest("binary", ref=lambda a, b: np.exp(b * np.log(a)), domain=((0.2, 3.0), (-2.0, 2.0)), rtol=1e-10),
    operators=("__pow__", "__rpow__"), ufunc="power", aliases="power",
)
def pow(a, b):
    """Elementwise power ``a ** b`` (NumPy's name: ``power``).

    The gradient with respect to the exponent, ``a**b * log(a)``, is taken as
    0 where ``a == 0`` (PyTorch's convention); it is NaN for negative ``a``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.pow(mg.tensor([2.0, 3.0]), 2)
    tensor([4., 9.])
    """
    return (a, b), None


@defop(
    forward="negative",
    vjp=lambda ns, g, out, a: -g,
    jvp="elementwise",
    formula="-a;  da = -g",
    test=OpTest("unary", ref=lambda a: 0.0 - a),
    method="neg", operators="__neg__", ufunc="negative", aliases="negative",
)
def neg(a):
    """Elementwise ``-a`` (NumPy's name: ``negative``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.neg(mg.tensor([1.0, -2.0]))
    tensor([-1.,  2.])
    """
    return (a,), None


@defop(
    forward="positive",
    vjp=lambda ns, g, out, a: g,
    jvp="elementwise",
    formula="+a (a copy);  da = g",
    test=OpTest("unary", ref=lambda a: a.copy()),
    operators="__pos__", ufunc="positive",
)
def positive(a):
    """Elementwise ``+a``: a new tensor with the same values, recorded as a step of its own.

    ``microgradnp.func`` uses it to give each transform its own handle on an
    input that an outer transform differentiates too.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.positive(mg.tensor([1.0, -2.0]))
    tensor([ 1., -2.])
    """
    return (a,), None


def _quotient(ns, out, a, b):
    """``floor(a / b)`` as a constant, from the values: ``a - remainder(a, b) = b * floor(a / b)``."""
    return (ns.value(a) - ns.value(out)) / ns.value(b)


@defop(
    forward="remainder",
    vjp=(lambda ns, g, out, a, b: g, lambda ns, g, out, a, b: -g * _quotient(ns, out, a, b)),
    jvp="elementwise",
    formula="a - b * floor(a / b);  da = g, db = -g * floor(a / b)  (jumps where a / b is an integer)",
    test=OpTest("remainder", ref=lambda a, b: a - b * np.floor(a / b), rtol=1e-9),
    method=True, operators=("__mod__", "__rmod__"), ufunc="remainder", aliases="mod",
)
def remainder(a, b):
    """Elementwise remainder of ``a / b`` with the sign of ``b`` (Python's ``%``, ``np.mod``, ``torch.remainder``).

    VJP: ``g`` for ``a`` and ``-g * floor(a / b)`` for ``b``; the result
    jumps where ``a / b`` is an integer, and there the derivative is the
    one-sided one of the side NumPy computes.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.tensor([-3.5, 3.5]) % 2.0
    tensor([0.5, 1.5])
    """
    return (a, b), None


# Comparisons: boolean results, no gradient (forward only).
# (``2 < t`` needs no reflected operator: Python calls ``t.__gt__(2)``.)
_COMPARISONS = {
    "less": ("<", "__lt__"),
    "less_equal": ("<=", "__le__"),
    "greater": (">", "__gt__"),
    "greater_equal": (">=", "__ge__"),
    "equal": ("==", "__eq__"),
    "not_equal": ("!=", "__ne__"),
}


def _comparison(name: str, symbol: str):
    def compare(a, b):
        return (a, b), None

    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"""Elementwise ``a {symbol} b`` as a boolean Tensor without gradient (``np.{name}``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.{name}(mg.tensor([1.0, 2.0]), 2.0).dtype
    dtype('bool')
    """
    forward = getattr(np, name)
    return defop(
        forward=lambda xp, a, b: getattr(xp, name)(a, b),
        formula=f"a {symbol} b;  no gradient (piecewise constant)",
        batch="elementwise",
        test=OpTest("binary", ref=lambda a, b: forward(a, b)),
        operators=(_COMPARISONS[name][1],), ufunc=name, differentiable=False,
    )(compare)


for _name, (_symbol, _) in _COMPARISONS.items():
    _comparison(_name, _symbol)


# Logical operators on boolean tensors (masks): ``&``, ``|`` and ``~`` are
# NumPy's logical ufuncs here, since tensors are floating point or boolean.
@defop(
    forward="logical_and",
    batch="elementwise",
    formula="a and b;  no gradient (boolean)",
    test=OpTest("binary", ref=lambda a, b: (a != 0) * (b != 0) == 1),
    operators=("__and__", "__rand__"), ufunc="logical_and", differentiable=False,
)
def logical_and(a, b):
    """Elementwise logical and (``a & b`` on boolean tensors), without gradient.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([-1.0, 0.5, 2.0])
    >>> (x > 0) & (x < 1)
    tensor([False,  True, False], dtype=bool)
    """
    return (a, b), None


@defop(
    forward="logical_or",
    batch="elementwise",
    formula="a or b;  no gradient (boolean)",
    test=OpTest("binary", ref=lambda a, b: (a != 0) + (b != 0) > 0),
    operators=("__or__", "__ror__"), ufunc="logical_or", differentiable=False,
)
def logical_or(a, b):
    """Elementwise logical or (``a | b`` on boolean tensors), without gradient.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([-1.0, 0.5, 2.0])
    >>> (x < 0) | (x > 1)
    tensor([ True, False,  True], dtype=bool)
    """
    return (a, b), None


@defop(
    forward="logical_not",
    batch="elementwise",
    formula="not a;  no gradient (boolean)",
    test=OpTest("unary", ref=lambda a: a == 0),
    operators="__invert__", ufunc="logical_not", differentiable=False,
)
def logical_not(a):
    """Elementwise logical not (``~a`` on a boolean tensor), without gradient.

    Examples
    --------
    >>> import microgradnp as mg
    >>> ~(mg.tensor([1.0, -1.0]) > 0)
    tensor([False,  True], dtype=bool)
    """
    return (a,), None
