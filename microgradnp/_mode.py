"""The state every layer reads: grad mode, the interpreters running, and ``mg.compile``'s trace.

* Grad mode: whether operations are recorded for differentiation.  The flag
  is per thread (a ``threading.local``), so ``no_grad()`` in one thread never
  switches off recording in another.
* The interpreter protocol (:class:`Trace`, :func:`new_trace`): the function
  transforms that run a function on tracers (``vmap``, ``jvp``), one level
  each, and :class:`TransformError` for what one does not support.
* ``mg.compile``'s trace hooks (:func:`start_trace`, :func:`replayed`, ...) and
  the ``epoch`` its guards compare.

Each is read first through a plain module-level integer (``interpreting``,
``tracing``, ``anomaly_threads``), so that none costs more than one read
while it is off.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly", "Trace", "TransformError"]


class _GradMode(threading.local):
    # A class attribute is the default every new thread sees; assigning on the
    # instance shadows it for the current thread only.
    enabled = True
    # The trace recording in this thread (``microgradnp.func.vmap`` records its
    # function once, then replays it on the batch), or None.
    tracer = None
    # Whether detect_anomaly() is on in this thread.
    anomaly = False
    # The interpreters (function transforms) running in this thread, innermost last; see Trace.
    traces = ()
    # How many reverse-mode function transforms (func.grad, vjp, jacrev) run a function in this thread.
    reverse = 0
    # ``(library, device)`` while a recorded backward pass (create_graph=True) runs on another array library:
    # the constants its rules make (``tri``, ``arange``) are made there.  None on NumPy.
    rule_library = None


_mode = _GradMode()

# How many threads have recording switched off right now.  Reading a
# thread-local costs about as much as a small NumPy call, so the engine first
# looks at this plain integer: while it is 0 (no thread is inside no_grad, the
# usual case during training) recording is on everywhere and the thread-local
# is not consulted.
disabled_threads = 0
_count_lock = threading.Lock()

# How many traces are recording right now, in any thread: a plain integer the
# engine and Tensor read first, so that no trace costs nothing but that read.
tracing = 0

# How many threads have anomaly detection on: read first, as ``tracing`` is.
anomaly_threads = 0

# Called with the root tensor after every ``backward()`` completes (not ``mg.grad``): how a layer above the
# engine acts once a pass has stored its gradients (``distributed.DistributedDataParallel`` sums them across
# processes).  Empty, it costs the engine one read.
backward_listeners: list = []

# Bumped by every change a compiled step could depend on that no argument shows: a module's attribute
# assigned (a parameter replaced, ``training`` switched), a hook registered or removed.  ``mg.compile``'s
# replay compares it first and checks what it depends on in detail only when it moved.
epoch = 0


def bump_epoch() -> None:
    """Note a change of the module and hook world (see ``epoch``)."""
    global epoch
    epoch += 1


def note_module_call(module) -> None:
    """Called by ``nn.Module.__call__`` while ``mg.compile`` traces: the module's state is part of the step."""
    tracer = _mode.tracer
    if tracer is not None and hasattr(tracer, "on_module"):
        tracer.on_module(module)


# How many interpreters (vmap, jvp) are running now, in any thread: the one integer the
# engine reads on every op; while it is 0 no op looks for a tracer among its inputs.
interpreting = 0


# 1 once any Tensor has held an array of another library (torch, CuPy, array-api-strict), else 0:
# until then no op looks at its inputs' array library (a program on NumPy alone never pays for it).
foreign = 0

# 1 once any complex array has entered a Tensor or an op (see ops/complex.py): from then on every op
# looks for complex inputs (recorded with their complex rules, or refused by name).
complex_ = 0

# ``interpreting or foreign or complex_``: the one integer engine.apply reads on every op before its NumPy
# fast path (one module attribute read, where two cost the per-example SGD benchmark 2%: benchmarks/against.py).
special = 0


def note_foreign() -> None:
    """A tensor of another array library exists now: every op looks at its inputs' library from here on."""
    global foreign, special
    foreign = special = 1


def note_complex() -> None:
    """A complex array exists now: every op looks for complex inputs from here on."""
    global complex_, special
    complex_ = special = 1


# How many reverse-mode function transforms are running a function now, in any thread (read first,
# as ``tracing`` is): backward() and mg.grad inside one record their pass (see ``differentiation``).
differentiating = 0


