"""Elementwise functions: exp, log, the activations, clip, maximum/minimum, where, astype.

Conventions at kinks follow PyTorch: ``relu'(0) = 0``, ``abs'(0) = 0``,
``clip`` passes the gradient at its bounds, and ``maximum``/``minimum`` share
the gradient evenly (0.5 each) where the two inputs are equal.
"""

from __future__ import annotations

import numpy as np

from .registry import OpTest, defop

_LN2 = float(np.log(2.0))
_LN10 = float(np.log(10.0))

# On the NumPy path the VJPs of sigmoid and tanh work in place on one fresh
# array (their ``numpy_vjp``): the same arithmetic, but a single temporary.
# With three temporaries of about a megabyte alive at once (g * s * (1 - s)
# on a (5000, 25) batch), glibc hands the memory back to the system and
# faults it in again on every call, which made this one line twenty times
# slower than its arithmetic.


def _sigmoid_vjp_numpy(ns, g, out, a):
    # s (1 - s) as s - s * s: an array minus a Python float costs 0.25 us more than
    # an array minus an array (NumPy 2 converts the float on every call; 2-element arrays).
    d = out * out
    if d.__class__ is not ns.ndarray:  # a 0-d input gives a NumPy scalar
        return g * (out - d)
    ns.subtract(out, d, out=d)
    d *= g
    return d


def _tanh_vjp_numpy(ns, g, out, a):
    d = out * out
    if d.__class__ is not ns.ndarray:
        return g * (1 - d)
    ns.subtract(1.0, d, out=d)
    d *= g
    return d


def _clip(xp, a, lo=None, hi=None):
    if lo is None and hi is None:
        return xp.copy(a)
    return xp.clip(a, lo, hi)


def _clip_vjp(ns, g, out, a, lo=None, hi=None):
    # Gradient 1 inside [lo, hi], bounds included (PyTorch's clamp), else 0.
    va = ns.value(a)
    if lo is None and hi is None:
        return g
    if lo is None:
        return ns.masked(g, va <= hi)
    return ns.masked(g, va >= lo if hi is None else (va >= lo) & (va <= hi))


def _share(ns, g, va, vb):
    """``g`` where a wins, half of it on a tie, 0 where b wins: maximum's gradient for a."""
    return ns.masked(g, va > vb) + ns.masked(g * 0.5, va == vb)


@defop(
    forward="exp",
    vjp=lambda ns, g, out, a: g * out,
    jvp="elementwise",
    formula="exp(a);  da = g * exp(a)",
    test=OpTest("unary", ref=lambda a: np.power(np.e, a), rtol=1e-13),
    method=True, ufunc="exp",
)
def exp(x):
    """Elementwise exponential, ``e ** x``.  VJP: ``g * exp(x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.exp(mg.tensor([0.0, 1.0]))
    tensor([1.        , 2.71828183])
    """
    return (x,), None


@defop(
    forward="log",
    vjp=lambda ns, g, out, a: g / a,
    jvp="elementwise",
    formula="log(a);  da = g / a",
    test=OpTest("unary", ref=lambda a: np.log2(a) * np.log(2.0), domain=(0.1, 10.0)),
    method=True, ufunc="log",
)
def log(x):
    """Elementwise natural logarithm.  VJP: ``g / x``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.log(mg.tensor([1.0, 100.0]))
    tensor([0.        , 4.60517019])
    """
    return (x,), None


@defop(
    forward=lambda xp, a: xp.log1p(a),
    vjp=lambda ns, g, out, a: g / (1 + a),
    jvp="elementwise",
    formula="log(1 + a);  da = g / (1 + a)",
    test=OpTest("unary", ref=lambda a: np.log(1.0 + a), domain=(-0.5, 5.0), rtol=1e-9),
    method=True, ufunc="log1p",
)
def log1p(x):
    """Elementwise ``log(1 + x)``, accurate for small ``x``.  VJP: ``g / (1 + x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.log1p(mg.tensor([1e-10])).item()  # log(1 + 1e-10) would give 1.000000082690371e-10
    9.999999999500001e-11
    """
    return (x,), None


