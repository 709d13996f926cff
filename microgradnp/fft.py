"""``mg.fft``: NumPy's ``np.fft`` on Tensors, differentiable to any order, real and complex.

Four registry ops carry the transforms (:mod:`microgradnp.ops.fft`:
``fftn``, ``ifftn``, ``rfftn``, ``irfftn`` over given axes at the input's
own sizes); the functions here give NumPy's signatures on top of them:

* the 1-D (``fft(a, n, axis)``), 2-D (``fft2(a, s, axes=(-2, -1))``) and
  n-D (``fftn(a, s, axes)``) forms, and the same for ``ifft``, ``rfft`` and
  ``irfft``;
* ``n``/``s`` crop the input (slicing) or zero-pad it (``mg.pad``) before
  the transform, so their derivatives are those of the ops used;
* ``norm``: ``"backward"`` (the default: ``None``), ``"ortho"``, ``"forward"``;
* ``fftshift``/``ifftshift`` (``mg.roll``), ``fftfreq``/``rfftfreq``
  (constant tensors).

Gradients follow PyTorch's convention for complex values (see the
"Complex numbers" page): ``torch.fft``'s, checked against it in the tests.
``np.fft.<name>`` called on a Tensor comes here (``Tensor.__array_function__``).
"""

from __future__ import annotations

import operator

import numpy as np

from . import api
from ._tensor import Tensor, as_tensor
from .api import implements

__all__ = [
    "fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn",
    "fftshift", "ifftshift", "fftfreq", "rfftfreq",
]

