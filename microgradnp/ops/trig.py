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
    jvp="elementwise",
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
    jvp="elementwise",
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
    jvp="elementwise",
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
    jvp="elementwise",
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
    jvp="elementwise",
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
    jvp="elementwise",
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
    jvp="elementwise",
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
    jvp="elementwise",
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
    jvp="elementwise",
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


def _arctan2_weight(a, b):
    """``1 / (a^2 + b^2)``, the common factor of both partial derivatives of ``arctan2``."""
    return 1.0 / (a * a + b * b)


@defop(
    forward="arctan2",
    vjp=(lambda ns, g, out, a, b: g * b * _arctan2_weight(a, b),
         lambda ns, g, out, a, b: -g * a * _arctan2_weight(a, b)),
    jvp="elementwise",
    formula="angle of the point (b, a);  da = g * b / (a^2 + b^2), db = -g * a / (a^2 + b^2)",
    # Away from 0 in both inputs: the origin is singular and the angle jumps by 2 pi across
    # the negative b axis (a = 0, b < 0), where finite differences cannot see the derivative.
    test=OpTest("binary", ref=lambda a, b: np.angle(b + 1j * a), kinks=(0.0,), margin=0.1),
    ufunc="arctan2",
)
def arctan2(a, b):
    """Elementwise angle of the point ``(b, a)`` in ``(-pi, pi]`` (NumPy's ``arctan2(y, x)``).

    VJP: ``g * b / (a^2 + b^2)`` for ``a`` and ``-g * a / (a^2 + b^2)`` for
    ``b``; both are infinite (NaN) at the origin.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.arctan2(mg.tensor([1.0]), mg.tensor([-1.0])).item() * 4 / 3
    3.141592653589793
    """
    return (a, b), None


_DEG = float(np.pi / 180.0)


@defop(
    forward="deg2rad",
    vjp=lambda ns, g, out, a: g * _DEG,
    jvp="elementwise",
    formula="a * pi / 180;  da = g * pi / 180",
    test=OpTest("unary", ref=lambda a: a * (np.pi / 180.0), domain=(-360.0, 360.0)),
    method=True, ufunc=("deg2rad", "radians"), aliases="radians",
)
def deg2rad(x):
    """Degrees to radians (NumPy also calls it ``radians``).  VJP: ``g * pi / 180``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.deg2rad(mg.tensor([180.0])).item()
    3.141592653589793
    """
    return (x,), None


@defop(
    forward="rad2deg",
    vjp=lambda ns, g, out, a: g * (1.0 / _DEG),
    jvp="elementwise",
    formula="a * 180 / pi;  da = g * 180 / pi",
    test=OpTest("unary", ref=lambda a: a / (np.pi / 180.0)),
    method=True, ufunc=("rad2deg", "degrees"), aliases="degrees",
)
def rad2deg(x):
    """Radians to degrees (NumPy also calls it ``degrees``).  VJP: ``g * 180 / pi``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.rad2deg(mg.tensor([1.5707963267948966]))
    tensor([90.])
    """
    return (x,), None


_PI = float(np.pi)


def _sinc_vjp(ns, g, out, a):
    # sinc'(x) = (cos(pi x) - sinc(x)) / x, and 0 at x = 0.  Dividing by 1 where x == 0
    # gives exactly (1 - 1) / 1 = 0 there with no 0 / 0 evaluated (so none reaches a
    # second derivative either).  Near 0 the difference cancels: |x| ~ 1e-6 keeps about
    # ten digits of a derivative of size |x|.
    safe = ns.where(ns.value(a) == 0, 1.0, a)
    return g * (ns.cos(a * _PI) - out) / safe


@defop(
    forward="sinc",
    vjp=_sinc_vjp,
    jvp="elementwise",
    formula="sin(pi a) / (pi a), 1 at 0;  da = g * (cos(pi a) - sinc(a)) / a, 0 at 0",
    test=OpTest("unary", ref=lambda a: np.sin(np.pi * a) / (np.pi * a), kinks=(0.0,), margin=1e-2, rtol=1e-10),
    method=True,
)
def sinc(x):
    """The normalised sinc, ``sin(pi x) / (pi x)`` with ``sinc(0) = 1`` (NumPy's and PyTorch's).

    VJP: ``g * (cos(pi x) - sinc(x)) / x``, which is 0 at ``x = 0``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.sinc(mg.tensor([0.0, 1.0, 0.5]))
    tensor([1.00000000e+00, 3.89817183e-17, 6.36619772e-01])
    """
    return (x,), None
