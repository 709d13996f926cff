"""Gradient clipping, as ``torch.nn.utils``: rescale or clamp the ``.grad`` of parameters in place."""

from __future__ import annotations

import math

import numpy as np

from .. import _mode as _modes
from .._tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters) -> list:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def _one_implementation(who: str, foreach) -> None:
    """PyTorch's ``foreach=True`` asks for its multi-tensor kernels; we have one loop, which is ``False``."""
    if foreach not in (None, False):
        raise ValueError(f"{who}: foreach={foreach!r} asks for PyTorch's multi-tensor kernels, which microgradnp does "
                         "not have (one NumPy loop over the gradients); leave foreach as None or False")


def _array(g) -> np.ndarray:
    return g.data if isinstance(g, Tensor) else g


@_modes.replayed
def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> float:
    """Scale the gradients so that their total norm is at most ``max_norm``; return the norm before.

    The norm is taken over all the gradients together, as if concatenated
    (``norm_type`` 2 by default, ``inf`` for the largest absolute value).
    When it exceeds ``max_norm`` every gradient is multiplied, in place, by
    ``max_norm / (norm + 1e-6)`` (PyTorch's formula).  Parameters without a
    gradient are skipped.

    A non-finite norm does what PyTorch does: a NaN anywhere makes every
    gradient NaN, an infinite one scales them by 0 (the infinite entries
    become NaN), so the failure shows in the next step instead of being
    clipped away; with ``error_if_nonfinite=True`` it raises
    ``RuntimeError`` naming the first parameter whose gradient is not finite.
    ``foreach`` picks PyTorch's multi-tensor kernels; microgradnp has one
    implementation, so only ``None`` and ``False`` are accepted.  The norm is
    returned as a Python float (PyTorch returns a 0-d tensor).

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()            # grad (6, 8): norm 10
    >>> mg.nn.utils.clip_grad_norm_([w], max_norm=1.0)
    10.0
    >>> w.grad.round(4)
    array([0.6, 0.8])
    """
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a non-negative number, got {max_norm}")
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive (or inf), got {norm_type}")
    _one_implementation("clip_grad_norm_", foreach)
    grads = _grads(parameters)
    if not grads:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite norm is reported below, not warned about
        if math.isinf(norm_type):
            total = float(np.max([np.max(np.abs(_array(g))) if _array(g).size else 0.0 for g in grads]))  # NaN wins
        else:
            total = float(sum(float(np.sum(np.abs(_array(g)) ** norm_type)) for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        bad = next(((i, _array(g).shape) for i, g in enumerate(grads) if not np.all(np.isfinite(_array(g)))), None)
        where = ("every gradient is finite but the norm overflows" if bad is None else
                 f"gradient {bad[0]} (counting the parameters that have one; shape {bad[1]}) is not finite")
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, so they cannot be "
            f"clipped: {where}. Find where it comes from with mg.detect_anomaly(), or pass "
            "error_if_nonfinite=False to scale by it anyway"
        )
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:  # NaN too: every gradient becomes NaN, as in PyTorch
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as in PyTorch
            for g in grads:
                _array(g)[...] *= coef
    return total


@_modes.replayed
def clip_grad_value_(parameters, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element, in place, to ``[-clip_value, clip_value]``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([3.0, -0.1], requires_grad=True)
    >>> (w * w).sum().backward()            # grad (6, -0.2)
    >>> mg.nn.utils.clip_grad_value_([w], 1.0)
    >>> w.grad
    array([ 1. , -0.2])
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be a non-negative number, got {clip_value}")
    _one_implementation("clip_grad_value_", foreach)
    for g in _grads(parameters):
        np.clip(_array(g), -clip_value, clip_value, out=_array(g))
