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

import ast
import builtins
import functools
import inspect
import keyword
import math
import textwrap
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from .. import _mode as _modes
from .._mode import _mode, end_trace, is_grad_enabled, start_trace
from ..engine import _VALUE, _store, apply
from ..func._tree import flatten as _flatten
from ..func._tree import unflatten as _unflatten
from ..ops import xp
from ..tensor import Hooks, Tensor, _make, mark_written, next_seq
from .guards import World, equal_check, module_checks, tensor_checks

__all__ = ["compile", "CompileError", "Compiled"]


class CompileError(RuntimeError):
    """What ``compile(..., fullgraph=True)`` raises where it would otherwise run eagerly or trace again."""


# ---------------------------------------------------------------------------
# The trace
# ---------------------------------------------------------------------------


class _Trace:
    """What one traced call did: the sources, the effects in order, and whether it can be replayed."""

    #: The engine records backward passes inside this trace (see ``engine.backward``).
    records_backward = True
    #: The built-in optimizers write their updates as tensor ops inside this trace (see ``optim.optimizers``).
    traces_updates = True

    def __init__(self, fullgraph: bool):
        self.fullgraph = fullgraph
        self.start = next_seq()
        self.sources: dict[int, int] = {}  # id(source tensor) -> index among the flattened arguments
        self.events: list = []  # (seq, kind, ...) for "store", "grad", "write" and "call"
        self.pending: dict[int, Tensor] = {}  # id(t) -> t, whose .grad holds a traced node
        self.reads: dict[int, Tensor] = {}  # id(tensor standing for t.grad as the replay finds it) -> t
        self.stored: dict[int, tuple] = {}  # id(gradient array stored) -> (t, the array)
        self.written: dict[int, int] = {}  # id(t) -> stamp of the last write the trace recorded
        self.windows: list[tuple[int, int]] = []  # (first, last) stamps of each replayed call
        self.broken: str | None = None
        self.aliases: list[Tensor] = []
        self.modules: dict = {}  # id(module) -> module, for every nn.Module called during the trace
        self.settings: dict = {}  # id(0-d tensor) -> (container, key): a number read from its container at replay
        self.adopted: dict = {}  # id(t) -> t, made during the trace but read by the replay as the closure's
        self.decisions: list = []  # (container, key, present, value): a Python decision guarded by value
        self.owners: dict = {}  # id(object) -> object, what a replayed call is given (an optimizer, its tensors)

    def fail(self, why: str) -> None:
        if self.broken is None:
            self.broken = why
        if self.fullgraph:
            raise CompileError(f"compile(fullgraph=True): {why}")

    # Called by the engine and the Tensor while the trace records.

    def follows(self, inputs) -> bool:
        """Whether an op on ``inputs`` that records no gradient is still part of the step: it reads a tensor of
        the closure (its values may change between calls, in place, so the replay computes it again)."""
        return any(isinstance(x, Tensor) and (x._seq < self.start or id(x) in self.adopted) for x in inputs)

    def adopt(self, t: Tensor) -> None:
        """``t`` is made during the trace but kept after it (an optimizer's state): read as the closure's."""
        self.adopted[id(t)] = t

    def on_read(self, t: Tensor) -> None:
        if id(t) in self.sources and t._op is None and t._data.dtype.kind in "iub":
            self.fail(
                f"the function reads the values of argument {self.sources[id(t)]} ({t._data.dtype}, shape {t.shape}) "
                "as Python indices (x[idx]); a replay would keep the traced call's. For rows of a table use "
                "F.embedding(idx, table) (its indices are an input); else index with one-hot rows (mg.where, or a "
                "product with np.eye(n)[idx] made outside the function), or leave this step eager"
            )
        elif t.requires_grad:
            self.fail(
                f"the function reads the value of a tensor of shape {t.shape} into Python or NumPy (item(), float(), "
                "bool(), tolist(), np.asarray(), NumPy on .data such as `w.data -= lr * w.grad`); a replay would "
                "keep the value of the traced call. Return the tensor and read it outside the compiled function; "
                "update parameters with an optimizer or `w -= lr * w.grad` under no_grad"
            )

    def on_copy(self, source: Tensor, copy: Tensor) -> None:
        """``mg.tensor(x)`` of an argument stands for that argument (its values, as a new leaf)."""
        if id(source) in self.sources and copy._data.dtype == source._data.dtype and not copy.requires_grad:
            self.sources[id(copy)] = self.sources[id(source)]
            copy.requires_grad = True  # followed, as the argument is (its gradient goes nowhere)
            self.aliases.append(copy)  # kept alive: its id stays its own
        else:
            self.on_read(source)

    def on_unreplayable(self, what: str, why: str) -> None:
        self.fail(f"{what} {why}")

    # What a traced optimizer update reads and decides (see ``optim.optimizers``).

    def setting(self, container: dict, key, dtype) -> Tensor:
        """``container[key]`` (a learning rate) as a 0-d tensor the replay reads from the container every call."""
        t = _make(np.asarray(container[key], dtype=dtype), requires_grad=True)  # followed, gradient-free
        self.settings[id(t)] = (container, key)
        self.aliases.append(t)  # kept alive: its id stays its own
        return t

    def increment(self, container: dict, key, dtype) -> Tensor:
        """``container[key] += 1`` now and at each replay (a step count); its new value as a setting."""
        container[key] += 1
        self.events.append((next_seq(), "increment", container, key))
        return self.setting(container, key, dtype)

    def decide(self, container: dict, key):
        """``container.get(key)`` for a Python decision (momentum or not): the replay is guarded on it."""
        present = key in container
        value = container.get(key)
        self.decisions.append((container, key, present, value if type(value) in (bool, int, float, str, tuple,
                                                                                  type(None)) else None))
        return value

    def detached(self, t: Tensor) -> Tensor:
        """``t.detach()`` of a tensor the trace follows: a gradient-free step, computed again at each replay."""
        return apply(_VALUE, (t,))

    def on_module(self, module) -> None:
        """An ``nn.Module`` is called: what it reads besides tensors (``training``, hooks) is guarded."""
        self.modules[id(module)] = module
        hooks = module.__dict__.get("_hooks")
        if hooks and (hooks["pre"] or hooks["post"]):
            self.fail(f"{type(module).__name__} {module.path or ''} has forward hooks, Python code of their own "
                      "that a replay would skip; remove them, or leave this step eager")

    def on_store(self, t: Tensor, current):
        """A backward pass is about to add to ``t.grad`` (now ``current``): what it adds to, as a traced tensor.

        The first time, that is a tensor standing for ``t.grad`` as the replay
        finds it (``None`` then counts as zero), so that the sum the function
        reads as ``t.grad`` is traced whatever the gradient held.
        """
        if id(t) in self.pending:
            return current  # a traced node already: the sum is traced
        if current is None:
            before = np.zeros_like(t._data)
        else:
            before = np.array(current._data if isinstance(current, Tensor) else current, dtype=t._data.dtype)
        read = _make(before, requires_grad=True)
        self.reads[id(read)] = t
        self.events.append((read._seq, "read", t, read))
        self.pending[id(t)] = t
        return read

    def on_grad_set(self, t: Tensor, value) -> None:
        if id(t) in self.pending:
            self.checkpoint([self.pending.pop(id(t))])
        if value is not None:
            self.fail("a .grad is assigned an array or tensor inside the function; only `.grad = None` is replayed")
        self.events.append((next_seq(), "grad", t))

    def on_write(self, t: Tensor, result: Tensor) -> None:
        """``t`` was just written in place (``t -= ...`` under no_grad) with ``result``'s value."""
        if id(t) in self.sources:
            self.fail("the function writes into one of its arguments in place; write into a copy")
        self.written[id(t)] = t._written
        self.events.append((t._written, "write", t, result))

    def host_call(self, fn, args, kwargs):
        """A replayed call (an optimizer step): run it now, and again at this place in every replay."""
        self.checkpoint()
        # An iterator (model.parameters()) would be spent at the first replay: the call gets a list of it.
        args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
        kwargs = {k: list(v) if isinstance(v, Iterator) else v for k, v in kwargs.items()}
        for a in _flatten((args, kwargs))[0]:
            if isinstance(a, Tensor) and (a._op is not None or id(a) in self.sources) and a.requires_grad:
                self.fail(f"{getattr(fn, '__qualname__', fn)} is given a tensor computed inside the function; "
                          "a replayed call is called again with the arguments of the traced call")
        for a in _flatten((args, kwargs))[0]:  # the objects the call is given: guarded like the closure's
            if isinstance(a, Tensor) or hasattr(a, "__dict__") and not isinstance(a, type):
                self.owners[id(a)] = a
        first = next_seq()
        _mode.tracer = None  # what the call does is not traced: it is replayed whole
        try:
            result = fn(*args, **kwargs)
        finally:
            _mode.tracer = self
        self.windows.append((first, next_seq()))
        self.events.append((first, "call", functools.partial(fn, *args, **kwargs), result))
        return result

    def checkpoint(self, tensors=None) -> None:
        """Turn the gradients stored as traced nodes into arrays, as eager backward leaves them.

        Each array is remembered: an op that reads it later reads ``.grad``
        again at replay.
        """
        given: set = set()
        for t in list(self.pending.values()) if tensors is None else tensors:
            node = t._grad
            t._grad = None
            _store(t, node._data, given, False)
            self.stored[id(t._grad)] = (t, t._grad)
            self.events.append((next_seq(), "store", t, node))
        if tensors is None:
            self.pending.clear()

    def unexplained_write(self, t: Tensor) -> bool:
        stamp = t._written
        if stamp <= self.start or self.written.get(id(t)) == stamp:
            return False
        return not any(first <= stamp <= last for first, last in self.windows)


