"""``mg.compile``: trace a step once, then replay it as straight-line NumPy.

On small networks eager autodiff is bound by what each operation costs in
Python (making a Tensor, recording it, walking the graph), not by NumPy.
:func:`compile` removes that cost: the first call of a signature runs the
function eagerly while a *trace* records everything it does to tensors, and
turns the recording into a Python function of arrays alone, one line per
NumPy call; later calls run that function.

What the trace records (in the order it happened):

* every registry op on a tensor the trace follows: the arguments (as fresh
  tensors standing for them), the tensors the function reads from its
  closure (a model's parameters, read again at each call), and everything
  computed from them, including ops under ``no_grad`` (gradient-free);
* ``backward()``, ``mg.grad`` and ``func.grad`` inside the function: the
  backward pass is recorded as ops too (as ``create_graph=True`` records it),
  so it is replayed without a graph walk; gradients reaching a tensor's
  ``.grad`` are accumulated exactly as eager ``backward`` does;
* in-place operators on tensors under ``no_grad`` (``w -= lr * w.grad``) and
  assignments ``w.grad = None``;
* *replayed calls*: functions marked with :func:`microgradnp._mode.replayed`
  run again, as they are, at their place in the replay: every optimizer's
  ``step()``, ``zero_grad()`` of optimizers and modules, learning-rate
  schedulers.

What it cannot follow is detected where possible (then the signature runs
eagerly from now on, with a warning, or with ``fullgraph=True`` it raises):
reading a value into Python (``item()``, ``float()``, ``bool()``, ``np.asarray``),
random draws (``Dropout`` in training mode), writes through ``.data`` or
NumPy into a tensor the replay reads.  Not detected, and documented: arrays
and Python numbers from the closure are constants of the trace; ``.grad``
read after an optimizer call is an array, followed where that array goes
into an op, a constant once computed on in NumPy.

Each compiled signature is guarded by the arguments' shapes, dtypes and
``requires_grad``, Python arguments by value, the grad mode, the shapes,
dtypes and ``requires_grad`` of the tensors read from the closure, and the
world the trace read (``guards.py``): which object each tensor, module and
optimizer is along every way the function reaches it, the Python numbers it
may read, the called modules' ``training`` flags and hooks.  A change traces
again (up to ``cache_size`` signatures); what cannot be watched runs
eagerly.  ``step.code`` is the Python that runs.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
import time
import warnings
from collections import OrderedDict

import numpy as np

from .. import _mode as _modes
from .._mode import _mode, end_trace, is_grad_enabled, start_trace
from .._tensor import Tensor, _make, foreign_library, kind_of
from ..func._tree import flatten as _flatten
from ..func._tree import unflatten as _unflatten
from .codegen import STALE, Program, generate
from .guards import program_guards
from .lower import lower
from .passes import PASSES, run_passes
from .trace import CompileError, Trace

__all__ = ["compile", "CompileError", "Compiled", "PASSES", "MACHINE_PASSES", "Program", "explain"]

#: The passes that shape code for a NumPy replay (buffers, operators, inlined forwards): not run for machine code.
NUMPY_ONLY = ("buffer_reuse", "operator_forms", "inline")
#: The passes of the numba backend, run as it writes the kernel (machine.py).
MACHINE_PASSES = ("fuse_elementwise", "roll_repeats", "small_products", "fuse_reductions")


# ---------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------


def _build(trace: Trace, leaves: list, sources: list, outputs: list, out_spec, grad_enabled: bool, fn, flat: bool,
           passes, stages: list | None = None, backend: str = "numpy", unroll: bool = True) -> Program | None:
    """The program of a finished trace, or None where it cannot be replayed (``trace.broken`` says why).

    ``stages``: where given, receives ``(stage, code)`` after lowering and after each pass.
    """
    with _no_collection():
        return _built(trace, leaves, sources, outputs, out_spec, grad_enabled, fn, flat, passes, stages, backend,
                      unroll)


@contextlib.contextmanager
def _no_collection():
    """The garbage collector paused while the pipeline makes its many small objects (nodes, strings): its full
    passes over the trace's graph took half the time of a long trace (a 20,000-op chain: 2.5 s, 1.3 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _built(trace, leaves, sources, outputs, out_spec, grad_enabled, fn, flat, passes, stages, backend="numpy",
           unroll=True):
    times: dict = {}
    t0 = time.perf_counter()
    graph = lower(trace, leaves, sources, outputs, out_spec)
    graph = type(graph)(graph.nodes, program_guards(graph, trace, fn, leaves, grad_enabled), graph.names,
                        graph.holders)
    times["lowered"] = (time.perf_counter() - t0, len(graph.nodes))
    name = f"<compiled {getattr(fn, '__name__', 'function')}>"
    if stages is not None:
        stages.append(("lowered", _preview(graph, name)))
    t0 = time.perf_counter()

    def after(pass_name, g):
        nonlocal t0
        times[pass_name] = (time.perf_counter() - t0, len(g.nodes))
        if stages is not None:
            stages.append((pass_name, _preview(g, name)))
        t0 = time.perf_counter()

    graph = run_passes(graph, [p for p in passes if p not in NUMPY_ONLY] if backend == "numba" else passes, after)
    for holder, t in graph.holders:
        if trace.unexplained_write(t):
            trace.fail(f"{holder} (shape {t.shape}) is written through .data or NumPy inside the function; write "
                       "it with an in-place operator under no_grad (`w -= lr * w.grad`) or through an optimizer")
    if trace.broken is not None:
        return None
    stats = {"nodes": {k: n for k, (_, n) in times.items()}, "seconds": {k: s for k, (s, _) in times.items()}}
    if not unroll and backend != "numba":
        raise ValueError('compile: unroll=False keeps a loop in machine code: it needs backend="numba"')
    if backend == "numba":
        from . import machine

        try:
            return machine.generate(graph, name, flat, stats, fuse="fuse_elementwise" in passes, unroll=unroll,
                                    roll="roll_repeats" in passes, loops="small_products" in passes,
                                    reductions="fuse_reductions" in passes)
        except machine.Unsupported as why:  # the NumPy backend, saying why: never a wrong number
            warnings.warn(f"compile: {getattr(fn, '__name__', 'the function')} runs on the NumPy backend, not "
                          f"numba: {why}", RuntimeWarning, stacklevel=5)
            graph = run_passes(graph, [p for p in passes if p in NUMPY_ONLY], after)
            stats = {"nodes": {k: n for k, (_, n) in times.items()}, "seconds": {k: s for k, (s, _) in times.items()},
                     "backend": f"numpy (numba: {why})"}
    return generate(graph, name, flat, stats)


