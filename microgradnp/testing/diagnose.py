"""What kind of mistake a failing derivative check adds up to, in one line.

:func:`gradcheck` knows, for every input it checked, the gradient backward
gave and the one finite differences measured (``J^T v`` for the random
upstream ``v``), which elements disagree, and, when the check is small
enough, both Jacobians in full.  The mistakes people make in a backward rule
leave recognisable patterns in those numbers:

* a constant factor: the analytic gradient is ``c`` times the numeric one
  (``-1``: a sign; ``2`` or ``0.5``: a factor; ``0``: a result that never
  reaches the input);
* a transposed Jacobian: the analytic Jacobian is the numeric one's
  transpose (``W @ g`` written for ``W.T @ g``);
* the upstream gradient left out: the analytic gradient is ``J^T 1``, the
  local derivative, whatever ``v`` is;
* a wrong reduction over broadcast axes: only inputs that were broadcast
  against the output are wrong (a mean where a sum belongs is the factor
  ``1/n``);
* a wrong branch: right at most elements, wrong only in one interval of
  ``x``, named by the point (a kink) it surrounds;
* right for one input and wrong for another.

:func:`diagnose` returns the first pattern that fits, as the line a report
puts before its table, or ``None`` when none does (then the table is all
there is).  Each pattern is checked by a property test that injects the
mistake into correct rules (``tests/testing/test_diagnose.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Evidence", "diagnose", "broadcast_of", "constant_factor", "say_factor"]

#: Two vectors "are" each other when they differ by at most this, relative to
#: the larger: the numeric side carries about 1e-8 of error, and a real
#: mistake changes a gradient by far more than this.
_SAME = 1e-4


@dataclass(frozen=True)
class Evidence:
    """What one checked input showed.

    ``analytic`` and ``numeric`` are ``J^T v`` from backward and from finite
    differences, shaped like the input; ``wrong`` marks the elements that
    failed.  ``broadcast`` is how many output elements each element of the
    input reaches when it was broadcast against the output (1 when it was
    not), over ``axes``.  ``jacobian_analytic`` and ``jacobian_numeric`` are
    the full ``(outputs, inputs)`` Jacobians when they were affordable.
    """

    label: str
    x: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    wrong: np.ndarray
    broadcast: int = 1
    axes: tuple = ()
    jacobian_analytic: np.ndarray | None = None
    jacobian_numeric: np.ndarray | None = None


def broadcast_of(shape: tuple, out_shape: tuple) -> tuple[int, tuple]:
    """``(n, axes)``: how many output elements each element of an input of ``shape`` reaches when it is
    broadcast to ``out_shape``, and over which output axes; ``(1, ())`` when it is not broadcast."""
    try:
        if np.broadcast_shapes(shape, out_shape) != tuple(out_shape):
            return 1, ()
    except ValueError:
        return 1, ()
    size, out_size = math.prod(shape), math.prod(out_shape)
    if size == 0 or size >= out_size:
        return 1, ()
    lead = len(out_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + a for a, n in enumerate(shape) if n == 1 and out_shape[lead + a] != 1)
    return out_size // size, axes


def _close(a: np.ndarray, b: np.ndarray, scale: float = 0.0) -> bool:
    """``a`` and ``b`` agree to ``_SAME`` of the largest magnitude among them (and ``scale``)."""
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)), scale)
    return bool(np.all(np.abs(a - b) <= _SAME * scale + 1e-12))


def _factor(e: Evidence) -> float | None:
    """The constant ``c`` with ``analytic == c * numeric``, when there is one (and the numeric side is not zero)."""
    return constant_factor(e.analytic, e.numeric)


def constant_factor(analytic: np.ndarray, numeric: np.ndarray) -> float | None:
    """The constant ``c`` with ``analytic == c * numeric`` (least squares, then checked), or ``None``."""
    n, a = np.asarray(numeric, dtype=np.float64).reshape(-1), np.asarray(analytic, dtype=np.float64).reshape(-1)
    nn = float(n @ n)
    if nn == 0.0:
        return None
    c = float(a @ n) / nn
    return c if _close(a, c * n) else None


def say_factor(c: float, what: str, broadcast: int = 1, axes: tuple = ()) -> str:
    """What ``analytic == c * numeric`` means, for ``what`` (``"the analytic gradient of input 'x'"``)."""
    times = f"{what} is {c:.6g} times the numeric one"
    if abs(c) <= _SAME:
        return (f"{what} is zero where the numeric one is not: the rule's result never reaches it (returned in "
                "another input's position, or dropped)")
    if broadcast > 1 and abs(c * broadcast - 1) <= 1e-3:
        return (f"{times}, and the input was broadcast over {broadcast} output elements (axes {axes}): the rule "
                "averages the upstream gradient over the broadcast axes where it should sum it")
    for value, what in ((-1.0, "a sign error"), (2.0, "a factor of 2 too many"), (0.5, "a factor of 2 missing"),
                        (1.0, "a tiny constant factor")):
        if abs(c - value) <= 1e-3:
            return f"{times}: {what}"
    return f"{times}: a constant factor in the rule"


def _named(c: float, wrong: list) -> bool:
    """``c`` is a factor worth naming even from one element: a sign, a 2, a zero, a broadcast count."""
    counts = {e.broadcast for e in wrong}
    told = [0.0, -1.0, 2.0, 0.5] + ([1.0 / counts.pop()] if len(counts) == 1 else [])
    return any(abs(c - t) <= 1e-3 * max(abs(t), 1e-3) for t in told)


def _transposed(e: Evidence) -> bool:
    ja, jn = e.jacobian_analytic, e.jacobian_numeric
    if ja is None or jn is None or ja.shape[0] != ja.shape[1] or _close(jn, jn.T):
        return False
    return _close(ja, jn.T)


def _ignores_upstream(e: Evidence) -> bool:
    """The analytic gradient is ``J^T 1``: the local derivative, not multiplied by the upstream gradient."""
    jn = e.jacobian_numeric
    if jn is None:
        return False
    local = jn.sum(axis=0).reshape(e.analytic.shape)
    scale = float(np.max(np.abs(jn), initial=0.0))  # J^T 1 may cancel to zero (softmax): judge against J itself
    return not _close(local, e.numeric, scale) and _close(e.analytic, local, scale)


def _simplest(lo: float, hi: float) -> float:
    """The simplest number in the open interval ``(lo, hi)``: 0, else the integer nearest 0, else the
    shortest decimal nearest 0 (the name a person would give a kink there)."""
    if lo < 0 < hi:
        return 0.0
    lo, hi = max(lo, -1e12), min(hi, 1e12)
    for digits in range(7):
        step = 10.0 ** -digits
        first, last = math.floor(lo / step) + 1, math.ceil(hi / step) - 1
        if first <= last:
            n = 0 if first <= 0 <= last else (first if first > 0 else last)
            return round(n * step, digits)
    return (lo + hi) / 2


def _kink(e: Evidence) -> tuple[float, float, float] | None:
    """``(lo, hi, point)`` when the wrong elements are a minority lying in one interval ``[lo, hi]`` of ``x``
    that holds no right element; ``point`` is the simplest number between the right elements around it,
    where the rule's boundary must lie."""
    x = e.x.reshape(-1)
    wrong = e.wrong.reshape(-1)
    if not wrong.any() or 2 * int(wrong.sum()) > wrong.size or wrong.size < 3:  # "most points": at least two right
        return None
    lo, hi = float(x[wrong].min()), float(x[wrong].max())
    right = x[~wrong]
    if np.any((right >= lo) & (right <= hi)):
        return None
    below, above = right[right < lo], right[right > hi]
    left = float(below.max()) if below.size else -math.inf
    upper = float(above.min()) if above.size else math.inf
    return lo, hi, _simplest(left, upper)