# The registry's four transforms (private ops: their public forms are below).
_FFTN, _IFFTN, _RFFTN, _IRFFTN = (api.FUNCTIONS[name] for name in ("fftn", "ifftn", "rfftn", "irfftn"))


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _plan(name: str, x: Tensor, s, axes, half_inverse: bool = False) -> tuple[tuple, list]:
    """NumPy's ``s`` and ``axes`` made concrete: negative distinct axes, and the transform's length on each."""
    ndim = x.ndim
    if axes is None:
        axes = range(ndim) if s is None else range(ndim - len(s), ndim)
    try:
        axes = tuple(operator.index(ax) for ax in axes)
    except TypeError:
        raise TypeError(f"{name}: axes must be ints, got {axes!r}") from None
    if not axes:
        raise ValueError(f"{name}: no axis to transform (axes is empty, or the input is 0-d)")
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(f"{name}: axis {ax} is out of bounds for the {ndim}-d input")
    axes = tuple(ax - ndim if ax >= 0 else ax for ax in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: axes {axes} name an axis twice (transform it in two calls if that is meant)")
    defaults = [x.shape[ax] for ax in axes]
    if half_inverse:
        defaults[-1] = 2 * (defaults[-1] - 1)
    if s is None:
        sizes = defaults
    else:
        if len(s) != len(axes):
            raise ValueError(f"{name}: s has {len(s)} lengths for {len(axes)} axes")
        sizes = [d if int(n) == -1 else int(n) for n, d in zip(s, defaults)]
    for n in sizes:
        if n < 1:
            raise ValueError(f"{name}: invalid number of data points ({n}) along an axis; give n or s >= 1")
    return axes, sizes


def _fit(x: Tensor, axes, lengths) -> Tensor:
    """``x`` cropped or zero-padded at the end of each of ``axes`` to ``lengths`` (NumPy's ``n``/``s``)."""
    for ax, n in zip(axes, lengths):
        size = x.shape[ax]
        if size > n:
            key = [slice(None)] * x.ndim
            key[ax] = slice(0, n)
            x = x[tuple(key)]
        elif size < n:
            widths = [(0, 0)] * x.ndim
            widths[ax] = (0, n - size)
            x = api.pad(x, widths)
    return x


def _norm(norm) -> str:
    return "backward" if norm is None else norm


@implements(np.fft.fftn)
def fftn(a, s=None, axes=None, norm=None) -> Tensor:
    """The n-dimensional discrete Fourier transform, as ``np.fft.fftn``.

    ``s`` crops or zero-pads the input along ``axes`` (all axes by default,
    the last ``len(s)`` when only ``s`` is given) before transforming.  The
    result is complex (complex64 for float32 or complex64 input).

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 2.0, 0.0, -1.0], requires_grad=True)
    >>> X = mg.fft.fft(x)
    >>> (mg.abs(X) ** 2).sum().backward()   # Parseval: sum |X|^2 = n sum x^2
    >>> x.grad
    array([ 8., 16.,  0., -8.])
    """
    a = _tensor(a)
    axes, sizes = _plan("fftn", a, s, axes)
    return _FFTN(_fit(a, axes, sizes), axes, _norm(norm))


@implements(np.fft.ifftn)
def ifftn(a, s=None, axes=None, norm=None) -> Tensor:
    """The n-dimensional inverse discrete Fourier transform, as ``np.fft.ifftn``: ``ifftn(fftn(a)) == a``."""
    a = _tensor(a)
    axes, sizes = _plan("ifftn", a, s, axes)
    return _IFFTN(_fit(a, axes, sizes), axes, _norm(norm))


@implements(np.fft.rfftn)
def rfftn(a, s=None, axes=None, norm=None) -> Tensor:
    """The n-dimensional transform of a real input, as ``np.fft.rfftn``: the last axis keeps ``n//2 + 1`` bins
    (the others are the conjugates of these); a complex input is refused (use ``fftn``)."""
    a = _tensor(a)
    axes, sizes = _plan("rfftn", a, s, axes)
    return _RFFTN(_fit(a, axes, sizes), axes, _norm(norm))


@implements(np.fft.irfftn)
def irfftn(a, s=None, axes=None, norm=None) -> Tensor:
    """The inverse of ``rfftn``, as ``np.fft.irfftn``: a real result with ``s[-1]`` points on the last axis
    (``2 (m - 1)`` by default for ``m`` input bins).  The imaginary parts of bin 0 and of bin ``n/2`` (even
    ``n``) along the last axis do not count, as in NumPy; their gradient is zero."""
    a = _tensor(a)
    axes, sizes = _plan("irfftn", a, s, axes, half_inverse=True)
    n = sizes[-1]
    return _IRFFTN(_fit(a, axes, sizes[:-1] + [n // 2 + 1]), axes, n, _norm(norm))


def _one_axis(n, axis):
    return None if n is None else (n,), (axis,)


@implements(np.fft.fft)
def fft(a, n=None, axis=-1, norm=None) -> Tensor:
    """The 1-D discrete Fourier transform along ``axis``, as ``np.fft.fft`` (``n`` crops or zero-pads)."""
    return fftn(a, *_one_axis(n, axis), norm=norm)


@implements(np.fft.ifft)
def ifft(a, n=None, axis=-1, norm=None) -> Tensor:
    """The 1-D inverse discrete Fourier transform along ``axis``, as ``np.fft.ifft``."""
    return ifftn(a, *_one_axis(n, axis), norm=norm)


@implements(np.fft.rfft)
def rfft(a, n=None, axis=-1, norm=None) -> Tensor:
    """The 1-D transform of a real input, ``n//2 + 1`` bins, as ``np.fft.rfft``."""
    return rfftn(a, *_one_axis(n, axis), norm=norm)


@implements(np.fft.irfft)
def irfft(a, n=None, axis=-1, norm=None) -> Tensor:
    """The inverse of ``rfft``: ``n`` real points (``2 (m - 1)`` by default), as ``np.fft.irfft``."""
    return irfftn(a, *_one_axis(n, axis), norm=norm)


@implements(np.fft.fft2)
def fft2(a, s=None, axes=(-2, -1), norm=None) -> Tensor:
    """The 2-D discrete Fourier transform, as ``np.fft.fft2``."""
    return fftn(a, s, axes, norm)


@implements(np.fft.ifft2)
def ifft2(a, s=None, axes=(-2, -1), norm=None) -> Tensor:
    """The 2-D inverse discrete Fourier transform, as ``np.fft.ifft2``."""
    return ifftn(a, s, axes, norm)


@implements(np.fft.rfft2)
def rfft2(a, s=None, axes=(-2, -1), norm=None) -> Tensor:
    """The 2-D transform of a real input, as ``np.fft.rfft2``."""
    return rfftn(a, s, axes, norm)


@implements(np.fft.irfft2)
def irfft2(a, s=None, axes=(-2, -1), norm=None) -> Tensor:
    """The inverse of ``rfft2``, as ``np.fft.irfft2``."""
    return irfftn(a, s, axes, norm)


def _shift(name: str, x, axes, sign: int) -> Tensor:
    x = _tensor(x)
    axes = tuple(range(x.ndim)) if axes is None else (axes,) if isinstance(axes, int) else tuple(axes)
    if not axes:
        return api.positive(x)
    shifts = tuple(sign * (x.shape[ax] // 2) for ax in axes)
    return api.roll(x, shifts, axes)


@implements(np.fft.fftshift)
def fftshift(x, axes=None) -> Tensor:
    """The zero-frequency bin moved to the centre, as ``np.fft.fftshift`` (a ``roll``)."""
    return _shift("fftshift", x, axes, 1)


@implements(np.fft.ifftshift)
def ifftshift(x, axes=None) -> Tensor:
    """The inverse of ``fftshift``, as ``np.fft.ifftshift``."""
    return _shift("ifftshift", x, axes, -1)


def fftfreq(n: int, d: float = 1.0, dtype=np.float64) -> Tensor:
    """The frequency of each bin of an ``n``-point ``fft`` with sample spacing ``d`` (a constant tensor)."""
    return as_tensor(np.fft.fftfreq(n, d).astype(dtype))


def rfftfreq(n: int, d: float = 1.0, dtype=np.float64) -> Tensor:
    """The frequency of each bin of an ``n``-point ``rfft`` with sample spacing ``d`` (a constant tensor)."""
    return as_tensor(np.fft.rfftfreq(n, d).astype(dtype))
