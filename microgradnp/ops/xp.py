"""The array namespace on NumPy: every array function a forward or a VJP may call.

The engine passes this module as ``xp`` to every forward and as ``ns`` to every
VJP on the fast path; with ``create_graph=True`` the VJPs get the Tensor
namespace instead (built by ``microgradnp.api`` from the registry), which
offers the names of :data:`VJP_VOCABULARY` as differentiable functions.  No
forward or VJP calls ``np.`` directly, so another array backend can be plugged
in by writing one more module like this one.

Most names are NumPy's own functions; the few written out here are faster
than NumPy's Python-level wrappers on small arrays (each says so).
"""

from __future__ import annotations

import math

import numpy as np

# The names a VJP may use; the Tensor namespace offers exactly these.  A test
# reads every VJP's code and fails on any other ``ns.`` name.
VJP_VOCABULARY = (
    "conj", "real", "imag", "value", "exp", "log", "sin", "cos", "sigmoid", "sign", "where", "sum", "reshape", "transpose",
    "broadcast_to", "index_put", "astype", "matmul", "zeros_like", "sinh", "cosh",
    "prod", "cumsum", "cumprod", "flip", "take_along_axis", "tri", "max_reduce", "min_reduce", "argsort",
    "einsum", "roll", "rot90", "concatenate", "inv", "solve", "det", "svd", "pinv", "eps", "arange",
    "masked", "all", "fftn", "ifftn", "rfftn", "irfftn", "abs",
)

# The further names the JVP and batching rules may use (ops/rules.py); ``call``,
# ``leaf``, ``grad`` and ``sum_to`` come with the Tensor namespace, where the rules run.
RULE_VOCABULARY = ("stack", "swapaxes", "moveaxis")

ndarray = np.ndarray
float64 = np.float64
bool_ = np.bool_
inf = np.inf
e = np.e

# Complex parts (ops/complex.py)
conj = np.conj
real = np.real
imag = np.imag
angle = np.angle

# Elementwise
exp = np.exp
log = np.log
log1p = np.log1p
expm1 = np.expm1
exp2 = np.exp2
log2 = np.log2
log10 = np.log10
square = np.square
reciprocal = np.reciprocal
sqrt = np.sqrt
abs = np.abs
sign = np.sign
sin = np.sin
cos = np.cos
tan = np.tan
arcsin = np.arcsin
arccos = np.arccos
arctan = np.arctan
sinh = np.sinh
cosh = np.cosh
tanh = np.tanh
arcsinh = np.arcsinh
arccosh = np.arccosh
arctanh = np.arctanh
arctan2 = np.arctan2
hypot = np.hypot
deg2rad = np.deg2rad
rad2deg = np.rad2deg
sinc = np.sinc
fmax = np.fmax
fmin = np.fmin
logaddexp2 = np.logaddexp2
nan_to_num = np.nan_to_num
remainder = np.remainder


_HALF = np.dtype(np.float16)  # built-in dtypes are singletons: `is` is the cheapest test


def _load_expit(x):
    """``scipy.special.expit``, imported on first use: ``scipy.special`` was a quarter of a second of
    ``import microgradnp`` (measured with ``python -X importtime``), which programs that never call
    ``sigmoid`` should not pay.  The first call puts SciPy's ufunc in the name ``expit``, so every later
    call (and the code ``mg.compile`` generates, which reads the name after a traced run) is SciPy's own."""
    global expit
    from scipy.special import expit as scipy_expit

    expit = scipy_expit
    return scipy_expit(x)


expit = _load_expit


def sigmoid(x):
    """``expit(x)``: no overflow and no warning at +-1000.  SciPy has no float16
    loop for it (it would return float64), so half precision goes through
    float32 and back, keeping the dtype as every other op does."""
    return expit(x) if x.dtype is not _HALF else expit(x.astype(np.float32)).astype(np.float16)


logaddexp = np.logaddexp
maximum = np.maximum
minimum = np.minimum
clip = np.clip
where = np.where
isfinite = np.isfinite
rint = np.rint
add = np.add
subtract = np.subtract
multiply = np.multiply
true_divide = np.true_divide
negative = np.negative
positive = np.positive
logical_and = np.logical_and
logical_or = np.logical_or
logical_not = np.logical_not
less = np.less
less_equal = np.less_equal
greater = np.greater
greater_equal = np.greater_equal
equal = np.equal
not_equal = np.not_equal

# Reductions, scans and orderings
mean = np.mean
prod = np.prod
std = np.std
nansum = np.nansum
nanmean = np.nanmean
ptp = np.ptp
argmax = np.argmax
argmin = np.argmin
cumsum = np.cumsum
cumprod = np.cumprod
diff = np.diff
take_along_axis = np.take_along_axis


