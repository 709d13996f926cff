"""The engine: records what ran, then walks the graph backwards once.

Recording
    :func:`apply` runs an op's forward on its inputs' arrays and, when some
    input requires a gradient and grad mode is on, stores on the output the
    op, its inputs (a tuple: deterministic order), the arrays the forward saw
    and the op's attributes.  Nothing refers back to the output (no closure),
    so a graph is freed by reference counting alone when its root is dropped.

Backward
    :func:`_walk` is the one backward pass, behind :func:`backward` and
    :func:`grad`, with or without ``create_graph``.  It visits each node
    once, the most recently created first (a heap keyed by creation number:
    every consumer is created after its inputs, so a node's gradient is
    complete when it is visited).  No recursion.  Gradients of interior
    nodes live in a local dict and are dropped once passed on; leaves are
    collected and their gradients stored at the end, under a lock, so threads
    sharing a parameter never lose a contribution.  Broadcasting is undone in
    exactly one place, :func:`_sum_to`.

Policies (see ``docs/design.md``): leaves accumulate across calls, interior
nodes keep no gradient unless :meth:`Tensor.retain_grad` was called; saved
arrays are released after a backward pass unless ``retain_graph=True``; a
leaf's ``.grad`` never aliases another array; an input written after an op
used it makes the backward pass raise.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import math
import operator
import os
import sys
import threading
import weakref
from heapq import heapify, heappop, heappush
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import _mode as _modes
from ._mode import _mode, enable_grad
from ._tensor import Hooks, Tensor, _make, _new, foreign_library, kind_of, next_seq, note_grad_norm, refuse_foreign
from .ops import REGISTRY, xp
from .ops.complex import is_complex, twin_of
from .ops.registry import Op

__all__ = ["apply", "function", "backward", "grad", "is_recording", "TENSOR_NS", "AnomalyError"]

_ndarray = np.ndarray

_RELEASED = (
    "Trying to backward through the graph a second time, but the arrays it saved for "
    "the backward pass were released by the first backward(). Call backward(retain_graph=True) "
    "(or mg.grad(..., retain_graph=True)) the first time if you need to backward twice."
)

#: Held while leaf gradients are stored, so concurrent backward passes into
#: one shared parameter add up instead of overwriting each other.
_leaf_lock = threading.Lock()


# ---------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------


def is_recording(*inputs) -> bool:
    """Whether an op on ``inputs`` would be recorded now (grad mode on, some input requires grad)."""
    if _modes.disabled_threads and not _mode.enabled:
        return False
    return any(isinstance(x, Tensor) and x.requires_grad for x in inputs)


class _ForeignInput(TypeError):
    """Raised by :func:`_constant` for another library's array: :func:`apply` runs the op on that library."""


def _constant(x):
    """A non-Tensor input as the forward sees it: arrays and Python or NumPy scalars as they are.

    The first complex constant the engine sees raises :class:`_ComplexInput`:
    :func:`apply` runs the op again, now looking for complex inputs (their
    rules are conjugated: a real op's rule would give a wrong gradient).
    """
    if x.__class__ is float or x.__class__ is int or x.__class__ is bool:
        return x  # Python scalars stay "weak" in NumPy's type promotion: x32 * 0.5 stays float32
    if x.__class__ is complex:
        if not _modes.complex_:
            _modes.note_complex()
            raise _ComplexInput
        return x  # (weak too: x32 * 1j is complex64, as in NumPy and PyTorch)
    if x.__class__ is _ndarray or isinstance(x, np.generic):
        c = x
    else:  # lists, array-likes
        library = foreign_library(x)
        if library is not None:  # an array of another library: the op runs there (apply catches this)
            _modes.note_foreign()
            raise _ForeignInput(f"an array of {library} where NumPy was expected; microgradnp never converts "
                                "between array libraries silently: make it a Tensor with mg.tensor(x)")
        c = np.asarray(x)
    if c.dtype.kind == "c" and not _modes.complex_:
        _modes.note_complex()
        raise _ComplexInput
    return c


class _ComplexInput(Exception):
    """Raised by :func:`_constant` for the first complex constant: :func:`apply` starts again."""


def apply(op: Op, inputs: tuple, attrs: dict | None = None) -> Tensor:
    """Run ``op`` forward on ``inputs`` (Tensors or constants) and record it if needed.

    This runs once per operation, so the one- and two-input cases (nearly
    every op) are written out instead of looped over: 0.3 us of the 1.5 us
    an op costs on a small array.

    While a function transform runs (``_modes.interpreting``), an op with a
    tracer among its inputs goes to the innermost such tracer's trace
    instead (see ``microgradnp._mode.Trace``).
    """
    if _modes.special:  # an interpreter runs, some tensor has held another library's array, or a complex one
        if _modes.complex_ and op not in _COMPLEX_READY and any(map(is_complex, inputs)):
            return apply(_complex_twin(op), inputs, attrs)
        if _modes.interpreting:
            trace = _top_trace(inputs)
            if trace is not None:
                return trace.process_primitive(op, inputs, attrs)
        if _modes.foreign:
            library = _library_of_inputs(op, inputs)
            if library is not None:
                return _apply_foreign(op, inputs, attrs, library)
    try:  # (free in Python 3.11 when nothing is raised)
        n = len(inputs)
        if n == 2:
            a, b = inputs
            if isinstance(a, Tensor):
                ad, record, converted = a._data, a.requires_grad, False
            else:
                ad = _constant(a)
                record, converted = False, ad is not a
            if isinstance(b, Tensor):
                bd = b._data
                record = record or b.requires_grad
            else:
                bd = _constant(b)
                converted = converted or bd is not b
            arrays = (ad, bd)
        elif n == 1:
            a = inputs[0]
            if isinstance(a, Tensor):
                arrays, record, converted = (a._data,), a.requires_grad, False
            else:
                ad = _constant(a)
                arrays, record, converted = (ad,), False, ad is not a
        else:
            arrays, record, converted = [], False, False
            for x in inputs:
                if isinstance(x, Tensor):
                    arrays.append(x._data)
                    record = record or x.requires_grad
                else:
                    c = _constant(x)
                    converted = converted or c is not x
                    arrays.append(c)
            arrays = tuple(arrays)
    except _ForeignInput:  # a constant of another library among the inputs: the op runs there
        return _apply_foreign(op, inputs, attrs, _library_of_inputs(op, inputs) or "numpy")
    except _ComplexInput:  # the first complex value the engine sees: again, with the complex rules
        return apply(op, inputs, attrs)
    run = op.run
    if run is None:
        run = op.run = _bound(op)
    try:
        out = run(*arrays, **attrs) if attrs else run(*arrays)
    except (ValueError, TypeError, IndexError) as exc:
        raise _forward_error(op, arrays, attrs or {}, exc) from exc
    if out.__class__ is not _ndarray:
        out = np.asarray(out)  # NumPy returns scalars for 0-d results; a Tensor always holds an array
    # What tensor._make does, inlined: this runs once per operation.
    t = _new(Tensor)
    t._data = out
    t._grad = None
    t._retain = False
    t._seq = next_seq()
    t._written = 0
    if record and op.differentiable and (_modes.disabled_threads == 0 or _mode.enabled):
        t.requires_grad = True
        t._op = op
        t._parents = inputs if not converted else tuple(
            x if isinstance(x, Tensor) else c for x, c in zip(inputs, arrays)
        )
        t._saved = arrays
        t._attrs = attrs
    elif _modes.tracing and _mode.tracer is not None and (record or _mode.tracer.follows(inputs)):
        _record_without_gradient(t, op, inputs, arrays, attrs)
    else:
        t.requires_grad = False
        t._op = None
        t._parents = ()
        t._saved = None
        t._attrs = None
    if _modes.anomaly_threads and _mode.anomaly:
        _check_forward(t, op, arrays)
    return t


