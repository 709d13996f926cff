"""Check analytic derivatives against central finite differences.

:func:`gradcheck` compares the gradient that backward produces with one
measured numerically, always in float64, and checks the structural promises
of a VJP on the way (shape, dtype, determinism, no aliasing, no mutation).
:func:`gradgradcheck` does the same for second derivatives.

How the numerical side works
----------------------------
The function is reduced to a scalar with a random upstream gradient ``v``
(never all ones, which hides transposition bugs): ``F(x) = sum(v * f(x))``,
so that ``dF/dx = J^T v`` is exactly what backward computes with ``grad=v``.
Each element gets the step ``h = eps * max(1, |x|)`` with ``eps =
cbrt(machine epsilon)`` (about 6e-6, which balances truncation and rounding
error for central differences), and ``x + h`` and ``x - h`` are rounded to
representable numbers, the actual displacement being used as the divisor.

An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|
+ noise``, where ``noise = 8 * machine_eps * sum|v * f(x)| / (2 h)`` bounds the
rounding error of the difference quotient (large when ``F`` is large but its
derivative small).
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

import numpy as np

from .._mode import enable_grad, no_grad
from ..engine import grad as _grad
from ..tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError", "NondifferentiableError"]

_EPS64 = float(np.finfo(np.float64).eps)
#: Default relative step: the cube root of float64's machine epsilon.
DEFAULT_REL_STEP = _EPS64 ** (1.0 / 3.0)


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with finite differences, or a VJP broke a structural rule."""


class NondifferentiableError(GradcheckError):
    """The function has a kink at (or within one step of) a checked point."""


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _differentiable_inputs(inputs, what: str) -> tuple:
    """``inputs`` as a tuple, and the positions of those that require grad (at least one)."""
    if isinstance(inputs, Tensor) or not isinstance(inputs, Sequence):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError(f"{what}: no input is a Tensor with requires_grad=True; nothing to check")
    return inputs, diff


def _output(fn, args, who: str) -> Tensor:
    out = fn(*args)
    if isinstance(out, (tuple, list)):
        from ..api import concatenate

        parts = [o.reshape(-1) if isinstance(o, Tensor) else Tensor(np.ravel(o)) for o in out]
        out = concatenate(parts) if parts else Tensor(np.zeros(0))
    if not isinstance(out, Tensor):
        raise GradcheckError(f"{who}: the function must return a Tensor, got {type(out).__name__}")
    if out.dtype.kind != "f":
        raise GradcheckError(f"{who}: the function returned a {out.dtype} tensor; only floating outputs have gradients")
    return out


def _fresh(inputs, diff, dtype=None):
    """New leaves with copied data for the differentiable inputs, constants as given."""
    leaves = list(inputs)
    for i in diff:
        data = inputs[i].data
        data = data.astype(dtype) if dtype is not None else data.copy()
        leaves[i] = Tensor(data, requires_grad=True, dtype=data.dtype)
    return leaves


def _analytic(fn, leaves, diff, v, who):
    """Gradients of sum(v * fn(leaves)) w.r.t. leaves[diff], zeros where unused."""
    out = _output(fn, leaves, who)
    if out.shape != v.shape:
        raise GradcheckError(f"{who}: the function's output shape changed between calls: {out.shape} vs {v.shape}")
    if out.requires_grad:
        out.backward(v)
    grads = []
    for i in diff:
        g = leaves[i].grad
        grads.append(np.zeros_like(leaves[i].data) if g is None else g)
    return out, grads


def _index(shape, j):
    return tuple(int(k) for k in np.unravel_index(j, shape)) if shape else ()


# ---------------------------------------------------------------------------
# structural checks on the caller's own dtypes
# ---------------------------------------------------------------------------


