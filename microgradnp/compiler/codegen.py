"""Code generation: a graph (``ir.py``) becomes Python source, compiled once into a frozen :class:`Program`.

One line per node (two for a write: the array, then its stamp), the guards
first: on a mismatch the function returns ``STALE`` before anything has
changed, and the call traces again.  The source is ``step.code``; a line's op
is kept, so that an error raised by that line at replay names the op as eager
names it.
"""

from __future__ import annotations

import builtins
import threading
from dataclasses import dataclass, field

import numpy as np

from .. import _mode as _modes
from .._mode import _mode
from .._tensor import Hooks, Tensor, _make, mark_written, next_seq
from ..engine import _store
from ..func._tree import unflatten as _unflatten
from ..ops import xp
from .ir import (
    Accumulate,
    Argument,
    Call,
    ClearGrad,
    Graph,
    Increment,
    Load,
    Op,
    ReadGrad,
    Return,
    StoreGrad,
    UpdateInPlace,
    Write,
    scalars,
    source,
)
from .passes import OPERATORS

__all__ = ["Program", "RUNTIME", "STALE", "generate"]

#: What a program returns when a guard fails.
STALE = object()


def plus(held, g):
    """What ``.grad`` held (an array, or a Tensor after ``create_graph=True``) plus ``g``, as an array."""
    return (held._data if isinstance(held, Tensor) else held) + g


def set_grad(t: Tensor, g, given: set) -> None:
    """Store ``g`` as ``t.grad`` (the sum with what it held was traced), as eager backward stores it."""
    t._grad = None
    _store(t, g, given, False)


#: The names every generated function may use (the constants of a trace are added to these).
RUNTIME = {"Tensor": Tensor, "ndarray": np.ndarray, "_make": _make, "_plus": plus, "_set_grad": set_grad,
           "mark_written": mark_written, "next_seq": next_seq, "np": np, "xp": xp, "_mode": _mode,
           "_modes": _modes, "STALE": STALE, "_unflatten": _unflatten, "HOOKS": Hooks}


@dataclass(frozen=True)
class Program:
    """The generated function of one traced signature, with its source, its guards and what it took to make.

    ``run(A)`` takes the flattened arguments and returns the result, or
    ``STALE`` when a guard fails.  ``stats``: the nodes after lowering and
    after each pass, and the seconds each took.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> step = mg.compile(lambda x: (2.0 * x * 1.0).sum())
    >>> _ = step(np.ones(3))
    >>> step.program.stats["nodes"]["lowered"], step.program.stats["nodes"]["fold_constants"]
    (5, 4)
    """

    code: str
    run: object = field(repr=False)
    guards: tuple = field(repr=False)
    filename: str = "<compiled>"
    ops_at: dict = field(default_factory=dict, repr=False)  # line of code -> the op it runs
    flat: bool = False  # made for plain positional arguments: the hot path of Compiled may try it first
    stats: dict = field(default_factory=dict)

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
        return type(exc)(f"{op}: {exc} (at line {line} of the compiled step's code, step.code)")


def generate(graph: Graph, filename: str, flat: bool = False, stats: dict | None = None) -> Program:
    """The program of ``graph``: its source, compiled (``exec``) in the graph's namespace."""
    names = graph.names
    small = scalars(graph)
    body, ops_at = [], {}
    given = any(isinstance(n, StoreGrad) for n in graph.nodes)  # the arrays stored: each held by one .grad
    for node in graph.nodes:
        if given and not isinstance(node, Argument):
            body.append("given = set()")
            given = False
        if isinstance(node, Op):
            ops_at[len(body)] = node.op  # for an error raised by this line at replay
        body += _lines(node, names, small)
    header, functions = _guard_lines(graph)
    pool = [(n.shape, n.dtype) for n in sorted((n for n in graph.nodes if isinstance(n, Op) and n.form == "buffer"),
                                               key=lambda n: n.buffer)]
    if pool:
        header.append("B = _buffers()")
        names.namespace["_buffers"] = _buffers_of(pool)
    code = "def replay(A):\n" + "".join(f"    {line}\n" for line in header + body)
    for lines in functions:
        code += "\n\n" + "".join(f"{line}\n" for line in lines)
    exec(builtins.compile(code, filename, "exec"), names.namespace)  # noqa: S102 - our own source (step.code)
    # The op of each line of step.code (1-based: "def replay(A):" is line 1).
    located = {i + len(header) + 2: op for i, op in ops_at.items()}
    return Program(code, names.namespace["replay"], graph.guards, filename, located, flat, dict(stats or {}))