def _bound(op: Op):
    """``op``'s forward on NumPy, as :func:`apply` calls it (made once per op, kept as ``op.run``).

    An op that may make complex values from real ones (``makes_complex``: the
    Fourier transforms, ``astype(complex)``) notes the first it makes: from
    then on every op looks for complex inputs (their rules are conjugated).
    """
    forward = op.bind(xp)
    if not op.makes_complex:
        return forward

    def noting(*arrays, **attrs):
        out = forward(*arrays, **attrs)
        if not _modes.complex_ and getattr(getattr(out, "dtype", None), "kind", None) == "c":
            _modes.note_complex()
        return out

    return noting


_COMPLEX_READY: set = set()  # the ops recorded for complex inputs (twins, and ops whose own rules hold)


def _complex_twin(op: Op) -> Op:
    """The op recorded for complex inputs of ``op`` (ops/complex.py), or a TypeError naming it."""
    twin = twin_of(op)
    _COMPLEX_READY.add(twin)
    return twin


def _namespace_of_array(array):
    from .backends import namespace_of

    return namespace_of(array)


def _library_of_inputs(op: Op, inputs) -> str | None:
    """The one array library of ``inputs`` other than NumPy (``None``: all NumPy); two libraries raise."""
    found = set()
    for x in inputs:
        d = x._data if isinstance(x, Tensor) else x
        if d.__class__ is _ndarray or isinstance(d, np.ndarray):  # (subclasses too: a Tensor's .data view)
            found.add("numpy")
        else:
            library = foreign_library(d)
            if library is not None:
                found.add(library)
    others = found - {"numpy"}
    if not others:
        return None
    if len(found) > 1:
        raise TypeError(
            f"{op.name}: inputs from {' and '.join(sorted(found))} in one operation; microgradnp never converts "
            "between array libraries silently: move one with t.to(library) (or t.numpy()) first")
    return others.pop()


def _foreign_attr(value, library: str, device):
    """An attribute the adapter made with NumPy (an index array) as an array of ``library`` on ``device``."""
    if value.__class__ is _ndarray:
        from .backends import from_numpy

        return from_numpy(value, library, device=device)
    if value.__class__ is tuple:
        return tuple(_foreign_attr(v, library, device) for v in value)
    return value


def _device_of(arrays):
    """The device of the first array of another library among ``arrays``."""
    import array_api_compat

    for a in arrays:
        if a.__class__ is not _ndarray and foreign_library(a) is not None:
            return array_api_compat.device(a)
    return None


def _apply_foreign(op: Op, inputs: tuple, attrs, library: str) -> Tensor:
    """:func:`apply` for the inputs of another array library: the forward on that library's
    namespace, the result kept there, recorded as on NumPy (the backward runs on the same namespace).

    Python numbers stay numbers; the index arrays an adapter made with NumPy become the library's.
    Inside ``mg.compile``'s trace the op is recorded as on NumPy; the replay runs :func:`foreign_forward`.
    """
    record = any(isinstance(x, Tensor) and x.requires_grad for x in inputs)
    arrays = tuple(x._data if isinstance(x, Tensor) else x for x in inputs)
    device = _device_of(arrays)
    if attrs:
        attrs = {k: _foreign_attr(v, library, device) for k, v in attrs.items()}
    run = foreign_forward(op, library, device)
    try:
        out = run(*arrays, **attrs) if attrs else run(*arrays)
    except (ValueError, TypeError, IndexError) as exc:
        raise _forward_error(op, arrays, attrs or {}, exc) from exc
    except NotImplementedError:
        raise  # UnsupportedOnBackend: what the library cannot do, said by name already
    except RuntimeError as exc:  # torch's error for a bad shape or dtype: said as NumPy's would be
        shapes = " and ".join(str(tuple(getattr(a, "shape", ()))) for a in arrays)
        raise ValueError(f"{op.name} on {library}: cannot apply to inputs of shape {shapes}: {exc}") from exc
    if kind_of(out) == "c":  # (a Python complex among the inputs): refused as complex tensors are there
        raise TypeError(f"{op.name}: a complex result on {library}; complex tensors are supported on NumPy only, "
                        "so far: keep the real and imaginary parts apart there, or convert with .to('numpy')")
    t = _make(out)
    if record and op.differentiable and (_modes.disabled_threads == 0 or _mode.enabled):
        t.requires_grad = True
        t._op = op
        t._parents = tuple(inputs)
        t._saved = arrays
        t._attrs = attrs
    elif _modes.tracing and _mode.tracer is not None and (record or _mode.tracer.follows(inputs)):
        _record_without_gradient(t, op, inputs, arrays, attrs)  # mg.compile's trace: computed again at replay
    return t


_FOREIGN_FORWARDS: dict = {}


def foreign_forward(op: Op, library: str, device):
    """``op``'s forward on ``library``'s namespace, run with ``device`` as the device of what it makes, its
    result always an array of the library: what :func:`_apply_foreign` runs and a compiled step replays."""
    key = (op, library, device)
    known = _FOREIGN_FORWARDS.get(key)
    if known is not None:
        return known
    from .backends import namespace
    from .backends.array_api import use_device

    ns = namespace(library)
    bound = op.bind(ns)

    def run(*arrays, **attrs):
        before = use_device(device)  # what the forward makes goes beside its inputs
        try:
            out = bound(*arrays, **attrs)
        finally:
            use_device(before)
        if isinstance(out, tuple):
            raise TypeError(f"{op.name}: an op with several results is not supported on {library} yet")
        return out if isinstance(out, ns.ndarray) else ns._cx.asarray(out, device=device)

    run.__name__ = run.__qualname__ = op.name  # (named after the op in a compiled step's code)
    _FOREIGN_FORWARDS[key] = run
    return run


def _top_trace(inputs):
    """The trace of the highest level among the tracers in ``inputs`` (None if there is none)."""
    top = None
    for x in inputs:
        trace = getattr(x, "_trace", None)
        if trace is not None and (top is None or trace.level > top.level):
            top = trace
    if top is not None and not top.active:
        top.escaped()
    return top