def _structural(fn, inputs, diff, rng, who):
    before = [inputs[i].data.copy() for i in diff]

    leaves = _fresh(inputs, diff)
    starts = [leaves[i].data.copy() for i in diff]
    out0 = _output(fn, leaves, who)
    v = rng.standard_normal(out0.shape).astype(out0.dtype)
    if v.size and np.all(v == 1):  # never all ones (cannot happen with normal draws, but be explicit)
        v.flat[0] = 2.0
    v_keep = v.copy()
    if out0.requires_grad:
        out0.backward(v)
    grads1 = []
    for k, i in enumerate(diff):
        x = leaves[i]
        g = x.grad
        if g is None:
            grads1.append(np.zeros_like(x.data))
            continue
        if isinstance(g, Tensor):
            raise GradcheckError(f"{who}: input {i}: .grad is a Tensor after a plain backward()")
        if g.shape != x.shape:
            raise GradcheckError(f"{who}: input {i}: gradient shape {g.shape} differs from the input's shape {x.shape}")
        if g.dtype != x.dtype:
            raise GradcheckError(f"{who}: input {i}: gradient dtype {g.dtype} differs from the input's dtype {x.dtype}")
        if not np.array_equal(x.data, starts[k], equal_nan=True):
            raise GradcheckError(f"{who}: input {i} was modified in place by the function or its backward")
        grads1.append(g)
    if not np.array_equal(v, v_keep, equal_nan=True):
        raise GradcheckError(f"{who}: the upstream gradient passed to backward() was modified in place")
    for k, i in enumerate(diff):
        if not np.array_equal(inputs[i].data, before[k], equal_nan=True):
            raise GradcheckError(f"{who}: input {i} was modified in place")

    # No gradient may share memory with another gradient, the upstream, or any input.
    for a in range(len(diff)):
        ga = grads1[a]
        if ga.size == 0:
            continue
        if np.shares_memory(ga, v):
            raise GradcheckError(f"{who}: the gradient of input {diff[a]} aliases the upstream gradient")
        for b in range(a + 1, len(diff)):
            if grads1[b].size and np.shares_memory(ga, grads1[b]):
                raise GradcheckError(f"{who}: the gradients of inputs {diff[a]} and {diff[b]} share memory")
        for i in diff:
            if np.shares_memory(ga, leaves[i].data):
                raise GradcheckError(f"{who}: the gradient of input {diff[a]} aliases the data of input {i}")

    # Determinism: a fresh graph and the same upstream give bitwise-equal gradients.
    leaves2 = _fresh(inputs, diff)
    _, grads2 = _analytic(fn, leaves2, diff, v.copy(), who)
    for k, i in enumerate(diff):
        if grads1[k].tobytes() != np.asarray(grads2[k], dtype=grads1[k].dtype).tobytes():
            raise GradcheckError(
                f"{who}: input {i}: two backward passes with the same upstream gradient gave different "
                "results (the backward pass is not deterministic)"
            )

    # A zero upstream gradient must give exactly zero gradients.
    leaves3 = _fresh(inputs, diff)
    _, grads3 = _analytic(fn, leaves3, diff, np.zeros_like(v), who)
    for k, i in enumerate(diff):
        if not np.all(grads3[k] == 0):
            j = int(np.flatnonzero(~(grads3[k] == 0))[0])
            raise GradcheckError(
                f"{who}: input {i}: with a zero upstream gradient the gradient is not zero "
                f"(element {j} is {grads3[k].flat[j]!r}); the VJP ignores its upstream gradient"
            )
    return v


# ---------------------------------------------------------------------------
# numerical comparison in float64
# ---------------------------------------------------------------------------


class _Scalarized:
    """F(x) = sum(v * f(x)) in float64, evaluated without recording."""

    def __init__(self, fn, inputs, diff, v64, who):
        self.fn, self.inputs, self.diff, self.v, self.who = fn, inputs, diff, v64, who

    def __call__(self, arrays):
        args = list(self.inputs)
        for i, a in zip(self.diff, arrays):
            args[i] = Tensor(a, dtype=np.float64)
        with no_grad():
            out = _output(self.fn, args, self.who)
        f = np.asarray(out.data, dtype=np.float64)
        if f.shape != self.v.shape:
            raise GradcheckError(f"{self.who}: the function's output shape changed: {f.shape} vs {self.v.shape}")
        prod = self.v * f
        return float(np.sum(prod)), float(np.sum(np.abs(prod)))


def _steps(x: float, rel: float):
    h = rel * max(1.0, abs(x))
    hp = (x + h) - x  # the displacement actually representable in float64
    hm = x - (x - h)
    return hp, hm


