"""The op registry's namespace on any Array API library (torch, CuPy, array-api-strict, ...).

One class, written once on top of ``array-api-compat``: every name of
:mod:`microgradnp.ops.xp` that a forward or a VJP calls, spelled with the
standard's functions (keyword ``axis``, ``concat``, ``isdtype``, ``where``).
NumPy names the standard lacks (``sinc``, ``fmax``, ``tri``, ``rot90``,
``kron``, ...) are written here from standard functions, once for every
library.  A few things come from the library itself (:data:`_EXTRAS`):
``einsum`` (written from standard functions where a library has none, exact
but holding the full broadcast product), a scatter-add that *accumulates*
repeated indices, and ``lstsq``; where a library has no scatter-add, calling
it raises :class:`~microgradnp.backends.UnsupportedOnBackend` naming the
library and the function, never a wrong number.

A trap this avoids: ``array_api_extra.at(z, idx).add(v)`` keeps one of two
repeated indices on NumPy and torch (``[1, 1, 0]`` gives ``[1, 1, 0]``, not
``[2, 1, 0]``), so every indexing gradient built on it would be silently wrong.
"""

from __future__ import annotations

import builtins
import importlib
import math
import threading

from ..ops import xp as _numpy_xp

__all__ = ["ArrayAPINamespace", "use_device"]

#: The device of the op the engine is running on another library (``use_device``): where the arrays a rule
#: makes without an input to copy it from (``arange``, ``zeros``, ``tri``) go.  Without it they would be made
#: on the library's default device: beside a ``cuda:0`` input, an error (or a copy) at the next operation.
_WHERE = threading.local()


def use_device(device):
    """Make ``device`` the one new arrays go to (``None``: the library's default); returns the one before."""
    before = getattr(_WHERE, "device", None)
    _WHERE.device = device
    return before


def _import(library: str):
    try:
        return importlib.import_module(library)
    except ImportError as error:  # pragma: no cover - the library was found on an array of it
        raise ImportError(f"microgradnp: the array library {library!r} is not installed") from error


def _compat(library: str):
    """The standard namespace of ``library``: array-api-compat's wrapper where it has one."""
    try:
        import array_api_compat
    except ImportError as error:
        raise ImportError(
            f"microgradnp: running on {library} arrays needs array-api-compat; "
            'install it with pip install "microgradnp[array-api]"') from error
    module = _import(library)
    if getattr(module, "__array_api_version__", None):
        return module  # a namespace of the standard already (array-api-strict, NumPy 2)
    return array_api_compat.array_namespace(module.empty(0) if library != "torch" else module.zeros(0))


# ---------------------------------------------------------------------------
# What the standard lacks, per library
# ---------------------------------------------------------------------------


def _torch_scatter_add(out, key, values):
    """``out[key] += values``, repeated indices accumulating: each selected element's flat
    position, read by indexing an ``arange`` with the same key, then one ``index_put_``."""
    import torch

    index = torch.arange(out.numel(), device=out.device).reshape(out.shape)[key]
    flat = out.reshape(-1)
    flat.index_put_((index.reshape(-1),), torch.broadcast_to(values, index.shape).reshape(-1), accumulate=True)
    return flat.reshape(out.shape)


def _cupy_scatter_add(out, key, values):
    import cupyx

    cupyx.scatter_add(out, key, values)
    return out


def _numpy_scatter_add(out, key, values):
    import numpy as np

    np.add.at(out, key, values)
    return out


def _torch_einsum(subscripts, *operands, **kwargs):
    import torch

    return torch.einsum(subscripts, *operands)


def _cupy_einsum(subscripts, *operands, **kwargs):
    import cupy

    return cupy.einsum(subscripts, *operands)


def _numpy_einsum(subscripts, *operands, **kwargs):
    import numpy as np

    return np.einsum(subscripts, *operands, **kwargs)


def _torch_lstsq(a, b, rcond):
    import torch

    x = torch.linalg.pinv(a, rtol=rcond) @ b if rcond is not None else torch.linalg.pinv(a) @ b
    return x