def record(t: Tensor, op: Op, inputs: tuple, attrs) -> Tensor:
    """Record ``t`` as made by ``op`` from ``inputs`` when grad mode is on and an input requires grad.

    What :func:`apply` does for its result, for the results a trace makes
    (a tracer is a node of the graph like any tensor: ``mg.grad`` inside
    ``vmap`` walks it).  The values saved are the inputs' own (the VJPs of a
    tracer run on the tracers, never on saved arrays).
    """
    if op.differentiable and (_modes.disabled_threads == 0 or _mode.enabled) and any(
            isinstance(x, Tensor) and x.requires_grad for x in inputs):
        t.requires_grad = True
        t._op = op
        t._parents = tuple(x if isinstance(x, Tensor) or _modes.foreign and foreign_library(x) is not None
                           else _constant(x) for x in inputs)  # (another library's array: its own constant)
        t._saved = tuple(x._data if isinstance(x, Tensor) else x for x in t._parents)
        t._attrs = attrs
    return t


def _no_gradient(ns, g, out, inputs, attrs, needs):
    return [None] * len(inputs)


def _no_tangent(ns, ts, out, *inputs, **attrs):
    return None


_GRADIENT_FREE: dict = {}


def _record_without_gradient(t: Tensor, op: Op, inputs: tuple, arrays: tuple, attrs) -> None:
    """Inside a trace (``func.vmap``), record an op that would otherwise record nothing.

    A comparison, ``argmax``, or any op under ``no_grad``, applied to a
    tensor the trace follows: its result depends on the traced inputs, so
    the replay must compute it again.  It is recorded under a twin of its op
    that passes no gradient and no tangent; ``requires_grad`` is set so that
    the ops that use it are recorded too.
    """
    twin = _GRADIENT_FREE.get(op)
    if twin is None:
        twin = _GRADIENT_FREE[op] = Op(op.name, op.forward, vjp_all=_no_gradient, jvp=_no_tangent, batch=op.batch,
                                       formula=op.formula, test=op.test, unpack=op.unpack)
    t.requires_grad = True
    t._op = twin
    t._parents = tuple(x if isinstance(x, Tensor) else c for x, c in zip(inputs, arrays))
    t._saved = arrays
    t._attrs = attrs


def function(op: Op):
    """The public function of ``op``: its adapter's signature and docstring, recording through :func:`apply`.

    An adapter that only passes its positional arguments through (``add(a,
    b)`` returns ``(a, b), None``) is skipped when called positionally: one
    Python call less on every ``a + b``.  Whether it does is found by calling
    it once, here, with placeholder arguments; adapters are pure.
    """
    adapt = op.adapter
    if op.unpack is not None:  # several results, recorded as one packed output
        def call(*args, **kwargs):
            try:
                inputs, attrs = adapt(*args, **kwargs)
            except Exception as exc:
                _foreign_argument(op, args, kwargs, exc)
                raise
            return op.unpack(apply(op, inputs, attrs), attrs)
    elif _passes_through(adapt):
        def call(*args, **kwargs):
            if kwargs:
                return apply(op, *adapt(*args, **kwargs))
            return apply(op, args)
    else:
        def call(*args, **kwargs):
            try:
                inputs, attrs = adapt(*args, **kwargs)
            except Exception as exc:
                _foreign_argument(op, args, kwargs, exc)
                raise
            return apply(op, inputs, attrs)

    functools.update_wrapper(call, adapt)
    call.op = op
    return call


def _foreign_argument(op: Op, args, kwargs, exc: Exception) -> None:
    """When an adapter failed on an array of another library, say so (the library and the way
    out) instead of the NumPy error it met; the adapter's own error otherwise.  (On failure
    only: a successful call pays nothing; an adapter that succeeds passes the array to
    :func:`apply`, which refuses it.)"""
    for a in (*args, *kwargs.values()):
        for x in a if isinstance(a, (list, tuple)) else (a,):
            try:
                refuse_foreign(x, op.name)
            except TypeError as foreign:
                raise foreign from exc


def _passes_through(adapt) -> bool:
    params = inspect.signature(adapt).parameters.values()
    if any(p.kind is not p.POSITIONAL_OR_KEYWORD or p.default is not p.empty for p in params):
        return False
    placeholders = tuple(object() for _ in params)
    try:
        inputs, attrs = adapt(*placeholders)
    except Exception:
        return False
    return attrs is None and len(inputs) == len(placeholders) and all(a is b for a, b in zip(inputs, placeholders))


