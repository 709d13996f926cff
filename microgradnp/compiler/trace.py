"""The trace: what one call of a compiled function did to tensors, recorded while it runs eagerly.

The engine, the Tensor and the optimizers call the ``on_*`` methods of the
active :class:`Trace` (``_mode.tracer``); the recorded ops are the tensors'
own graph (each tensor keeps its op and parents), the effects are
``events``: ``(stamp, kind, ...)`` in the order they happened, of the kinds
``"read"`` (``.grad`` as the replay finds it), ``"store"`` (a gradient stored
in ``.grad``), ``"grad"`` (``.grad = None``), ``"write"`` (an in-place update
under ``no_grad``), ``"increment"`` (an optimizer's step count) and
``"call"`` (a replayed call: an optimizer step, a scheduler).  What cannot be
replayed breaks the trace with a reason (``fail``); ``lower.py`` turns the
rest into the IR.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

from .._mode import _mode
from .._tensor import Tensor, _make, kind_of, library_of_data, next_seq, zeros_for
from ..engine import _VALUE, _store, apply
from ..func._tree import flatten as _flatten

__all__ = ["CompileError", "Trace"]


class CompileError(RuntimeError):
    """What ``compile(..., fullgraph=True)`` raises where it would otherwise run eagerly or trace again."""


class Trace:
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
        the closure (its values may change between calls, in place, so the replay computes it again) or an
        argument (an integer or boolean one does not require grad)."""
        return any(isinstance(x, Tensor) and (x._seq < self.start or id(x) in self.adopted or id(x) in self.sources)
                   for x in inputs)

    def adopt(self, t: Tensor) -> None:
        """``t`` is made during the trace but kept after it (an optimizer's state): read as the closure's."""
        self.adopted[id(t)] = t

    def on_read(self, t: Tensor) -> None:
        if id(t) in self.sources and t._op is None and kind_of(t._data) in "iub":
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
            copy.requires_grad = source.requires_grad  # followed, as the argument is (its gradient goes nowhere)
            self.aliases.append(copy)  # kept alive: its id stays its own
        else:
            self.on_read(source)

    def on_unreplayable(self, what: str, why: str) -> None:
        self.fail(f"{what} {why}")

    # What a traced optimizer update reads and decides (see ``optim.optimizers``).

    def setting(self, container: dict, key, like) -> Tensor:
        """``container[key]`` (a learning rate) as a 0-d tensor the replay reads from the container every call,
        of the dtype, array library and device of ``like`` (the parameter's array)."""
        t = _make(scalar_like(container[key], like), requires_grad=True)  # followed, gradient-free
        self.settings[id(t)] = (container, key)
        self.aliases.append(t)  # kept alive: its id stays its own
        return t

    def increment(self, container: dict, key, like) -> Tensor:
        """``container[key] += 1`` now and at each replay (a step count); its new value as a setting."""
        container[key] += 1
        self.events.append((next_seq(), "increment", container, key))
        return self.setting(container, key, like)

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
            before = zeros_for(t._data)
        else:
            before = _copied(current._data if isinstance(current, Tensor) else current, t._data)
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


def scalar_like(value, like):
    """The Python number ``value`` as a 0-d array of ``like``'s dtype, array library and device."""
    if library_of_data(like) == "numpy":
        return np.asarray(value, dtype=like.dtype)
    import array_api_compat

    return array_api_compat.array_namespace(like).asarray(value, dtype=like.dtype,
                                                          device=array_api_compat.device(like))


def _copied(array, like):
    """A copy of ``array`` with ``like``'s dtype (on ``array``'s own library)."""
    if library_of_data(array) == "numpy":
        return np.array(array, dtype=like.dtype)
    import array_api_compat

    xp = array_api_compat.array_namespace(array)
    return xp.astype(array, like.dtype, copy=True)