def _lines(node, names, small: set) -> list:
    """The source of one node."""
    if isinstance(node, Argument):
        return [f"{node.out} = A[{node.index}]._data" if node.tensor else f"{node.out} = A[{node.index}]"]
    if isinstance(node, Load):
        return [f"{node.out} = {node.holder}._data"]
    if isinstance(node, Op):
        return [f"{node.out} = {_call(node, names, small)}"]
    if isinstance(node, Accumulate):
        held, grad = source(node.held, small), source(node.grad, small)
        return [f"{node.out} = {grad} if {held} is None else _plus({held}, {grad})"]
    if isinstance(node, Call):
        return [f"{node.callee}()" if node.out is None else f"{node.out} = {node.callee}()"]
    if isinstance(node, ReadGrad):
        return [f"{node.out} = {node.target}._grad"]
    if isinstance(node, StoreGrad):
        return [f"_set_grad({node.target}, {source(node.value, small, array=True)}, given)"]
    if isinstance(node, ClearGrad):
        return [f"{node.target}._grad = None"]
    if isinstance(node, Increment):
        return [f"{node.container}[{node.key!r}] += 1"]
    if isinstance(node, Write):
        return [f"{node.holder}._data[...] = {source(node.value, small)}", f"{node.holder}._written = next_seq()"]
    if isinstance(node, UpdateInPlace):
        return [f"{node.own} {node.operator}= {node.other}", f"{node.holder}._written = next_seq()"]
    if isinstance(node, Return):
        results = []
        for r in node.results:
            src = source(r.operand, small, array=r.array)
            results.append(f"_make({src})" if r.make else src)
        if node.structure is None:  # one result, returned as it is
            return [f"return {results[0]}"]
        return [f"return _unflatten({node.structure}, [{', '.join(results)}])"]
    raise TypeError(f"compile: no code for {type(node).__name__}")  # a new node kind needs its line here


def _call(node: Op, names, small: set) -> str:
    """The right-hand side of an op's line, in the form the passes chose."""
    if node.form == "expr":
        expr = node.expr
        return expr[1:-1] if expr.startswith("(") and expr.endswith(")") and _balanced(expr[1:-1]) else expr
    if node.form == "operator":
        return f"{source(node.args[0], small)} {OPERATORS[node.run]} {source(node.args[1], small)}"
    if node.form == "negate":
        return f"-{source(node.args[0], small)}"
    if node.form == "dot":
        return f"{source(node.args[0], small)}.dot({source(node.args[1], small)})"
    if node.form == "buffer":
        fn = names.constant(np.matmul if node.run is xp.matmul else node.run, node.op)
        return f"{fn}({', '.join(source(a, small) for a in node.args)}, out=B[{node.buffer}])"
    args = [source(a, small, array=not node.ufunc) for a in node.args]
    kw = "".join(f", {k}={v}" for k, v in node.attrs)
    return f"{names.constant(node.run, node.op)}({', '.join(args)}{kw})"


def _guard_lines(graph: Graph) -> tuple:
    """The guard test at the top of ``replay``, and the functions it calls for the closure and the world."""
    names = graph.names
    every = [g.check for g in graph.guards if g.when == "call"]
    closure = [g.check for g in graph.guards if g.when == "closure"]
    world = [g.check for g in graph.guards if g.when == "world"]
    functions = []
    if world:
        epoch = f"EPOCH{len(names.namespace)}"  # a list of one, kept in the namespace (a literal would be a copy)
        names.namespace[epoch] = [_modes.epoch]
        every.append(f"{epoch}[0] != _modes.epoch and _world_changed()")
        functions.append(_checker("_world_changed", world, [f"{epoch}[0] = _modes.epoch"]))
    if closure:
        # A closure tensor's array is compared by identity first: an array keeps its shape and dtype, so only a
        # new one is checked (about 0.1 us per tensor less on every call than checking each time).
        held = [f"{name}._data" for name, _ in graph.holders]
        names.namespace["SEEN"] = [None] * len(held)
        same = " and ".join(f"{h} is SEEN[{k}]" for k, h in enumerate(held))
        every.append(f"not ({same}) and _closure_changed()")
        functions.insert(0, _checker("_closure_changed", closure, [f"SEEN[:] = [{', '.join(held)}]"]))
    lines = ["if (" + every[0]] + [f"        or {g}" for g in every[1:]]
    lines[-1] += "):"
    lines.append("    return STALE  # traced for other arguments, or a tensor of the closure changed")
    return lines, functions


def _checker(name: str, checks: list, remember: list) -> list:
    """``def name()``: True when one of ``checks`` holds, else ``remember`` (what was seen) and False."""
    lines = [f"def {name}():", "    if (" + checks[0]] + [f"            or {c}" for c in checks[1:]]
    lines[-1] += "):"
    return lines + ["        return True"] + [f"    {r}" for r in remember] + ["    return False"]


def _buffers_of(pool: list):
    """The buffers of one program, one set per thread: two threads replaying at once never share one."""
    local = threading.local()

    def buffers() -> list:
        arrays = getattr(local, "arrays", None)
        if arrays is None:
            arrays = local.arrays = [np.empty(shape, dtype) for shape, dtype in pool]
        return arrays

    return buffers


def _balanced(src: str) -> bool:
    depth = 0
    for ch in src:
        depth += (ch in "([{") - (ch in ")]}")
        if depth < 0:
            return False
    return depth == 0