def _preview(graph, name: str) -> str:
    """The code of ``graph`` as it stands (a copy of its namespace: the preview adds nothing to the program's)."""
    from .ir import Namespace

    names = Namespace(graph.names.namespace)
    names.names = dict(graph.names.names)
    return generate(type(graph)(graph.nodes, graph.guards, names, graph.holders), name).code


def explain(fn, *args, passes=None, **kwargs) -> list:
    """``[(stage, code), ...]``: the code of ``fn``'s step after lowering and after each pass of the pipeline.

    Calls ``fn(*args, **kwargs)`` once, as the first call of a compiled
    step does (its effects happen once: an optimizer steps once).  Raises
    :class:`CompileError` where that call could not be replayed.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> stages = mg.compiler.explain(lambda x: (x * 1.0).exp(), np.zeros(2))
    >>> [name for name, _ in stages][:3]
    ['lowered', 'fold_constants', 'common_subexpressions']
    """
    stages: list = []
    step = Compiled(fn, fullgraph=True, cache_size=1, passes=passes)
    step._stages = stages
    step(*args, **kwargs)
    return stages


# ---------------------------------------------------------------------------
# The compiled function
# ---------------------------------------------------------------------------


def _signature(leaf):
    """What a guard compares for one argument (or None: it cannot be compiled)."""
    if isinstance(leaf, Tensor):
        if leaf.requires_grad and leaf._op is not None:
            return None  # computed on an outer graph: backward must flow into it, eagerly
        return ("tensor", leaf._data.__class__, leaf._data.shape, leaf._data.dtype, leaf.requires_grad)
    if isinstance(leaf, np.ndarray):
        return ("array", leaf.shape, leaf.dtype)
    if foreign_library(leaf) is not None:  # another library's array (its dtype names the library)
        import array_api_compat

        return ("array", type(leaf), tuple(leaf.shape), leaf.dtype, array_api_compat.device(leaf))
    try:
        hash(leaf)
    except TypeError:
        return ("object", id(leaf))
    return ("value", type(leaf), leaf)


_ndarray = np.ndarray
_NUMBERS = (int, float, bool)


