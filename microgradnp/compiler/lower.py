"""Lowering: a trace (``trace.py``) becomes the IR (``ir.py``), one node per op and effect, nothing optimised.

The ops are those the effects and the outputs reach through the tensors'
graph, made during the traced call, in the order they were made, with the
effects between them where they happened.  Each operand becomes what the
replay reads for it: a local computed earlier, an argument's array, the array
a closure tensor holds now (a :class:`~.ir.Load`, again after a replayed call,
which may replace arrays), a number read from its container at every replay
(an optimizer's learning rate), or a constant of the trace.
"""

from __future__ import annotations

import functools

import numpy as np

from .._tensor import Tensor, library_of_data
from ..func._tree import unflatten
from ..ops import xp
from .codegen import RUNTIME
from .ir import (
    Accumulate,
    Argument,
    Call,
    ClearGrad,
    Const,
    Graph,
    Increment,
    Load,
    Local,
    Namespace,
    Op,
    ReadGrad,
    Result,
    Return,
    StoreGrad,
    Write,
)
from .trace import scalar_like

__all__ = ["lower", "run_of"]


def lower(trace, arg_leaves: list, sources: list, outputs: list, out_spec) -> Graph:
    """The IR of ``trace`` (without guards: see ``guards.program_guards``)."""
    return _Lowering(trace, arg_leaves, sources).graph(outputs, out_spec)


def run_of(t: Tensor):
    """The function ``t``'s op ran: bound to NumPy, or the forward on ``t``'s array library and device."""
    op = t._op
    library = library_of_data(t._data)
    if library != "numpy":
        import array_api_compat

        from ..engine import foreign_forward

        return foreign_forward(op, library, array_api_compat.device(t._data))
    return op.run if op.run is not None else op.bind(xp)


def _value(x):
    return x._data if isinstance(x, Tensor) else x