# ---------------------------------------------------------------------------
# Code generation
# ---------------------------------------------------------------------------

#: Temporaries at least this large (bytes) are written into buffers kept from
#: one call to the next.  Allocating a fresh multi-megabyte array on every step
#: maps new pages and faults on each first touch; reusing the buffer does not
#: (measured on 784-1024-1024-10, batch 512: see docs/performance.md).  Smaller
#: arrays come from NumPy's own cache, and ``out=`` would only cost time.
POOL_BYTES = 1 << 18

#: Forwards that always return a fresh array and take ``out=``: the ones a buffer can serve.
_POOLABLE = {np.add, np.subtract, np.multiply, np.true_divide, np.negative, np.exp, np.log, np.tanh, np.maximum,
             np.minimum, np.square, np.sqrt, np.matmul, xp.matmul}

#: Binary ufuncs written as Python operators: the same computation, without
#: parsing a ufunc's keyword arguments (about 60 ns per call).
_OPERATORS = {np.add: "+", np.subtract: "-", np.multiply: "*", np.true_divide: "/"}


class _Inliner:
    """A function's one ``return`` expression, with its parameters replaced by the generated code's operands.

    Forwards written as ``lambda xp, a: xp.maximum(a, 0.0)`` and namespace
    functions of one line (``xp.sum``, ``xp.reshape``) then cost no Python
    call of their own at replay: about 0.15 us each, a third of what a small
    NumPy call costs.  A conditional on the operands' dtype, shape or ndim
    (``expit(x) if x.dtype is not _HALF else ...``) is decided here, from the
    traced values, which the guards keep the same.  Functions of more than
    one statement, or with ``*args``, stay calls.
    """

    _cache: dict = {}

    def __init__(self, writer: "_Writer"):
        self.w = writer

    @classmethod
    def _tree(cls, fn):
        """``(parameter names, defaults, return expression)`` of ``fn``, or None."""
        code = getattr(fn, "__code__", None)
        if code is None or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
            return None
        if code in cls._cache:
            return cls._cache[code]
        found = None
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError):
            tree = None
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.Lambda) and fn.__name__ == "<lambda>":
                if _same_code(node, code, fn):
                    found = (node.args, node.body)
                    break
            elif isinstance(node, ast.FunctionDef) and node.name == fn.__name__:
                body = node.body[1:] if ast.get_docstring(node) is not None else node.body
                if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
                    found = (node.args, body[0].value)
                break
        if found is not None:
            args, body = found
            if args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg or any(
                    isinstance(n, (ast.Lambda, ast.NamedExpr, ast.comprehension, ast.Yield, ast.Await))
                    for n in ast.walk(body)):
                found = None
            else:
                found = ([a.arg for a in args.args], dict(zip([a.arg for a in args.args][::-1], fn.__defaults__[::-1]
                                                               if fn.__defaults__ else ())), body)
        cls._cache[code] = found
        return found

    def expression(self, fn, operands: list, values: list, depth: int = 0) -> str | None:
        """Source of ``fn(*operands)``; ``operands`` are source strings (names or literals), ``values`` the traced values."""
        tree = self._tree(fn)
        if tree is None:
            return None
        names, defaults, body = tree
        if len(operands) > len(names):
            return None
        bound, known = {}, {}
        for i, name in enumerate(names):
            if i < len(operands):
                bound[name], known[name] = operands[i], values[i]
            elif name in defaults:
                bound[name], known[name] = self.w.constant(defaults[name], name), defaults[name]
            else:
                return None
        free = {}
        closure = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__ or ())))
        for node in ast.walk(body):
            if isinstance(node, ast.Name) and node.id not in bound and node.id not in free:
                if node.id in closure:
                    free[node.id] = self.w.constant(closure[node.id], node.id)
                elif node.id in fn.__globals__:
                    free[node.id] = self.w.constant(fn.__globals__[node.id], node.id)
                elif not hasattr(builtins, node.id):
                    return None
        inliner = self

        class Substitute(ast.NodeTransformer):
            def visit_IfExp(self, node):
                decided = _decide(node.test, known, fn, closure)
                if decided is None:
                    return self.generic_visit(node)
                return self.visit(node.body if decided else node.orelse)

            def visit_Name(self, node):
                if node.id in bound:
                    return ast.parse(bound[node.id], mode="eval").body
                if node.id in free:
                    return ast.Name(free[node.id], ast.Load())
                return node

            def visit_Call(self, node):
                node = self.generic_visit(node)
                target = _resolve(node.func, inliner.w.namespace) if depth < 2 else None
                if target is None or isinstance(target, np.ufunc) or not all(
                        _simple(a) for a in [*node.args, *(k.value for k in node.keywords)]):
                    return node
                tree = _Inliner._tree(target)
                if tree is None or any(k.arg not in tree[0][len(node.args):] for k in node.keywords):
                    return node
                given = dict(zip(tree[0], node.args)) | {k.arg: k.value for k in node.keywords}
                names = [n for n in tree[0] if n in given]
                if names != tree[0][:len(names)]:
                    return node  # a parameter skipped before one given: leave the call
                inner = inliner.expression(target, [ast.unparse(given[n]) for n in names],
                                           [_known(given[n], known, bound, inliner.w.namespace) for n in names],
                                           depth + 1)
                return node if inner is None else ast.parse(inner, mode="eval").body

        new = Substitute().visit(ast.parse(ast.unparse(body), mode="eval").body)
        return f"({ast.unparse(new)})"