@contextlib.contextmanager
def differentiation():
    """Run the body as the function a reverse-mode transform (``func.grad``, ``vjp``, ``jacrev``) differentiates.

    ``backward()`` and ``mg.grad`` called inside record their backward pass
    (``create_graph=True``), so the transform differentiates through them
    (``grad`` of a function that calls ``mg.grad``: the second derivative),
    as an outer level of torch.func sees through ``torch.autograd.grad``.
    """
    global differentiating
    with _count_lock:
        differentiating += 1
    _mode.reverse += 1
    try:
        yield
    finally:
        _mode.reverse -= 1
        with _count_lock:
            differentiating -= 1


def records_inner_backward() -> bool:
    """Whether a backward pass run now must be recorded for a transform around it (see :func:`differentiation`)."""
    return bool(differentiating) and _mode.reverse > 0


# ---------------------------------------------------------------------------
# The interpreter protocol (function transforms that run the function on tracers)
# ---------------------------------------------------------------------------


class TransformError(RuntimeError):
    """A combination a function transform does not support: the message names it and the way out."""


class Trace:
    """One interpreter: how a function transform runs each operation on its own tracers.

    A transform (``vmap``, ``jvp``) pushes a trace with :func:`new_trace`; the
    trace gets the next *level*.  Inside, the function's inputs are tracers
    of that trace (``microgradnp._tensor.Tracer``), each carrying values of the
    level below (a batch of examples, a primal and its tangent).  Every op
    the function applies to a tracer reaches the trace of the highest level
    among its inputs, through :meth:`process_primitive`, which computes the
    op's result on the level below (by applying ops there, which may reach
    the next trace down) and wraps it in a tracer of its own.  So transforms
    nest in any order, and the same transform inside itself (``vmap`` of
    ``vmap``) works: each has its own level.

    Reverse mode is not a trace: the engine's tape records ops on tracers as
    on any tensor (``mg.grad`` inside ``vmap`` walks it with the tracers'
    rules), and a tracer's values of the level below are recorded by that
    level's tape (``grad`` of ``vmap``).

    Anything an interpreter does not support reaches :meth:`unsupported`,
    which raises :class:`TransformError` naming the transform and the way
    out: an interpreter never falls through to a wrong number.
    """

    #: The transform's name, as users call it (``"vmap"``).
    name = "transform"

    level = 0
    active = False

    def process_primitive(self, op, inputs: tuple, attrs: dict | None):
        """Apply the registry op ``op`` to ``inputs``, some of them this trace's tracers."""
        self.unsupported(f"the op {op.name}", "")

    def read(self, tracer, what: str, implicit: bool = False):
        """The concrete value of ``tracer`` for ``what`` (``item()``, ``.data``), or raise.

        ``implicit``: NumPy converts the tensor without the code asking for its
        value by name (``np.asarray``, an ndarray assignment).
        """
        self.unsupported(f"reading the value of a traced tensor ({what})", "")

    def escaped(self):
        """Raise for a tracer of this trace used after the transform returned."""
        raise TransformError(
            f"a tensor traced by {self.name} is used after {self.name} returned (it was kept in a variable, a "
            f"closure or a .grad): it stands for values that exist only inside {self.name}. Return it from the "
            "function instead")

    def unsupported(self, what: str, way_out: str):
        raise TransformError(f"{self.name}: {what} is not supported inside {self.name}" + (f"; {way_out}" if way_out else ""))


@contextlib.contextmanager
def new_trace(trace: Trace):
    """Run the body with ``trace`` as the innermost interpreter of this thread (the next level)."""
    global interpreting, special
    stack = _mode.traces
    trace.level = len(stack) + 1
    trace.active = True
    _mode.traces = stack + (trace,)
    with _count_lock:
        interpreting += 1
        special = 1
    try:
        yield trace
    finally:
        trace.active = False
        _mode.traces = stack
        with _count_lock:
            interpreting -= 1
            special = 1 if interpreting or foreign or complex_ else 0


def active_traces() -> tuple:
    """The interpreters running in this thread, outermost first."""
    return _mode.traces


