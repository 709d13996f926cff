"""Trigonometric and hyperbolic functions and their inverses (NumPy's names).

Each VJP is the textbook derivative written with the VJP vocabulary; the
inverse functions are checked inside their domains (``arcsin``, ``arccos``
and ``arctanh`` on ``(-1, 1)``, ``arccosh`` on ``(1, inf)``), where their
derivatives are finite.
"""

from __future__ import annotations

import numpy as np

from .registry import OpTest, defop


@defop(
    forward="tan",
    vjp=lambda ns, g, out, a: g * (1 + out * out),
    formula="tan(a);  da = g * (1 + tan(a)^2)",
    test=OpTest("unary", ref=lambda a: np.sin(a) / np.cos(a), domain=(-1.4, 1.4), rtol=1e-12),
    method=True, ufunc="tan",
)
def tan(x):
    """Elementwise tangent.  VJP: ``g * (1 + tan(x)^2)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.tan(mg.tensor([0.0]))
    tensor([0.])
    """
    return (x,), None


@defop(
    forward="arcsin",
    vjp=lambda ns, g, out, a: g * (1 - a * a) ** -0.5,
    formula="arcsin(a);  da = g / sqrt(1 - a^2)",
    test=OpTest("unary", ref=lambda a: np.arctan2(a, np.sqrt(1 - a * a)), domain=(-0.9, 0.9), rtol=1e-12),
    method=True, ufunc="arcsin",
)
def arcsin(x):
    """Elementwise inverse sine on ``[-1, 1]``.  VJP: ``g / sqrt(1 - x^2)`` (infinite at +-1).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.arcsin(mg.tensor([1.0])).item() * 2
    3.141592653589793
    """
    return (x,), None


@defop(
    forward="arccos",
    vjp=lambda ns, g, out, a: -g * (1 - a * a) ** -0.5,
    formula="arccos(a);  da = -g / sqrt(1 - a^2)",
    test=OpTest("unary", ref=lambda a: np.arctan2(np.sqrt(1 - a * a), a), domain=(-0.9, 0.9), rtol=1e-12),
    method=True, ufunc="arccos",
)
def arccos(x):
    """Elementwise inverse cosine on ``[-1, 1]``.  VJP: ``-g / sqrt(1 - x^2)`` (infinite at +-1).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.arccos(mg.tensor([1.0]))
    tensor([0.])
    """
    return (x,), None


@defop(
    forward="arctan",
    vjp=lambda ns, g, out, a: g / (1 + a * a),
    formula="arctan(a);  da = g / (1 + a^2)",
    test=OpTest("unary", ref=lambda a: np.arctan2(a, 1.0), domain=(-5.0, 5.0), rtol=1e-12),
    method=True, ufunc="arctan",
)
def arctan(x):
    """Elementwise inverse tangent.  VJP: ``g / (1 + x^2)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.arctan(mg.tensor([1.0])).item() * 4
    3.141592653589793
    """
    return (x,), None


@defop(
    forward="sinh",
    vjp=lambda ns, g, out, a: g * ns.cosh(a),
    formula="sinh(a);  da = g * cosh(a)",
    test=OpTest("unary", ref=lambda a: (np.exp(a) - np.exp(-a)) / 2, rtol=1e-10),
    method=True, ufunc="sinh",
)
def sinh(x):
    """Elementwise hyperbolic sine.  VJP: ``g * cosh(x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.sinh(mg.tensor([0.0]))
    tensor([0.])
    """
    return (x,), None


@defop(
    forward="cosh",
    vjp=lambda ns, g, out, a: g * ns.sinh(a),
    formula="cosh(a);  da = g * sinh(a)",
    test=OpTest("unary", ref=lambda a: (np.exp(a) + np.exp(-a)) / 2, rtol=1e-12),
    method=True, ufunc="cosh",
)
def cosh(x):
    """Elementwise hyperbolic cosine.  VJP: ``g * sinh(x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.cosh(mg.tensor([0.0]))
    tensor([1.])
    """
    return (x,), None


@defop(
    forward="arcsinh",
    vjp=lambda ns, g, out, a: g * (a * a + 1) ** -0.5,
    formula="arcsinh(a);  da = g / sqrt(a^2 + 1)",
    test=OpTest("unary", ref=lambda a: np.sign(a) * np.log(np.abs(a) + np.sqrt(a * a + 1)), rtol=1e-10),
    method=True, ufunc="arcsinh",
)
def arcsinh(x):
    """Elementwise inverse hyperbolic sine.  VJP: ``g / sqrt(x^2 + 1)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.arcsinh(mg.tensor([0.0]))
    tensor([0.])
    """
    return (x,), None


@defop(
    forward="arccosh",
    vjp=lambda ns, g, out, a: g * (a * a - 1) ** -0.5,
    formula="arccosh(a);  da = g / sqrt(a^2 - 1)",
    test=OpTest("unary", ref=lambda a: np.log(a + np.sqrt(a * a - 1)), domain=(1.1, 6.0), rtol=1e-10),
    method=True, ufunc="arccosh",
)
def arccosh(x):
    """Elementwise inverse hyperbolic cosine on ``[1, inf)``.  VJP: ``g / sqrt(x^2 - 1)`` (infinite at 1).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.arccosh(mg.tensor([1.0]))
    tensor([0.])
    """
    return (x,), None


@defop(
    forward="arctanh",
    vjp=lambda ns, g, out, a: g / (1 - a * a),
    formula="arctanh(a);  da = g / (1 - a^2)",
    test=OpTest("unary", ref=lambda a: 0.5 * np.log((1 + a) / (1 - a)), domain=(-0.9, 0.9), rtol=1e-10),
    method=True, ufunc="arctanh",
)
def arctanh(x):
    """Elementwise inverse hyperbolic tangent on ``(-1, 1)``.  VJP: ``g / (1 - x^2)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.arctanh(mg.tensor([0.0]))
    tensor([0.])
    """
    return (x,), None