def _same_code(node: ast.Lambda, code, fn) -> bool:
    try:
        compiled = builtins.compile(ast.Expression(node), "<inline>", "eval")
    except (SyntaxError, ValueError):
        return False
    lam = next((c for c in compiled.co_consts if hasattr(c, "co_code")), None)
    return lam is not None and lam.co_code == code.co_code and lam.co_varnames == code.co_varnames


_ATTRIBUTE_TYPES = (type(None), bool, int, str, tuple)  # axis=, keepdims=, reduction=: fixed in the generated code


def _decide(test, known: dict, fn, closure: dict):
    """The value of ``test`` when it reads only the operands' dtype, shape, ndim or size, and constants
    (an op's attributes, fixed in the generated code); else None."""
    for node in ast.walk(test):
        if isinstance(node, ast.Name) and node.id in known and not isinstance(known[node.id], _ATTRIBUTE_TYPES):
            parent_ok = any(isinstance(p, ast.Attribute) and p.value is node and p.attr in ("dtype", "shape", "ndim", "size")
                            for p in ast.walk(test))
            if not parent_ok:
                return None
        if isinstance(node, ast.Call):
            return None
    try:
        scope = {**fn.__globals__, **closure, **known}
        return bool(eval(builtins.compile(ast.Expression(test), "<inline>", "eval"), scope))  # noqa: S307
    except Exception:
        return None