def _positional_key(args):
    """The guard key of positional arrays, tensors and numbers (the quick way), or None for anything else."""
    sigs = []
    for a in args:
        c = a.__class__
        if c is _ndarray:
            sigs.append((a.shape, a.dtype))
        elif c in _NUMBERS:
            sigs.append((c, a))
        elif isinstance(a, Tensor):
            if a.requires_grad and a._op is not None:
                return None
            d = a._data
            sigs.append((d.__class__, d.shape, d.dtype, a.requires_grad, c))  # (the class first: another
            # library's dtype may warn when compared with NumPy's)
        else:
            return None
    return (_mode.enabled, len(args), *sigs)


def _spec_key(spec):
    if spec is None:
        return None
    kind, keys, children = spec
    return (kind, tuple(keys) if keys is not None else None, tuple(_spec_key(c) for c in children))


class Compiled:
    """A compiled function (made by :func:`compile`): call it as the original.

    ``code`` is the generated source of the signature that ran last,
    ``stats`` counts traces, replays and eager calls and the seconds spent
    tracing, ``fn`` is the original function.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> double = mg.compile(lambda x: 2.0 * x)
    >>> double(np.arange(3.0))
    tensor([0., 2., 4.])
    >>> print(double.code)
    def replay(A):
        if (len(A) != 1
                or _mode.enabled is not True
                or A[0].__class__ is not ndarray or A[0].shape != (3,) or A[0].dtype is not float64):
            return STALE  # traced for other arguments, or a tensor of the closure changed
        a0 = A[0]
        v2 = 2.0 * a0
        return _make(v2)
    <BLANKLINE>
    """

    #: The world search of another compiled step (guards.py) does not look inside this one: its cache and its
    #: generated code hold counters and settings that change at every call, which would retrace that step.
    _opaque_to_guards = True
    __name__: str  # the function's, with its other attributes (functools.update_wrapper)

    def __init__(self, fn, fullgraph: bool, cache_size: int, passes=None, backend: str = "numpy",
                 unroll: bool = True):
        functools.update_wrapper(self, fn)
        self.backend, self.unroll = backend, unroll
        self.fn = fn
        self.fullgraph = fullgraph
        self.cache_size = int(cache_size)
        self.passes = tuple(PASSES) + MACHINE_PASSES if passes is None else _checked_passes(passes)
        self._stages: list | None = None  # explain() collects the code of each stage here
        self._cache: OrderedDict = OrderedDict()  # signature -> list of programs, or "eager" and the reason
        self._lock = threading.Lock()
        self._last: Program | None = None
        self._hot = None  # the generated function of the last call, if it had plain positional arguments
        self._specs: dict = {}  # number of positional arguments -> the structure of (args, {})
        self.stats = {"traces": 0, "replays": 0, "eager_calls": 0, "trace_seconds": 0.0}

    @property
    def program(self) -> Program | None:
        """The :class:`Program` of the most recently run signature (None before the first call)."""
        return self._last

    @property
    def code(self) -> str:
        """The Python source of the most recently run signature (``''`` before the first call)."""
        return self._last.code if self._last is not None else ""

    def __call__(self, *args, **kwargs):
        if _modes.anomaly_threads and _mode.anomaly:  # detect_anomaly(): every op checked, as eager checks it
            self.stats["eager_calls"] += 1
            return self.fn(*_tensors_for_arrays(args), **_tensors_for_arrays(kwargs))
        hot = self._hot
        if hot is not None and not kwargs:  # the program of the last call first, as in a training loop
            try:
                out = hot.run(args)  # it checks its guards itself
            except (ValueError, TypeError, IndexError, ArithmeticError) as exc:
                raise hot.located(exc) from exc
            if out is not STALE:
                self.stats["replays"] += 1
                return out
        key = None if kwargs else _positional_key(args)
        if key is not None:  # arrays, tensors and numbers alone
            leaves, spec = args, self._specs.get(len(args))
            if spec is None:
                spec = self._specs[len(args)] = _flatten((args, {}))[1]
        else:
            leaves, spec = _flatten((args, kwargs))
            sigs = [_signature(x) for x in leaves]
            if any(s is None for s in sigs):
                return self._eager("an argument is computed from tensors that require grad (an outer graph)",
                                   args, kwargs)
            key = (is_grad_enabled(), _spec_key(spec), tuple(sigs))
        entry = self._cache.get(key)
        if entry is not None:
            if isinstance(entry, str):
                self.stats["eager_calls"] += 1
                return self.fn(*_tensors_for_arrays(args), **_tensors_for_arrays(kwargs))
            out = self._replayed(entry, key, leaves)
            if out is not STALE:
                return out
            if self.fullgraph:
                raise CompileError(f"compile(fullgraph=True): a tensor {self.__name__} reads from its closure "
                                   "changed shape, dtype or requires_grad since it was traced")
        elif self._cache and self.fullgraph:
            raise CompileError(f"compile(fullgraph=True): {self.__name__} was traced for other arguments "
                               "(shapes, dtypes, requires_grad, Python values or grad mode changed)")
        return self._trace(key, leaves, spec)

    def _replayed(self, programs: list, key, leaves):
        """The result of the first of ``programs`` whose guards hold, or ``STALE``."""
        for program in programs:
            try:
                out = program.run(leaves)
            except (ValueError, TypeError, IndexError, ArithmeticError) as exc:
                raise program.located(exc) from exc
            if out is not STALE:
                with self._lock:
                    if key in self._cache:
                        self._cache.move_to_end(key)
                self._last = program
                self._hot = program if program.flat else None
                self.stats["replays"] += 1
                return out
        return STALE

    def _eager(self, why: str, args, kwargs):
        if self.fullgraph:
            raise CompileError(f"compile(fullgraph=True): {why}")
        warnings.warn(f"compile: {self.__name__} runs eagerly: {why}", RuntimeWarning, stacklevel=3)
        self.stats["eager_calls"] += 1
        return self.fn(*_tensors_for_arrays(args), **_tensors_for_arrays(kwargs))

    def _trace(self, key, leaves, spec):
        t0 = time.perf_counter()
        if self.stats["traces"] == 4 * self.cache_size:
            warnings.warn(f"compile: {self.__name__} has been traced {self.stats['traces']} times: what it depends "
                          "on keeps changing (argument shapes, dtypes or Python values, numbers it reads from its "
                          "closure, modules' state). Pass numbers that change as arrays or tensors", RuntimeWarning,
                          stacklevel=3)
        trace = Trace(self.fullgraph)
        sources, passed = [], []
        for leaf in leaves:
            if isinstance(leaf, Tensor) and leaf.requires_grad:
                source = leaf  # its gradient goes where eager backward puts it
            elif isinstance(leaf, (Tensor, np.ndarray)) or foreign_library(leaf) is not None:
                data = leaf._data if isinstance(leaf, Tensor) else leaf
                # Followed (its ops are recorded); an integer or boolean one holds no gradient (trace.follows).
                source = _make(data, requires_grad=kind_of(data) in "fc")
            else:
                source = None
            if source is not None:
                trace.sources[id(source)] = len(sources)
            sources.append(source)
            passed.append(source if source is not None else leaf)
        args, kwargs = _unflatten(spec, passed)
        start_trace(trace)
        try:
            result = self.fn(*args, **kwargs)
            trace.checkpoint()
        finally:
            end_trace()
        out_leaves, out_spec = _flatten(result)
        self.stats["traces"] += 1
        program = None
        if trace.broken is None:
            program = _build(trace, leaves, sources, out_leaves, out_spec, key[0], self.fn,
                             flat=isinstance(key[1], int),  # made by _positional_key: the hot path may try it
                             passes=self.passes, stages=self._stages, backend=self.backend, unroll=self.unroll)
        if trace.broken is not None:
            warnings.warn(f"compile: {self.__name__} runs eagerly for these arguments: {trace.broken}",
                          RuntimeWarning, stacklevel=3)
            self._remember(key, trace.broken)
        else:
            self._remember(key, [program])
            self._last = program
            self._hot = program if program.flat else None
            if "compile_seconds" in program.stats:  # the numba backend's kernel: compiled, or loaded from disk
                compiled = program.stats["compile_seconds"]
                self.stats["compile_seconds"] = self.stats.get("compile_seconds", 0.0) + compiled
                t0 += compiled  # reported apart from the trace
        self.stats["trace_seconds"] += time.perf_counter() - t0
        return _result_of(result, sources, leaves, trace.start)

    def _remember(self, key, entry) -> None:
        with self._lock:  # threads may trace the same function at once
            if isinstance(entry, list) and isinstance(self._cache.get(key), list):
                entry = entry + self._cache[key][:3]  # other programs of this key (another closure state)
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)


