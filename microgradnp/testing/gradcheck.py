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
+ bound``, where ``bound`` is the error the difference quotient itself may
carry: its rounding error ``8 * machine_eps * sum|v * f(x)| / (2 h)`` plus,
when the step had to grow, its truncation error.

The tolerance scales with the derivative, never with the value of ``f``.  When
``|f|`` is large next to its derivative (``sin(x) + 1e8``), the rounding
error at the default step would swamp ``rtol * |numeric|`` and any gradient,
however wrong, would pass.  So the step is doubled (up to ``max(1, |x|)``)
until the rounding error fits within ``atol + rtol * |numeric|``, watching the
truncation error (estimated from the change of the quotient between steps,
``4/3 |D(h) - D(h/2)|`` for central differences) and keeping the step with the
smallest total.  An element whose derivative still cannot be measured to 1%
of its size (``x + 1e15`` near ``x = 1``: float64 holds ``1e15`` only to
0.125) fails with a message saying so, rather than passing vacuously.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
import warnings
from typing import Callable, Sequence

import numpy as np

from .._mode import enable_grad, no_grad
from .._tensor import Tensor, refuse_foreign
from ..engine import grad as _grad
from ..function import Function
from .diagnose import Evidence, broadcast_of, constant_factor, diagnose, say_factor

__all__ = ["gradcheck", "gradgradcheck", "jvpcheck", "GradcheckError", "NondifferentiableError"]