@defop(
    forward="expm1",
    vjp=lambda ns, g, out, a: g * (out + 1),
    jvp="elementwise",
    formula="exp(a) - 1;  da = g * exp(a)",
    test=OpTest("unary", ref=lambda a: np.exp(a) - 1.0),
    method=True, ufunc="expm1",
)
def expm1(x):
    """Elementwise ``exp(x) - 1``, accurate for small ``x``.  VJP: ``g * exp(x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.expm1(mg.tensor([1e-10])).item()
    1.00000000005e-10
    """
    return (x,), None


@defop(
    forward="exp2",
    vjp=lambda ns, g, out, a: g * out * _LN2,
    jvp="elementwise",
    formula="2^a;  da = g * 2^a * log(2)",
    test=OpTest("unary", ref=lambda a: np.exp(a * np.log(2.0)), rtol=1e-12),
    method=True, ufunc="exp2",
)
def exp2(x):
    """Elementwise ``2 ** x``.  VJP: ``g * 2^x * log(2)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.exp2(mg.tensor([3.0]))
    tensor([8.])
    """
    return (x,), None


@defop(
    forward="log2",
    vjp=lambda ns, g, out, a: g / (a * _LN2),
    jvp="elementwise",
    formula="log2(a);  da = g / (a log(2))",
    test=OpTest("unary", ref=lambda a: np.log(a) / np.log(2.0), domain=(0.1, 10.0), rtol=1e-12),
    method=True, ufunc="log2",
)
def log2(x):
    """Elementwise base-2 logarithm.  VJP: ``g / (x log 2)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.log2(mg.tensor([8.0]))
    tensor([3.])
    """
    return (x,), None


@defop(
    forward="log10",
    vjp=lambda ns, g, out, a: g / (a * _LN10),
    jvp="elementwise",
    formula="log10(a);  da = g / (a log(10))",
    test=OpTest("unary", ref=lambda a: np.log(a) / np.log(10.0), domain=(0.1, 10.0), rtol=1e-12),
    method=True, ufunc="log10",
)
def log10(x):
    """Elementwise base-10 logarithm.  VJP: ``g / (x log 10)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.log10(mg.tensor([1000.0]))
    tensor([3.])
    """
    return (x,), None


@defop(
    forward="square",
    vjp=lambda ns, g, out, a: g * (2 * a),
    jvp="elementwise",
    formula="a^2;  da = 2 g a",
    test=OpTest("unary", ref=lambda a: a * a),
    method=True, ufunc="square",
)
def square(x):
    """Elementwise square.  VJP: ``2 g x``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.square(mg.tensor([-3.0]))
    tensor([9.])
    """
    return (x,), None


@defop(
    forward="reciprocal",
    vjp=lambda ns, g, out, a: -g * out * out,
    jvp="elementwise",
    formula="1 / a;  da = -g / a^2",
    test=OpTest("unary", ref=lambda a: 1.0 / a, kinks=(0.0,), margin=0.3),
    method=True, ufunc="reciprocal",
)
def reciprocal(x):
    """Elementwise ``1 / x``.  VJP: ``-g / x^2`` (a pole at 0).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.reciprocal(mg.tensor([4.0]))
    tensor([0.25])
    """
    return (x,), None


@defop(
    forward="sqrt",
    vjp=lambda ns, g, out, a: g / (2 * out),
    jvp="elementwise",
    formula="sqrt(a);  da = g / (2 sqrt(a))",
    test=OpTest("unary", ref=lambda a: a ** 0.5, domain=(0.1, 10.0)),
    method=True, ufunc="sqrt",
)
def sqrt(x):
    """Elementwise square root.  VJP: ``g / (2 sqrt(x))`` (infinite at 0).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.sqrt(mg.tensor([4.0, 9.0]))
    tensor([2., 3.])
    """
    return (x,), None