def _checked_passes(passes) -> tuple:
    if isinstance(passes, str):
        passes = (passes,)
    passes = tuple(passes)
    unknown = [p for p in passes if p not in PASSES and p not in MACHINE_PASSES]
    if unknown:
        raise ValueError(f"compile: no pass named {unknown[0]!r}; the passes are {', '.join(PASSES)} (and, for "
                         f"backend='numba', {', '.join(MACHINE_PASSES)})")
    return passes


def _tensors_for_arrays(tree):
    """``tree`` with its arrays wrapped as Tensors (no copy): the function sees what a traced call gives it."""
    leaves, spec = _flatten(tree)
    return _unflatten(spec, [_make(x) if isinstance(x, np.ndarray) else x for x in leaves])


def _result_of(result, sources, leaves, start: int):
    """The traced call's result as a replay returns it.

    Tensors computed in the call come back without their graph (the trace's
    graph reaches tensors of its own), and an argument comes back as itself.
    """
    swap = {id(s): leaf for s, leaf in zip(sources, leaves) if s is not None and s is not leaf}
    out_leaves, spec = _flatten(result)

    def eager(o):
        if id(o) in swap:
            return swap[id(o)] if isinstance(swap[id(o)], Tensor) else _make(o._data if isinstance(o, Tensor) else o)
        if isinstance(o, Tensor) and o._op is not None and o._seq > start:
            return _make(o._data)
        return o

    return _unflatten(spec, [eager(o) for o in out_leaves])