class _Lowering:
    def __init__(self, trace, arg_leaves: list, sources: list):
        self.trace = trace
        self.args = arg_leaves
        self.sources = sources
        self.source_index = {id(s): i for i, s in enumerate(sources) if s is not None}
        self.names = Namespace(RUNTIME)
        self.nodes: list = []
        self.var: dict[int, Local] = {}  # id(traced tensor) -> the local holding its array
        self.holders: dict[int, str] = {}  # id(tensor read from the closure) -> its global name
        self.tensor_of: dict[int, Tensor] = {}
        self.loaded: dict[int, Local] = {}  # id(closure tensor) -> the local holding its array now
        self.results: dict[int, Local] = {}  # id(what a replayed call returned) -> the local holding it

    def local(self, prefix: str) -> Local:
        return Local(f"{prefix}{len(self.nodes) + 1}")

    def graph(self, outputs: list, out_spec) -> Graph:
        trace = self.trace
        events = [e for e in trace.events if e[1] not in ("store", "grad", "read") or self.target(e[2]) != "-"]
        for i, s in enumerate(self.sources):
            if s is not None:
                local = Local(f"a{i}")
                self.var[id(s)] = local
                self.nodes.append(Argument(local, i, isinstance(self.args[i], Tensor)))
        for item in _ordered(_steps(trace, events, outputs), events):
            if isinstance(item, Tensor):
                self.step(item)
            else:
                self.event(item)
        results = tuple(self.output(o) for o in outputs)
        structure = None if out_spec is None else self.names.constant(out_spec, "structure")
        if not outputs and unflatten(out_spec, []) is None:  # a step that returns nothing: no tree to rebuild
            results, structure = (Result(Const("None")),), None
        self.nodes.append(Return(results, structure))
        holders = tuple((name, self.tensor_of[key]) for key, name in self.holders.items())
        return Graph(tuple(self.nodes), (), self.names, holders)

    # Operands.

    def holder(self, t: Tensor) -> str:
        key = id(t)
        if key not in self.holders:
            self.holders[key] = self.names.constant(t, f"P{len(self.holders)}")
            self.tensor_of[key] = t
        return self.holders[key]

    def target(self, t: Tensor) -> str:
        """Where a gradient of ``t`` lives at replay: an argument, a closure tensor, or "-" (nowhere seen)."""
        if id(t) in self.source_index:
            i = self.source_index[id(t)]
            return f"A[{i}]" if isinstance(self.args[i], Tensor) and self.args[i].requires_grad else "-"
        if t._seq > self.trace.start:
            return "-"
        return self.holder(t)

    def operand(self, p):
        trace, names = self.trace, self.names
        if not isinstance(p, Tensor):
            if id(p) in self.results:
                return self.results[id(p)]
            stored = trace.stored.get(id(p))
            if stored is not None and stored[1] is p:  # a .grad read as an array after it was stored
                return Const(f"{self.target(stored[0])}._grad", fixed=False)
            return Const(names.constant(p, "k"))
        key = id(p)
        if key in self.var:
            return self.var[key]
        if key in trace.settings:  # a number read from its container at every replay (a learning rate)
            container, k = trace.settings[key]
            read = f"{names.constant(container, 'SETTINGS')}[{k!r}]"
            if library_of_data(p._data) != "numpy":  # made the traced 0-d array (a Python number is float32 there)
                read = f"{names.constant(functools.partial(scalar_like, like=p._data), 'AS_ARRAY')}({read})"
            return Const(read, fixed=False)
        if key in trace.sources:  # a copy of an argument made inside the function
            return Local(f"a{trace.sources[key]}")
        if p._seq > trace.start and key not in trace.adopted:  # made inside from constants: a constant
            if p.requires_grad:
                trace.fail("a tensor that requires grad is created inside the function; create it outside")
            return Const(names.constant(p._data, "k"))
        if key not in self.loaded:  # read from the closure: its array now (again after a replayed call)
            holder = self.holder(p)
            local = Local(f"{holder.lower()}_{len(self.nodes) + 1}")
            self.nodes.append(Load(local, holder))
            self.loaded[key] = local
        return self.loaded[key]

    # Nodes.

    def step(self, t: Tensor) -> None:
        parents = t._parents
        if t._op.name == "add" and isinstance(parents[0], Tensor) and id(parents[0]) in self.trace.reads:
            # A gradient added to what .grad held: None holds nothing (eager backward stores the gradient alone).
            held, grad = self.operand(parents[0]), self.operand(parents[1])
            node: Op | Accumulate = Accumulate(self.local("v"), held, grad, t._data.shape,
                                               library_of_data(t._data))
        else:
            args = tuple(self.operand(p) for p in parents)
            attrs = t._attrs or {}
            node = Op(self.local("v"), t._op.name, args, tuple((k, self.names.constant(v, k)) for k, v in attrs.items()),
                      t._data.shape, t._data.dtype, run=run_of(t), registry_op=t._op,
                      values=tuple(_value(p) for p in parents), attr_values=tuple(attrs.items()),
                      library=library_of_data(t._data))
        self.var[id(t)] = node.out
        self.nodes.append(node)

    def event(self, e) -> None:
        kind = e[1]
        if kind == "call":
            fn = e[2].func
            stem = getattr(fn, "__qualname__", "call").replace(".", "_").replace("<", "").replace(">", "")
            result, out = e[3], None
            if isinstance(result, (float, np.ndarray, Tensor)) and type(result) is not bool:
                # What it returns (clip_grad_norm_'s norm) is this call's, wherever the function passes it on.
                out = self.results[id(result)] = self.local("r")
            self.nodes.append(Call(self.names.constant(e[2], stem), out))
            self.loaded.clear()  # the call may have replaced arrays
        elif kind == "read":
            out = self.var[id(e[3])] = self.local("g")
            self.nodes.append(ReadGrad(out, self.target(e[2])))
        elif kind == "store":
            self.nodes.append(StoreGrad(self.target(e[2]), self.operand(e[3])))
        elif kind == "grad":
            self.nodes.append(ClearGrad(self.target(e[2])))
        elif kind == "increment":  # an optimizer's step count
            self.nodes.append(Increment(self.names.constant(e[2], "STATE"), e[3]))
        elif kind == "write":
            holder = self.holder(e[2])
            self.nodes.append(Write(holder, self.operand(e[3])))

    def output(self, o) -> Result:
        if id(o) in self.results:
            return Result(self.results[id(o)])
        if not isinstance(o, Tensor):
            return Result(Const(self.names.constant(o, "k")))
        if id(o) in self.source_index:
            i = self.source_index[id(o)]
            if isinstance(self.args[i], Tensor) and self.args[i].requires_grad:
                return Result(Const(f"A[{i}]", fixed=False))
            return Result(Local(f"a{i}"), make=True)
        if o._seq < self.trace.start:
            return Result(Const(self.holder(o), fixed=False))
        return Result(self.operand(o), make=True, array=True)


def _steps(trace, events, outputs) -> list:
    """The recorded ops the effects and outputs reach, made during the trace, in creation order."""
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


def _ordered(steps, events) -> list:
    items = [(t._seq, 0, t) for t in steps] + [(e[0], 1, e) for e in events]
    return [item for _, _, item in sorted(items, key=lambda x: (x[0], x[1]))]