def _resolve(func, namespace: dict):
    """The function a call's ``xp.name`` (or a name) refers to in the generated code, or None."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        owner = namespace.get(func.value.id)
        return getattr(owner, func.attr, None) if owner is xp else None
    return None


def _simple(node) -> bool:
    """A name, a constant, or a tuple of them: safe to repeat where a parameter appears."""
    if isinstance(node, ast.Tuple):
        return all(_simple(e) for e in node.elts)
    return isinstance(node, (ast.Name, ast.Constant))


def _known(arg, known: dict, bound: dict, namespace: dict):
    if isinstance(arg, (ast.Constant, ast.Tuple)):
        try:
            return ast.literal_eval(arg)
        except ValueError:
            return None
    for name, src in bound.items():
        if src == arg.id:
            return known[name]
    return namespace.get(arg.id)


def _literal(v) -> str | None:
    """``v`` as Python source that evaluates to an equal value of the same type, or None."""
    if v is None or v is True or v is False or type(v) in (int, str):
        return repr(v)
    if type(v) is float:
        return repr(v) if math.isfinite(v) else None
    if type(v) in (tuple, list):
        parts = [_literal(x) for x in v]
        if any(p is None for p in parts):
            return None
        inner = ", ".join(parts) + ("," if type(v) is tuple and len(v) == 1 else "")
        return f"({inner})" if type(v) is tuple else f"[{inner}]"
    return None


class _Writer:
    """Names and lines of the generated function."""

    def __init__(self):
        self.namespace = {"Tensor": Tensor, "ndarray": np.ndarray, "_make": _make, "_plus": _plus, "_set_grad": _set_grad,
                          "mark_written": mark_written, "next_seq": next_seq, "np": np, "xp": xp}
        self.names: dict[int, str] = {id(v): k for k, v in self.namespace.items()}  # id(object) -> global name
        self.lines: list[str] = []

    def constant(self, obj, stem: str) -> str:
        literal = _literal(obj)
        if literal is not None:
            return literal
        key = id(obj)
        if key not in self.names:
            base = stem if stem.isidentifier() and not keyword.iskeyword(stem) else "k"
            if hasattr(builtins, base):
                base += "_"
            name, n = base, 1
            while name in self.namespace:
                n += 1
                name = f"{base}{n}"
            self.names[key] = name
            self.namespace[name] = obj
        return self.names[key]


class _Program:
    """The generated function of one traced signature, with the guards it checks itself."""

    def __init__(self, trace: _Trace, arg_leaves: list, sources: list, outputs: list, out_spec, grad_enabled: bool,
                 fn=None):
        self.out_spec = out_spec
        self.trace = trace
        self.buffers = threading.local()
        self._w = w = _Writer()
        self._args = arg_leaves
        self._sources = {id(s): i for i, s in enumerate(sources) if s is not None}
        self._var: dict[int, str] = {}  # id(traced tensor) -> the local holding its array
        self._scalar: set[str] = set()  # locals that may hold a NumPy scalar (a 0-d result)
        self._holders: dict[int, str] = {}  # id(tensor read from the closure) -> its global name
        self._tensor_of: dict[int, Tensor] = {}
        self._loaded: dict[int, str] = {}  # id(holder) -> the local holding its array now
        self._computed: dict[str, str] = {}  # right-hand side -> the local that holds it (since the last event)
        self._results: dict[int, str] = {}  # id(what a replayed call returned) -> the local holding it at replay
        self._pool: list = []
        self._line_ops: dict[int, str] = {}  # index of a line of the body -> the op it runs
        events = _unobserved_stores_dropped(
            [e for e in trace.events if e[1] not in ("store", "grad", "read") or self._target(e[2]) != "-"])
        steps = self._steps(trace, events, outputs)
        escaping = self._escaping(steps, events, outputs)
        uses: dict[int, int] = {}
        for t in steps:
            for p in t._parents:
                uses[id(p)] = uses.get(id(p), 0) + 1
        for x in [e[3] for e in events if e[1] in ("store", "write")] + list(outputs):
            uses[id(x)] = uses.get(id(x), 0) + 1
        # ``w -= lr * g`` computes ``w - lr * g`` and copies it into w: one ufunc writing into w does both.
        self._fused = {id(e[3]): e for e in events if e[1] == "write" and uses.get(id(e[3])) == 1
                       and _fusable_write(e[2], e[3])}

        body = w.lines
        for i, s in enumerate(sources):
            if s is not None:
                self._var[id(s)] = f"a{i}"
                body.append(f"a{i} = A[{i}]._data" if isinstance(arg_leaves[i], Tensor) else f"a{i} = A[{i}]")
        if any(e[1] == "store" for e in events):
            body.append("given = set()")
        for item in self._ordered(steps, events):
            if isinstance(item, Tensor):
                self._emit_step(item, id(item) not in escaping)
            else:
                self._emit_event(item)
        results = [self._output(o) for o in outputs]
        if out_spec is None:  # one result, returned as it is
            body.append(f"return {results[0]}")
        else:
            body.append(f"return _unflatten({w.constant(out_spec, 'structure')}, [{', '.join(results)}])")
        # The guards come first: on a mismatch the call traces again before anything has changed.
        guards = [f"len(A) != {len(arg_leaves)}", f"_mode.enabled is not {grad_enabled}"]
        guards += [_argument_guard(f"A[{i}]", leaf, w) for i, leaf in enumerate(arg_leaves)]
        # A closure tensor's array is compared by identity first: an array keeps its shape and dtype, so
        # only a new one is checked (about 0.1 us per tensor less on every call than checking each time).
        checks, same = [], []
        for k, (key, name) in enumerate(self._holders.items()):
            t = self._tensor_of[key]
            guards.append(f"{name}.requires_grad is not {t.requires_grad}")
            same.append(f"{name}._data is SEEN[{k}]")
            checks.append(f"{name}._data.shape != {t._data.shape!r} or "
                          f"{_differs(f'{name}._data.dtype', t._data.dtype, w)}")
        world_lines = self._world_guards(fn, guards) if fn is not None else []
        if checks:
            guards.append(f"not ({' and '.join(same)}) and _closure_changed()")
            changed = ["def _closure_changed():", "    if (" + checks[0]]
            changed += [f"            or {c}" for c in checks[1:]]
            changed[-1] += "):"
            changed += ["        return True", f"    SEEN[:] = [{', '.join(f'{n}._data' for n in self._holders.values())}]",
                        "    return False"]
            w.namespace["SEEN"] = [None] * len(checks)
        lines = ["if (" + guards[0]] + [f"        or {g}" for g in guards[1:]]
        lines[-1] += "):"
        lines.append("    return STALE  # traced for other arguments, or a tensor of the closure changed")
        if self._pool:
            lines.append("B = _buffers()")
        body[0:0] = lines
        # The op of each line of step.code (1-based: "def replay(A):" is line 1), for errors at replay.
        self.ops_at = {i + len(lines) + 2: op for i, op in self._line_ops.items()}
        w.namespace.update(_mode=_mode, _modes=_modes, STALE=_STALE, _unflatten=_unflatten, _buffers=self._buffers,
                           HOOKS=Hooks)
        self.code = "def replay(A):\n" + "".join(f"    {line}\n" for line in body)
        if checks:
            self.code += "\n\n" + "".join(f"{line}\n" for line in changed)
        if world_lines:
            self.code += "\n\n" + "".join(f"{line}\n" for line in world_lines)
        self.filename = f"<compiled {getattr(fn, '__name__', 'function')}>"
        exec(builtins.compile(self.code, self.filename, "exec"), w.namespace)  # noqa: S102 - our own source (step.code)
        self.run = w.namespace["replay"]
        del self._w, self._loaded, self._var, self._computed

    def _world_guards(self, fn, guards: list) -> list:
        """Guards on what the trace read besides the arguments (see ``compiler/guards.py``).

        Appends the checks made on every call to ``guards`` and returns the
        lines of ``_world_changed``, the checks made when the module world moved.
        """
        w, trace = self._w, self.trace
        world = World(fn, w.constant)
        wanted = {**{k: self._tensor_of[k] for k in self._holders}, **trace.modules, **trace.owners}
        paths = world.paths(wanted)
        missing = [obj for k, obj in wanted.items() if k not in paths and not _made_here(obj, trace)]
        if missing:
            what = missing[0]
            desc = f"a tensor of shape {what.shape}" if isinstance(what, Tensor) else f"the {type(what).__name__}"
            trace.fail(f"compile cannot find where {getattr(fn, '__name__', 'the function')} reads {desc} from (not "
                       "in its closure, its globals or what they hold), so it could not notice that object being "
                       "replaced; pass it as an argument, or leave this step eager")
            return []
        slow = []
        for key, ways in paths.items():
            for path in ways:
                check = f"{path.expression()} is not {w.constant(wanted[key], 'OBJ')}"
                (slow if path.behind_module else guards).append(check)
        guards += world.scalar_guards()
        for container, key, present, value in trace.decisions:  # a traced update's Python decisions
            name = self._w.constant(container, "SETTINGS")
            if not present:
                guards.append(f"{key!r} in {name}")
            elif value is None:
                guards.append(f"{key!r} not in {name}")
            else:
                guards.append(f"{key!r} not in {name} or " + equal_check(f"{name}[{key!r}]", value, w.constant))
        for module in trace.modules.values():
            slow += module_checks(module, w.constant(module, type(module).__name__), w.constant)
        for key, name in self._holders.items():
            slow += tensor_checks(self._tensor_of[key], name)
        if not slow:
            return []
        epoch = f"EPOCH{len(w.namespace)}"  # a list of one, kept in the namespace (a literal would be a copy)
        w.namespace[epoch] = [_modes.epoch]
        guards.append(f"{epoch}[0] != _modes.epoch and _world_changed()")
        lines = ["def _world_changed():", "    if (" + slow[0]] + [f"            or {c}" for c in slow[1:]]
        lines[-1] += "):"
        return lines + ["        return True", f"    {epoch}[0] = _modes.epoch", "    return False"]

    # The recording, in order.

    def _steps(self, trace: _Trace, events, outputs) -> list:
        """The recorded ops the effects and outputs need, made during the trace, in creation order."""
        roots = [o for o in outputs if isinstance(o, Tensor)]
        roots += [e[3] for e in events if e[1] in ("store", "write") and isinstance(e[3], Tensor)]
        nodes, stack = {}, list(roots)
        while stack:
            t = stack.pop()
            if id(t) in nodes or t._op is None or t._seq < trace.start:
                continue  # leaves and tensors computed before the call are read, not computed again
            nodes[id(t)] = t
            stack.extend(p for p in t._parents if isinstance(p, Tensor))
        return sorted(nodes.values(), key=lambda n: n._seq)

    @staticmethod
    def _ordered(steps, events) -> list:
        items = [(t._seq, 0, t) for t in steps] + [(e[0], 1, e) for e in events]
        return [item for _, _, item in sorted(items, key=lambda x: (x[0], x[1]))]

    @staticmethod
    def _escaping(steps, events, outputs) -> set:
        """ids of the steps whose arrays outlive the call (returned or stored), or may be views of such."""
        out = {id(o) for o in outputs if isinstance(o, Tensor)}
        out |= {id(e[3]) for e in events if e[1] == "store"}
        for t in reversed(steps):
            if id(t) in out and _run_of(t) not in _POOLABLE:  # its result may be a view of an input
                out |= {id(p) for p in t._parents if isinstance(p, Tensor)}
        return out

    # Operands.

    def _holder(self, t: Tensor) -> str:
        key = id(t)
        if key not in self._holders:
            self._holders[key] = self._w.constant(t, f"P{len(self._holders)}")
            self._tensor_of[key] = t
        return self._holders[key]

    def _operand(self, p, array: bool = False) -> str:
        """``p`` as the generated code names it; ``array``: never a NumPy scalar."""
        if not isinstance(p, Tensor):
            if id(p) in self._results:
                return self._results[id(p)]
            stored = self.trace.stored.get(id(p))
            if stored is not None and stored[1] is p:  # a .grad read as an array after it was stored
                return f"{self._target(stored[0])}._grad"
            return self._w.constant(p, "k")
        key = id(p)
        if key in self._var:
            name = self._var[key]
            return f"np.asarray({name})" if array and name in self._scalar else name
        if key in self.trace.settings:  # a number read from its container at every replay (a learning rate)
            container, k = self.trace.settings[key]
            return f"{self._w.constant(container, 'SETTINGS')}[{k!r}]"
        if key in self.trace.sources:  # a copy of an argument made inside the function
            return f"a{self.trace.sources[key]}"
        if p._seq > self.trace.start and key not in self.trace.adopted:  # made inside from constants: a constant
            if p.requires_grad:
                self.trace.fail("a tensor that requires grad is created inside the function; create it outside")
            return self._w.constant(p._data, "k")
        if key not in self._loaded:  # read from the closure: its array now (again after a write or a call)
            local = f"{self._holder(p).lower()}_{len(self._w.lines)}"
            self._w.lines.append(f"{local} = {self._holder(p)}._data")
            self._loaded[key] = local
        return self._loaded[key]

    def _target(self, t: Tensor) -> str | None:
        """Where a gradient of ``t`` lives at replay: an argument, a closure tensor, or "-" (nowhere seen)."""
        if id(t) in self._sources:
            arg = self._args[self._sources[id(t)]]
            return f"A[{self._sources[id(t)]}]" if isinstance(arg, Tensor) and arg.requires_grad else "-"
        if t._seq > self.trace.start:
            return "-"
        return self._holder(t)

    # Lines.

    def _emit_step(self, t: Tensor, poolable: bool) -> None:
        if id(t) in self._fused:
            return  # written by its write event, into the tensor it updates
        run = _run_of(t)
        parents = t._parents
        attrs = t._attrs or {}
        name = f"v{len(self._w.lines)}"
        value = t._data
        same = _unchanged(t)
        if same is not None and id(same) in self._var:  # x * 1, or x reshaped to its shape: nothing to run
            self._var[id(t)] = self._var[id(same)]
            return
        if t._op.name == "add" and isinstance(parents[0], Tensor) and id(parents[0]) in self.trace.reads:
            # A gradient added to what .grad held: None holds nothing (eager backward stores the gradient alone).
            held, g = self._operand(parents[0]), self._operand(parents[1])
            call = f"{g} if {held} is None else _plus({held}, {g})"
        elif poolable and run in _POOLABLE and not attrs and value.nbytes >= POOL_BYTES:
            k = len(self._pool)
            self._pool.append((value.shape, value.dtype))
            args = ", ".join(self._operand(p) for p in parents)
            call = f"{self._w.constant(np.matmul if run is xp.matmul else run, t._op.name)}({args}, out=B[{k}])"
        elif run in _OPERATORS and len(parents) == 2 and not attrs:
            call = f"{self._operand(parents[0])} {_OPERATORS[run]} {self._operand(parents[1])}"
        elif run is np.negative and not attrs:
            call = f"-{self._operand(parents[0])}"
        elif run is xp.matmul and all(0 < np.ndim(_value(p)) <= 2 for p in parents):
            call = f"{self._operand(parents[0])}.dot({self._operand(parents[1])})"  # what xp.matmul does here
        else:
            ufunc = isinstance(run, np.ufunc)  # takes NumPy scalars as arrays; anything else gets arrays
            args = [self._operand(p, array=not ufunc) for p in parents]
            call = self._inlined(t, args, attrs)
            if call is None:
                kw = "".join(f", {k}={self._w.constant(v, k)}" for k, v in attrs.items())
                call = f"{self._w.constant(run, t._op.name)}({', '.join(args)}{kw})"
        self._var[id(t)] = name
        if call.startswith("(") and call.endswith(")") and _balanced(call[1:-1]):
            call = call[1:-1]
        if "out=" not in call:  # the same pure computation on the same operands: computed once
            known = self._computed.get(call)
            if known is not None:
                self._var[id(t)] = known
                return
            self._computed[call] = name
        if value.ndim == 0:
            self._scalar.add(name)  # NumPy gives scalars for 0-d results; made arrays where it matters
        self._line_ops[len(self._w.lines)] = t._op.name  # for an error raised by this line at replay
        self._w.lines.append(f"{name} = {call}")

    def _inlined(self, t: Tensor, args: list, attrs: dict) -> str | None:
        """The op's forward as one expression on the operands (see :class:`_Inliner`), or None."""
        op = t._op
        if op.forward is None:
            return None  # a custom Function: its forward is a method
        if isinstance(op.forward, str):
            fn, operands, values = getattr(xp, op.forward), list(args), [_value(p) for p in t._parents]
        else:
            fn, operands, values = op.forward, ["xp", *args], [xp, *(_value(p) for p in t._parents)]
        if isinstance(fn, np.ufunc) or not callable(fn):
            return None
        tree = _Inliner._tree(fn)
        if tree is None:
            return None
        names, defaults, _ = tree
        rest = names[len(operands):]  # the attributes, by their place in the signature
        if any(k not in rest for k in attrs):
            return None
        for name in rest:
            if name in attrs:
                v = attrs[name]
            elif name in defaults:
                v = defaults[name]
            else:
                return None
            operands.append(self._w.constant(v, name))
            values.append(v)
        return _Inliner(self._w).expression(fn, operands, values)

    def _emit_event(self, e) -> None:
        kind = e[1]
        lines = self._w.lines
        self._computed.clear()  # an event may write into the arrays the computations read
        if kind == "call":
            fn = e[2].func
            stem = getattr(fn, "__qualname__", "call").replace(".", "_").replace("<", "").replace(">", "")
            call = f"{self._w.constant(e[2], stem)}()"
            result = e[3]
            if isinstance(result, (float, np.ndarray, Tensor)) and type(result) is not bool:
                # What it returns (clip_grad_norm_'s norm) is this call's, wherever the function passes it on.
                name = f"r{len(lines)}"
                self._results[id(result)] = name
                call = f"{name} = {call}"
            lines.append(call)
            self._loaded.clear()  # the call may have replaced arrays
        elif kind == "read":
            name = f"g{len(lines)}"
            self._var[id(e[3])] = name
            lines.append(f"{name} = {self._target(e[2])}._grad")
        elif kind == "store":
            lines.append(f"_set_grad({self._target(e[2])}, {self._operand(e[3], array=True)}, given)")
        elif kind == "grad":
            lines.append(f"{self._target(e[2])}._grad = None")
        elif kind == "increment":  # an optimizer's step count
            lines.append(f"{self._w.constant(e[2], 'STATE')}[{e[3]!r}] += 1")
        elif kind == "write":
            target = self._holder(e[2])
            res = e[3]
            if id(res) in self._fused:  # the in-place operator: no new array, no copy
                own, other = self._operand(res._parents[0]), self._operand(res._parents[1])
                lines.append(f"{own} {_OPERATORS[_run_of(res)]}= {other}")
            else:
                lines.append(f"{target}._data[...] = {self._operand(res)}")
            lines.append(f"{target}._written = next_seq()")

    def _output(self, o) -> str:
        if id(o) in self._results:
            return self._results[id(o)]
        if not isinstance(o, Tensor):
            return self._w.constant(o, "k")
        if id(o) in self._sources:
            i = self._sources[id(o)]
            return f"A[{i}]" if isinstance(self._args[i], Tensor) and self._args[i].requires_grad else f"_make(a{i})"
        if o._seq < self.trace.start:
            return self._holder(o)
        return f"_make({self._operand(o, array=True)})"

    def located(self, exc: Exception) -> Exception:
        """``exc`` raised by a line of the replay, with the op of that line named as eager names it."""
        tb, line = exc.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        op = self.ops_at.get(line)
        if op is None or str(exc).startswith(f"{op}:"):
            return exc
        located = type(exc)(f"{op}: {exc} (at line {line} of the compiled step's code, step.code)")
        return located

    def release(self) -> None:
        """Drop what only code generation needed: the trace's graph (and the arrays it saved) above all."""
        del self.trace, self._tensor_of, self._holders, self._args, self._sources, self._scalar, self._results
        del self._fused

    def _buffers(self) -> list:
        """This thread's buffers: two threads replaying at once never share one."""
        pool = getattr(self.buffers, "arrays", None)
        if pool is None:
            pool = self.buffers.arrays = [np.empty(shape, dtype) for shape, dtype in self._pool]
        return pool