#: The functions the standard lacks, per library: ``{library: {name: function}}``.
_EXTRAS = {
    "torch": {"scatter_add": _torch_scatter_add, "einsum": _torch_einsum},
    "cupy": {"scatter_add": _cupy_scatter_add, "einsum": _cupy_einsum},
    "numpy": {"scatter_add": _numpy_scatter_add, "einsum": _numpy_einsum},
}


class ArrayAPINamespace:
    """The names of :mod:`microgradnp.ops.xp`, for the arrays of one Array API library.

    ``ArrayAPINamespace("torch")`` runs every forward and VJP of the registry
    on torch tensors (on their device); ``"array_api_strict"`` on the
    standard's reference arrays, which offer nothing beyond the standard.
    """

    VJP_VOCABULARY = _numpy_xp.VJP_VOCABULARY
    RULE_VOCABULARY = _numpy_xp.RULE_VOCABULARY

    def __init__(self, library: str):
        self.library = library
        self.__name__ = f"microgradnp.backends.array_api[{library}]"
        cx = self._cx = _compat(library)
        self._extras = _EXTRAS.get(library, {})
        self.ndarray = type(cx.asarray(0.0))
        self.float64 = cx.float64
        self.bool_ = cx.bool
        self.inf = math.inf
        self.e = math.e
        # The standard's functions under NumPy's names (those the registry's rules call).
        for ours, theirs in {
            "exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1", "log2": "log2", "log10": "log10",
            "square": "square", "sqrt": "sqrt", "abs": "abs", "sign": "sign", "sin": "sin", "cos": "cos",
            "tan": "tan", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh",
            "max_reduce": "max", "min_reduce": "min", "all": "all", "all_reduce": "all", "any_reduce": "any",
            "argmax": "argmax", "argmin": "argmin", "mean": "mean", "prod": "prod",  # (axis=, keepdims= as keywords)
            "tanh": "tanh", "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "arctan2": "atan2",
            "hypot": "hypot", "logaddexp": "logaddexp", "maximum": "maximum", "minimum": "minimum",
            "where": "where", "isfinite": "isfinite", "rint": "round", "add": "add", "subtract": "subtract",
            "multiply": "multiply", "true_divide": "divide", "negative": "negative", "positive": "positive",
            "less": "less",
            "less_equal": "less_equal", "greater": "greater", "greater_equal": "greater_equal", "equal": "equal",
            "not_equal": "not_equal", "remainder": "remainder", "asarray": "asarray", "expand_dims": "expand_dims",
            "stack": "stack", "moveaxis": "moveaxis", "tile": "tile", "isnan": "isnan", "floor": "floor",
        }.items():
            setattr(self, ours, getattr(cx, theirs))

    def __repr__(self):
        return f"<array namespace of {self.library}>"

    # -- helpers ----------------------------------------------------------------

    def _device(self, x):
        import array_api_compat

        return array_api_compat.device(x)

    def _extra(self, name):
        f = self._extras.get(name)
        if f is None:
            from . import UnsupportedOnBackend

            raise UnsupportedOnBackend(
                f"{name} is not in the Array API standard and {self.library} has none: "
                f"this operation cannot run on {self.library} arrays; convert with .to('numpy')")
        return f

    def _like(self, x, value):
        """``value`` (a Python number) as a 0-d array of ``x``'s dtype and device."""
        return self._cx.asarray(value, dtype=x.dtype, device=self._device(x))

    def dtype(self, dtype):
        """The library's dtype for ``dtype`` (a NumPy dtype, its name, or the library's own)."""
        name = getattr(dtype, "name", None) if not isinstance(dtype, str) else dtype
        if name is None and isinstance(dtype, type):
            name = dtype.__name__  # np.float64, the scalar type
        found = getattr(self._cx, {"bool_": "bool"}.get(name, name), None) if isinstance(name, str) else None
        return found if found is not None else dtype

    def kind(self, dtype) -> str:
        """NumPy's one-letter kind of a dtype of the library."""
        for letter, kind in (("b", "bool"), ("u", "unsigned integer"), ("i", "signed integer"),
                             ("f", "real floating"), ("c", "complex floating")):
            if self._cx.isdtype(dtype, kind):
                return letter
        return "O"

    def _bool(self, x):
        """``x`` as booleans (NumPy's logical functions take any number: nonzero is true)."""
        return x if self._cx.isdtype(x.dtype, "bool") else x != 0

    def logical_and(self, a, b):
        return self._cx.logical_and(self._bool(a), self._bool(b))

    def logical_or(self, a, b):
        return self._cx.logical_or(self._bool(a), self._bool(b))

    def logical_not(self, a):
        return self._cx.logical_not(self._bool(a))

    def masked(self, g, mask):
        """``g`` where ``mask`` holds, else 0 (the standard multiplies no booleans)."""
        return g * self._cx.astype(mask, g.dtype)

    def copy(self, x):
        return self._cx.asarray(x, copy=True)

    # -- complex parts (on real arrays: NumPy's answers; complex tensors stay on NumPy for now) ----------

    def _complex(self, x) -> bool:
        return self._cx.isdtype(x.dtype, "complex floating")

    def conj(self, x):
        return self._cx.conj(x) if self._complex(x) else x

    def real(self, x):
        return self._cx.real(x) if self._complex(x) else x

    def imag(self, x):
        return self._cx.imag(x) if self._complex(x) else self._cx.zeros_like(x)

    def angle(self, x):
        if self._complex(x):
            return self._cx.atan2(self._cx.imag(x), self._cx.real(x))
        return self._cx.atan2(self._cx.zeros_like(x), x)  # 0, or pi for a negative number (as np.angle)

    # -- the Fourier transforms (the standard's fft extension; their complex results stay on NumPy for now) --

    def fftn(self, a, axes, norm):
        return self._cx.fft.fftn(a, axes=axes, norm=norm)

    def ifftn(self, a, axes, norm):
        return self._cx.fft.ifftn(a, axes=axes, norm=norm)

    def rfftn(self, a, axes, norm):
        return self._cx.fft.rfftn(a, axes=axes, norm=norm)

    def irfftn(self, a, axes, n, norm):
        return self._cx.fft.irfftn(a, s=[a.shape[ax] for ax in axes[:-1]] + [n], axes=axes, norm=norm)

    # -- elementwise -------------------------------------------------------------

    def exp2(self, x):
        return self._cx.pow(self._like(x, 2.0), x)

    def reciprocal(self, x):
        return 1.0 / x

    def deg2rad(self, x):
        return x * (math.pi / 180.0)

    def rad2deg(self, x):
        return x * (180.0 / math.pi)

    def sinc(self, x):
        cx = self._cx
        y = x * math.pi
        zero = x == 0
        safe = cx.where(zero, self._like(x, 1.0), y)
        return cx.where(zero, self._like(x, 1.0), cx.sin(safe) / safe)

    def fmax(self, a, b):
        """NumPy's ``fmax``: a NaN loses to a number."""
        cx = self._cx
        return cx.where(cx.isnan(b), a, cx.where(cx.isnan(a), b, cx.maximum(a, b)))

    def fmin(self, a, b):
        cx = self._cx
        return cx.where(cx.isnan(b), a, cx.where(cx.isnan(a), b, cx.minimum(a, b)))

    def logaddexp2(self, a, b):
        ln2 = math.log(2.0)
        return self._cx.logaddexp(a * ln2, b * ln2) / ln2

    def nan_to_num(self, x, nan=0.0, posinf=None, neginf=None):
        cx = self._cx
        info = cx.finfo(x.dtype)
        x = cx.where(cx.isnan(x), self._like(x, nan), x)
        x = cx.where(x == math.inf, self._like(x, info.max if posinf is None else posinf), x)
        return cx.where(x == -math.inf, self._like(x, info.min if neginf is None else neginf), x)

    def sigmoid(self, x):
        """``1 / (1 + exp(-x))`` without overflow: ``exp`` only of non-positive numbers."""
        cx = self._cx
        z = cx.exp(-cx.abs(x))
        return cx.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))

    expit = sigmoid

    def clip(self, x, a_min=None, a_max=None):
        return self._cx.clip(x, min=a_min, max=a_max)

    # -- reductions, scans and orderings ----------------------------------------------

    def sum(self, x, axis=None, keepdims=False, dtype=None):
        return self._cx.sum(x, axis=axis, keepdims=keepdims, dtype=None if dtype is None else self.dtype(dtype))

    def std(self, x, axis=None, ddof=0, keepdims=False):
        return self._cx.std(x, axis=axis, correction=ddof, keepdims=keepdims)

    def var(self, x, axis=None, ddof=0, keepdims=False):
        return self._cx.var(x, axis=axis, correction=ddof, keepdims=keepdims)

    def nansum(self, x, axis=None, keepdims=False):
        cx = self._cx
        return cx.sum(cx.where(cx.isnan(x), self._like(x, 0.0), x), axis=axis, keepdims=keepdims)

    def nanmean(self, x, axis=None, keepdims=False):
        cx = self._cx
        kept = ~cx.isnan(x)
        n = cx.sum(cx.astype(kept, x.dtype), axis=axis, keepdims=keepdims)
        return self.nansum(x, axis=axis, keepdims=keepdims) / n

    def ptp(self, x, axis=None, keepdims=False):
        cx = self._cx
        return cx.max(x, axis=axis, keepdims=keepdims) - cx.min(x, axis=axis, keepdims=keepdims)

    def _scan(self, name, x, axis):
        if axis is None:
            x, axis = self._cx.reshape(x, (-1,)), 0
        return getattr(self._cx, name)(x, axis=axis)

    def cumsum(self, x, axis=None):
        return self._scan("cumulative_sum", x, axis)

    def cumprod(self, x, axis=None):
        return self._scan("cumulative_prod", x, axis)

    def diff(self, x, n=1, axis=-1):
        return self._cx.diff(x, axis=axis, n=n)

    def take_along_axis(self, x, indices, axis):
        return self._cx.take_along_axis(x, indices, axis=axis)

    def argsort(self, x, axis=-1):
        if axis is None:
            x, axis = self._cx.reshape(x, (-1,)), -1
        return self._cx.argsort(x, axis=axis, stable=True)

    def sort(self, x, axis=-1):
        if axis is None:
            x, axis = self._cx.reshape(x, (-1,)), -1
        return self._cx.sort(x, axis=axis, stable=True)

    # -- shapes and construction --------------------------------------------------

    def value(self, x):
        return x

    def reshape(self, x, shape):
        return self._cx.reshape(x, tuple(shape) if not isinstance(shape, int) else (shape,))

    def transpose(self, x, axes=None):
        return self._cx.permute_dims(x, tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))

    def swapaxes(self, x, a, b):
        axes = list(range(x.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return self._cx.permute_dims(x, tuple(axes))

    def astype(self, x, dtype):
        return self._cx.astype(x, self.dtype(dtype))

    def flip(self, x, axis=None):
        return self._cx.flip(x, axis=axis)

    def tril(self, x, k=0):
        return self._cx.tril(x, k=k)

    def triu(self, x, k=0):
        return self._cx.triu(x, k=k)

    def tensordot(self, a, b, axes=2):
        return self._cx.tensordot(a, b, axes=axes)

    def squeeze(self, x, axis=None):
        if axis is None:
            axis = tuple(i for i, n in enumerate(x.shape) if n == 1)
        return self._cx.squeeze(x, axis=axis)

    def concatenate(self, arrays, axis=0):
        return self._cx.concat(list(arrays), axis=axis)

    def _where(self, like):
        """The device for a new array: ``like``'s, else that of the op being run (see :func:`use_device`)."""
        return self._device(like) if like is not None else getattr(_WHERE, "device", None)

    def arange(self, *args, dtype=None, like=None):
        return self._cx.arange(*args, dtype=dtype, device=self._where(like))

    def ones(self, shape, dtype=None, like=None):
        return self._cx.ones(shape, dtype=self.float64 if dtype is None else self.dtype(dtype), device=self._where(like))

    def zeros(self, shape, dtype=None, like=None):
        return self._cx.zeros(shape, dtype=self.float64 if dtype is None else self.dtype(dtype), device=self._where(like))

    def empty(self, shape, dtype=None, like=None):
        return self.zeros(shape, dtype=dtype, like=like)

    def zeros_like(self, x):
        return self._cx.zeros_like(x)

    def full_like(self, x, value):
        return self._cx.full_like(x, value)

    def tri(self, n, m=None, k=0, dtype=None):
        cx = self._cx
        m = n if m is None else m
        rows = cx.reshape(cx.arange(n, device=self._where(None)), (n, 1))
        cols = cx.reshape(cx.arange(m, device=self._where(None)), (1, m))
        return cx.astype(cols <= rows + k, self.float64 if dtype is None else self.dtype(dtype))

    def roll(self, x, shift, axis=None):
        return self._cx.roll(x, shift, axis=axis)

    def rot90(self, x, k=1, axes=(0, 1)):
        k %= 4
        a, b = axes
        if k == 0:
            return x
        if k == 2:
            return self._cx.flip(self._cx.flip(x, axis=a), axis=b)
        if k == 1:
            return self.swapaxes(self._cx.flip(x, axis=b), a, b)
        return self._cx.flip(self.swapaxes(x, a, b), axis=b)

    def pad(self, x, pad_width, mode="constant", constant_values=0.0):
        """NumPy's ``pad``: a constant border written into a filled array; the other modes
        (``edge``, ``reflect``, ``symmetric``, ``wrap``) gather each axis with ``take`` at the
        positions NumPy's ``pad`` gives an ``arange`` (index arithmetic on the shape alone)."""
        cx = self._cx
        widths = [tuple(w) for w in pad_width]
        if mode != "constant":
            import numpy as np

            for axis, (w, n) in enumerate(zip(widths, x.shape)):
                where = cx.asarray(np.pad(np.arange(n), w, mode=mode), device=self._device(x))
                x = cx.take(x, where, axis=axis)
            return x
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, widths))
        out = cx.full(shape, constant_values, dtype=x.dtype, device=self._device(x))
        out = self.copy(out)
        out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape, widths))] = x
        return out

    def select(self, condlist, choicelist, default=0.0):
        cx = self._cx
        out = None
        for cond, choice in reversed(list(zip(condlist, choicelist))):
            if out is None:
                out = cx.where(cond, choice, self._like(choice, default) if hasattr(choice, "dtype") else default)
            else:
                out = cx.where(cond, choice, out)
        return out

    def diagonal(self, x, offset=0, axis1=0, axis2=1):
        cx = self._cx
        moved = cx.moveaxis(x, (axis1, axis2), (-2, -1))
        return cx.linalg.diagonal(moved, offset=offset)

    def trace(self, x, offset=0, axis1=0, axis2=1):
        return self._cx.sum(self.diagonal(x, offset, axis1, axis2), axis=-1)

    def diag(self, v, k=0):
        cx = self._cx
        if v.ndim == 2:
            return cx.linalg.diagonal(v, offset=k)
        n = v.shape[0] + builtins.abs(k)
        i = cx.arange(v.shape[0], device=self._device(v))
        rows, cols = (i, i + k) if k >= 0 else (i - k, i)
        return cx.reshape(self.index_put(v, rows * n + cols, (n * n,)), (n, n))

    # -- products ------------------------------------------------------------------

    def matmul(self, a, b):
        return self._cx.matmul(a, b)

    def vdot(self, a, b):
        cx = self._cx
        return cx.sum(cx.reshape(a, (-1,)) * cx.reshape(b, (-1,)))

    def dot(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            return a * b
        if b.ndim <= 2:
            return self._cx.matmul(a, b)
        return self._cx.tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2]))

    def inner(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            return a * b
        return self._cx.tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))

    def outer(self, a, b):
        cx = self._cx
        return cx.reshape(a, (-1, 1)) * cx.reshape(b, (1, -1))

    def kron(self, a, b):
        cx = self._cx
        nd = builtins.max(a.ndim, b.ndim)
        a = cx.reshape(a, (1,) * (nd - a.ndim) + a.shape)
        b = cx.reshape(b, (1,) * (nd - b.ndim) + b.shape)
        # Interleave: (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...), then merge each pair.
        ai = cx.reshape(a, tuple(v for n in a.shape for v in (n, 1)))
        bi = cx.reshape(b, tuple(v for n in b.shape for v in (1, n)))
        return cx.reshape(ai * bi, tuple(p * q for p, q in zip(a.shape, b.shape)))

    def einsum(self, subscripts, *operands, **kwargs):
        library_einsum = self._extras.get("einsum")
        if library_einsum is not None:
            return library_einsum(subscripts, *operands, **kwargs)
        return self._einsum_from_standard(subscripts, *operands)

    def _einsum_from_standard(self, subscripts, *operands):
        """NumPy's ``einsum`` for a library that has none, from standard functions: each operand's repeated
        letters taken as diagonals, its axes put in one order and broadcast against the others, the product
        summed over the letters not in the output.  Exact as NumPy's, but it holds the full broadcast product
        (memory of every letter's size multiplied): the way for a library without one, not a fast one."""
        cx = self._cx
        spec = subscripts.replace(" ", "")
        ins, out = spec.split("->") if "->" in spec else (spec, None)
        terms = ins.split(",")
        if len(terms) != len(operands):
            raise ValueError(f"einsum: {len(terms)} operand(s) in {subscripts!r}, {len(operands)} given")
        spare = [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in spec]
        dots = max((x.ndim - len(t) + 3 for t, x in zip(terms, operands) if "..." in t), default=0)
        broad = "".join(spare[:dots][::-1])  # the ellipsis's axes, right-aligned across operands
        terms = [t.replace("...", broad[len(broad) - (x.ndim - len(t) + 3):]) if "..." in t else t
                 for t, x in zip(terms, operands)]
        if out is None:  # NumPy's implicit output: the ellipsis, then the letters seen once, in order
            letters = "".join(terms)
            out = broad + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in broad))
        else:
            out = out.replace("...", broad)
        order: list = []
        for c in "".join(terms):
            if c not in order:
                order.append(c)
        product = None
        for t, x in zip(terms, operands):
            while len(set(t)) < len(t):  # a repeated letter: its diagonal, as a last axis
                c = next(c for c in t if t.count(c) > 1)
                i, j = t.index(c), t.index(c, t.index(c) + 1)
                rest = [k for k in range(len(t)) if k not in (i, j)]
                x = cx.linalg.diagonal(cx.permute_dims(x, tuple(rest) + (i, j)))
                t = "".join(t[k] for k in rest) + c
            mine = [c for c in order if c in t]
            x = cx.permute_dims(x, tuple(t.index(c) for c in mine)) if len(mine) > 1 else x
            shape = tuple(x.shape[mine.index(c)] if c in t else 1 for c in order)
            x = cx.reshape(x, shape)
            product = x if product is None else product * x
        summed = tuple(k for k, c in enumerate(order) if c not in out)
        result = cx.sum(product, axis=summed) if summed else product
        kept = [c for c in order if c in out]
        return cx.permute_dims(result, tuple(kept.index(c) for c in out)) if len(out) > 1 else result

    broadcast_shapes = staticmethod(_numpy_xp.broadcast_shapes)  # shapes are tuples of ints: no array involved

    def broadcast_to(self, g, shape):
        return self.copy(self._cx.broadcast_to(g, tuple(shape)))

    def broadcast_view(self, a, shape):
        return self._cx.broadcast_to(a, tuple(shape))

    def index_put(self, values, key, shape):
        """Zeros of ``shape`` with ``values`` added at ``key``, repeated indices accumulating."""
        cx = self._cx
        out = self.copy(cx.zeros(tuple(shape), dtype=values.dtype, device=self._device(values)))
        if self._has_int_array(key):
            return self._extra("scatter_add")(out, key, values)
        parts = key if isinstance(key, tuple) else (key,)
        if any(k is None for k in parts):  # new axes select nothing to write into: drop them, and their 1s
            key = tuple(k for k in parts if k is not None)
            values = cx.reshape(values, tuple(out[key].shape))
        out[key] = values
        return out

    def _has_int_array(self, key) -> bool:
        cx = self._cx
        for k in key if isinstance(key, tuple) else (key,):
            if hasattr(k, "dtype") and hasattr(k, "shape") and not isinstance(k, (int, slice)) \
                    and not cx.isdtype(k.dtype, "bool"):
                return True
        return False

    # -- linear algebra ----------------------------------------------------------------

    def inv(self, a):
        return self._cx.linalg.inv(a)

    def det(self, a):
        return self._cx.linalg.det(a)

    def cholesky(self, a):
        return self._cx.linalg.cholesky(a)

    def pinv(self, a, rcond=None):
        return self._cx.linalg.pinv(a) if rcond is None else self._cx.linalg.pinv(a, rtol=rcond)

    def slogdet(self, a):
        return tuple(self._cx.linalg.slogdet(a))

    def solve(self, a, b):
        """``a^-1 b``; ``b`` is a vector only when it is 1-D (NumPy 2's rule)."""
        cx = self._cx
        if b.ndim == 1:
            return cx.linalg.solve(a, cx.reshape(b, (-1, 1)))[..., 0]
        return cx.linalg.solve(a, b)

    def eigh(self, a, UPLO="L"):
        if UPLO != "L":
            a = self._cx.matrix_transpose(a)
        return tuple(self._cx.linalg.eigh(a))

    def eig(self, a):
        eig = getattr(self._cx.linalg, "eig", None)  # (not in the standard; torch and CuPy have one)
        if eig is None:
            return self._extra("eig")(a)
        return tuple(eig(a))

    def svd(self, a, full_matrices=True, compute_uv=True):
        if not compute_uv:
            return self._cx.linalg.svdvals(a)
        return tuple(self._cx.linalg.svd(a, full_matrices=full_matrices))

    def qr(self, a, mode="reduced"):
        if mode == "r":
            return self._cx.linalg.qr(a, mode="reduced")[1]
        return tuple(self._cx.linalg.qr(a, mode=mode))

    def lstsq(self, a, b, rcond):
        """The least-squares solution as ``pinv(a) @ b`` (the standard has no ``lstsq``); the
        residuals, rank and singular values NumPy also returns are computed from it."""
        cx = self._cx
        x = self.pinv(a, rcond) @ b
        s = cx.linalg.svdvals(a)
        tol = (builtins.max(a.shape) * self.eps(a.dtype) if rcond is None else rcond) * cx.max(s)
        rank = cx.sum(cx.astype(s > tol, cx.int64))
        r = b - a @ x
        residuals = cx.sum(r * r, axis=0) if int(rank) == a.shape[1] and a.shape[0] > a.shape[1] \
            else cx.zeros((0,), dtype=a.dtype, device=self._device(a))
        return x, residuals, rank, s

    def eps(self, dtype) -> float:
        return float(self._cx.finfo(dtype).eps)

    def vector_norm(self, x, ord=2, axis=None, keepdims=False):
        return self._cx.linalg.vector_norm(x, ord=ord, axis=axis, keepdims=keepdims)