def _describe(a) -> str:
    if isinstance(a, _ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return f"{type(a).__name__} {a!r}"


def _forward_error(op: Op, arrays, attrs, exc: Exception) -> Exception:
    shapes = " and ".join(str(np.shape(a)) for a in arrays)
    inputs = ", ".join(_describe(a) for a in arrays)
    extra = "".join(f", {k}={_short(v)}" for k, v in attrs.items())
    msg = f"{op.name}: cannot apply to inputs of shape {shapes} ({inputs}{extra}): {exc}"
    if isinstance(exc, np.exceptions.AxisError):  # both a ValueError and an IndexError, as NumPy raises it
        return np.exceptions.AxisError(msg)
    if isinstance(exc, np.linalg.LinAlgError):  # singular, not positive definite: callers catch this type
        return np.linalg.LinAlgError(msg)
    if isinstance(exc, IndexError) and not isinstance(exc, ValueError):
        return IndexError(msg)
    if isinstance(exc, ValueError):
        return ValueError(msg)
    return TypeError(msg)


def _short(v) -> str:
    if isinstance(v, _ndarray):
        return f"<{v.dtype} array {v.shape}>"
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


# ---------------------------------------------------------------------------
# Anomaly detection (detect_anomaly)
# ---------------------------------------------------------------------------


class AnomalyError(RuntimeError):
    """Raised inside ``detect_anomaly()`` by the first op whose result, or whose VJP's result, holds NaN or inf.

    ``op`` names the op, ``phase`` is ``"forward"`` or ``"backward"``,
    ``where`` the line of user code that called the op, and ``tensor`` the
    op's result (drawable, with ``highlight=err.tensor``).
    """

    def __init__(self, message: str, op: str, phase: str, where: str, tensor):
        super().__init__(message)
        self.op, self.phase, self.where, self.tensor = op, phase, where, tensor


_PACKAGE = os.path.dirname(os.path.abspath(__file__))

#: id(tensor) -> (a weak reference to it, where it was made inside detect_anomaly()), for the
#: backward pass's messages.  (Not a WeakKeyDictionary: that compares keys with ==, elementwise on Tensors.)
_MADE_AT: dict = {}


def _made_at(t: Tensor) -> str:
    entry = _MADE_AT.get(id(t))
    return entry[1] if entry is not None and entry[0]() is t else "<made outside detect_anomaly()>"


def _user_line() -> str:
    """``file:line: source`` of the innermost frame outside this package."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE):
        f = f.f_back
    if f is None:
        return "<unknown>"
    source = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f"{f.f_code.co_filename}:{f.f_lineno}" + (f": {source}" if source else "")


def _nonfinite(a) -> str | None:
    """``"nan"``, ``"inf"`` or None: what ``a`` holds that is not finite (floating arrays only)."""
    a = _value(a)
    if not isinstance(a, (np.ndarray, np.generic)) or a.dtype.kind not in "fc" or np.isfinite(a).all():
        return None
    return "nan" if np.isnan(a).any() else "inf"


def _check_forward(t: Tensor, op: Op, arrays) -> None:
    where = _user_line()
    key = id(t)
    _MADE_AT[key] = (weakref.ref(t, lambda _, key=key: _MADE_AT.pop(key, None)), where)
    bad = _nonfinite(t._data)
    if bad is None:
        return
    inputs = ", ".join(f"{np.shape(a)}" + (f" (already {b})" if (b := _nonfinite(a)) else "") for a in arrays)
    raise AnomalyError(
        f"detect_anomaly: {op.name} produced {bad} in the forward pass ({np.count_nonzero(~np.isfinite(t._data))} "
        f"of {t._data.size} values), from inputs of shape {inputs}; called at {where}",
        op.name, "forward", where, t)


def _check_gradient(t: Tensor, i: int, gi, g) -> None:
    bad = _nonfinite(gi)
    if bad is None or _nonfinite(g) is not None:
        return  # finite, or the upstream gradient was already not: an op later in the forward pass is the first
    where = _made_at(t)
    shapes = ", ".join(str(np.shape(_value(p))) for p in t._parents)
    raise AnomalyError(
        f"detect_anomaly: the backward pass of {t._op.name} produced {bad} in the gradient of its input {i}, from "
        f"a finite upstream gradient of shape {np.shape(_value(g))} (inputs of shape {shapes}); {t._op.name} was "
        f"called at {where}",
        t._op.name, "backward", where, t)


# ---------------------------------------------------------------------------
# The namespace the VJPs get when the backward pass is recorded
# ---------------------------------------------------------------------------


def _value(x):
    return x._data if isinstance(x, Tensor) else x


#: ``value`` inside a trace: the value as a tensor the trace follows, recorded without gradient.
_VALUE = Op("value", "positive", differentiable=False, batch="elementwise", formula="the value of a;  no gradient")

#: A recorded gradient that came out constant (every path to it went through values: relu's mask, abs's sign)
#: still depends on the tensor it is the gradient of, with derivative zero almost everywhere; as in PyTorch,
#: differentiating it again gives zeros, not "does not require grad".
_LOCALLY_CONSTANT = Op(
    "locally_constant", lambda xp, value, of: xp.positive(value),
    vjps=(lambda ns, g, out, value, of: g, lambda ns, g, out, value, of: ns.zeros_like(of)),
    jvp=lambda ns, ts, out, value, of: ts[0],  # the tangent of the value goes through; of's is dropped
    batch=lambda ns, args, batched, size: args[0] if batched[0] else ns.broadcast_to(args[0], (size,) + args[0].shape),
    formula="value, recorded as a function of `of` with derivative zero;  dvalue = g, dof = 0")


def _moved(array, library: str, device):
    """``array`` copied to ``library`` (and ``device``): through NumPy, by name (``Tensor.to``)."""
    from .backends import from_numpy, to_numpy

    values = to_numpy(array)
    return values.copy() if library == "numpy" else from_numpy(values, library, device=device)


_TO = Op(
    "to", lambda xp, a, library, device, source, source_device: _moved(a, library, device),
    vjps=(lambda ns, g, out, a, library, device, source, source_device:
          g.to(source, source_device) if isinstance(g, Tensor) else _moved(g, source, source_device),),
    jvp="linear", batch="elementwise",  # a tangent, a batch: moved as the value is
    formula="a copied to another array library or device;  da = g copied back")


def to_library(t: Tensor, library: str, device=None) -> Tensor:
    """``t`` on ``library`` (and ``device``) as a recorded op when ``t`` requires grad (the gradient is copied
    back), as PyTorch's ``Tensor.to``; a plain copy otherwise.  Not inside transforms or ``mg.compile``."""
    if _modes.tracing:
        raise TypeError(f"to({library!r}) inside mg.compile: a compiled step replays its ops on the library its "
                        "tensors were traced on; move the tensors (or the model) before calling the step")
    attrs = {"library": library, "device": device, "source": t.library,
             "source_device": None if t.library == "numpy" else t.device}
    if library != "numpy":
        _modes.note_foreign()
    if _modes.interpreting and _top_trace((t,)) is not None:
        return apply(_TO, (t,), attrs)  # a transform's tensor: its interpreter moves the tangent or the batch too
    out = _make(_moved(t._data, library, device))
    if t.requires_grad and (_modes.disabled_threads == 0 or _mode.enabled):
        out.requires_grad = True
        out._op = _TO
        out._parents = (t,)
        out._saved = (t._data,)
        out._attrs = attrs
    return out


_FLOATING = frozenset({"float16", "float32", "float64", "longdouble", "float128", "bfloat16"})


def _tied(g: Tensor, of: Tensor) -> Tensor:
    """``g`` as a recorded function of ``of`` when it came out constant (see ``_LOCALLY_CONSTANT``)."""
    if g.requires_grad or not of.requires_grad or str(g.dtype).rsplit(".", 1)[-1] not in _FLOATING:
        return g
    return apply(_LOCALLY_CONSTANT, (g, of))


def _traced_value(x):
    """``x``'s value: an array; a gradient-free step for a tracer, or inside ``mg.compile``'s trace.  In a
    recorded pass on another library, a constant Tensor: that library's arrays do not hand an operator with
    a Tensor to the Tensor, as NumPy's do."""
    if isinstance(x, Tensor) and (x._trace is not None or _modes.tracing and _mode.tracer is not None
                                  and x.requires_grad):
        return apply(_VALUE, (x,))
    v = _value(x)
    if _mode.rule_library is not None and v.__class__ is not _ndarray and foreign_library(v) is not None:
        return _make(v)
    return v


def _on_value(array_function: str, name: str):
    """A function of ``x``'s value: on the array (by its library's namespace), or inside a trace by the
    registry op ``name``."""
    op_function = function(REGISTRY[name])
    on_numpy = getattr(xp, array_function)

    def call(x, *args, **kwargs):
        v = _traced_value(x)
        if isinstance(v, Tensor):
            return op_function(v, *args, **kwargs)
        f = on_numpy if v.__class__ is _ndarray else getattr(_array_namespace(v), array_function)
        return f(v, *args, **kwargs)

    return call


def _array_namespace(array):
    """``xp`` for a NumPy array (or scalar), else the namespace of the array's library."""
    return xp if array.__class__ is _ndarray or foreign_library(array) is None else _namespace_of_array(array)


def _numpy_dtype(dtype):
    """NumPy's dtype for a dtype of any array library (``torch.float64`` is ``float64``)."""
    return dtype if dtype is None or isinstance(dtype, (np.dtype, type, str)) else np.dtype(str(dtype).rsplit(".", 1)[-1])


def _numpy_dtypes(kwargs: dict) -> dict:
    return {k: _numpy_dtype(v) if k == "dtype" else v for k, v in kwargs.items()}


def _rule_constant(array):
    """A constant a rule made with NumPy, on the library of the recorded backward pass running (if another)."""
    where = _mode.rule_library
    return array if where is None else _moved(array, *where)


def _masked(g, mask):
    """``g`` where ``mask`` holds (``xp.masked``) for the recorded pass: a boolean of another library (an array,
    or a Tensor holding one) multiplies as 0/1 only once made of numbers (the standard multiplies no booleans)."""
    data = mask._data if isinstance(mask, Tensor) else mask
    if _mode.rule_library is not None and isinstance(data, (np.ndarray, np.generic)):  # a NumPy mask (select)
        data = mask = _rule_constant(data)  # for a pass on another library: moved there, as other constants
    if data.__class__ is not _ndarray and foreign_library(data) is not None:
        if isinstance(mask, Tensor):
            return g * TENSOR_NS.astype(mask, g.dtype)
        return g * _namespace_of_array(mask).astype(mask, g.dtype)
    return g * mask


def _tensor_namespace() -> SimpleNamespace:
    """The names of ``xp.VJP_VOCABULARY`` as differentiable functions (``create_graph=True``).

    Each name is the registry op of that name, except the few below that
    record nothing: constants, and functions of values (piecewise constant).
    Inside a trace the functions of values are recorded too, gradient-free,
    since the replay computes them again on other values.
    """
    plain = {
        "value": _traced_value,
        "zeros_like": lambda x: _make(_array_namespace(v := _value(x)).zeros_like(v)),
        "tri": lambda *a, **k: _rule_constant(xp.tri(*a, **_numpy_dtypes(k))),  # a constant mask
        "arange": lambda *a, **k: _rule_constant(xp.arange(*a, **_numpy_dtypes(k))),  # (pick's VJP compares labels)
        "eps": lambda dtype: xp.eps(_numpy_dtype(dtype)),
        "sign": _on_value("sign", "sign"),
        "max_reduce": _on_value("max_reduce", "max"),
        "min_reduce": _on_value("min_reduce", "min"),
        "argsort": _on_value("argsort", "argsort"),
        "all": _on_value("all", "all"),
        "masked": _masked,
    }
    ops = {name: function(REGISTRY[name]) for name in xp.VJP_VOCABULARY + xp.RULE_VOCABULARY if name not in plain}
    rules = {  # what the JVP and batching rules need beyond the VJPs' names (see ops/rules.py)
        "call": _call,
        "leaf": lambda x: _make(_value(x), requires_grad=True),  # a new leaf holding x's values
        "grad": lambda outputs, inputs, **kwargs: grad(outputs, inputs, **kwargs),
        "sum_to": lambda g, shape: _sum_to(TENSOR_NS, g, tuple(shape), "sum_to", 0),
    }
    return SimpleNamespace(ndarray=Tensor, **plain, **ops, **rules)


def _call(op, *args, **attrs):
    """``op`` (an Op or a registry name) applied to ``args``: what a rule uses to run an op itself."""
    return apply(REGISTRY[op] if isinstance(op, str) else op, args, attrs or None)


TENSOR_NS = _tensor_namespace()


# ---------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------


def _sum_to(ns, g, shape: tuple, op_name: str, index: int):
    """Undo broadcasting: sum ``g`` down to ``shape``, then check the result.

    The one place where broadcasting is undone; works on arrays and, when the
    backward pass is recorded, on Tensors.
    """
    gshape = g.shape
    lead = len(gshape) - len(shape)
    if lead < 0 or any(s != 1 and s != gs for s, gs in zip(shape, gshape[lead:])):
        raise ValueError(
            f"{op_name}: the gradient for input {index} has shape {gshape}, but the input has "
            f"shape {shape}; a VJP must return the input's shape (or a shape the input "
            "broadcasts to, which is then summed back)"
        )
    axes = tuple(range(lead)) + tuple(lead + j for j, s in enumerate(shape) if s == 1 and gshape[lead + j] != 1)
    if axes:
        g = ns.sum(g, axis=axes)
    return ns.reshape(g, shape)


def _fit(ns, gi, p: Tensor, op_name: str, index: int, record: bool):
    """Bring one input's gradient to the input's shape and dtype."""
    if record:
        if not isinstance(gi, Tensor):
            gi = _make(gi if foreign_library(gi) is not None else np.asarray(gi))
    elif gi.__class__ is not _ndarray:
        if isinstance(gi, Tensor):
            raise TypeError(f"{op_name}: its VJP returned a Tensor on the NumPy path")
        pd = p._data
        if pd.__class__ is _ndarray:
            gi = np.asarray(gi)  # NumPy scalars from a rule
        elif foreign_library(gi) is None:  # a number from a rule, for an input of another library: made one of its arrays
            gi = _namespace_of_array(pd)._cx.asarray(gi, dtype=pd.dtype, device=_device_of((pd,)))
    pd = p._data
    if gi.shape != pd.shape:
        gi = _sum_to(ns, gi, pd.shape, op_name, index)
    if gi.dtype != pd.dtype:
        if _modes.complex_ and is_complex(gi) and not is_complex(pd):
            gi = ns.real(gi)  # a real input beside complex ones: dL/dx is the real part (ops/complex.py)
        gi = ns.astype(gi, pd.dtype)
    return gi


def _owned(g, given: set) -> np.ndarray:
    """``g`` as an array no other gradient, view or caller holds (copied once if needed)."""
    if g.__class__ is not _ndarray:
        if hasattr(type(g), "__dlpack__") and not isinstance(g, np.generic):  # another library's: always a copy
            g = _namespace_of_array(g).copy(g)
            given.add(id(g))
            return g
        g = np.array(g)
    elif g.base is not None or id(g) in given:  # read-only broadcast views have a base too
        g = g.copy()
    given.add(id(g))
    return g


def _store(t: Tensor, g, given: set, record: bool, keep: bool = True) -> None:
    """Accumulate ``g`` into ``t.grad`` (PyTorch semantics); ``keep=False``: a traced gradient without its graph."""
    cur = t._grad
    if record and g._trace is not None:
        if t._trace is not g._trace:
            g._trace.unsupported(
                f"backward() into the .grad of a tensor of shape {t.shape} made outside it (a closure parameter, "
                f"whose gradient is not one array there)",
                "compute it with mg.grad(loss, w) or microgradnp.func.grad and return it from the function (for "
                "per-example gradients: vmap(grad(loss), in_axes=(None, 0))), or call backward() outside")
        if not keep:
            g = g._trace.logical_leaf(g)
    elif record and keep:
        g = _tied(g, t)
    if record:
        if _modes.tracing and _modes.records_backward():  # mg.compile: the replay accumulates, see compiler/
            cur = _mode.tracer.on_store(t, cur)
        # With create_graph=True the gradient is itself a differentiable Tensor.
        t._grad = g if cur is None else cur + g
    elif cur is None:
        t._grad = _owned(g, given)
    elif isinstance(cur, Tensor):
        t._grad = cur + g
    else:
        cur += g  # in place, as PyTorch does: the array is ours


def _modified(t: Tensor, p: Tensor, index: int) -> RuntimeError:
    who = f"input {index} of {t._op.name}" if p is not t else f"the output of {t._op.name}"
    name = f" {p.name!r}" if p.name else ""
    return RuntimeError(
        f"one of the tensors needed for the backward pass was modified in place after it was used: "
        f"{who}, the tensor{name} of shape {p.shape} and dtype {p.dtype}, was written (through .data, an "
        f"in-place operator or an optimizer step) after {t._op.name} recorded it, so the gradient would be "
        "wrong. Compute the forward again after changing it, or change a copy"
    )


_creation = operator.attrgetter("_seq")  # a C sort key: a third of what a lambda costs per node


def _reaching(roots, targets) -> set:
    """ids of the tensors on a path from ``roots`` to ``targets`` (pruning for :func:`grad`)."""
    target_ids = {id(t) for t in targets}
    seen = {id(r): r for r in roots}
    stack = list(roots)
    while stack:
        for p in stack.pop()._parents:
            if isinstance(p, Tensor) and p.requires_grad and id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    needed = set()
    for t in sorted(seen.values(), key=_creation):  # producers first
        k = id(t)
        if k in target_ids:
            needed.add(k)
            continue
        for p in t._parents:
            if id(p) in needed:  # only Tensors are ever in needed
                needed.add(k)
                break
    return needed


def _walk(roots, seeds, record: bool, retain: bool, targets=None, norms: bool = False, keep: bool = True):
    """The backward pass (see :func:`_walk_graph`); a recorded one, once tensors of other libraries exist,
    makes each node's rule constants on that node's library (``_mode.rule_library``, set per node)."""
    if _modes.foreign:
        from .backends.array_api import use_device

        previous, device = _mode.rule_library, use_device(None)
        try:
            return _walk_graph(roots, seeds, record, retain, targets, norms, keep)
        finally:
            _mode.rule_library = previous
            use_device(device)
    return _walk_graph(roots, seeds, record, retain, targets, norms, keep)


def on_library_of(array, rule, *args, **kwargs):
    """``rule(*args, **kwargs)`` (a JVP or batching rule on the Tensor namespace) with the constants it makes
    with NumPy (``tri``, ``arange``) made on ``array``'s library, as the recorded backward pass does per node."""
    if not _modes.foreign:
        return rule(*args, **kwargs)
    previous = _mode.rule_library
    _mode.rule_library = _place(array)
    try:
        return rule(*args, **kwargs)
    finally:
        _mode.rule_library = previous


def _place(array):
    """``(library, device)`` of an array of another library, ``None`` for NumPy's."""
    library = foreign_library(array)
    if library is None:
        return None
    import array_api_compat

    return library, array_api_compat.device(array)


def _walk_graph(roots, seeds, record: bool, retain: bool, targets=None, norms: bool = False, keep: bool = True):
    """The backward pass: every gradient from ``roots`` (with upstream ``seeds``) down to the leaves.

    ``record``: run the VJPs on Tensors with the Tensor namespace, so the
    pass is itself recorded (``create_graph=True``, and always for tracers:
    their VJPs run through their interpreters); otherwise on arrays, with
    each op's NumPy-only rule where it has one.  ``targets``: return the
    gradients of these tensors (for :func:`grad`), propagating only along
    paths that reach them, and touch no ``.grad``; otherwise accumulate into
    the leaves' ``.grad`` (``keep``: as recorded Tensors).  ``norms``: note the
    norm of every gradient the pass computes (``Tensor.grad_norm``),
    interior tensors' included.
    """
    # Every choice is made here, before the loop.
    ns: Any
    if record:
        ns = TENSOR_NS
    else:
        d = roots[0]._data
        ns = xp if d.__class__ is _ndarray or foreign_library(d) is None else _namespace_of_array(d)
    generic = record or ns is not xp  # the generic rules; NumPy's own forms only on NumPy arrays
    # With tensors of other libraries about, a graph may change library (Tensor.to): each node's own namespace.
    per_node = _modes.foreign and not record
    if per_node:
        from .backends.array_api import use_device
    recorded_places = _modes.foreign and record  # the rules' constants go to each node's library
    check = _check_gradient if _modes.anomaly_threads and _mode.anomaly else None
    needed = _reaching(roots, targets) if targets is not None else None
    grads, heap, leaves, given = _start(roots, seeds)
    special = norms or targets is not None  # every interior node is visited, not only hooked ones
    interior = _Interior(record, targets, norms, given) if special else None
    while heap:
        t = heappop(heap)[1]
        g = grads.pop(id(t))
        if t._retain or special:  # rarely true: an interior node whose gradient is kept, hooked, noted or wanted
            interior = interior or _Interior(record, targets, norms, given)
            g = interior.visit(t, g)
        saved, seq, parents = t._saved, t._seq, t._parents
        if saved is None:
            raise RuntimeError(_RELEASED)
        if t._written > seq:
            raise _modified(t, t, 0)
        op, attrs = t._op, t._attrs
        if per_node:
            ns = _namespace_of_array(t._data)
            generic = ns is not xp
            if generic:
                use_device(_device_of((t._data,)))  # what the node's rules make goes beside its values
        elif recorded_places:
            _mode.rule_library = _place(t._data)
        ins, out = (parents, t) if record else (saved, t._data)
        vjps = op.vjps if generic else op.numpy_vjps
        if vjps is None:
            needs = tuple(isinstance(p, Tensor) and p.requires_grad and (needed is None or id(p) in needed)
                          for p in parents)
            # Not called when no input needs a gradient (an interior target of grad(): nothing below it is wanted).
            gis = (op.vjp_all if generic else op.numpy_vjp_all)(ns, g, out, ins, attrs, needs) if any(needs) else None
        i = -1
        for p in parents:
            i += 1
            if not isinstance(p, Tensor):
                continue
            if p._written > seq:
                raise _modified(t, p, i)
            if not p.requires_grad or needed is not None and id(p) not in needed:
                continue
            if vjps is None:
                gi = gis[i]
                if gi is None:
                    continue  # a custom Function may return None for "no gradient"
            else:
                gi = vjps[i](ns, g, out, *ins, **attrs) if attrs else vjps[i](ns, g, out, *ins)
            pd = p._data
            # dtype objects of the built-in types are singletons, so "is not" is the
            # cheap test; _fit compares properly when it fails.  Tensors always go to _fit.
            if gi.__class__ is not _ndarray or gi.shape != pd.shape or gi.dtype is not pd.dtype:
                gi = _fit(ns, gi, p, op.name, i, record)
            if check is not None:
                check(t, i, gi, g)
            pk = id(p)
            prev = grads.get(pk)
            if prev is None:
                grads[pk] = gi
                if p._op is None:
                    leaves.append(p)  # a leaf's gradient is complete only at the end
                else:
                    heappush(heap, (-p._seq, p))  # first gradient to reach p: schedule it
            else:
                grads[pk] = prev + gi
        if not retain:
            t._saved = None
    return _end(leaves, grads, given, record, keep, norms, interior, targets)


def _start(roots, seeds):
    """The walk's starting state: gradients by id, the heap of interior nodes, the leaves, the seeds given."""
    if len(roots) == 1:  # loss.backward()
        r, s = roots[0], seeds[0]
        return {id(r): s}, ([] if r._op is None else [(-r._seq, r)]), ([r] if r._op is None else []), {id(s)}
    grads, heap, leaves = {}, [], []
    for r, s in zip(roots, seeds):
        k = id(r)
        if k in grads:
            grads[k] = grads[k] + s
        else:
            grads[k] = s
            if r._op is None:
                leaves.append(r)
            else:
                heap.append((-r._seq, r))
    heapify(heap)
    return grads, heap, leaves, set(map(id, seeds))


class _Interior:
    """What the walk does at an interior node besides passing its gradient on: hooks, kept and wanted gradients, norms.

    Made (once per walk) only when some node needs it.
    """

    __slots__ = ("record", "norms", "given", "wanted", "captured")

    def __init__(self, record: bool, targets, norms: bool, given: set):
        self.record, self.norms, self.given = record, norms, given
        self.wanted = None if targets is None else {id(t) for t in targets}
        self.captured: dict = {}

    def visit(self, t: Tensor, g):
        if self.norms:
            note_grad_norm(t, g)
        kept = t._retain
        if kept.__class__ is Hooks:
            g = _hooked(kept, g, t, self.record)
            kept = kept.retain
        if self.wanted is None:
            if kept:
                _store(t, g, self.given, self.record, True)
        elif id(t) in self.wanted:
            self.captured[id(t)] = g
        return g


def _end(leaves, grads, given, record: bool, keep: bool, norms: bool, interior, targets):
    """The leaves' hooks and norms, then the targets' gradients returned (grad) or the leaves' stored (backward)."""
    for leaf in leaves:
        if leaf._retain.__class__ is Hooks:  # a leaf's hooks see its complete gradient, before it is stored
            grads[id(leaf)] = _hooked(leaf._retain, grads[id(leaf)], leaf, record)
        if norms:
            note_grad_norm(leaf, grads[id(leaf)])
    if targets is not None:
        captured = interior.captured
        for leaf in leaves:
            if id(leaf) in interior.wanted:
                captured[id(leaf)] = grads[id(leaf)]
        return [_owned(captured[id(t)], given) if id(t) in captured and not record else captured.get(id(t))
                for t in targets]
    _leaf_lock.acquire()  # try/finally: half the cost of "with" on this lock (0.15 us per backward)
    try:
        for leaf in leaves:
            _store(leaf, grads[id(leaf)], given, record, keep)
    finally:
        _leaf_lock.release()
    return None


def _hooked(hooks: Hooks, g, t: Tensor, record: bool):
    """``g`` through ``t``'s hooks; a replacement becomes an array again on the NumPy path."""
    if _modes.tracing and _mode.tracer is not None and hooks.fns:
        _mode.tracer.on_unreplayable(f"a gradient hook of a tensor of shape {t.shape}",
                                     "runs Python code of its own, which a replay would skip")
    out = hooks.run(g, t)
    if out is not g and not record and foreign_library(t._data) is None:
        out = np.asarray(out._data if isinstance(out, Tensor) else out, dtype=t._data.dtype)
    return out


_UNIT_SEEDS: dict = {}


def _unit_seed(shape: tuple, dtype) -> np.ndarray:
    """A read-only array of ones, made once per shape and dtype.

    Safe to share: no VJP writes into its upstream gradient, and a leaf that
    receives it copies it first (it is in the walk's "given" set, and read-only).
    """
    key = (shape, dtype)
    s = _UNIT_SEEDS.get(key)
    if s is None:
        s = np.ones(shape, dtype=dtype)
        s.flags.writeable = False
        if len(_UNIT_SEEDS) < 64:
            _UNIT_SEEDS[key] = s
    return s


def _seed(root: Tensor, grad, record: bool, what: str = "backward()"):
    if not isinstance(root, Tensor):
        raise TypeError(f"{what}: expected a Tensor output, got {type(root).__name__}")
    if not root.requires_grad or _modes.tracing and root._op is not None and root._op.vjp_all is _no_gradient:
        # (inside a trace an op without gradient is recorded too, flagged as requiring grad; see apply)
        raise RuntimeError(
            f"{what}: the output does not require grad: it was not computed from any tensor "
            "with requires_grad=True (or it was computed under no_grad())"
        )
    data = root._data
    if data.__class__ is not _ndarray and foreign_library(data) is not None:
        return _foreign_seed(root, grad, record, what)
    if grad is None:
        if data.size != 1:
            raise RuntimeError(
                f"{what}: grad can be created implicitly only for a scalar output, but the output "
                f"has shape {data.shape}; pass grad= (an array of shape {data.shape}), or reduce "
                "the output first (e.g. .sum())"
            )
        if data.dtype.kind == "c":
            raise RuntimeError(f"{what}: grad can be created implicitly only for a real scalar output, but the "
                               f"output is {data.dtype}: a loss is real (take mg.abs(z) ** 2, mg.real(z), ...), "
                               "or pass grad= for the gradient of Re(sum(conj(grad) * z))")
        if record:
            return _make(np.ones(data.shape, dtype=data.dtype))
        return _unit_seed(data.shape, data.dtype)
    if record and isinstance(grad, Tensor):
        s = grad
    else:
        refuse_foreign(grad, what)
        s = np.asarray(grad._data if isinstance(grad, Tensor) else grad, dtype=data.dtype)
        if s.__class__ is not _ndarray:
            s = s.view(_ndarray)
    if s.shape != data.shape:
        raise ValueError(f"{what}: grad has shape {s.shape} but the output has shape {data.shape}; they must match")
    return _make(s) if record and not isinstance(s, Tensor) else s


def _foreign_seed(root: Tensor, grad, record: bool, what: str):
    """The upstream gradient of an output on another array library: ones, or ``grad`` of that library."""
    from .backends import namespace_of

    data = root._data
    ns = namespace_of(data)
    if grad is None:
        if math.prod(data.shape) != 1:
            raise RuntimeError(
                f"{what}: grad can be created implicitly only for a scalar output, but the output has shape "
                f"{tuple(data.shape)}; pass grad= (an array of that shape), or reduce the output first (e.g. .sum())")
        return _make(ns._cx.ones_like(data)) if record else ns._cx.ones_like(data)
    s = grad._data if isinstance(grad, Tensor) else grad
    if s.__class__ is _ndarray or not isinstance(s, ns.ndarray):
        raise TypeError(f"{what}: the output is on {root.library} but grad is a {type(s).__module__.split('.')[0]} "
                        f"{type(s).__name__}; give grad on {root.library} (microgradnp never converts silently)")
    if tuple(s.shape) != tuple(data.shape):
        raise ValueError(f"{what}: grad has shape {tuple(s.shape)} but the output has shape {tuple(data.shape)}; "
                         "they must match")
    if record:
        return grad if isinstance(grad, Tensor) else _make(ns.astype(s, data.dtype))
    return ns.astype(s, data.dtype)


def _as_list(x, name: str) -> list:
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return list(x)
    raise TypeError(f"{name} must be a Tensor or a sequence of Tensors, got {type(x).__name__}")


def _as_list_any(x, n: int) -> list:
    if x is None:
        return [None] * n
    if n == 1 and not isinstance(x, (list, tuple)):
        return [x]
    x = list(x)
    if len(x) != n:
        raise ValueError(f"got {len(x)} upstream gradients for {n} outputs")
    return x


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False,
             record_grad_norms: bool = False) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves.

    Parameters
    ----------
    tensors
        An output Tensor or a sequence of them.
    grad_tensors
        The upstream gradient for each output (``None`` for a scalar output
        means 1).
    retain_graph
        Keep the saved arrays so the graph can be differentiated again.
        Defaults to ``create_graph``.
    create_graph
        Record the backward pass itself; ``.grad`` then holds Tensors that can
        be differentiated again.
    record_grad_norms
        Note the norm of the gradient of every tensor the pass goes through,
        interior ones included (:attr:`Tensor.grad_norm`; drawings show them).

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> mg.backward((x * x).sum())
    >>> x.grad
    array([2., 4.])
    """
    if _modes.tracing and _modes.records_backward() or _modes.differentiating and _modes.records_inner_backward():
        # mg.compile: the backward pass is recorded, to be replayed with the forward; func.grad around
        # the call: recorded, to be differentiated (see _mode.differentiation).
        create_graph = True
    if not create_graph and isinstance(tensors, Tensor) and not isinstance(grad_tensors, (list, tuple)) \
            and not _modes.interpreting:
        # The common case, loss.backward(): straight to the walk.
        _walk((tensors,), (_seed(tensors, grad_tensors, False),), False, bool(retain_graph),
              norms=record_grad_norms)
        if _modes.backward_listeners:
            _after_backward((tensors,))
        return
    roots = _as_list(tensors, "tensors")
    gts = _as_list_any(grad_tensors, len(roots))
    retain = create_graph if retain_graph is None else bool(retain_graph)
    record = create_graph or _traced(roots, gts)
    seeds = [_seed(r, g, record) for r, g in zip(roots, gts)]
    if record:
        with enable_grad():
            _walk(roots, seeds, record=True, retain=retain, norms=record_grad_norms, keep=create_graph)
    else:
        _walk(roots, seeds, record=False, retain=retain, norms=record_grad_norms)
    if _modes.backward_listeners:
        _after_backward(roots)


def _after_backward(roots) -> None:
    """Tell the listeners of ``_mode.backward_listeners`` that a pass from ``roots`` stored its gradients."""
    for listener in list(_modes.backward_listeners):
        listener(roots)


def _traced(*groups) -> bool:
    """Whether a tracer (of vmap, jvp) is among the tensors: the walk then runs its VJPs through the tracers."""
    return bool(_modes.interpreting) and any(isinstance(x, Tensor) and x._trace is not None
                                             for group in groups for x in group)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    Like ``torch.autograd.grad``: ``.grad`` attributes are left untouched and
    the result is a tuple with one Tensor per input.  With
    ``create_graph=True`` the returned gradients are themselves differentiable,
    which gives Hessian-vector products and higher derivatives.

    Parameters
    ----------
    outputs
        A Tensor or a sequence of Tensors to differentiate.
    inputs
        A Tensor or a sequence of Tensors (leaves or interior) to differentiate
        with respect to.
    grad_outputs
        Upstream gradient per output (``None`` means 1 for a scalar output).
        With ``create_graph=True`` it may be a Tensor that requires grad.
    retain_graph
        Keep the graph's saved arrays; defaults to ``create_graph``.
    create_graph
        Record the backward pass so its results can be differentiated.
    allow_unused
        Return ``None`` for an input the outputs do not depend on, instead of
        raising.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor(2.0, requires_grad=True)
    >>> y = x ** 3
    >>> (dy,) = mg.grad(y, x, create_graph=True)
    >>> dy.item()
    12.0
    >>> (d2y,) = mg.grad(dy, x)
    >>> d2y.item()
    12.0
    """
    if _modes.tracing and _modes.records_backward() or _modes.differentiating and _modes.records_inner_backward():
        create_graph = True  # mg.compile, or a reverse-mode transform around the call, as in backward()
    outs = _as_list(outputs, "outputs")
    ins = _as_list(inputs, "inputs")
    for i, x in enumerate(ins):
        if not isinstance(x, Tensor) or not x.requires_grad:
            inside = "" if getattr(x, "_trace", None) is None else (
                f" (inside {x._trace.name} as everywhere: call x.requires_grad_() on it first, or use "
                "microgradnp.func.grad, which differentiates with respect to its arguments)")
            raise RuntimeError(
                f"grad(): input {i} does not require grad; only tensors with requires_grad=True "
                f"(or results computed from them) can be differentiated with respect to{inside}"
            )
    gos = _as_list_any(grad_outputs, len(outs))
    retain = create_graph if retain_graph is None else bool(retain_graph)
    record = create_graph or _traced(outs, gos, ins)
    seeds = [_seed(r, g, record, "grad()") for r, g in zip(outs, gos)]
    if record:
        with enable_grad():
            res = _walk(outs, seeds, record=True, retain=retain, targets=ins)
    else:
        res = _walk(outs, seeds, record=False, retain=retain, targets=ins)
    result = []
    for i, (x, g) in enumerate(zip(ins, res)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): input {i} (shape {x.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
        elif not isinstance(g, Tensor):
            result.append(_make(g))
        elif record and not create_graph:  # walked through tracers: the results, without this level's graph
            result.append(g._trace.logical_leaf(g) if g._trace is not None else _make(g._data))
        else:
            result.append(_tied(g, x) if record else g)
    return tuple(result)