def start_trace(tracer) -> None:
    """Record every op on the tracer's tensors in this thread, until :func:`end_trace`."""
    global tracing
    if _mode.tracer is not None:
        raise RuntimeError("a trace is already recording in this thread (mg.compile inside mg.compile is not supported)")
    with _count_lock:
        tracing += 1
    _mode.tracer = tracer


def end_trace() -> None:
    global tracing
    _mode.tracer = None
    with _count_lock:
        tracing -= 1


def read_during_trace(t) -> None:
    """Called when a tensor's value is read (``item()``, ``bool()``, ...) while a trace records."""
    tracer = _mode.tracer
    if tracer is not None:
        tracer.on_read(t)


def copied_during_trace(source, copy) -> None:
    """Called when a Tensor is made from another (``mg.tensor(x)``) while a trace records."""
    tracer = _mode.tracer
    if tracer is None:
        return
    on_copy = getattr(tracer, "on_copy", None)
    if on_copy is not None:
        on_copy(source, copy)
    else:
        tracer.on_read(source)  # the copy holds the values: as good as reading them


def records_backward() -> bool:
    """Whether the trace in this thread records backward passes as ops (``mg.compile`` does)."""
    return getattr(_mode.tracer, "records_backward", False)


def replayed(fn):
    """Mark ``fn`` as a call a compiled function makes again, as it is, at each replay.

    ``mg.compile`` records what a function does to tensors; a call it cannot
    see into (an optimizer's ``step()``, which updates arrays in place) is
    recorded whole instead: run during the trace, and called again with the
    same arguments at the same place in every replay.  Outside a trace the
    mark costs one integer read.
    """
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if tracing:
            tracer = _mode.tracer
            if tracer is not None and hasattr(tracer, "host_call"):
                return tracer.host_call(fn, args, kwargs)
        return fn(*args, **kwargs)

    call.replayed = fn
    return call


def traced_update():
    """The trace an optimizer's update runs in (``mg.compile``'s, which writes it into the code), or None."""
    if tracing:
        tracer = _mode.tracer
        if tracer is not None and getattr(tracer, "traces_updates", False):
            return tracer
    return None


# The generators a checkpointed segment's forward drew from, with their states before each draw
# (``microgradnp.checkpoint``): its recomputation in the backward pass draws the same numbers.
random_draws: list | None = None


def note_random_draw(generator) -> None:
    """Called by a layer before it draws from ``generator`` (``Dropout``): a checkpoint can replay the draw."""
    if random_draws is not None:
        state = generator.bit_generator.state if hasattr(generator, "bit_generator") else generator.get_state()
        random_draws.append((generator, state))


def note_unreplayable(what: str, why: str) -> None:
    """Called where a computation leaves the tensors (random draws, statistics kept in arrays): a replay would not see it.

    ``mg.compile`` then runs the function eagerly (``fullgraph=True``:
    raises); ``vmap`` raises, as ``torch.func.vmap`` does for randomness
    (one draw would serve every example).
    """
    if interpreting:
        for trace in _mode.traces:
            on_unreplayable = getattr(trace, "on_unreplayable", None)
            if on_unreplayable is not None:
                on_unreplayable(what, why)
    if tracing:
        tracer = _mode.tracer
        if tracer is not None:
            tracer.on_unreplayable(what, why)


def _set(enabled: bool) -> None:
    global disabled_threads
    if _mode.enabled != enabled:
        with _count_lock:
            disabled_threads += -1 if enabled else 1
        _mode.enabled = enabled


def is_grad_enabled() -> bool:
    """Return ``True`` when operations are being recorded in this thread.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.is_grad_enabled()
    True
    >>> with mg.no_grad():
    ...     mg.is_grad_enabled()
    False
    """
    return _mode.enabled