def _kink(F, arrays, k, j, x, h, F0, S, atol, rtol):
    """Left and right derivatives at two step sizes; a kink keeps their gap as the step shrinks."""

    def one_sided(step):
        up = [a.copy() for a in arrays]
        dn = [a.copy() for a in arrays]
        up[k].flat[j] = x + step
        dn[k].flat[j] = x - step
        hp, hm = up[k].flat[j] - x, x - dn[k].flat[j]
        fp, _ = F(up)
        fm, _ = F(dn)
        return (fp - F0) / hp, (F0 - fm) / hm, hp

    right1, left1, _ = one_sided(h)
    right2, left2, hp2 = one_sided(h / 4.0)
    gap1, gap2 = right1 - left1, right2 - left2
    scale = max(abs(right1), abs(left1))
    thr = 10.0 * (atol + rtol * scale) + 100.0 * _EPS64 * S / hp2
    if not (math.isfinite(gap1) and math.isfinite(gap2)):
        return (left2, right2) if not (math.isfinite(left2) and math.isfinite(right2)) else None
    if abs(gap1) > thr and abs(gap2) > 0.5 * abs(gap1):
        return left2, right2
    return None


def _compare_full(F, arrays, diff, analytic, rel, rtol, atol, check_kinks, who):
    rows = []  # (err/tol, input k, element j, x, analytic, numeric, abs err, step, tol, failed, |F| scale)
    F0, S0 = F(arrays)
    work = [a.copy() for a in arrays]
    for k in range(len(arrays)):
        flat = work[k].reshape(-1)
        an = np.asarray(analytic[k], dtype=np.float64).reshape(-1)
        for j in range(flat.size):
            x = float(flat[j])
            hp, hm = _steps(x, rel)
            flat[j] = x + hp
            Fp, Sp = F(work)
            flat[j] = x - hm
            Fm, Sm = F(work)
            flat[j] = x
            num = (Fp - Fm) / (hp + hm)
            a = float(an[j])
            noise = 8.0 * _EPS64 * max(S0, Sp, Sm) / (hp + hm)
            tol = atol + rtol * abs(num) + noise
            err = abs(a - num)
            bad = not (err <= tol)  # NaN counts as bad
            rows.append((err / tol if tol > 0 else math.inf, k, j, x, a, num, err, hp, tol, bad, max(S0, Sp, Sm)))
    failing = [r for r in rows if r[9]]
    if not failing:
        return
    failing.sort(key=lambda r: -r[0] if math.isfinite(r[0]) else -math.inf)
    worst = failing[0]
    _, k, j, x, a, num, err, hp, tol, _, S = worst
    i = diff[k]
    shape = arrays[k].shape
    if check_kinks:
        kink = _kink(F, arrays, k, j, x, hp, F0, S, atol, rtol)
        if kink is not None:
            left, right = kink
            raise NondifferentiableError(
                f"gradcheck: {who} is not differentiable at input {i}, element {j} (index {_index(shape, j)}), "
                f"x = {x!r}: the one-sided derivatives differ (left {left:.6g}, right {right:.6g}), so finite "
                f"differences cannot check it. Move the point more than one step (h = {hp:.3g}) away from "
                "the kink, or pass check_kinks=False to report it as an ordinary mismatch."
            )
    raise GradcheckError(_report(who, failing, diff, arrays, rtol, atol, len(rows), F.v))


def _report(who, failing, diff, arrays, rtol, atol, total, v):
    _, k, j, x, a, num, err, hp, tol, *_ = failing[0]
    i = diff[k]
    shape = arrays[k].shape
    rel = err / abs(num) if num != 0 else math.inf
    lines = [
        f"gradcheck: the analytic gradient of {who} does not match finite differences.",
        f"  input {i} (shape {shape}), element {j} (index {_index(shape, j)})",
        f"  x = {x:.6g}   analytic = {a:.10g}   numeric = {num:.10g}",
        f"  abs err = {err:.3e}   rel err = {rel:.3e}   step h = {hp:.3e}",
        f"  allowed: atol + rtol*|numeric| + rounding = {atol:.1e} + {rtol:.1e}*{abs(num):.3g} + {tol - atol - rtol * abs(num):.1e}",
        "  (values are derivatives of sum(v * f(x)), f being the function and v the random upstream "
        + (f"gradient, here v = {v.item():.6g})" if v.size == 1 else f"gradient of shape {v.shape})"),
        f"Worst entries ({min(len(failing), 5)} shown of {len(failing)} failing, {total} checked):",
        f"  {'input':>5}  {'element':>7}  {'index':<12}  {'x':>12}  {'analytic':>14}  {'numeric':>14}  {'abs err':>9}  {'rel err':>9}",
    ]
    for _, k2, j2, x2, a2, n2, e2, *_ in failing[:5]:
        r2 = e2 / abs(n2) if n2 != 0 else math.inf
        idx = str(_index(arrays[k2].shape, j2))
        lines.append(
            f"  {diff[k2]:>5}  {j2:>7}  {idx:<12}  {x2:>12.5g}  {a2:>14.8g}  {n2:>14.8g}  {e2:>9.2e}  {r2:>9.2e}"
        )
    return "\n".join(lines)


