"""The discrete Fourier transforms: ``fftn``, ``ifftn``, ``rfftn``, ``irfftn`` over given axes.

Four ops carry every transform of ``np.fft`` (the 1-D and 2-D forms, and
NumPy's ``n=``/``s=`` that crop or zero-pad the input, are written in
``microgradnp/fft.py`` with them and with slicing and ``pad``).  Each op
transforms its input at its own sizes over ``axes`` (negative, so that a
batch axis in front changes nothing: ``vmap`` runs the op as it is), with
NumPy's ``norm`` (``"backward"``: no scale forward, ``1/n`` inverse;
``"ortho"``; ``"forward"``).

The rules are written in the complex convention of ``ops/complex.py``
(``grad_z = J^H grad_w``): the transforms are linear, and the adjoint of a
transform is its inverse with the dual norm (the adjoint of ``fftn`` with
``norm="backward"``, ``sum_k g_k e^{+2 pi i jk/n}``, is ``ifftn`` with
``norm="forward"``).  A real input gets the real part.  The half-spectrum
transforms: ``rfftn(x)`` keeps ``m = n//2 + 1`` bins of the last axis, so
its adjoint is ``Re(ifftn)`` of the half spectrum zero-padded, which is
``irfftn(g / w)`` with ``w`` the weights ``irfftn`` gives each bin (1 for
bin 0 and, for even ``n``, bin ``n/2``; 2 for the others, which stand for
their mirror images); and the adjoint of ``irfftn`` is ``w * rfftn(g)``.
"""

from __future__ import annotations

from .complex import REAL_INPUT, _holds_complex, is_complex
from .registry import OpTest, defop

__all__ = ["NORMS", "DUAL"]

NORMS = ("backward", "ortho", "forward")

#: The norm of the adjoint: the adjoint of a transform is its inverse with this norm.
DUAL = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def _real_part_for_real(ns, g, a):
    return g if _holds_complex(a) else ns.real(g)


def _edges(ns, m: int, n: int, axis: int, ndim: int):
    """A boolean mask over the ``m`` bins of a half spectrum of ``n`` points: bin 0, and bin ``n/2`` for even ``n``
    (the bins ``irfftn`` counts once), shaped to broadcast along ``axis`` of an ``ndim``-d array."""
    k = ns.arange(m)
    shape = [1] * ndim
    shape[axis] = m
    return ns.reshape(k * (2 * k - n) == 0, tuple(shape))


def _fftn_vjp(ns, g, out, a, axes, norm):
    return _real_part_for_real(ns, ns.ifftn(g, axes=axes, norm=DUAL[norm]), a)


def _ifftn_vjp(ns, g, out, a, axes, norm):
    return _real_part_for_real(ns, ns.fftn(g, axes=axes, norm=DUAL[norm]), a)


def _rfftn_vjp(ns, g, out, a, axes, norm):
    half = ns.where(_edges(ns, g.shape[axes[-1]], a.shape[axes[-1]], axes[-1], g.ndim), g, g * 0.5)
    return ns.irfftn(half, axes=axes, n=a.shape[axes[-1]], norm=DUAL[norm])


def _irfftn_vjp(ns, g, out, a, axes, n, norm):
    r = ns.rfftn(g, axes=axes, norm=DUAL[norm])
    return _real_part_for_real(ns, ns.where(_edges(ns, r.shape[axes[-1]], n, axes[-1], r.ndim), r, r * 2.0), a)


def _checked_axes(name: str, x, axes) -> tuple:
    ndim = len(getattr(x, "shape", ()))
    axes = tuple(axes)
    if not axes or not all(isinstance(ax, int) and -ndim <= ax < 0 for ax in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"{name}: axes must be distinct negative axes of the {ndim}-d input, got {axes}")
    return axes


def _checked_norm(name: str, norm) -> str:
    if norm not in NORMS:
        raise ValueError(f"{name}: norm must be one of {', '.join(NORMS)} (or None: 'backward'), got {norm!r}")
    return norm


def _fft_ref(transform):
    def ref(a, axes, norm, n=None):
        import numpy as np

        f = getattr(np.fft, transform)
        if n is not None:
            return f(a, s=[a.shape[ax] for ax in axes[:-1]] + [n], axes=axes, norm=norm)
        return f(a, axes=axes, norm=norm)

    return ref


@defop(
    forward=lambda xp, a, axes, norm: xp.fftn(a, axes, norm),
    vjp=_fftn_vjp,
    jvp="linear",
    batch="trailing",
    formula="sum_j a_j e^{-2 pi i jk/n} over axes (scaled by norm);  da = ifftn(g) with the dual norm",
    test=OpTest("fft", ref=_fft_ref("fftn")),
    public=False, makes_complex=True,
)
def fftn(x, axes, norm="backward"):
    """The n-dimensional discrete Fourier transform over ``axes`` (see ``mg.fft.fftn``)."""
    return (x,), {"axes": _checked_axes("fftn", x, axes), "norm": _checked_norm("fftn", norm)}


@defop(
    forward=lambda xp, a, axes, norm: xp.ifftn(a, axes, norm),
    vjp=_ifftn_vjp,
    jvp="linear",
    batch="trailing",
    formula="the inverse of fftn over axes;  da = fftn(g) with the dual norm",
    test=OpTest("fft", ref=_fft_ref("ifftn")),
    public=False, makes_complex=True,
)
def ifftn(x, axes, norm="backward"):
    """The n-dimensional inverse discrete Fourier transform over ``axes`` (see ``mg.fft.ifftn``)."""
    return (x,), {"axes": _checked_axes("ifftn", x, axes), "norm": _checked_norm("ifftn", norm)}


@defop(
    forward=lambda xp, a, axes, norm: xp.rfftn(a, axes, norm),
    vjp=_rfftn_vjp,
    jvp="linear",
    batch="trailing",
    formula="fftn of a real a, the n//2 + 1 bins of the last axis;  da = irfftn(g / w), w = 2 but at bins 0 and n/2",
    test=OpTest("fft", ref=_fft_ref("rfftn")),
    public=False, makes_complex=True,
)
def rfftn(x, axes, norm="backward"):
    """The n-dimensional Fourier transform of a real input, half of the last axis (see ``mg.fft.rfftn``)."""
    if is_complex(x):
        raise TypeError(f"rfftn: the input is complex; {REAL_INPUT['rfftn']}")
    return (x,), {"axes": _checked_axes("rfftn", x, axes), "norm": _checked_norm("rfftn", norm)}


@defop(
    forward=lambda xp, a, axes, n, norm: xp.irfftn(a, axes, n, norm),
    vjp=_irfftn_vjp,
    jvp="linear",
    batch="trailing",
    formula="the real inverse of rfftn, n points on the last axis;  da = w * rfftn(g), w = 2 but at bins 0 and n/2",
    test=OpTest("irfft", ref=_fft_ref("irfftn")),
    public=False,
)
def irfftn(x, axes, n, norm="backward"):
    """The inverse of ``rfftn``: ``n`` real points on the last of ``axes`` (see ``mg.fft.irfftn``)."""
    axes = _checked_axes("irfftn", x, axes)
    if not isinstance(n, int) or n < 1 or x.shape[axes[-1]] != n // 2 + 1:
        raise ValueError(f"irfftn: n must be a positive int with n // 2 + 1 == {x.shape[axes[-1]]} (the input's "
                         f"last transformed axis), got {n!r}")
    return (x,), {"axes": axes, "n": n, "norm": _checked_norm("irfftn", norm)}