def argsort(a, axis=-1):
    """Stable ``argsort``: equal elements keep their order, so the permutation is
    reproducible (``sort``'s VJP recomputes it)."""
    return np.argsort(a, axis=axis, kind="stable")


def sort(a, axis=-1):
    return np.sort(a, axis=axis, kind="stable")


var = np.var
all = np.all
all_reduce = np.all  # the reductions all()/any() of the registry (xp.any would hide the builtin here)
any_reduce = np.any
max_reduce = np.maximum.reduce
min_reduce = np.minimum.reduce

# Shapes and construction
asarray = np.asarray
arange = np.arange
expand_dims = np.expand_dims
squeeze = np.squeeze
concatenate = np.concatenate
stack = np.stack
swapaxes = np.swapaxes
moveaxis = np.moveaxis
ones = np.ones
zeros = np.zeros
empty = np.empty
tri = np.tri
tile = np.tile
roll = np.roll
rot90 = np.rot90
pad = np.pad
select = np.select
flip = np.flip
diagonal = np.diagonal
trace = np.trace
diag = np.diag
tril = np.tril
triu = np.triu


def vdot(a, b):
    """``np.vdot``: ``sum(conj(a) * b)``.  Two real vectors go to ``ndarray.dot``, the same
    BLAS product: 0.5 us instead of 0.8 on the small vectors of per-example training."""
    if a.ndim == 1 and b.ndim == 1 and a.shape == b.shape and a.dtype.kind != "c":
        return a.dot(b)
    return np.vdot(a, b)


einsum = np.einsum
tensordot = np.tensordot
dot = np.dot
inner = np.inner
outer = np.outer
kron = np.kron
broadcast_shapes = np.broadcast_shapes


def masked(g, mask):
    """``g`` where ``mask`` holds, 0 elsewhere: a subgradient's indicator.  On NumPy the product
    ``g * mask`` (a boolean multiplies as 0/1); ``np.where(mask, g, 0.0)`` is six times slower on
    100,000 elements.  The Array API namespace spells it with ``astype``: the standard does not
    multiply booleans."""
    return g * mask


def kind(dtype) -> str:
    """NumPy's one-letter kind of ``dtype`` (``"f"``, ``"i"``, ``"u"``, ``"b"``, ``"c"``), which
    the Array API namespace reads with ``isdtype``."""
    return dtype.kind


def copy(a):
    """A fresh copy of ``a`` (an array, or the NumPy scalar a 0-d reduction returns)."""
    return a.copy()


def value(x):
    """The plain array behind ``x`` (on this path ``x`` already is one)."""
    return x


_DOUBLE = np.dtype(np.float64)
_ONES: dict = {}


def _column_sums(x):
    """The column sums of a float64 matrix as one matrix-vector product, ``ones @ x``.

    NumPy reduces down the first axis a row at a time, so a bias gradient
    (the sum over a batch of a few columns) costs far more than its
    arithmetic: on (1000, 5) 20 us against 2.7 us for the product, (5000, 25)
    122 against 26, (256, 1024) 58 against 44.  The product sums in BLAS's
    order, not pairwise: float64 only, where the difference is a few ulps
    even over a million rows (float32 would lose digits over large batches).
    """
    n = x.shape[0]
    ones = _ONES.get(n)
    if ones is None:
        ones = np.ones(n)
        ones.flags.writeable = False
        if n <= 16384 and len(_ONES) < 64:  # at most 8 MB kept; a longer one costs little next to its sum
            _ONES[n] = ones
    return ones.dot(x)


def sum(x, axis=None, keepdims=False):
    """``x`` summed over ``axis``; ``add.reduce`` skips ``np.sum``'s Python wrapper.
    (One expression, so that ``mg.compile`` inlines it, deciding the condition once.)"""
    return (_column_sums(x) if (axis == 0 or axis == (0,)) and not keepdims and x.ndim == 2 and x.dtype is _DOUBLE
            else np.add.reduce(x, axis=axis, keepdims=keepdims))


def reshape(x, shape):
    return x.reshape(shape)


def transpose(x, axes=None):
    return x.transpose(axes)


def astype(x, dtype):
    return x.astype(dtype)


def zeros_like(x):
    return np.zeros(x.shape, dtype=x.dtype)


def matmul(a, b):
    """``a @ b``.  For operands of one or two dimensions ``ndarray.dot`` is the same
    product and about three times faster on small matrices (per-example training);
    0-d and N-d operands go to ``np.matmul``, which also refuses scalars as it must."""
    if 0 < a.ndim <= 2 and 0 < b.ndim <= 2:
        return a.dot(b)
    return np.matmul(a, b)


def broadcast_to(g, shape):
    """``g`` broadcast to ``shape`` as a fresh, writable array.

    ``np.broadcast_to`` builds a read-only view through a Python-level
    iterator, a few microseconds per call; filling an empty array is ten times
    faster on the small arrays of per-example training.
    """
    out = np.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