def _compare_fast(F, arrays, diff, analytic, rel, rtol, atol, check_kinks, who, rng, n_directions, max_localize):
    F0, S0 = F(arrays)
    for k, arr in enumerate(arrays):
        scale = np.maximum(1.0, np.abs(arr))
        an = np.asarray(analytic[k], dtype=np.float64)
        for _ in range(n_directions):
            d = rng.standard_normal(arr.shape) * scale
            up = [a.copy() for a in arrays]
            dn = [a.copy() for a in arrays]
            up[k] = arr + rel * d
            dn[k] = arr - rel * d
            dp, dm = up[k] - arr, arr - dn[k]  # displacements as represented
            Fp, Sp = F(up)
            Fm, Sm = F(dn)
            num = Fp - Fm
            ana = float(np.sum(an * (dp + dm)))
            mag = float(np.sum(np.abs(an * (dp + dm))))
            noise = 8.0 * _EPS64 * max(S0, Sp, Sm)
            # Relative to the projection itself (not to the sum of the magnitudes
            # of its terms, which would hide an error in one element); a term
            # sqrt(eps) * magnitude covers truncation error when terms cancel.
            tol = atol * float(np.sum(np.abs(dp + dm))) + rtol * abs(num) + math.sqrt(_EPS64) * mag + noise
            if abs(ana - num) <= tol:
                continue
            # A projection failed: find the element if the input is small enough.
            if arr.size <= max_localize:
                _compare_full(F, arrays, diff, analytic, rel, rtol, atol, check_kinks, who)
            t = 2.0 * rel
            raise GradcheckError(
                f"gradcheck: the analytic gradient of {who} does not match finite differences along a random "
                f"direction for input {diff[k]} (shape {arr.shape}): analytic directional derivative "
                f"{ana / t:.10g}, numeric {num / t:.10g} (abs err {abs(ana - num) / t:.3e}). The input has "
                f"{arr.size} elements; use mode='full' to locate the element."
            )


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------