_EPS64 = float(np.finfo(np.float64).eps)
#: Default relative step: the cube root of float64's machine epsilon.
DEFAULT_REL_STEP = _EPS64 ** (1.0 / 3.0)
#: The range of steps ``eps`` may take (below, x + h rounds back to x; above, the
#: difference quotient is a secant).
_MIN_REL_STEP, _MAX_REL_STEP = 1e-15, 0.1


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with finite differences, or a VJP broke a structural rule."""


class NondifferentiableError(GradcheckError):
    """The function has a kink at (or within one step of) a checked point."""


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _hide(excinfo) -> bool:
    """pytest's ``__tracebackhide__``: this module's frames are left out of a failure's traceback
    (they are the checker, not the user's code), unless the check ran with ``verbose=True``."""
    return not getattr(excinfo.value, "verbose", False)


def _location(obj) -> str | None:
    """``file:line`` of a function's source, the path relative to the working directory when under it."""
    code = getattr(inspect.unwrap(obj), "__code__", None) if callable(obj) else None
    if code is None:
        return None
    path = code.co_filename
    try:
        rel = os.path.relpath(path)
        path = rel if not rel.startswith("..") else path
    except ValueError:  # another drive on Windows
        pass
    line = code.co_firstlineno
    try:  # the ``def`` line itself, past any decorators (``@staticmethod``)
        source, _ = inspect.getsourcelines(code)
        line += next(k for k, text in enumerate(source) if text.lstrip().startswith(("def ", "async def ", "lambda")))
    except (OSError, TypeError, StopIteration):
        pass
    return f"{path}:{line}"


def _user_function(fn):
    """The Function subclass behind ``fn`` (``MyOp.apply``), or ``None``."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, Function) and owner is not Function:
        return owner
    return None


def _argument_names(fn) -> tuple:
    """The names of ``fn``'s positional parameters (a Function's ``forward`` without ``ctx``), ``()`` if unknown."""
    cls = _user_function(fn)
    target = cls.forward if cls is not None else fn
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return ()
    if cls is not None:
        params = params[1:]
    names = []
    for p in params:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        names.append(p.name)
    return tuple(names)


class _Subject:
    """What a report calls the function checked and its inputs: the user's own names.

    ``who`` is the function's qualified name (a ``Function`` subclass's name
    for ``MyOp.apply``, ``the lambda at file:line`` for a lambda), ``names``
    its parameters' names by position, ``where`` the file and line of the
    rule (a Function's ``backward``, else the function itself).
    """

    def __init__(self, fn, name, inputs):
        fn = inspect.unwrap(fn)  # a checker's wrapper (gradgradcheck's) names what it wraps
        cls = _user_function(fn)
        if name:
            self.who = name
        elif cls is not None:
            self.who = cls.__qualname__
        else:
            qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
            if qualname is None:
                qualname = repr(fn)
            elif qualname.endswith("<lambda>") and _location(fn):
                qualname = f"the lambda at {_location(fn)}"
            self.who = qualname
        self.rule = f"{cls.__qualname__}.backward" if cls is not None else self.who
        self.where = _location(cls.backward if cls is not None else fn)
        self.names = _argument_names(fn)
        self.tensor_names = tuple(getattr(x, "name", None) for x in inputs)

    def label(self, i: int) -> str:
        """How messages name input ``i``: by its argument name (``input 'W'``), else by position, with the
        tensor's own name when it has one (``input 0 ('W_ih')``)."""
        arg = self.names[i] if i < len(self.names) else None
        tensor = self.tensor_names[i] if i < len(self.tensor_names) else None
        if arg and tensor and tensor != arg:
            return f"input {arg!r} (tensor {tensor!r})"
        if arg or tensor:
            return f"input {arg or tensor!r}" if arg else f"input {i} ({tensor!r})"
        return f"input {i}"

    def short(self, i: int) -> str:
        """The input's name for a table column: its argument name, else its position."""
        return self.names[i] if i < len(self.names) else str(i)

    def rule_line(self, out) -> str | None:
        """``  rule: ...`` naming the hand-written rules that ran (the Functions and custom VJPs found in the
        graph of ``out``), or the function's own location."""
        found = _custom_rules(out)
        if found:
            return "  rule: " + "; ".join(f"{what} at {where}" for what, where in found)
        op, parents = getattr(out, "_op", None), getattr(out, "_parents", None) or ()
        if op is not None and not any(getattr(p, "_op", None) for p in parents):  # one op: the registry's own tests
            where = sorted({w for w in map(_location, op.vjps or (op.vjp_all,)) if w})
            if where:
                return f"  rule: the VJP of {op.name} at {', '.join(where)}"
        return f"  rule: {self.rule} at {self.where}" if self.where else None


def _custom_rules(out, limit: int = 3) -> list:
    """``(name, file:line)`` of the hand-written backward rules recorded in the graph of ``out``."""
    found, seen, stack = [], set(), [out]
    while stack and len(found) < limit:
        t = stack.pop()
        if not isinstance(t, Tensor) or id(t) in seen:
            continue
        seen.add(id(t))
        attrs = getattr(t, "_attrs", None) or {}
        cls = attrs.get("cls") if isinstance(attrs, dict) else None
        custom = attrs.get("custom") if isinstance(attrs, dict) else None
        if isinstance(cls, type) and issubclass(cls, Function):
            entry = (f"{cls.__qualname__}.backward", _location(cls.backward))
        elif custom is not None and getattr(custom, "bwd", None) is not None:
            entry = (f"the VJP of {_name(custom.fun)}", _location(custom.bwd))
        else:
            entry = None
        if entry is not None and entry[1] and entry not in found:
            found.append(entry)
        stack.extend(getattr(t, "_parents", None) or ())
    return found


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _quiet_hypothesis_explanations() -> None:
    """Keep Hypothesis's explain phase from pointing into this package.

    When a test fails for some inputs only, Hypothesis reports the first
    lines "always and only run by failing examples"; for a wrong derivative
    those are this module's report-building lines, which say nothing about
    the user's rule.  Hypothesis has no public way to mark a library's files
    as uninformative, so we add ours to the list it keeps for that purpose
    (pytest's and contextlib's are there), once, and only when Hypothesis is
    already running.  If that list goes away, nothing happens.
    """
    scrutineer = sys.modules.get("hypothesis.internal.scrutineer")
    ours = "/microgradnp/testing/*.py"
    known = getattr(scrutineer, "UNHELPFUL_LOCATIONS", None)
    if isinstance(known, tuple) and ours not in known:
        scrutineer.UNHELPFUL_LOCATIONS = (*known, ours)


def _on_numpy_copies(fn, inputs, name):
    """``(fn', inputs', name)`` checking ``fn`` at ``inputs`` that hold another library's arrays through NumPy
    copies (see :func:`gradcheck`'s notes), or ``None`` when every input is NumPy's."""
    single = isinstance(inputs, Tensor) or not isinstance(inputs, Sequence)
    given = (inputs,) if single else tuple(inputs)
    places = {i: (x.library, x.device) for i, x in enumerate(given) if isinstance(x, Tensor) and x.library != "numpy"}
    if not places:
        return None
    copies = tuple(Tensor(x.numpy(), requires_grad=x.requires_grad, dtype=x.numpy().dtype) if i in places else x
                   for i, x in enumerate(given))

    def on_the_library(*args):
        out = fn(*[x.to(*places[i]) if i in places else x for i, x in enumerate(args)])
        if isinstance(out, (tuple, list)):
            return type(out)(o.to("numpy") if isinstance(o, Tensor) else o for o in out)
        return out.to("numpy") if isinstance(out, Tensor) else out

    library = next(iter(places.values()))[0]
    return on_the_library, copies, name or f"{_name(fn)} on {library}"


def _on_real_parts(fn, inputs, name):
    """``(fn', inputs', name)`` checking ``fn`` at complex ``inputs`` as a function of their real and imaginary
    parts, or ``None`` when no input that requires grad is complex.

    Each complex input that requires grad becomes two real leaves, ``re`` and ``im``, given to ``fn`` as
    ``mg.complex(re, im)``; each complex output becomes its real and imaginary parts.  The gradient of the
    real function is ``(dL/dre, dL/dim)``, which is ``(Re z.grad, Im z.grad)`` in microgradnp's convention
    (PyTorch's), so both parts are differenced separately: a rule with a missing conjugate fails on the
    imaginary parts, which a check that perturbs only the real part would pass.
    """
    from ..api import imag, real
    from ..creation import complex as make_complex

    single = isinstance(inputs, Tensor) or not isinstance(inputs, Sequence)
    given = (inputs,) if single else tuple(inputs)
    split = {i for i, x in enumerate(given) if isinstance(x, Tensor) and x.requires_grad and x.dtype.kind == "c"}
    if not split:
        return None
    subject = _Subject(fn, name, given)
    parts: list = []
    for i, x in enumerate(given):
        if i in split:
            arg = subject.names[i] if i < len(subject.names) else f"input {i}"
            re, im = Tensor(x.data.real.copy(), requires_grad=True), Tensor(x.data.imag.copy(), requires_grad=True)
            re.name, im.name = f"the real part of {arg}", f"the imaginary part of {arg}"
            parts += [re, im]
        else:
            parts.append(x)

    def of_parts(*args):
        rebuilt, k = [], 0
        for i in range(len(given)):
            if i in split:
                rebuilt.append(make_complex(args[k], args[k + 1]))
                k += 2
            else:
                rebuilt.append(args[k])
                k += 1
        out = fn(*rebuilt)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        flat = []
        for o in outs:
            flat += [real(o), imag(o)] if isinstance(o, Tensor) and o.dtype.kind == "c" else [o]
        return flat[0] if len(flat) == 1 and not isinstance(out, (tuple, list)) else tuple(flat)

    return of_parts, tuple(parts), f"{subject.who} (on the real and imaginary parts of its complex inputs)"


def _differentiable_inputs(fn, inputs, name, what: str) -> tuple:
    """``inputs`` as a tuple, the positions of those that require grad (at least one), and the names to report."""
    if isinstance(inputs, Tensor) or not isinstance(inputs, Sequence):
        inputs = (inputs,)
    inputs = tuple(inputs)
    for x in inputs:
        refuse_foreign(x._data if isinstance(x, Tensor) else x, what)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError(f"{what}: no input is a Tensor with requires_grad=True; nothing to check")
    subject = _Subject(fn, name, inputs)
    for i in diff:
        data = inputs[i].data
        if data.dtype.kind == "f" and not np.all(np.isfinite(data)):
            j = int(np.flatnonzero(~np.isfinite(data))[0])
            raise ValueError(
                f"{what}: {subject.label(i)} (shape {data.shape}) is {data.flat[j]} at element {j} (index "
                f"{_index(data.shape, j)}); derivatives are checked at points where every input is finite"
            )
    return inputs, diff, subject


def _check_eps(eps, what: str) -> float:
    """The relative step: finite, above float64's resolution and small enough to measure a derivative."""
    if eps is None:
        return DEFAULT_REL_STEP
    eps = float(eps)
    if not (_MIN_REL_STEP <= eps <= _MAX_REL_STEP):  # NaN fails too
        raise ValueError(
            f"{what}: eps is the relative step of the finite differences and must lie in [{_MIN_REL_STEP:.0e}, "
            f"{_MAX_REL_STEP}] (the default is {DEFAULT_REL_STEP:.1e}), got {eps!r}: a smaller step is below "
            "float64's resolution, a larger one measures a secant, not a derivative"
        )
    return eps


def _output(fn, args, who: str) -> Tensor:
    out = fn(*args)
    if isinstance(out, (tuple, list)):
        from ..api import concatenate

        parts = [o.reshape(-1) if isinstance(o, Tensor) else Tensor(np.ravel(o)) for o in out]
        out = concatenate(parts) if parts else Tensor(np.zeros(0))
    if not isinstance(out, Tensor):
        raise GradcheckError(f"{who}: the function must return a Tensor, got {type(out).__name__}")
    if out.dtype.kind == "c":  # a complex output: checked as its real and imaginary parts (see _on_real_parts)
        from ..api import concatenate, imag, real

        out = concatenate([real(out).reshape(-1), imag(out).reshape(-1)])
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


def _structural(fn, inputs, diff, rng, subject):
    __tracebackhide__ = _hide
    who = subject.who
    before = [inputs[i].data.copy() for i in diff]

    leaves = _fresh(inputs, diff)
    starts = [leaves[i].data.copy() for i in diff]
    out0 = _output(fn, leaves, who)
    if not np.all(np.isfinite(out0.data)):
        j = int(np.flatnonzero(~np.isfinite(out0.data))[0])
        raise GradcheckError(
            f"{who}: the function's output is {out0.data.flat[j]} at element {j} (of shape {out0.shape}) at the given "
            "inputs; derivatives are checked where the function is finite (pick a point inside its domain)"
        )
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
            raise GradcheckError(f"{who}: {subject.label(i)}: .grad is a Tensor after a plain backward()")
        if g.shape != x.shape:
            raise GradcheckError(f"{who}: {subject.label(i)}: gradient shape {g.shape} differs from the input's shape {x.shape}")
        if g.dtype != x.dtype:
            raise GradcheckError(f"{who}: {subject.label(i)}: gradient dtype {g.dtype} differs from the input's dtype {x.dtype}")
        if not np.array_equal(x.data, starts[k], equal_nan=True):
            raise GradcheckError(f"{who}: {subject.label(i)} was modified in place by the function or its backward")
        if not np.all(np.isfinite(g)):
            j = int(np.flatnonzero(~np.isfinite(g))[0])
            raise GradcheckError(
                f"{who}: {subject.label(i)} ({x.dtype}): the analytic gradient is {g.flat[j]} at element {j} (index "
                f"{_index(g.shape, j)}) "
                "where the function is finite. Either the derivative is infinite there (finite differences cannot "
                "check it: pick another point) or the VJP divides by zero"
            )
        grads1.append(g)
    if not np.array_equal(v, v_keep, equal_nan=True):
        raise GradcheckError(f"{who}: the upstream gradient passed to backward() was modified in place")
    for k, i in enumerate(diff):
        if not np.array_equal(inputs[i].data, before[k], equal_nan=True):
            raise GradcheckError(f"{who}: {subject.label(i)} was modified in place")

    # No gradient may share memory with another gradient, the upstream, or any input.
    for a in range(len(diff)):
        ga = grads1[a]
        if ga.size == 0:
            continue
        if np.shares_memory(ga, v):
            raise GradcheckError(f"{who}: the gradient of {subject.label(diff[a])} aliases the upstream gradient")
        for b in range(a + 1, len(diff)):
            if grads1[b].size and np.shares_memory(ga, grads1[b]):
                raise GradcheckError(
                    f"{who}: the gradients of {subject.label(diff[a])} and {subject.label(diff[b])} share memory")
        for i in diff:
            if np.shares_memory(ga, leaves[i].data):
                raise GradcheckError(f"{who}: the gradient of {subject.label(diff[a])} aliases the data of {subject.label(i)}")

    # Determinism: a fresh graph and the same upstream give bitwise-equal gradients.
    leaves2 = _fresh(inputs, diff)
    _, grads2 = _analytic(fn, leaves2, diff, v.copy(), who)
    for k, i in enumerate(diff):
        if grads1[k].tobytes() != np.asarray(grads2[k], dtype=grads1[k].dtype).tobytes():
            raise GradcheckError(
                f"{who}: {subject.label(i)}: two backward passes with the same upstream gradient gave different "
                "results (the backward pass is not deterministic)"
            )

    # A zero upstream gradient must give exactly zero gradients.
    leaves3 = _fresh(inputs, diff)
    _, grads3 = _analytic(fn, leaves3, diff, np.zeros_like(v), who)
    for k, i in enumerate(diff):
        if not np.all(grads3[k] == 0):
            j = int(np.flatnonzero(~(grads3[k] == 0))[0])
            raise GradcheckError(
                f"gradcheck: the analytic gradient of {who} does not depend on the upstream gradient.\n"
                f"Diagnosis: the rule ignores the upstream gradient `grad` for {subject.label(i)}: with grad = 0 "
                f"it still returns {float(grads3[k].flat[j])!r} at element {j}; multiply the local derivative by `grad`"
                + ("" if subject.rule_line(out0) is None else "\n" + subject.rule_line(out0))
            )
    return v, grads1


def _compare_low_precision(inputs, diff, grads, analytic, subject) -> None:
    """The gradients computed in each input's own dtype against the float64 ones finite differences confirmed.

    A VJP can be right in float64 and wrong in float32 (a fast path taken
    for float32 only, a cast, a formula that overflows): the float64 check
    cannot see it.  The tolerance is ``8 sqrt(eps)`` of the dtype (2.8e-3 in
    float32) relative to the element plus the largest element of that
    gradient, which rounding in the dtype stays well inside.
    """
    for k, i in enumerate(diff):
        dtype = grads[k].dtype
        if dtype == np.float64 or grads[k].size == 0:
            continue
        low = np.asarray(grads[k], dtype=np.float64)
        exact = np.asarray(analytic[k], dtype=np.float64)
        tol = 8.0 * math.sqrt(float(np.finfo(dtype).eps))
        err = np.abs(low - exact)
        allowed = tol * (np.abs(exact) + np.max(np.abs(exact)))
        bad = ~(err <= allowed)
        if np.any(bad):
            __tracebackhide__ = _hide
            j = int(np.argmax(np.where(bad, err / np.maximum(allowed, np.finfo(np.float64).tiny), -1.0)))
            raise GradcheckError(
                f"gradcheck: the analytic gradient of {subject.who} is wrong in {dtype} only.\n"
                f"Diagnosis: right in float64 and wrong in {dtype}: for {subject.label(i)} "
                f"(shape {low.shape}), element {j} (index {_index(low.shape, j)}), x = {inputs[i].data.flat[j]:.6g}, "
                f"the VJP run in {dtype} gives {low.flat[j]:.8g} where in float64 it gives {exact.flat[j]:.8g}, "
                f"which matches finite differences (abs err {err.flat[j]:.3e}, allowed {allowed.flat[j]:.3e} for "
                f"{dtype}; {int(bad.sum())} of {low.size} elements differ). Look for a code path, cast or formula "
                f"that only {dtype} takes."
            )


# ---------------------------------------------------------------------------
# numerical comparison in float64
# ---------------------------------------------------------------------------


class _Scalarized:
    """F(x) = sum(v * f(x)) in float64, evaluated without recording; ``subject`` names things in reports."""

    def __init__(self, fn, inputs, diff, v64, subject):
        self.fn, self.inputs, self.diff, self.v, self.subject = fn, inputs, diff, v64, subject
        self.who = subject.who

    def values(self, arrays) -> np.ndarray:
        """f at ``arrays`` (one per differentiable input), in float64, shaped like the output."""
        args = list(self.inputs)
        for i, a in zip(self.diff, arrays):
            args[i] = Tensor(a, dtype=np.float64)
        with no_grad():
            out = _output(self.fn, args, self.who)
        f = np.asarray(out.data, dtype=np.float64)
        if f.shape != self.v.shape:
            raise GradcheckError(f"{self.who}: the function's output shape changed: {f.shape} vs {self.v.shape}")
        return f

    def __call__(self, arrays):
        prod = self.v * self.values(arrays)
        return float(np.sum(prod)), float(np.sum(np.abs(prod)))

    def jacobians(self, arrays, rel: float, budget: int = 1 << 16):
        """Both Jacobians of each input in full, ``(outputs, elements)``: by backward, one pass per output
        element, and by central differences; ``None`` for all when that would cost more than ``budget``
        entries (then the diagnosis works from ``J^T v`` alone)."""
        m = self.v.size
        n = sum(a.size for a in arrays)
        if m * n > budget or m > 512 or n > 1024:
            return None
        analytic = [np.zeros((m, a.size)) for a in arrays]
        for r in range(m):
            leaves = _fresh(self.inputs, self.diff, np.float64)
            e = np.zeros(self.v.shape)
            e.flat[r] = 1.0
            _, grads = _analytic(self.fn, leaves, self.diff, e, self.who)
            for k, g in enumerate(grads):
                analytic[k][r] = np.asarray(g, dtype=np.float64).reshape(-1)
        numeric = []
        for k, a in enumerate(arrays):
            cols = np.zeros((m, a.size))
            work = [b.copy() for b in arrays]
            flat = work[k].reshape(-1)
            for j in range(a.size):
                x = float(flat[j])
                hp, hm = _steps(x, rel * max(1.0, abs(x)))
                flat[j] = x + hp
                up = self.values(work)
                flat[j] = x - hm
                down = self.values(work)
                flat[j] = x
                cols[:, j] = ((up - down) / (hp + hm)).reshape(-1)
            numeric.append(cols)
        return analytic, numeric

    def evidence(self, arrays, analytic, numeric, wrong, rel) -> list:
        """What each input showed, for :func:`~microgradnp.testing.diagnose.diagnose`."""
        full = self.jacobians(arrays, rel) if any(w.any() for w in wrong) else None
        out = []
        for k, i in enumerate(self.diff):
            count, axes = broadcast_of(arrays[k].shape, self.v.shape)
            out.append(Evidence(
                label=self.subject.label(i), x=arrays[k], analytic=np.asarray(analytic[k], dtype=np.float64),
                numeric=numeric[k], wrong=wrong[k], broadcast=count, axes=axes,
                jacobian_analytic=None if full is None else full[0][k],
                jacobian_numeric=None if full is None else full[1][k]))
        return out


def _steps(x: float, h: float):
    hp = (x + h) - x  # the displacement actually representable in float64
    hm = x - (x - h)
    return hp, hm


#: Below this the check would be vacuous: a difference quotient whose error bound
#: exceeds 1% of the derivative it measures cannot tell a right gradient from a wrong one.
_RESOLVABLE = 1e-2


def _difference(quotient, h0: float, h_max: float, atol: float, rtol: float):
    """The central difference ``D`` at the smallest step from ``h0`` up whose error fits the tolerance.

    ``quotient(h) -> (D, rounding)`` evaluates the difference quotient at the
    nominal step ``h`` and bounds its rounding error.  The step doubles while
    the rounding bound exceeds ``atol + rtol |D|``, up to ``h_max`` (the scale
    of the point itself: beyond it a secant says little about the derivative
    at the point, and the truncation estimate below stops being one).
    Returns ``(D, bound, h)`` for the step with the smallest bound: its
    rounding, plus its truncation error once the step has grown.
    """
    d, rounding = quotient(h0)
    if rounding <= atol + rtol * abs(d) or not math.isfinite(d):
        return d, rounding, h0
    best, previous, h = (rounding, d, h0), d, h0
    while 2.0 * h <= h_max:
        h *= 2.0
        d, rounding = quotient(h)
        if not math.isfinite(d):  # stepped out of the domain
            break
        truncation = 4.0 / 3.0 * abs(d - previous)  # error ~ C h^2: D(h) - D(h/2) = 3/4 C h^2
        bound = rounding + truncation
        if bound < best[0]:
            best = (bound, d, h)
        if bound <= atol + rtol * abs(d):
            break
        # Past the best step: the change between steps is no longer rounding
        # (which contributes at most 3x the rounding bound) but truncation.
        if truncation > 4.0 * rounding:
            break
        previous = d
    return best[1], best[0], best[2]


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


def _element_quotient(F, work, k: int, j: int, S0: float, measured: dict):
    """``h -> (D, rounding)`` for element ``j`` of input ``k``; ``measured[h]`` keeps the step as represented and |F|."""
    flat = work[k].reshape(-1)
    x = float(flat[j])

    def quotient(h):
        hp, hm = _steps(x, h)
        flat[j] = x + hp
        Fp, Sp = F(work)
        flat[j] = x - hm
        Fm, Sm = F(work)
        flat[j] = x
        S = max(S0, Sp, Sm)
        measured[h] = (hp, S)
        return (Fp - Fm) / (hp + hm), 8.0 * _EPS64 * S / (hp + hm)

    return quotient


def _direction_quotient(F, arrays, k: int, d, an, S0: float, measured: dict):
    """``t -> (D, rounding)`` along direction ``d`` of input ``k``, per unit of ``t``:
    ``D = (F(x + t d) - F(x - t d)) / 2t``; ``measured[t]`` keeps the analytic
    projection on the displacement as represented, and its magnitude."""
    arr = arrays[k]

    def quotient(t):
        up = [a.copy() for a in arrays]
        dn = [a.copy() for a in arrays]
        up[k] = arr + t * d
        dn[k] = arr - t * d
        w = (up[k] - arr) + (arr - dn[k])  # about 2 t d
        Fp, Sp = F(up)
        Fm, Sm = F(dn)
        measured[t] = (float(np.sum(an * w)) / (2 * t), float(np.sum(np.abs(an * w))) / (2 * t))
        return (Fp - Fm) / (2 * t), 8.0 * _EPS64 * max(S0, Sp, Sm) / (2 * t)

    return quotient


def _compare_full(F, arrays, analytic, rel, rtol, atol, check_kinks, verbose=False):
    __tracebackhide__ = _hide
    rows = []  # (err/tol, input k, element j, x, analytic, numeric, abs err, step, tol, failed, |F| scale)
    F0, S0 = F(arrays)
    work = [a.copy() for a in arrays]
    for k in range(len(arrays)):
        flat = work[k].reshape(-1)
        an = np.asarray(analytic[k], dtype=np.float64).reshape(-1)
        for j in range(flat.size):
            x = float(flat[j])
            measured = {}
            quotient = _element_quotient(F, work, k, j, S0, measured)
            num, bound, h = _difference(quotient, rel * max(1.0, abs(x)), max(1.0, abs(x)), atol, rtol)
            hp, S = measured[h]
            a = float(an[j])
            allowed = atol + rtol * abs(num)
            tol = allowed + bound
            err = abs(a - num)
            # NaN counts as bad; so does a pass that only the error bound allows when
            # that bound is too large next to the derivative to tell right from wrong.
            bad = not (err <= tol) or (err > allowed and bound > _RESOLVABLE * max(abs(a), abs(num)))
            if bad and math.isfinite(num):
                # A second opinion before failing: Richardson's extrapolation
                # (4 D(h/2) - D(h)) / 3 cancels the h^2 truncation error that a
                # large third derivative leaves at the default step (bce near
                # p = t = 0.05, where the derivative itself is 0).
                half, rounding_half = quotient(h / 2.0)
                extrapolated = (4.0 * half - num) / 3.0
                bound_x = (4.0 * rounding_half + bound) / 3.0
                allowed_x = atol + rtol * abs(extrapolated)
                err_x = abs(a - extrapolated)
                bad = not (err_x <= allowed_x + bound_x) or (
                    err_x > allowed_x and bound_x > _RESOLVABLE * max(abs(a), abs(extrapolated)))
            rows.append((err / tol if tol > 0 else math.inf, k, j, x, a, num, err, hp, tol, bad, S))
    failing = [r for r in rows if r[9]]
    if not failing:
        return
    _quiet_hypothesis_explanations()
    failing.sort(key=lambda r: -r[0] if math.isfinite(r[0]) else -math.inf)
    _, k, j, x, a, num, err, hp, tol, _, S = failing[0]
    shape = arrays[k].shape
    if check_kinks:
        kink = _kink(F, arrays, k, j, x, hp, F0, S, atol, rtol)
        if kink is not None:
            left, right = kink
            raise NondifferentiableError(
                f"gradcheck: {F.who} is not differentiable at {F.subject.label(F.diff[k])}, element {j} (index "
                f"{_index(shape, j)}), "
                f"x = {x!r}: the one-sided derivatives differ (left {left:.6g}, right {right:.6g}), so finite "
                f"differences cannot check it. Move the point more than one step (h = {hp:.3g}) away from "
                "the kink, or pass check_kinks=False to report it as an ordinary mismatch."
            )
    numeric = [np.zeros(a.shape) for a in arrays]
    wrong = [np.zeros(a.shape, dtype=bool) for a in arrays]
    for row in rows:
        numeric[row[1]].flat[row[2]] = row[5]
        wrong[row[1]].flat[row[2]] = row[9]
    found = diagnose(F.evidence(arrays, analytic, numeric, wrong, rel)) if failing[0][6] > failing[0][8] else None
    raise _failure(_report(F, failing, arrays, rtol, atol, len(rows), found, verbose), verbose)


def _failure(message: str, verbose: bool) -> GradcheckError:
    """The error a failed check raises; ``verbose`` keeps this module's frames in pytest's traceback."""
    exc = GradcheckError(message)
    exc.verbose = verbose
    return exc


def _rule_line(F) -> str | None:
    """The line naming the rules that ran, from a fresh recording of the function."""
    try:
        with enable_grad():
            out = _output(F.fn, _fresh(F.inputs, F.diff, np.float64), F.who)
    except Exception:  # naming the rule is a courtesy; the failure itself is what is reported
        return None
    return F.subject.rule_line(out)


def _report(F, failing, arrays, rtol, atol, total, found, verbose):
    v, diff, subject = F.v, F.diff, F.subject
    _, k, j, x, a, num, err, hp, tol, _, S = failing[0]
    i = diff[k]
    shape = arrays[k].shape
    rel = err / abs(num) if num != 0 else math.inf
    if err <= tol:  # failed only because the measurement is too coarse to judge
        headline = (
            f"gradcheck: the derivative of {F.who} cannot be measured precisely enough at this point to check it: "
            f"finite differences give it only to +-{tol - atol - rtol * abs(num):.3g} even at the best step, more "
            f"than {_RESOLVABLE:.0%} of its size (about {max(abs(a), abs(num)):.3g}). The values of f (sum |v * f| = {S:.3g}) are too "
            "large next to its derivative for float64; subtract their constant part, or check at another point."
        )
    else:
        headline = f"gradcheck: the analytic gradient of {F.who} does not match finite differences."
    shown = failing if verbose else failing[:5]
    lines = [headline] + ([found] if found else []) + [line for line in [_rule_line(F)] if line] + [
        f"  {subject.label(i)} (shape {shape}), element {j} (index {_index(shape, j)})",
        f"  x = {x:.6g}   analytic = {a:.10g}   numeric = {num:.10g}",
        f"  abs err = {err:.3e}   rel err = {rel:.3e}   step h = {hp:.3e}",
        f"  allowed: atol + rtol*|numeric| + difference error = {atol:.1e} + {rtol:.1e}*{abs(num):.3g} + "
        f"{tol - atol - rtol * abs(num):.1e}",
        "  (values are derivatives of sum(v * f(x)), f being the function and v the random upstream "
        + (f"gradient, here v = {v.item():.6g})" if v.size == 1 else f"gradient of shape {v.shape})"),
        f"Worst entries ({len(shown)} shown of {len(failing)} failing, {total} checked):",
        f"  {'input':>5}  {'element':>7}  {'index':<12}  {'x':>12}  {'analytic':>14}  {'numeric':>14}  {'abs err':>9}  {'rel err':>9}",
    ]
    for _, k2, j2, x2, a2, n2, e2, *_ in shown:
        r2 = e2 / abs(n2) if n2 != 0 else math.inf
        idx = str(_index(arrays[k2].shape, j2))
        lines.append(
            f"  {subject.short(diff[k2]):>5}  {j2:>7}  {idx:<12}  {x2:>12.5g}  {a2:>14.8g}  {n2:>14.8g}  {e2:>9.2e}  {r2:>9.2e}"
        )
    return "\n".join(lines)


def _compare_fast(F, arrays, analytic, rel, rtol, atol, check_kinks, rng, n_directions, max_localize, verbose):
    """Random directional derivatives of every input; on a failure, the full check of a small input
    locates the element, and a large one gets a report (and a diagnosis) from the directions themselves."""
    __tracebackhide__ = _hide
    F0, S0 = F(arrays)
    results = []  # per input: [(analytic, numeric, error bound, failed, too coarse to judge)] per direction
    for k, arr in enumerate(arrays):
        scale = np.maximum(1.0, np.abs(arr))
        an = np.asarray(analytic[k], dtype=np.float64)
        per = []
        for _ in range(n_directions):
            d = rng.standard_normal(arr.shape) * scale
            measured = {}
            quotient = _direction_quotient(F, arrays, k, d, an, S0, measured)
            size = float(np.sum(np.abs(d)))
            num, bound, t = _difference(quotient, rel, 1.0, atol * size, rtol)  # d is scaled by max(1, |x|)
            ana, mag = measured[t]
            # Relative to the projection itself (not to the sum of the magnitudes
            # of its terms, which would hide an error in one element); a term
            # sqrt(eps) * magnitude covers truncation error when terms cancel.
            allowed = atol * size + rtol * abs(num) + math.sqrt(_EPS64) * mag
            err = abs(ana - num)
            ok = err <= allowed or (err <= allowed + bound and bound <= _RESOLVABLE * max(abs(ana), abs(num)))
            per.append((ana, num, bound, not ok, err <= allowed + bound))
        results.append(per)
    failed = [k for k, per in enumerate(results) if any(r[3] for r in per)]
    if not failed:
        return
    _quiet_hypothesis_explanations()
    k = failed[0]
    arr = arrays[k]
    if arr.size <= max_localize:  # find the element
        _compare_full(F, arrays, analytic, rel, rtol, atol, check_kinks, verbose)
    ana, num, bound, _, coarse = next(r for r in results[k] if r[3])
    label = F.subject.label(F.diff[k])
    if coarse:
        raise _failure(
            f"gradcheck: the derivative of {F.who} along a random direction for {label} (shape "
            f"{arr.shape}) cannot be measured precisely enough to check it: finite differences give "
            f"{num:.6g} +- {bound:.3g} even at the best step (analytic {ana:.6g}). The values of f are too "
            "large next to its derivative for float64; subtract their constant part, or check at another point.",
            verbose)
    found = diagnose([
        Evidence(label=F.subject.label(i), x=np.zeros(len(per)), analytic=np.array([r[0] for r in per]),
                 numeric=np.array([r[1] for r in per]), wrong=np.array([r[3] for r in per]))
        for i, per in zip(F.diff, results)])
    lines = [
        f"gradcheck: the analytic gradient of {F.who} does not match finite differences along a random "
        f"direction for {label} (shape {arr.shape}): analytic directional derivative "
        f"{ana:.10g}, numeric {num:.10g} (abs err {abs(ana - num):.3e}). The input has "
        f"{arr.size} elements; use mode='full' to locate the element."
    ]
    if found:
        lines.append(found.replace("numeric one", "numeric one along every direction checked"))
    rule = _rule_line(F)
    raise _failure("\n".join(lines + ([rule] if rule else [])), verbose)


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
    verbose: bool = False,
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
        Defaults to ``cbrt(float64 machine epsilon)`` (about 6e-6); must lie
        in [1e-15, 0.1].  Where rounding error at this step would swamp the
        tolerance (``|f|`` large next to its derivative), the step grows.
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
        Name used in messages (defaults to the function's qualified name; a
        ``Function`` subclass's for ``MyOp.apply``).
    verbose
        List every failing element, not only the five worst, and keep this
        module's frames in pytest's traceback (hidden by default: the report
        is about the user's rule, not the checker).

    Returns
    -------
    bool
        ``True`` when every check passes.

    Raises
    ------
    GradcheckError
        With a report: the function, a one-line diagnosis when the mismatch
        is a known kind of mistake (a constant factor or sign, a transposed
        Jacobian, the upstream gradient left out, a wrong reduction over
        broadcast axes, a wrong branch near a kink, float32 only, one input
        of several; see :mod:`microgradnp.testing.diagnose`), the rule that
        ran (file and line), the input by its argument name, the element
        (flat and multi-index), ``x``, analytic and numeric values, absolute
        and relative error, the step, and a table of the worst entries.
    NondifferentiableError
        When the failing element sits on a kink.

    Notes
    -----
    Tensors of another array library (torch, CuPy, array-api-strict) are checked through NumPy
    copies: each becomes a float64 NumPy leaf, ``fn`` is called on ``leaf.to(library)`` (the same
    library and device) and its output brought back with ``.to("numpy")``, both recorded, so the
    analytic gradient is the library's own backward pass while the finite differences run on
    NumPy in float64.

    The numerical side always runs in float64: float32 (or float16) inputs
    are upcast on copies, with one ``UserWarning`` per such input, so a
    correct float32 function never fails for lack of precision.  The
    gradient computed in the input's own dtype is then compared with the
    float64 one (within ``8 sqrt(eps)`` of that dtype), so a VJP that is
    wrong only in float32 fails too.  Structural
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
    __tracebackhide__ = _hide
    moved = _on_numpy_copies(fn, inputs, name)
    if moved is not None:  # tensors of another library: checked through NumPy copies (see there)
        fn, inputs, name = moved
    parts = _on_real_parts(fn, inputs, name)
    if parts is not None:  # complex inputs: checked as functions of their real and imaginary parts (see there)
        fn, inputs, name = parts
    inputs, diff, subject = _differentiable_inputs(fn, inputs, name, "gradcheck")
    who = subject.who
    if mode not in ("auto", "full", "fast"):
        raise ValueError(f"gradcheck: mode must be 'auto', 'full' or 'fast', got {mode!r}")
    rel = _check_eps(eps, "gradcheck")
    rng = np.random.default_rng(seed)
    try:
        with enable_grad():
            v, own_dtype_grads = _structural(fn, inputs, diff, rng, subject)
            for i in diff:
                if inputs[i].dtype != np.float64:
                    warnings.warn(
                        f"gradcheck: {subject.label(i)} is {inputs[i].dtype}; its derivatives are checked on a "
                        "float64 copy (finite differences in low precision are too coarse to judge), then its "
                        f"gradient in {inputs[i].dtype} against the float64 one",
                        UserWarning,
                        stacklevel=2,
                    )
            leaves = _fresh(inputs, diff, np.float64)
            v64 = v.astype(np.float64)
            _, analytic = _analytic(fn, leaves, diff, v64, who)
            arrays = [leaves[i].data.copy() for i in diff]
            F = _Scalarized(fn, inputs, diff, v64, subject)
            total = sum(a.size for a in arrays)
            full = mode == "full" or (mode == "auto" and total <= max_full)
            if full:
                _compare_full(F, arrays, analytic, rel, rtol, atol, check_kinks, verbose)
            else:
                _compare_fast(F, arrays, analytic, rel, rtol, atol, check_kinks, rng, n_directions,
                              max_localize=4 * max_full, verbose=verbose)
            _compare_low_precision(inputs, diff, own_dtype_grads, analytic, subject)
    except GradcheckError as exc:
        exc.verbose = verbose
        _quiet_hypothesis_explanations()
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
    verbose: bool = False,
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
    __tracebackhide__ = _hide
    moved = _on_numpy_copies(fn, inputs, name)
    if moved is not None:  # tensors of another library: through NumPy copies, as gradcheck (the .to() are recorded)
        fn, inputs, name = moved
    parts = _on_real_parts(fn, inputs, name)
    if parts is not None:  # complex inputs: as functions of their real and imaginary parts, as gradcheck
        fn, inputs, name = parts
    inputs, diff, subject = _differentiable_inputs(fn, inputs, name, "gradgradcheck")
    who = subject.who
    _check_eps(eps, "gradgradcheck")
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

    first_derivative.__wrapped__ = fn  # reports name fn's arguments and source
    return gradcheck(
        first_derivative, inputs, eps=eps, rtol=rtol, atol=atol, mode=mode, check_kinks=check_kinks,
        raise_exception=raise_exception, seed=seed, max_full=max_full, name=f"the gradient of {who}",
        verbose=verbose,
    )


def jvpcheck(
    fn: Callable[..., Tensor],
    inputs,
    *,
    eps: float | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    n_directions: int = 4,
    raise_exception: bool = True,
    seed: int = 0,
    name: str | None = None,
    verbose: bool = False,
) -> bool:
    """A fast derivative check by forward mode: a few random directions, whatever the input size.

    For each random direction ``d`` (over all inputs that require grad at
    once), the Jacobian-vector product ``J d`` from :func:`microgradnp.func.jvp`
    (one run of ``fn`` and one tangent sweep) is compared, element by element
    of the output, with the central difference ``(fn(x + h d) - fn(x - h d))
    / 2h`` in float64.  Then forward and reverse mode are checked against each
    other by the dot-product test ``<J d, u> == <d, J^T u>`` for a random
    ``u``, which catches a custom ``Function`` whose ``jvp`` and ``backward``
    disagree.  Each direction costs two calls of ``fn``, so this is the check
    for large inputs, where :func:`gradcheck`'s full mode (two calls per
    element) is slow.

    Parameters
    ----------
    fn, inputs, eps, rtol, atol, raise_exception, seed, name, verbose
        As for :func:`gradcheck`; ``fn`` returns one Tensor.
    n_directions
        How many random directions to check.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.testing import jvpcheck
    >>> W = mg.randn(50, 40, rng=0, requires_grad=True)
    >>> x = mg.randn(40, rng=1, requires_grad=True)
    >>> jvpcheck(lambda W, x: mg.tanh(W @ x), (W, x))
    True
    """
    from ..func import jvp, vjp

    __tracebackhide__ = _hide
    moved = _on_numpy_copies(fn, inputs, name)
    if moved is not None:  # tensors of another library: checked through NumPy copies (see gradcheck's notes)
        fn, inputs, name = moved
    parts = _on_real_parts(fn, inputs, name)
    if parts is not None:  # complex inputs: random directions in their real and imaginary parts (see there)
        fn, inputs, name = parts
    inputs, diff, subject = _differentiable_inputs(fn, inputs, name, "jvpcheck")
    who = subject.who
    rel = _check_eps(eps, "jvpcheck")
    if n_directions < 1:
        raise ValueError(f"jvpcheck: n_directions must be at least 1, got {n_directions}")
    rng = np.random.default_rng(seed)
    base = [inputs[i].data.astype(np.float64) for i in diff]

    def f(*xs):
        args = list(inputs)
        for i, x in zip(diff, xs):
            args[i] = x
        return _output(fn, args, who)

    def values(arrays) -> np.ndarray:
        with no_grad():
            return f(*[Tensor(a, dtype=np.float64) for a in arrays]).data.astype(np.float64)

    try:
        with enable_grad():
            for k in range(n_directions):
                d = [rng.standard_normal(a.shape) for a in base]
                scale = max(1.0, max((float(np.max(np.abs(a))) for a in base if a.size), default=1.0))
                h = rel * scale
                out, analytic = jvp(f, tuple(Tensor(a) for a in base), tuple(d))
                analytic = analytic.data
                up = values([a + h * di for a, di in zip(base, d)])
                down = values([a - h * di for a, di in zip(base, d)])
                numeric = (up - down) / (2 * h)
                rounding = 8 * _EPS64 * (np.abs(up) + np.abs(down)) / (2 * h)
                bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric) + rounding
                if np.any(bad):
                    j = int(np.flatnonzero(bad)[0])
                    c = constant_factor(analytic, numeric)
                    found = "" if c is None else "\nDiagnosis: " + say_factor(c, "the Jacobian-vector product")
                    raise GradcheckError(
                        f"jvpcheck: {who}: the Jacobian-vector product along random direction {k} disagrees with "
                        f"central differences at output element {j} (index {_index(numeric.shape, j)}): jvp "
                        f"{float(analytic.flat[j])!r}, numeric {float(numeric.flat[j])!r} (step {h:.3g}); "
                        f"{int(bad.sum())} of {bad.size} output elements differ" + found
                    )
                u = rng.standard_normal(analytic.shape)
                _, pull = vjp(f, *(Tensor(a) for a in base))
                forward = float(np.sum(analytic * u))
                reverse = float(sum(np.sum(di * g.data) for di, g in zip(d, pull(u))))
                if abs(forward - reverse) > 1e-8 * (1.0 + abs(forward) + abs(reverse)):
                    raise GradcheckError(
                        f"jvpcheck: {who}: forward and reverse mode disagree along random direction {k}: <J d, u> = "
                        f"{forward!r} but <d, J^T u> = {reverse!r} (the jvp and the backward of some step "
                        "do not describe the same derivative).\nDiagnosis: forward mode matches central "
                        "differences along this direction, so the backward (VJP) rule is the wrong one; "
                        "gradcheck on the same function locates and diagnoses it"
                    )
    except GradcheckError as exc:
        exc.verbose = verbose
        _quiet_hypothesis_explanations()
        if raise_exception:
            raise
        return False
    return True