def _differs(expr: str, dtype: np.dtype, w: "_Writer") -> str:
    """The generated test that ``expr`` is not ``dtype``.

    NumPy's built-in dtypes are singletons, so identity is the test (50 ns
    less than ``!=``, a few per call); any other dtype is compared.
    """
    name = w.constant(dtype, dtype.name)
    return f"{expr} is not {name}" if np.dtype(dtype.name) is dtype else f"{expr} != {name}"


def _argument_guard(name: str, leaf, w: "_Writer") -> str:
    """The generated test that argument ``name`` differs from ``leaf`` in what a trace depends on."""
    if isinstance(leaf, Tensor):
        d = leaf._data
        return (f"not isinstance({name}, Tensor) or {name}._data.shape != {d.shape!r} or "
                f"{_differs(f'{name}._data.dtype', d.dtype, w)} or {name}.requires_grad is not {leaf.requires_grad}"
                + (f" or {name}._op is not None" if leaf.requires_grad else ""))
    if isinstance(leaf, np.ndarray):
        return (f"{name}.__class__ is not ndarray or {name}.shape != {leaf.shape!r} or "
                f"{_differs(f'{name}.dtype', leaf.dtype, w)}")
    try:
        hash(leaf)
    except TypeError:
        return f"{name} is not {w.constant(leaf, 'argument')}"
    return f"{name}.__class__ is not {w.constant(type(leaf), type(leaf).__name__)} or {name} != {w.constant(leaf, 'argument')}"