def compile(fn=None, *, fullgraph: bool = False, cache_size: int = 8, passes=None,  # noqa: A001 - torch's name
            backend: str = "numpy", unroll: bool = True):
    """Trace ``fn`` once per signature, then replay it as straight-line NumPy.

    ``fn`` takes Tensors, arrays and Python values (or tuples, lists and
    dicts of them) and may compute a loss, call ``backward()``, and update
    parameters with an optimizer or ``w -= lr * w.grad`` under ``no_grad``.
    The first call with new shapes, dtypes or Python values runs ``fn``
    eagerly and records it; later calls run the recording: the same NumPy
    computations, without making tensors or walking a graph.

    Parameters
    ----------
    fn
        The function (``mg.compile`` also works as a decorator, with or
        without arguments).
    fullgraph
        Raise :class:`CompileError` instead of running eagerly (where the
        function does something a replay cannot repeat) or tracing again
        (where a guard fails).
    cache_size
        How many signatures to keep (the least recently used goes first).
    passes
        The names of the passes to run (default: all of
        ``mg.compiler.PASSES``, in that order); fewer to see or rule out
        what one does.  :func:`microgradnp.compiler.explain` shows the code
        after each.
    backend
        ``"numpy"`` (the default): the replay is straight-line NumPy.
        ``"numba"``: the step's arithmetic (forward, backward and updates)
        becomes one machine-code kernel compiled by Numba (``pip install
        "microgradnp[jit]"``), cached on disk; a step with an op it has no
        form for runs on the NumPy backend with a warning saying which
        (``step.program.stats["backend"]``).  See docs/compile.md for when
        it pays.
    unroll
        With ``backend="numba"``, ``False`` keeps a Python ``for`` over an
        argument's rows (``for x, t in zip(X, T)``: the seeds' per-example
        SGD) a loop in machine code instead of one copy of its body per
        iteration (``step.program.stats["loop"]``).

    Notes
    -----
    Results are tensors without a graph: call ``backward()`` inside the
    function.  Arrays and Python numbers the function reads from its
    closure are constants of the trace (tensors are read at each call).
    ``step.code`` is the generated source; ``step.stats`` counts traces,
    replays and eager calls, and the seconds spent tracing (and, with
    ``backend="numba"``, compiling kernels: ``compile_seconds``).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = mg.optim.SGD([w], lr=0.05)
    >>> @mg.compile
    ... def step(x):
    ...     opt.zero_grad()
    ...     loss = ((w * x).sum() - 1.0) ** 2
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    >>> [round(step(np.array([1.0, 2.0])).item(), 4) for _ in range(3)]
    [4.0, 1.0, 0.25]
    >>> step.stats["traces"], step.stats["replays"]
    (1, 2)
    """
    if backend not in ("numpy", "numba"):
        raise ValueError(f"compile: backend must be 'numpy' or 'numba', got {backend!r}")
    if not unroll and backend != "numba":
        raise ValueError('compile: unroll=False keeps a loop in machine code: it needs backend="numba"')
    if backend == "numba":
        from . import machine

        if not machine.available():
            raise ImportError('compile(backend="numba") needs Numba: pip install "microgradnp[jit]" (or numba)')
    if fn is None:
        return lambda f: compile(f, fullgraph=fullgraph, cache_size=cache_size, passes=passes, backend=backend,
                                 unroll=unroll)
    if not callable(fn):
        raise TypeError(f"compile: expected a function, got {type(fn).__name__}")
    if cache_size < 1:
        raise ValueError(f"compile: cache_size must be at least 1, got {cache_size}")
    return Compiled(fn, fullgraph, cache_size, passes, backend, unroll)
