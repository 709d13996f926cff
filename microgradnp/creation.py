"""Tensor factories: zeros, ones, *_like, arange, randn.

Randomness comes only from an explicit ``np.random.Generator`` (or a seed):
never from NumPy's hidden global state.
"""

from __future__ import annotations

import numpy as np

from . import _mode as _modes
from ._tensor import Tensor, _to_array, as_array, foreign_library, tensor

__all__ = ["zeros", "ones", "full", "zeros_like", "ones_like", "arange", "randn", "as_rng", "manual_seed", "complex"]


def _shape(shape, what: str) -> tuple:
    """``(2, 3)`` from ``zeros(2, 3)`` or ``zeros((2, 3))``: non-negative integers only, never truncated."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    for n in dims:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise (ValueError if isinstance(n, (int, np.integer)) and not isinstance(n, bool) else TypeError)(
                f"{what}: a shape is made of non-negative integers, got {shape!r}"
            )
    return tuple(int(n) for n in dims)


def _on_another_library(x) -> bool:
    """Whether ``x`` (a Tensor or an array) holds another array library's data than NumPy's."""
    return foreign_library(x._data if isinstance(x, Tensor) else x) is not None


def _namespace_of(array):
    from .backends import namespace_of

    return namespace_of(array)


def _leaf(arr: np.ndarray, requires_grad: bool, name=None, like=None, device=None) -> Tensor:
    """A new leaf of ``arr``; with ``like`` (a Tensor or an array of any library), on ``like``'s library and
    device (the Array API's spelling), made with NumPy and copied there.  ``device`` is what ``t.device``
    gives: ``"cpu"`` for NumPy, or a library's own device object (``torch.device("cuda:0")``), which names
    its library; with ``like``, any device of ``like``'s library (``"cuda:1"`` for torch)."""
    library = None
    if like is not None and _on_another_library(like):
        from .backends import library_of

        d = like._data if isinstance(like, Tensor) else like
        library = library_of(d)
        if device is None:
            import array_api_compat

            device = array_api_compat.device(d)
    elif device is not None and not (isinstance(device, str) and device == "cpu"):
        library = type(device).__module__.split(".")[0]
        if isinstance(device, str) or library in ("builtins", "numpy"):
            raise TypeError(f"device={device!r}: a device string names no array library; give like= (a tensor or "
                            "an array of the library) with it, or the library's device object (as t.device gives)")
        if like is not None:
            raise TypeError(f"like= is a NumPy tensor or array but device={device!r} is {library}'s: give one of them")
    if library is not None:
        from .backends import from_numpy

        return Tensor(from_numpy(arr, library, device=device), requires_grad=requires_grad, dtype=arr.dtype,
                      name=name)
    return Tensor(arr, requires_grad=requires_grad, dtype=arr.dtype, name=name)


def zeros(*shape, dtype=np.float64, requires_grad: bool = False, like=None, device=None) -> Tensor:
    """A tensor of zeros; ``zeros(2, 3)`` and ``zeros((2, 3))`` are the same.

    ``like=t`` makes it on ``t``'s array library and device (a Tensor or an array of torch, CuPy, ...),
    as the Array API spells it; ``device=`` takes what ``t.device`` gives (``"cpu"``: NumPy; a library's
    device object: that library), or, with ``like``, any device of its library.  So do ``ones``,
    ``full``, ``arange`` and ``randn``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.zeros(2, 3).shape
    (2, 3)
    """
    return _leaf(np.zeros(_shape(shape, "zeros"), dtype=dtype), requires_grad, like=like, device=device)


def ones(*shape, dtype=np.float64, requires_grad: bool = False, like=None, device=None) -> Tensor:
    """A tensor of ones.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.ones(2)
    tensor([1., 1.])
    """
    return _leaf(np.ones(_shape(shape, "ones"), dtype=dtype), requires_grad, like=like, device=device)


def full(shape, fill_value, dtype=np.float64, requires_grad: bool = False, like=None, device=None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.full((2,), 7.0)
    tensor([7., 7.])
    """
    dims = _shape((shape,), "full")
    try:
        arr = np.full(dims, fill_value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"full: fill_value must be a number, got {fill_value!r} ({exc})") from None
    return _leaf(arr, requires_grad, like=like, device=device)


def zeros_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype) of ``x``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.zeros_like(mg.tensor([1.0, 2.0]))
    tensor([0., 0.])
    """
    if _on_another_library(x):
        d = x._data if isinstance(x, Tensor) else x
        return Tensor(_namespace_of(d).zeros_like(d), requires_grad=requires_grad, dtype=dtype)
    a = x.data if isinstance(x, Tensor) else as_array(x, "zeros_like")
    return _leaf(np.zeros(a.shape, dtype=dtype or _float(a.dtype)), requires_grad)


def ones_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype) of ``x``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.ones_like(mg.zeros((1, 2)))
    tensor([[1., 1.]])
    """
    if _on_another_library(x):
        d = x._data if isinstance(x, Tensor) else x
        return Tensor(_namespace_of(d).full_like(d, 1.0), requires_grad=requires_grad, dtype=dtype)
    a = x.data if isinstance(x, Tensor) else as_array(x, "ones_like")
    return _leaf(np.ones(a.shape, dtype=dtype or _float(a.dtype)), requires_grad)


def _float(dtype: np.dtype) -> np.dtype:
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def arange(start, stop=None, step=1, dtype=np.float64, requires_grad: bool = False, like=None,
           device=None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``, float64 by default (like every Tensor made from numbers).

    As in NumPy, ``arange(n)`` counts from 0 to ``n`` and ``step`` applies
    either way; a zero step raises ``ValueError``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.arange(3)
    tensor([0., 1., 2.])
    >>> mg.arange(6, step=2)
    tensor([0., 2., 4.])
    """
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError(f"arange: step must not be zero (start={start}, stop={stop})")
    arr = np.arange(start, stop, step)
    return _leaf(_to_array(arr, dtype, requires_grad), requires_grad, like=like, device=device)


#: The generator ``rng=None`` means after :func:`manual_seed`; before, one made from fresh entropy, once.
_seeded: np.random.Generator | None = None
_unseeded: np.random.Generator | None = None


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the generator every ``rng=None`` draws from (initialisers, ``randn``, shuffles), as PyTorch's.

    After ``mg.manual_seed(s)`` a program that passes no ``rng`` makes the same
    draws at every run.  NumPy's global state is not touched.  Returns the
    generator.

    Examples
    --------
    >>> import microgradnp as mg
    >>> _ = mg.manual_seed(0)
    >>> a = mg.randn(3)
    >>> _ = mg.manual_seed(0)
    >>> bool((mg.randn(3) == a).all())
    True
    """
    global _seeded
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: the seed must be an int, got {type(seed).__name__}")
    _seeded = np.random.default_rng(int(seed))
    return _seeded


def as_rng(rng=None) -> np.random.Generator | np.random.RandomState:
    """Turn ``rng`` into a random generator without touching NumPy's global state.

    ``None`` gives the global generator: the one seeded by
    :func:`manual_seed`, or, before any, one made from fresh entropy (once
    per process, as PyTorch's default generator); an int seeds one; a
    ``Generator`` or a legacy ``RandomState`` is used as is (a
    ``RandomState`` lets you replay code written with ``np.random.seed``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> int(mg.as_rng(0).integers(10)) == int(mg.as_rng(0).integers(10))
    True
    """
    global _unseeded
    if rng is None:
        if _seeded is not None:
            return _seeded
        if _unseeded is None:
            _unseeded = np.random.default_rng()
        return _unseeded
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    raise TypeError(f"rng must be None, an int seed, a numpy Generator or RandomState, not {type(rng).__name__}")


def randn(*shape, rng=None, dtype=np.float64, requires_grad: bool = False, like=None, device=None) -> Tensor:
    """Standard normal samples of ``shape``, drawn from ``rng`` (a Generator, RandomState or seed).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.randn(2, 3, rng=0).shape
    (2, 3)
    >>> bool((mg.randn(3, rng=1).data == mg.randn(3, rng=1).data).all())
    True
    """
    if not isinstance(rng, (int, np.integer)):  # a seed draws the same numbers each call: a constant
        _modes.note_unreplayable("randn", "draws random numbers without a seed: a replay would reuse its draws")
    gen = as_rng(rng)
    shp = _shape(shape, "randn")
    arr = gen.standard_normal(shp) if isinstance(gen, np.random.Generator) else gen.standard_normal(shp)
    return _leaf(np.asarray(arr, dtype=dtype), requires_grad, like=like, device=device)


def complex(real, imag) -> Tensor:  # noqa: A001  (torch.complex's name)
    """The complex tensor ``real + i imag`` of two real ones (broadcast together), as ``torch.complex``.

    Made of ops (``real + imag * 1j``), so it is differentiated as they are:
    ``real`` gets ``Re(grad)``, ``imag`` gets ``Im(grad)``.  float32 parts
    give complex64, float64 parts complex128.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.complex(mg.tensor([1.0, 2.0]), mg.tensor([0.5, -1.0]))
    tensor([1.+0.5j, 2.-1.j ], dtype=complex128)
    """
    parts = [x if isinstance(x, Tensor) else tensor(x) for x in (real, imag)]
    for name, x in zip(("real", "imag"), parts):
        if x.library != "numpy":
            raise TypeError(f"complex: {name} is on {x.library}; complex tensors are supported on NumPy only, so "
                            "far: keep the real and imaginary parts apart there, or convert with .to('numpy')")
        if x.dtype.kind != "f":
            raise TypeError(f"complex: {name} must be a real floating-point tensor, got {x.dtype}")
    return parts[0] + parts[1] * 1j
