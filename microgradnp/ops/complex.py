"""Complex numbers: the ops that make and take apart complex values, and the rules of the others on them.

The convention is PyTorch's: for a real loss ``L`` of a complex ``z = x + iy``,
``z.grad`` is ``dL/dx + i dL/dy`` (twice the conjugate Wirtinger derivative
``dL/dz̄``), the direction of steepest ascent, so ``z -= lr * z.grad`` is
gradient descent.  An op ``w = f(z)`` then passes back

    grad_z = conj(df/dz) * grad_w + (df/dz̄) * conj(grad_w)

which for a holomorphic ``f`` (``df/dz̄ = 0``) is ``grad_w * conj(f'(z))``.
The real rules of the ops listed in :data:`HOLOMORPHIC` compute
``g * f'(z)`` with holomorphic operations alone (products, quotients,
``exp``, transposes, sums: no ``abs``, no comparison), so the complex rule is
that rule with its upstream gradient and its result conjugated:
``conj(rule(conj(g)))``.  A real input of such an op (``x * z`` with ``x``
real) gets the real part: ``dL/dx = Re(grad_x)``.  Each op is recorded with a
*complex twin* of itself (:func:`twin_of`) whose VJPs are so wrapped; the
real ops and their speed are untouched, and the engine looks for complex
inputs only once a complex array exists (``_mode.complex_``).

The ops that are not holomorphic have their own rules: ``real``, ``imag``,
``conj``, ``angle`` (defined here, written in the convention above, right
for real inputs too) and ``abs`` of a complex input (``grad_z = grad_w * z /
|z|``).  ``mg.complex(re, im)`` is ``re + im * 1j``, made of these ops.  Ops that order their inputs (``max``,
``sort``, comparisons, ``relu``, ``clip``) have no complex meaning and
refuse complex input by name; the others not listed refuse it as not
supported yet.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .registry import REGISTRY, Op, OpTest, defop

__all__ = ["HOLOMORPHIC", "ORDERED", "OWN_RULES", "NO_GRADIENT", "twin_of", "is_complex"]


def is_complex(x) -> bool:
    """Whether ``x`` (a Tensor, an array, a number) holds complex values."""
    d = getattr(x, "_data", x)
    dtype = getattr(d, "dtype", None)
    if dtype is not None:
        return getattr(dtype, "kind", None) == "c"
    if isinstance(d, (list, tuple)):  # an array-like constant ([1j]): what the op will make of it
        try:
            return np.asarray(d).dtype.kind == "c"
        except (TypeError, ValueError):
            return False
    return isinstance(d, builtins.complex)


def _holds_complex(x) -> bool:
    """(For the rules and forwards, which call no NumPy) whether an array or Tensor of any library is complex."""
    dtype = getattr(x, "dtype", None)
    kind = getattr(dtype, "kind", None)
    return kind == "c" if kind is not None else "complex" in str(dtype)  # torch.complex128, ...


# ---------------------------------------------------------------------------
# The ops that make and take apart complex values
# ---------------------------------------------------------------------------


def _imag_vjp(ns, g, out, a):
    # L = Im(z) = y: dL/dy = g, so grad_z = i g; a real input's imaginary part is 0 whatever it is.
    return g * 1j if _holds_complex(a) else ns.zeros_like(g)


def _angle_vjp(ns, g, out, a):
    # angle = atan2(y, x): dL/dx = -y g / |z|^2, dL/dy = x g / |z|^2, so grad_z = i z g / |z|^2 = i g / conj(z).
    if not _holds_complex(a):
        return ns.zeros_like(g)  # 0 or pi: constant away from 0
    zero = a == 0  # no direction at 0: a zero gradient there, as PyTorch's
    return ns.where(zero, 0.0, g * 1j / ns.conj(ns.where(zero, 1.0, a)))


def _angle_jvp(ns, ts, out, a):
    t = ts[0]
    if t is None:
        return None
    if not _holds_complex(a):
        return ns.zeros_like(out)
    zero = a == 0
    return ns.where(zero, 0.0, ns.imag(t / ns.where(zero, 1.0, a)))


def _real_parts(xp, a):
    return xp.real(a) if _holds_complex(a) else xp.copy(a)


def _imag_parts(xp, a):
    return xp.imag(a) if _holds_complex(a) else xp.zeros_like(a)


def _angles(xp, a):
    return xp.angle(a)


def _conjugates(xp, a):
    return xp.conj(a) if _holds_complex(a) else a


@defop(
    forward=_real_parts,
    vjp=lambda ns, g, out, a: g,  # L = Re(z) = x: grad_z = g (+ 0i), made complex like z by the engine
    jvp="linear",
    batch="elementwise",
    formula="Re(a);  da = g",
    test=OpTest("unary", ref=lambda a: a * 1.0),
    properties="real",
)
def real(x):
    """The real part of each element (a real tensor; ``x`` itself, copied, for a real ``x``).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> mg.real(mg.tensor(np.array([1 + 2j, 3 - 1j])))
    tensor([1., 3.])
    """
    return (x,), None


@defop(
    forward=_imag_parts,
    vjp=_imag_vjp,
    jvp="linear",
    batch="elementwise",
    formula="Im(a);  da = i g  (0 for a real a)",
    test=OpTest("unary", ref=lambda a: a * 0.0),
    properties="imag",
)
def imag(x):
    """The imaginary part of each element (a real tensor; zeros for a real ``x``).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> mg.imag(mg.tensor(np.array([1 + 2j, 3 - 1j])))
    tensor([ 2., -1.])
    """
    return (x,), None


@defop(
    forward=_conjugates,
    vjp=lambda ns, g, out, a: ns.conj(g),
    jvp="linear",
    batch="elementwise",
    formula="conj(a);  da = conj(g)",
    test=OpTest("unary", ref=lambda a: a * 1.0),
    method=("conj", "conjugate"), ufunc="conjugate", aliases=("conjugate",),
)
def conj(x):
    """The complex conjugate of each element (``x`` itself, copied, for a real ``x``).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> mg.conj(mg.tensor(np.array([1 + 2j])))
    tensor([1.-2.j], dtype=complex128)
    """
    return (x,), None


@defop(
    forward=_angles,
    vjp=_angle_vjp,
    jvp=_angle_jvp,
    batch="elementwise",
    formula="atan2(Im a, Re a);  da = i g / conj(a)  (0 for a real a, and at 0)",
    test=OpTest("unary", ref=lambda a: np.where(a < 0, np.pi, 0.0), kinks=(0.0,)),
)
def angle(x):
    """The argument of each element, in ``(-pi, pi]`` (``0`` or ``pi`` for a real ``x``).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> mg.angle(mg.tensor(np.array([1j, -1.0 + 0j]))) / np.pi
    tensor([0.5, 1. ])
    """
    return (x,), None


# ---------------------------------------------------------------------------
# The other ops on complex inputs
# ---------------------------------------------------------------------------

#: Ops whose rules are written with holomorphic operations alone: on complex inputs their VJPs are the real
#: ones conjugated (see the module docstring).  Each is checked on complex inputs by tests/test_complex.py.
HOLOMORPHIC = (
    "add", "sub", "mul", "div", "neg", "positive", "square", "reciprocal", "exp", "log", "sin", "cos", "tan",
    "sinh", "cosh", "tanh", "sqrt", "matmul", "dot", "inner", "outer", "tensordot", "einsum", "kron", "sum",
    "mean", "cumsum", "reshape", "ravel", "flatten", "transpose", "swapaxes", "moveaxis", "expand_dims",
    "squeeze", "broadcast_to", "getitem", "index_put", "concatenate", "stack", "flip", "roll", "tile", "trace",
    "diagonal", "where", "pow", "log1p", "expm1", "exp2", "log2", "log10", "arcsin", "arccos", "arccosh",
    "arctanh", "sinc", "prod", "cumprod", "nansum", "nanmean", "average", "diff", "tril", "triu", "diag", "take",
    "take_along_axis", "repeat", "pad", "rot90", "select", "embedding", "linear", "inv", "solve", "det",
    "arctan", "arcsinh",
)

#: Ops that order their inputs: no meaning for complex numbers.
ORDERED = (
    "max", "min", "maximum", "minimum", "fmax", "fmin", "sort", "argsort", "argmax", "argmin", "clip", "relu",
    "greater", "greater_equal", "less", "less_equal", "ptp", "remainder",
)

#: The ops whose own rules hold on complex inputs (recorded as they are), with every op outside the registry:
#: a user's ``mg.Function``, whose backward is written in the convention of the module docstring.
OWN_RULES = ("real", "imag", "conj", "angle", "fftn", "ifftn", "irfftn",  # (the transforms: ops/fft.py)
             "var", "std",  # (mean |a - mean|^2: the gradient 2 (a - mean) / (n - ddof) as written)
             "cholesky", "eigh", "svd", "qr", "pinv", "lstsq_solution", "eig", "slogdet",
             "astype",  # (its rule takes the real part for a real input made complex)
             "vector_norm")  # (sign(z) = z / |z|: the gradient g z |z|^(p-2) / norm^(p-1) as written)  # (written with conjugate transposes: ops/linalg.py)

#: Ops of real input only, though they make complex values: a complex input is refused by name.
REAL_INPUT = {"rfftn": "rfftn transforms real values; use fftn for complex ones (or mg.real(z) first where that "
                       "is what you mean)"}

#: Ops without a gradient that mean the same for complex values (equality, truth: nonzero): run as they are.
NO_GRADIENT = ("equal", "not_equal", "all", "any", "logical_and", "logical_or", "logical_not")


def _abs_vjp(ns, g, out, a):
    # |z|: dL/dx = g x / |z|, dL/dy = g y / |z|, so grad_z = g z / |z| (0 at z = 0, as PyTorch).
    return g * (a / ns.where(out == 0, 1.0, out))


def _abs_jvp(ns, ts, out, a):
    t = ts[0]
    return None if t is None else ns.real(ns.conj(a) * t) / ns.where(out == 0, 1.0, out)


def _sign_parts(ns, a):
    size = ns.abs(a)
    zero = ns.value(size) == 0
    return zero, ns.where(zero, 0.0, a / ns.where(zero, 1.0, size)), ns.where(zero, 1.0, size)


def _sign_vjp(ns, g, out, a):
    # w = z / |z|: dw/dz = 1 / (2|z|), dw/dconj(z) = -w^2 / (2|z|), so grad_z = (g - w^2 conj(g)) / (2|z|)
    zero, w, size = _sign_parts(ns, a)
    return ns.where(zero, 0.0, (g - w * w * ns.conj(g)) / (2.0 * size))


def _sign_jvp(ns, ts, out, a):
    t = ts[0]
    if t is None:
        return None
    zero, w, size = _sign_parts(ns, a)
    return ns.where(zero, 0.0, (t - w * w * ns.conj(t)) / (2.0 * size))


def _finite_parts(ns, a):
    """Where the real and where the imaginary parts of ``a`` are finite numbers (NumPy's nan_to_num keeps those)."""
    re, im = ns.real(ns.value(a)), ns.imag(ns.value(a))
    return (re < math.inf) & (re > -math.inf), (im < math.inf) & (im > -math.inf)


def _nan_to_num_vjp(ns, g, out, a, **attrs):
    keep_re, keep_im = _finite_parts(ns, a)
    return ns.masked(ns.real(g), keep_re) + ns.masked(ns.imag(g), keep_im) * 1j


def _nan_to_num_jvp(ns, ts, out, a, **attrs):
    t = ts[0]
    return None if t is None else _nan_to_num_vjp(ns, t, out, a)  # (the same projection, on the tangent)


def _vdot_vjp_a(ns, g, out, a, b, **attrs):
    return ns.reshape(b, a.shape) * ns.conj(g)


def _vdot_vjp_b(ns, g, out, a, b, **attrs):
    return ns.reshape(a, b.shape) * g


def _vdot_jvp(ns, ts, out, a, b, **attrs):
    ta, tb = ts
    res = None if ta is None else ns.sum(ns.conj(ta) * ns.reshape(b, a.shape))
    if tb is not None:
        term = ns.sum(ns.conj(ns.reshape(a, b.shape)) * tb)
        res = term if res is None else res + term
    return res


_TWINS: dict = {}


def twin_of(op: Op) -> Op:
    """The op recorded for complex inputs of ``op``: its complex twin, or ``op`` itself where its own rules
    hold; raises ``TypeError`` naming the op where it has no complex meaning or is not supported yet."""
    twin = _TWINS.get(op)
    if twin is not None:
        return twin
    name = op.name
    if name in OWN_RULES or name in NO_GRADIENT or REGISTRY.get(name) is not op:  # (a user's mg.Function: its rule is the user's)
        twin = op
    elif name == "abs":
        twin = _twin(op, vjps=(_abs_vjp,), jvp=_abs_jvp)
    elif name == "sign":  # NumPy 2's (and torch.sgn's) z / |z|, 0 at 0: not piecewise constant on complex values
        twin = _twin(op, vjps=(_sign_vjp,), jvp=_sign_jvp)
    elif name == "nan_to_num":  # NumPy replaces the real and the imaginary parts apart
        twin = _twin(op, vjps=(_nan_to_num_vjp,), jvp=_nan_to_num_jvp)
    elif name == "vdot":  # sum(conj(a) b): holomorphic in b, conjugate-holomorphic in a; batched by a loop
        twin = Op(op.name, op.forward, vjps=(_vdot_vjp_a, _vdot_vjp_b), jvp=_vdot_jvp,
                  formula="sum(conj(a) b);  da = b conj(g), db = a g", test=op.test, adapter=op.adapter, public=False)
    elif name in HOLOMORPHIC and REGISTRY.get(name) is op:
        twin = _twin(op, vjps=tuple(_conjugated(r, i) for i, r in enumerate(op.vjps)) if op.vjps else None,
                     vjp_all=_conjugated_all(op.vjp_all) if op.vjp_all else None, jvp=op.jvp)
    elif name in REAL_INPUT:
        raise TypeError(f"{name}: the input is complex; {REAL_INPUT[name]}")
    elif name in ORDERED:
        raise TypeError(f"{name}: complex numbers are not ordered, so {name} has no meaning for complex input; "
                        f"apply it to mg.real(z), mg.imag(z) or mg.abs(z)")
    else:
        raise TypeError(f"{name}: not supported for complex input yet (the ops that are: mg.ops.complex."
                        f"HOLOMORPHIC, abs, real, imag, conj, angle); apply it to mg.real(z) and "
                        "mg.imag(z) separately where that is what you mean")
    _TWINS[op] = twin
    return twin


def _twin(op: Op, vjps=None, vjp_all=None, jvp=None) -> Op:
    twin = Op(op.name, op.forward, vjps=vjps, vjp_all=vjp_all, jvp=jvp, batch=op.batch,
              formula=op.formula + "  (complex: the VJP conjugated)", test=op.test, adapter=op.adapter,
              public=False, unpack=op.unpack, indices=op.indices)
    if jvp is op.jvp and jvp is not None:
        twin.jvp_rule = op.jvp_rule  # a holomorphic op's tangent rule holds as it is: df = f'(z) dz
    # (without one, the twin's own conjugated VJP is transposed: ops/rules.py, transposed_jvp)
    return twin


def _conjugated(rule, i: int):
    def vjp(ns, g, out, *inputs, **attrs):
        gi = ns.conj(rule(ns, ns.conj(g), out, *inputs, **attrs))
        return gi if is_complex(inputs[i]) else ns.real(gi)  # a real input: the real part (dL/dx)

    return vjp


def _conjugated_all(rule):
    def vjp_all(ns, g, out, inputs, attrs, needs):
        gis = rule(ns, ns.conj(g), out, inputs, attrs, needs)
        return [None if gi is None else ns.conj(gi) if is_complex(x) else ns.real(ns.conj(gi))
                for gi, x in zip(gis, inputs)]

    return vjp_all