def broadcast_view(a, shape):
    """A read-only broadcast view (the forward of ``broadcast_to``: no copy)."""
    return np.broadcast_to(a, shape)


def index_put(values, key, shape):
    """Zeros of ``shape`` with ``values`` added at ``key`` (repeated indices accumulate)."""
    out = np.zeros(shape, dtype=values.dtype)
    if _has_int_array(key):
        np.add.at(out, key, values)
    else:
        # Slices, integers and boolean masks never select an element twice,
        # so plain assignment is exact and much faster than ufunc.at.
        out[key] = values
    return out


def _has_int_array(key) -> bool:
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, np.ndarray) and k.dtype != np.bool_:
            return True
    return False


# ---------------------------------------------------------------------------
# Linear algebra
# ---------------------------------------------------------------------------


def _half_through_float32(f):
    """``f`` with float16 arrays computed in float32 and the results cast back.

    NumPy's linalg has no half-precision loops (it raises); going through
    float32 keeps the dtype, as every other op keeps it.
    """
    def wrapped(*arrays, **kwargs):
        if not any(getattr(a, "dtype", None) is _HALF for a in arrays):
            return f(*arrays, **kwargs)
        out = f(*(a.astype(np.float32) if getattr(a, "dtype", None) is _HALF else a for a in arrays), **kwargs)
        if isinstance(out, tuple):
            return tuple(o.astype(np.float16) for o in out)
        return out.astype(np.float16)

    wrapped.__name__ = wrapped.__qualname__ = f.__name__
    wrapped.__doc__ = f"``{f.__name__}``, float16 computed in float32 (NumPy's linalg has no half precision)."
    return wrapped


inv = _half_through_float32(np.linalg.inv)
det = _half_through_float32(np.linalg.det)
cholesky = _half_through_float32(np.linalg.cholesky)
pinv = _half_through_float32(np.linalg.pinv)


@_half_through_float32
def slogdet(a):
    return tuple(np.linalg.slogdet(a))


@_half_through_float32
def solve(a, b):
    """``a^-1 b`` with NumPy 2's rule on every NumPy: ``b`` is a vector only when it is 1-D."""
    if b.ndim == 1:
        return np.linalg.solve(a, b[:, None])[..., 0]
    return np.linalg.solve(a, b)


@_half_through_float32
def eigh(a, UPLO="L"):
    return tuple(np.linalg.eigh(a, UPLO=UPLO))


def eig(a):
    """``np.linalg.eig`` with complex results always (NumPy returns real arrays when every eigenvalue is
    real, so the dtype would depend on the values); float16 is computed in float32."""
    work = a.astype(np.float32) if a.dtype == np.float16 else a
    w, V = np.linalg.eig(work)
    c = np.result_type(work.dtype, np.complex64)
    return w.astype(c, copy=False), V.astype(c, copy=False)


@_half_through_float32
def svd(a, full_matrices=True, compute_uv=True):
    out = np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


@_half_through_float32
def qr(a, mode="reduced"):
    out = np.linalg.qr(a, mode=mode)
    return out if mode == "r" else tuple(out)


@_half_through_float32
def lstsq(a, b, rcond):
    return tuple(np.linalg.lstsq(a, b, rcond=rcond))


def eps(dtype) -> float:
    """The machine epsilon of a floating dtype (a constant: the same on either path)."""
    return float(np.finfo(dtype).eps)


def vector_norm(x, ord=2, axis=None, keepdims=False):
    """The ``ord``-norm of ``x`` over ``axis`` (an int, a tuple of ints, or None for all) as one vector.

    ``np.linalg.norm`` would take two axes as a matrix norm; here they are flattened.
    """
    axes = tuple(range(x.ndim)) if axis is None else axis
    rest = [i for i in range(x.ndim) if i not in axes]
    moved = x.transpose(rest + list(axes))
    flat = moved.reshape(moved.shape[:len(rest)] + (math.prod(moved.shape[len(rest):]),))
    r = np.linalg.norm(flat, ord=ord, axis=-1)
    if keepdims:
        r = r.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
    return r


# The discrete Fourier transforms (ops/fft.py), over ``axes`` at the input's own sizes (the public
# functions in microgradnp/fft.py crop or pad first); ``irfftn`` names the length of its last axis.
def fftn(a, axes, norm):
    return np.fft.fftn(a, axes=axes, norm=norm)


def ifftn(a, axes, norm):
    return np.fft.ifftn(a, axes=axes, norm=norm)


def rfftn(a, axes, norm):
    return np.fft.rfftn(a, axes=axes, norm=norm)


def irfftn(a, axes, n, norm):
    out = np.fft.irfftn(a, s=[a.shape[ax] for ax in axes[:-1]] + [n], axes=axes, norm=norm)
    return out.astype(np.float16) if a.dtype == np.float16 else out  # (computed in float32 by NumPy)