def _unchanged(t: Tensor):
    """The operand ``t`` equals (multiplied by a constant one, reshaped to its own shape), else None."""
    if t._op.name == "reshape" and isinstance(t._parents[0], Tensor) and t._parents[0]._data.shape == t._data.shape:
        return t._parents[0]
    if _run_of(t) is not np.multiply or t._attrs:
        return None
    a, b = t._parents
    for one, x in ((a, b), (b, a)):
        c = one._data if isinstance(one, Tensor) and one._op is None and not one.requires_grad else one
        if (isinstance(x, Tensor) and x._op is not None and not isinstance(c, Tensor) and np.ndim(c) == 0
                and c == 1 and x._data.shape == t._data.shape and x._data.dtype == t._data.dtype):
            return x
    return None


def _unobserved_stores_dropped(events: list) -> list:
    """The events without the gradient stores that ``.grad = None`` replaces before anything could read them."""
    dropped = set()
    for i, e in enumerate(events):
        if e[1] != "store":
            continue
        for later in events[i + 1:]:
            if later[1] == "call" or later[1] == "read" and later[2] is e[2]:
                break
            if later[1] in ("grad", "store") and later[2] is e[2]:
                if later[1] == "grad":
                    dropped.add(i)
                break
    return [e for i, e in enumerate(events) if i not in dropped]