def gradcheck(
    fn: Callable[..., Tensor],
    inputs,
    *,
    eps: float | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    mode: str = "auto",
    check_kinks: bool = True,
    raise_exception: bool = True,
    seed: int = 0,
    max_full: int = 256,
    n_directions: int = 4,
    name: str | None = None,
) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against central finite differences.

    Parameters
    ----------
    fn
        Takes the inputs (Tensors and any constants) and returns a Tensor (or
        a sequence of Tensors, checked as their concatenation).
    inputs
        A Tensor or a sequence of arguments; Tensors with
        ``requires_grad=True`` are checked, everything else is passed as is.
    eps
        Relative step; the step of an element ``x`` is ``eps * max(1, |x|)``.
        Defaults to ``cbrt(float64 machine epsilon)`` (about 6e-6).
    rtol, atol
        An element passes when ``|analytic - numeric| <= atol + rtol *
        |numeric| + rounding``, where ``rounding`` bounds the float64 error of
        the difference quotient.
    mode
        ``"full"``: every element of every input (2 calls of ``fn`` per
        element); ``"fast"``: ``n_directions`` random projections per input
        (2 calls each); ``"auto"``: full when the inputs have at most
        ``max_full`` elements in all.
    check_kinks
        When an element fails, look at the one-sided derivatives there; if
        they differ (a kink), raise :class:`NondifferentiableError` instead of
        a misleading mismatch.
    raise_exception
        Raise :class:`GradcheckError` on failure (default); otherwise return
        ``False``.
    seed
        Seed of the random upstream gradient and directions.
    name
        Name used in messages (defaults to the function's name).

    Returns
    -------
    bool
        ``True`` when every check passes.

    Raises
    ------
    GradcheckError
        With a report: the function, input, element (flat and multi-index),
        ``x``, analytic and numeric values, absolute and relative error, the
        step, and a table of the worst entries.
    NondifferentiableError
        When the failing element sits on a kink.

    Notes
    -----
    The numerical side always runs in float64: float32 (or float16) inputs
    are upcast on copies, with one ``UserWarning`` per such input, so a
    correct float32 function never fails for lack of precision.  Structural
    checks run on the inputs as given: each gradient has its input's shape
    and dtype, a second backward pass gives bitwise-identical gradients, no
    gradient shares memory with another, with the upstream gradient or with
    an input, the inputs and the upstream are not modified, and a zero
    upstream gives zero gradients.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.testing import gradcheck
    >>> x = mg.tensor([0.5, -1.5, 2.0], requires_grad=True)
    >>> gradcheck(lambda x: mg.tanh(x) * x ** 2, x)
    True
    """
    who = name or _name(fn)
    inputs, diff = _differentiable_inputs(inputs, "gradcheck")
    if mode not in ("auto", "full", "fast"):
        raise ValueError(f"gradcheck: mode must be 'auto', 'full' or 'fast', got {mode!r}")
    rel = DEFAULT_REL_STEP if eps is None else float(eps)
    rng = np.random.default_rng(seed)
    try:
        with enable_grad():
            v = _structural(fn, inputs, diff, rng, who)
            for i in diff:
                if inputs[i].dtype != np.float64:
                    warnings.warn(
                        f"gradcheck: input {i} is {inputs[i].dtype}; its derivatives are checked on a float64 "
                        "copy (finite differences in low precision are too coarse to judge)",
                        UserWarning,
                        stacklevel=2,
                    )
            leaves = _fresh(inputs, diff, np.float64)
            v64 = v.astype(np.float64)
            _, analytic = _analytic(fn, leaves, diff, v64, who)
            arrays = [leaves[i].data.copy() for i in diff]
            F = _Scalarized(fn, inputs, diff, v64, who)
            total = sum(a.size for a in arrays)
            full = mode == "full" or (mode == "auto" and total <= max_full)
            if full:
                _compare_full(F, arrays, diff, analytic, rel, rtol, atol, check_kinks, who)
            else:
                _compare_fast(
                    F, arrays, diff, analytic, rel, rtol, atol, check_kinks, who, rng, n_directions,
                    max_localize=4 * max_full,
                )
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs,
    grad_outputs=None,
    *,
    eps: float | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    mode: str = "auto",
    check_kinks: bool = True,
    raise_exception: bool = True,
    seed: int = 0,
    max_full: int = 256,
    name: str | None = None,
) -> bool:
    """Check second derivatives: the gradient computed with ``create_graph=True``
    is differentiated by backward and compared with central differences of it.

    The function checked is ``x -> J(x)^T v`` for a fixed random ``v`` (or
    ``grad_outputs``), so every Hessian-vector product the engine records is
    compared against finite differences of the analytic gradient.  The report
    has the same form as :func:`gradcheck`'s.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.testing import gradgradcheck
    >>> x = mg.tensor([0.3, -0.7], requires_grad=True)
    >>> gradgradcheck(lambda x: (mg.sigmoid(x) * mg.exp(x)).sum(), x)
    True
    """
    who = name or _name(fn)
    inputs, diff = _differentiable_inputs(inputs, "gradgradcheck")
    with no_grad():
        probe = _output(fn, [x.detach() if isinstance(x, Tensor) else x for x in inputs], who)
    if grad_outputs is None:
        v = np.random.default_rng(seed + 1).standard_normal(probe.shape)
    else:
        v = np.asarray(grad_outputs.data if isinstance(grad_outputs, Tensor) else grad_outputs, dtype=np.float64)

    def first_derivative(*xs):
        with enable_grad():
            xs = list(xs)
            for i in diff:
                if not xs[i].requires_grad:  # the numerical side passes plain tensors
                    xs[i] = xs[i].detach().requires_grad_()
            out = _output(fn, xs, who)
            if not out.requires_grad:
                return Tensor(np.zeros(sum(xs[i].size for i in diff)))
            grads = _grad(out, [xs[i] for i in diff], grad_outputs=v.astype(out.dtype), create_graph=True, allow_unused=True)
        from ..api import concatenate

        parts = [
            g.reshape(-1) if g is not None else Tensor(np.zeros(xs[i].size, dtype=xs[i].dtype))
            for i, g in zip(diff, grads)
        ]
        return concatenate(parts)

    return gradcheck(
        first_derivative, inputs, eps=eps, rtol=rtol, atol=atol, mode=mode, check_kinks=check_kinks,
        raise_exception=raise_exception, seed=seed, max_full=max_full, name=f"the gradient of {who}",
    )