def diagnose(evidence: list[Evidence]) -> str | None:
    """The mistake the evidence points to, as one line starting ``Diagnosis:``, or ``None``."""
    wrong = [e for e in evidence if e.wrong.any()]
    right = [e for e in evidence if not e.wrong.any()]
    if not wrong:
        return None
    only = ""
    if right:
        names = ", ".join(e.label for e in right)
        only = f" ({names} {'is' if len(right) == 1 else 'are'} right)"
    for e in wrong:
        if _transposed(e):
            return (f"Diagnosis: the analytic Jacobian of {e.label} is the transpose of the numeric one{only}: the rule "
                    "multiplies the upstream gradient by J instead of J^T (e.g. `W @ grad` for `W.T @ grad`)")
        if _ignores_upstream(e):
            return (f"Diagnosis: the analytic gradient of {e.label} is J^T 1, the local derivative alone{only}: the "
                    "rule ignores the upstream gradient `grad`; multiply by it")
    factors = [_factor(e) for e in wrong]
    only_broadcast = all(e.broadcast > 1 for e in wrong)
    if only_broadcast and all(c is not None and abs(c) <= _SAME for c in factors):
        factors = [None]  # a broadcast input's gradient read where it is 0: the reduction, not the input, is wrong
    if all(c is not None for c in factors) and max(factors) - min(factors) <= 1e-3 * max(1.0, abs(factors[0])) and (
            sum(int(np.count_nonzero(e.numeric)) for e in wrong) >= 2 or _named(factors[0], wrong)):
        # (one number against one number is always "a constant factor": only a telling one is named then)
        what = "the analytic gradient of " + ", ".join(e.label for e in wrong)
        shared = {(e.broadcast, e.axes) for e in wrong}
        broadcast, axes = shared.pop() if len(shared) == 1 else (1, ())
        return f"Diagnosis: {say_factor(factors[0], what, broadcast, axes)}{only}"
    if only_broadcast and (right or len(wrong) == len(evidence)):
        e = wrong[0]
        return (f"Diagnosis: wrong only for {', '.join(w.label for w in wrong)}, broadcast over axes {e.axes} of the "
                f"output{only}: the rule's reduction over the broadcast axes is wrong (the gradient of a broadcast "
                "input is the upstream gradient summed over those axes)")
    for e in wrong:
        kink = _kink(e)
        if kink is not None:
            lo, hi, point = kink
            good = int(e.wrong.size - e.wrong.sum())
            return (f"Diagnosis: {e.label} is right at {good} of {e.wrong.size} elements and wrong only for x in "
                    f"[{lo:.4g}, {hi:.4g}], near x = {point:g}{only}: a branch of the rule there (a kink at "
                    f"{point:g}, or a condition that puts the boundary in the wrong place)")
    if right:
        return (f"Diagnosis: {', '.join(e.label for e in wrong)} {'is' if len(wrong) == 1 else 'are'} wrong{only}: "
                "look at the part of the rule that returns the gradient of "
                + ", ".join(e.label for e in wrong))
    return None