class _GradModeContext:
    """Context manager and decorator that sets grad mode, then restores it.

    As a decorator it works on plain functions and on generator functions
    (the mode holds while the generator body runs, and the caller's mode
    while it is suspended at a ``yield``), with or without parentheses
    (``@no_grad`` and ``@no_grad()``), as in PyTorch.
    """

    _enabled: bool

    def __enter__(self):
        self._prev = _mode.enabled
        _set(self._enabled)
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"{type(self).__name__}() decorates functions, got {type(func).__name__}")
        if inspect.isgeneratorfunction(func):
            return self._wrap_generator(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return func(*args, **kwargs)

        return wrapper

    def _wrap_generator(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            gen = func(*args, **kwargs)
            try:
                with self._fresh():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self._fresh():
                            gen.close()
                        raise
                    except BaseException as exc:
                        with self._fresh():
                            response = gen.throw(exc)
                    else:
                        with self._fresh():
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value

        return wrapper

    def _fresh(self):
        # A decorated function may be re-entered (recursion, threads), so each
        # call gets its own context object with its own saved state.
        new = _GradModeContext.__new__(_GradModeContext)
        new._enabled = self._enabled
        return new


class _BareDecorator(_GradModeContext):
    """``@no_grad`` without parentheses decorates the function directly, as in PyTorch."""

    def __new__(cls, func=None):
        if func is None:
            return super().__new__(cls)
        return cls()(func)


class no_grad(_BareDecorator):
    """Switch off recording (in this thread) inside a ``with`` block or a decorated function.

    Results computed under ``no_grad`` have ``requires_grad=False`` and no graph,
    which is what optimizer updates and evaluation want.

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> with mg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    >>> @mg.no_grad()
    ... def evaluate(x):
    ...     return (x * w).sum()
    >>> evaluate(mg.tensor([1.0, 1.0])).requires_grad
    False
    """

    def __init__(self, func=None):
        self._enabled = False


class enable_grad(_BareDecorator):
    """Switch recording back on inside a ``no_grad`` region (context manager or decorator).

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor(3.0, requires_grad=True)
    >>> with mg.no_grad():
    ...     with mg.enable_grad():
    ...         y = w * w
    >>> y.requires_grad
    True
    """

    def __init__(self, func=None):
        self._enabled = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode``: at once when called, until the end of a ``with`` block, or in a decorated function.

    As in PyTorch, a plain call ``set_grad_enabled(False)`` switches recording
    off (in this thread) until switched back on; used with ``with`` it
    restores the previous mode on exit; as a decorator it changes nothing
    until the function runs.

    Examples
    --------
    >>> import microgradnp as mg
    >>> with mg.set_grad_enabled(False):
    ...     mg.is_grad_enabled()
    False
    >>> mg.is_grad_enabled()
    True
    >>> _ = mg.set_grad_enabled(False)
    >>> mg.is_grad_enabled()
    False
    >>> _ = mg.set_grad_enabled(True)
    """

    def __init__(self, mode: bool):
        if isinstance(mode, str) or mode not in (True, False):  # bool, 0/1 and NumPy's bools
            raise TypeError(f"set_grad_enabled: mode must be True or False, got {mode!r}")
        self._enabled = bool(mode)
        self._prev = _mode.enabled
        _set(self._enabled)  # takes effect now, as a plain call must

    def __enter__(self):
        return self  # the mode was set by __init__; __exit__ restores the one before it

    def __call__(self, func):
        _set(self._prev)  # as a decorator: undo the effect of the call that made it
        return super().__call__(func)


class detect_anomaly(contextlib.ContextDecorator):
    """Find the first operation that makes a NaN or an infinity, forward or backward (a context or decorator).

    Inside it (in this thread), every op checks its result: the first one
    whose result holds NaN or inf raises :class:`microgradnp.AnomalyError`
    naming the op, its inputs' shapes and the line of your code that called
    it; a backward pass run inside it checks every gradient an op's VJP
    returns the same way, and names the line that made that op.  The error's
    ``tensor`` is the op's result, to draw (``mg.viz.render(err.tensor, ...,
    highlight=err.tensor)``).  It costs a check per op, so it is for
    debugging, as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, -1.0], requires_grad=True)
    >>> with mg.detect_anomaly(), np.errstate(invalid="ignore"):
    ...     try:
    ...         y = mg.log(x)
    ...     except mg.AnomalyError as err:
    ...         print(err.op, err.phase)
    log forward
    """

    def _recreate_cm(self):
        return type(self)()  # a decorated function may run inside itself: one "before" per call

    def __enter__(self):
        self._before = _mode.anomaly
        _set_anomaly(True)
        return self

    def __exit__(self, *exc):
        _set_anomaly(self._before)
        return False


def _set_anomaly(on: bool) -> None:
    global anomaly_threads
    if _mode.anomaly != on:
        with _count_lock:
            anomaly_threads += 1 if on else -1
        _mode.anomaly = on