@defop(
    forward="abs",
    vjp=lambda ns, g, out, a: g * ns.sign(ns.value(a)),
    jvp="elementwise",
    formula="|a|;  da = g * sign(a)  (0 at a = 0)",
    test=OpTest("unary", ref=lambda a: np.where(a < 0, -a, a), kinks=(0.0,)),
    method=True, operators="__abs__", ufunc=("absolute", "abs"),
)
def abs(x):
    """Elementwise absolute value.  VJP: ``g * sign(x)``; the subgradient at 0 is 0.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    >>> mg.abs(x).sum().backward()
    >>> x.grad
    array([-1.,  0.,  1.])
    """
    return (x,), None


@defop(
    forward="sigmoid",
    vjp=lambda ns, g, out, a: g * out * (1 - out),
    numpy_vjp=_sigmoid_vjp_numpy,
    jvp="elementwise",
    formula="1 / (1 + exp(-a));  da = g * s * (1 - s)",
    test=OpTest("unary", ref=lambda a: 1.0 / (1.0 + np.exp(-a)), domain=(-8.0, 8.0), rtol=1e-13),
    method=True,
)
def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``.  VJP: ``g * s * (1 - s)``.

    Computed with ``scipy.special.expit``: no overflow and no warning even
    at ``x = -1000``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.sigmoid(mg.tensor([-1000.0, 0.0, 1000.0]))
    tensor([0. , 0.5, 1. ])
    """
    return (x,), None


@defop(
    # log(1 / (1 + e^-x)) = -log(1 + e^-x), computed as -logaddexp(0, -x):
    # exact for large |x| on both sides, no overflow.
    forward=lambda xp, a: -xp.logaddexp(0.0, -a),
    vjp=lambda ns, g, out, a: g * ns.sigmoid(-a),
    jvp="elementwise",
    formula="log(sigmoid(a)) = -log(1 + exp(-a));  da = g * sigmoid(-a)",
    test=OpTest("unary", ref=lambda a: np.log(1.0 / (1.0 + np.exp(-a))), domain=(-8.0, 8.0), rtol=1e-10),
    method=True,
)
def log_sigmoid(x):
    """``log(sigmoid(x)) = -log(1 + exp(-x))``, stable for any ``x``.  VJP: ``g * sigmoid(-x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.log_sigmoid(mg.tensor(-1000.0)).item()
    -1000.0
    """
    return (x,), None


@defop(
    forward=lambda xp, a: xp.logaddexp(0.0, a),
    vjp=lambda ns, g, out, a: g * ns.sigmoid(a),
    jvp="elementwise",
    formula="log(1 + exp(a));  da = g * sigmoid(a)",
    test=OpTest("unary", ref=lambda a: np.log(1.0 + np.exp(a)), domain=(-8.0, 8.0), rtol=1e-10),
    method=True,
)
def softplus(x):
    """``log(1 + exp(x))``, stable for any ``x``.  VJP: ``g * sigmoid(x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.softplus(mg.tensor([0.0, 1000.0]))
    tensor([6.93147181e-01, 1.00000000e+03])
    """
    return (x,), None


@defop(
    forward="tanh",
    vjp=lambda ns, g, out, a: g * (1 - out * out),
    numpy_vjp=_tanh_vjp_numpy,
    jvp="elementwise",
    formula="tanh(a);  da = g * (1 - tanh(a)^2)",
    test=OpTest("unary", ref=lambda a: np.sinh(a) / np.cosh(a), rtol=1e-13),
    method=True, ufunc="tanh",
)
def tanh(x):
    """Elementwise hyperbolic tangent.  VJP: ``g * (1 - tanh(x)^2)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.tanh(mg.tensor([0.0]))
    tensor([0.])
    """
    return (x,), None


@defop(
    forward=lambda xp, a: xp.maximum(a, 0.0),
    vjp=lambda ns, g, out, a: ns.masked(g, ns.value(a) > 0),
    jvp="elementwise",
    formula="max(a, 0);  da = g * [a > 0]  (0 at a = 0)",
    test=OpTest("unary", ref=lambda a: np.where(a > 0, a, 0.0), kinks=(0.0,)),
    method=True,
)
def relu(x):
    """Rectified linear unit ``max(x, 0)``.  VJP: ``g * [x > 0]``; the subgradient at 0 is 0.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    >>> mg.relu(x).sum().backward()
    >>> x.grad
    array([0., 0., 1.])
    """
    return (x,), None


@defop(
    forward="sin",
    vjp=lambda ns, g, out, a: g * ns.cos(a),
    jvp="elementwise",
    formula="sin(a);  da = g * cos(a)",
    test=OpTest("unary", ref=lambda a: np.imag(np.exp(1j * a)), rtol=1e-13),
    method=True, ufunc="sin",
)
def sin(x):
    """Elementwise sine.  VJP: ``g * cos(x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.sin(mg.tensor([0.0]))
    tensor([0.])
    """
    return (x,), None


@defop(
    forward="cos",
    vjp=lambda ns, g, out, a: -g * ns.sin(a),
    jvp="elementwise",
    formula="cos(a);  da = -g * sin(a)",
    test=OpTest("unary", ref=lambda a: np.real(np.exp(1j * a)), rtol=1e-13),
    method=True, ufunc="cos",
)
def cos(x):
    """Elementwise cosine.  VJP: ``-g * sin(x)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.cos(mg.tensor([0.0]))
    tensor([1.])
    """
    return (x,), None


@defop(
    forward=_clip,
    vjp=_clip_vjp,
    jvp="elementwise",
    formula="min(max(a, lo), hi);  da = g * [lo <= a <= hi]",
    test=OpTest(
        "clip",
        ref=lambda a, lo=None, hi=None: np.minimum(np.maximum(a, -np.inf if lo is None else lo), np.inf if hi is None else hi),
    ),
    method=("clip", "clamp"),
)
def clip(x, a_min=None, a_max=None, *, min=None, max=None):
    """Limit values to ``[a_min, a_max]`` (either bound may be ``None``; PyTorch's ``clamp``).

    The bounds may also be given as ``min=`` and ``max=`` (PyTorch's and NumPy
    2.1's spelling).

    VJP: ``g`` where ``a_min <= x <= a_max`` (bounds included, as PyTorch's
    ``clamp``), 0 outside.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([-2.0, 0.5, 2.0], requires_grad=True)
    >>> y = mg.clip(x, -1.0, 1.0)
    >>> y
    tensor([-1. ,  0.5,  1. ], op=clip)
    >>> y.sum().backward()
    >>> x.grad
    array([0., 1., 0.])
    """
    if (min is not None and a_min is not None) or (max is not None and a_max is not None):
        raise TypeError("clip: give each bound once, as a_min/a_max or as min/max")
    return (x,), {"lo": a_min if min is None else min, "hi": a_max if max is None else max}


@defop(
    forward="maximum",
    vjp=(lambda ns, g, out, a, b: _share(ns, g, ns.value(a), ns.value(b)),
         lambda ns, g, out, a, b: _share(ns, g, ns.value(b), ns.value(a))),
    jvp="elementwise",
    formula="max(a, b);  da = g * [a > b], db = g * [b > a]  (0.5 each on ties)",
    test=OpTest("binary", ref=lambda a, b: np.where(a > b, a, b), apart=True),
    method=True, ufunc="maximum",
)
def maximum(a, b):
    """Elementwise maximum of two tensors, with broadcasting.

    VJP: the gradient goes to the larger input; on a tie it is shared
    evenly, 0.5 to each (PyTorch's convention).

    Examples
    --------
    >>> import microgradnp as mg
    >>> a = mg.tensor([1.0, 5.0, 3.0], requires_grad=True)
    >>> mg.maximum(a, 3.0).sum().backward()
    >>> a.grad
    array([0. , 1. , 0.5])
    """
    return (a, b), None


@defop(
    forward="minimum",
    vjp=(lambda ns, g, out, a, b: _share(ns, g, ns.value(b), ns.value(a)),
         lambda ns, g, out, a, b: _share(ns, g, ns.value(a), ns.value(b))),
    jvp="elementwise",
    formula="min(a, b);  da = g * [a < b], db = g * [b < a]  (0.5 each on ties)",
    test=OpTest("binary", ref=lambda a, b: np.where(a < b, a, b), apart=True),
    method=True, ufunc="minimum",
)
def minimum(a, b):
    """Elementwise minimum of two tensors, with broadcasting (ties share the gradient evenly).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.minimum(mg.tensor([1.0, 5.0]), 3.0)
    tensor([1., 3.])
    """
    return (a, b), None


@defop(
    forward=lambda xp, a, b, cond: xp.where(cond, a, b),
    vjp=(lambda ns, g, out, a, b, cond: ns.masked(g, cond), lambda ns, g, out, a, b, cond: ns.masked(g, ~cond),
         # The condition is boolean: no gradient.  (It is an input, not an attribute,
         # so that vmap batches a condition computed from the mapped inputs.)
         lambda ns, g, out, a, b, cond: ns.zeros_like(cond)),
    jvp="elementwise",
    indices=(2,),
    formula="cond ? a : b;  da = g * cond, db = g * (1 - cond)",
    test=OpTest("where", ref=lambda a, b, cond: a * cond + b * ~cond),
)
def where(condition, x, y):
    """Choose elementwise: ``x`` where ``condition`` is true, else ``y`` (broadcasting all three).

    ``condition`` is a boolean array or Tensor and gets no gradient.
    VJP: ``g * condition`` for ``x``, ``g * ~condition`` for ``y``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([-1.0, 2.0])
    >>> mg.where(x > 0, x, 0.0)
    tensor([0., 2.])
    """
    if hasattr(condition, "requires_grad"):  # a Tensor: it stays an input the engine (and vmap) sees
        # (a boolean of any array library: NumPy's bool, torch.bool, array_api_strict.bool)
        boolean = str(condition.dtype).rsplit(".", 1)[-1] == "bool"
        c = condition if boolean else condition != 0
    elif hasattr(type(condition), "__dlpack__") and not isinstance(condition, np.ndarray):
        c = condition  # an array of another library: kept there (the op refuses it beside another library's data)
    else:
        c = np.asarray(condition)
        c = c if c.dtype == np.bool_ else c.astype(bool)
    return (x, y, c), None


def _numpy_name(dtype):
    """NumPy's spelling of a dtype of any array library (``torch.float64`` is ``"float64"``)."""
    if isinstance(dtype, (np.dtype, type, str)) or type(dtype).__module__.split(".")[0] in ("numpy", "microgradnp"):
        return dtype
    return str(dtype).rsplit(".", 1)[-1]  # torch.float64, array_api_strict.float64


def _astype_vjp(ns, g, out, a, dtype):
    if getattr(g.dtype, "kind", None) == "c" and getattr(a.dtype, "kind", None) != "c":
        g = ns.real(g)  # a real input made complex: dL/dx is the real part of the complex gradient
    return ns.astype(g, a.dtype)


@defop(
    forward=lambda xp, a, dtype: xp.astype(a, dtype),
    vjp=_astype_vjp,
    jvp="elementwise",
    formula="a converted to dtype;  da = g converted back (its real part for a real a)",
    test=OpTest("astype", ref=lambda a, dtype: np.asarray(a, dtype=dtype)),
    method=True, makes_complex=True,
)
def astype(x, dtype):
    """Convert to ``dtype``.  VJP: ``g`` converted back.

    To an integer or bool dtype the result is a constant (it does not require
    grad, as in PyTorch): a truncated value has no useful gradient.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> mg.astype(mg.tensor([1.0]), np.float32).dtype
    dtype('float32')
    """
    dtype = np.dtype(_numpy_name(dtype))
    if dtype.kind not in "fc" and hasattr(x, "detach"):
        x = x.detach()  # integer results never require grad
    return (x,), {"dtype": dtype}


@defop(
    forward="sign",
    vjp=lambda ns, g, out, a: ns.zeros_like(ns.value(a)),
    jvp="elementwise",
    formula="-1, 0 or 1;  da = 0  (piecewise constant)",
    test=OpTest("unary", ref=lambda a: (a > 0) * 1.0 - (a < 0), kinks=(0.0,)),
    method=True, ufunc="sign",
)
def sign(x):
    """Elementwise sign: -1, 0 or 1 (NaN stays NaN).

    Its gradient is zero everywhere, as in PyTorch: the result still
    requires grad when ``x`` does, so it can appear in a loss, but nothing
    flows back through it.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.sign(mg.tensor([-2.0, 0.0, 3.0]))
    tensor([-1.,  0.,  1.])
    """
    return (x,), None


@defop(
    forward="hypot",
    vjp=(lambda ns, g, out, a, b: g * a / out, lambda ns, g, out, a, b: g * b / out),
    jvp="elementwise",
    formula="sqrt(a^2 + b^2);  da = g * a / out, db = g * b / out",
    # Kept away from 0 in both inputs: at the origin hypot has a cone point (no derivative).
    test=OpTest("binary", ref=lambda a, b: np.abs(a + 1j * b), kinks=(0.0,), margin=0.1),
    ufunc="hypot",
)
def hypot(a, b):
    """Elementwise ``sqrt(a^2 + b^2)`` without overflow for huge inputs.

    VJP: ``g * a / hypot(a, b)`` and ``g * b / hypot(a, b)`` (NaN at the origin, a cone point).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.hypot(mg.tensor([3.0, 3e200]), mg.tensor([4.0, 4e200]))
    tensor([5.e+000, 5.e+200])
    """
    return (a, b), None


@defop(
    forward="logaddexp",
    vjp=(lambda ns, g, out, a, b: g * ns.exp(a - out), lambda ns, g, out, a, b: g * ns.exp(b - out)),
    jvp="elementwise",
    formula="log(exp(a) + exp(b));  da = g * exp(a - out), db = g * exp(b - out)",
    test=OpTest("binary", ref=lambda a, b: np.log(np.exp(a) + np.exp(b)), rtol=1e-10),
    ufunc="logaddexp",
)
def logaddexp(a, b):
    """Elementwise ``log(exp(a) + exp(b))`` without overflow (exact for inputs of +-1000).

    VJP: ``g * exp(a - out)`` and ``g * exp(b - out)``: the two softmax weights.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.logaddexp(mg.tensor([1000.0]), mg.tensor([1000.0])).item()  # 1000 + log 2
    1000.6931471805599
    """
    return (a, b), None


@defop(
    forward="logaddexp2",
    vjp=(lambda ns, g, out, a, b: g * ns.exp((a - out) * _LN2), lambda ns, g, out, a, b: g * ns.exp((b - out) * _LN2)),
    jvp="elementwise",
    formula="log2(2^a + 2^b);  da = g * 2^(a - out), db = g * 2^(b - out)",
    test=OpTest("binary", ref=lambda a, b: np.log2(np.exp2(a) + np.exp2(b)), rtol=1e-10),
    ufunc="logaddexp2",
)
def logaddexp2(a, b):
    """Elementwise ``log2(2^a + 2^b)`` without overflow.

    VJP: ``g * 2^(a - out)`` and ``g * 2^(b - out)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.logaddexp2(mg.tensor([3.0]), mg.tensor([3.0]))
    tensor([4.])
    """
    return (a, b), None


def _first_wins(va, vb):
    """fmax's mask for ``a``: 1 where ``a >= b`` or ``b`` is NaN (the number is returned,
    so it gets the gradient).  Ties go wholly to ``a``, as in PyTorch's ``fmax``."""
    return (va >= vb) | (vb != vb)


@defop(
    forward="fmax",
    vjp=(lambda ns, g, out, a, b: ns.masked(g, _first_wins(ns.value(a), ns.value(b))),
         lambda ns, g, out, a, b: ns.masked(g, ~_first_wins(ns.value(a), ns.value(b)))),
    jvp="elementwise",
    formula="max(a, b) ignoring NaN;  da = g * [a >= b or b is NaN], db = g - da",
    test=OpTest("binary", ref=lambda a, b: np.where(a > b, a, b), apart=True),
    ufunc="fmax",
)
def fmax(a, b):
    """Elementwise maximum that ignores NaN: where one input is NaN, the other is returned.

    VJP: the gradient goes to the returned input: to ``a`` where ``a >= b``
    or ``b`` is NaN, else to ``b``.  Unlike :func:`maximum`, a tie gives
    ``a`` the whole gradient; that is PyTorch's ``fmax`` convention.

    Examples
    --------
    >>> import math
    >>> import microgradnp as mg
    >>> mg.fmax(mg.tensor([1.0, math.nan]), mg.tensor([2.0, 5.0]))
    tensor([2., 5.])
    """
    return (a, b), None


@defop(
    forward="fmin",
    vjp=(lambda ns, g, out, a, b: ns.masked(g, _first_wins(-ns.value(a), -ns.value(b))),
         lambda ns, g, out, a, b: ns.masked(g, ~_first_wins(-ns.value(a), -ns.value(b)))),
    jvp="elementwise",
    formula="min(a, b) ignoring NaN;  da = g * [a <= b or b is NaN], db = g - da",
    test=OpTest("binary", ref=lambda a, b: np.where(a < b, a, b), apart=True),
    ufunc="fmin",
)
def fmin(a, b):
    """Elementwise minimum that ignores NaN (see :func:`fmax`).

    Examples
    --------
    >>> import math
    >>> import microgradnp as mg
    >>> mg.fmin(mg.tensor([1.0, math.nan]), mg.tensor([2.0, 5.0]))
    tensor([1., 5.])
    """
    return (a, b), None


_INF = float("inf")


@defop(
    forward=lambda xp, a, nan=0.0, posinf=None, neginf=None: xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf),
    # A replaced element is a constant: no gradient.  (NaN fails both comparisons.)
    vjp=lambda ns, g, out, a, **attrs: ns.masked(g, (ns.value(a) < _INF) & (ns.value(a) > -_INF)),
    jvp="elementwise",
    formula="NaN and +-inf replaced by numbers;  da = g where a is finite, else 0",
    test=OpTest("unary", ref=lambda a, nan=0.0, posinf=None, neginf=None: a + 0.0),
    method=True,
)
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """Replace NaN by ``nan`` and infinities by ``posinf``/``neginf`` (default: the largest finite numbers).

    VJP: ``g`` where ``x`` is finite and 0 at the replaced elements (they are
    constants), as in PyTorch.

    Examples
    --------
    >>> import math
    >>> import microgradnp as mg
    >>> x = mg.tensor([math.nan, math.inf, 2.0], requires_grad=True)
    >>> y = mg.nan_to_num(x, posinf=9.0)
    >>> y
    tensor([0., 9., 2.], op=nan_to_num)
    >>> y.sum().backward()
    >>> x.grad
    array([0., 0., 1.])
    """
    return (x,), {"nan": float(nan), "posinf": posinf, "neginf": neginf}