def _fusable_write(t: Tensor, res) -> bool:
    """Whether ``t``'s in-place update to ``res`` can be one ufunc writing into ``t`` (see _Program)."""
    if not isinstance(res, Tensor) or res._op is None or res._attrs:
        return False
    parents = res._parents
    return (_run_of(res) in _OPERATORS and len(parents) == 2 and parents[0] is t
            and res._data.shape == t._data.shape and res._data.dtype == t._data.dtype)


#: What a program returns when a guard on its closure's tensors fails.
_STALE = object()


def _balanced(src: str) -> bool:
    depth = 0
    for ch in src:
        depth += (ch in "([{") - (ch in ")]}")
        if depth < 0:
            return False
    return depth == 0


def _plus(held, g):
    """What ``.grad`` held (an array, or a Tensor after ``create_graph=True``) plus ``g``, as an array."""
    return (held._data if isinstance(held, Tensor) else held) + g


def _set_grad(t: Tensor, g, given: set) -> None:
    """Store ``g`` as ``t.grad`` (the sum with what it held was traced), as eager backward stores it."""
    t._grad = None
    _store(t, g, given, False)


def _made_here(obj, trace: _Trace) -> bool:
    """An object made during the traced call (an argument's copy, a module's list): nothing to find."""
    return isinstance(obj, Tensor) and (obj._seq >= trace.start and id(obj) not in trace.adopted
                                        or id(obj) in trace.sources)


def _run_of(t: Tensor):
    op = t._op
    return op.run if op.run is not None else op.bind(xp)


def _value(x):
    return x._data if isinstance(x, Tensor) else x


# ---------------------------------------------------------------------------
# The compiled function
# ---------------------------------------------------------------------------


def _signature(leaf):
    """What a guard compares for one argument (or None: it cannot be compiled)."""
    if isinstance(leaf, Tensor):
        if leaf.requires_grad and leaf._op is not None:
            return None  # computed on an outer graph: backward must flow into it, eagerly
        return ("tensor", leaf._data.shape, leaf._data.dtype, leaf.requires_grad)
    if isinstance(leaf, np.ndarray):
        return ("array", leaf.shape, leaf.dtype)
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
            sigs.append((d.shape, d.dtype, a.requires_grad, c))
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
        v1 = 2.0 * a0
        return _make(v1)
    <BLANKLINE>
    """

    #: The world search of another compiled step (guards.py) does not look inside this one: its cache and its
    #: generated code hold counters and settings that change at every call, which would retrace that step.
    _opaque_to_guards = True

    def __init__(self, fn, fullgraph: bool, cache_size: int):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.fullgraph = fullgraph
        self.cache_size = int(cache_size)
        self._cache: OrderedDict = OrderedDict()  # signature -> list of programs, or "eager" and the reason
        self._lock = threading.Lock()
        self._last: _Program | None = None
        self._hot = None  # the generated function of the last call, if it had plain positional arguments
        self._specs: dict = {}  # number of positional arguments -> the structure of (args, {})
        self.stats = {"traces": 0, "replays": 0, "eager_calls": 0, "trace_seconds": 0.0}

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
            if out is not _STALE:
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
            for program in entry:
                try:
                    out = program.run(leaves)
                except (ValueError, TypeError, IndexError, ArithmeticError) as exc:
                    raise program.located(exc) from exc
                if out is not _STALE:
                    with self._lock:
                        if key in self._cache:
                            self._cache.move_to_end(key)
                    self._last = program
                    self._hot = program if program.flat else None
                    self.stats["replays"] += 1
                    return out
            if self.fullgraph:
                raise CompileError(f"compile(fullgraph=True): a tensor {self.__name__} reads from its closure "
                                   "changed shape, dtype or requires_grad since it was traced")
        elif self._cache and self.fullgraph:
            raise CompileError(f"compile(fullgraph=True): {self.__name__} was traced for other arguments "
                               "(shapes, dtypes, requires_grad, Python values or grad mode changed)")
        return self._trace(key, leaves, spec)

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
        trace = _Trace(self.fullgraph)
        sources, passed = [], []
        for leaf in leaves:
            if isinstance(leaf, Tensor) and leaf.requires_grad:
                source = leaf  # its gradient goes where eager backward puts it
            elif isinstance(leaf, (Tensor, np.ndarray)):
                source = _make(_value(leaf), requires_grad=True)
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
            program = _Program(trace, leaves, sources, out_leaves, out_spec, key[0], fn=self.fn)
            program.flat = isinstance(key[1], int)  # made by _positional_key: the hot path may try it
            for key_t, name in program._holders.items():
                if trace.unexplained_write(program._tensor_of[key_t]):
                    trace.fail(f"{name} (shape {program._tensor_of[key_t].shape}) is written through .data or "
                               "NumPy inside the function; write it with an in-place operator under no_grad "
                               "(`w -= lr * w.grad`) or through an optimizer")
            program.release()
        if trace.broken is not None:
            warnings.warn(f"compile: {self.__name__} runs eagerly for these arguments: {trace.broken}",
                          RuntimeWarning, stacklevel=3)
            self._remember(key, trace.broken)
        else:
            self._remember(key, [program])
            self._last = program
            self._hot = program if program.flat else None
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
            return swap[id(o)] if isinstance(swap[id(o)], Tensor) else _make(_value(o))
        if isinstance(o, Tensor) and o._op is not None and o._seq > start:
            return _make(o._data)
        return o

    return _unflatten(spec, [eager(o) for o in out_leaves])


def compile(fn=None, *, fullgraph: bool = False, cache_size: int = 8):  # noqa: A001 - torch.compile's name
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

    Notes
    -----
    Results are tensors without a graph: call ``backward()`` inside the
    function.  Arrays and Python numbers the function reads from its
    closure are constants of the trace (tensors are read at each call).
    ``step.code`` is the generated source; ``step.stats`` counts traces,
    replays and eager calls, and the seconds spent tracing.

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
    if fn is None:
        return lambda f: compile(f, fullgraph=fullgraph, cache_size=cache_size)
    if not callable(fn):
        raise TypeError(f"compile: expected a function, got {type(fn).__name__}")
    if cache_size < 1:
        raise ValueError(f"compile: cache_size must be at least 1, got {cache_size}")
    return Compiled(fn, fullgraph, cache_size)
