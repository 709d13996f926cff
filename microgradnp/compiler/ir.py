"""The compiler's intermediate representation: a traced step as a tuple of frozen nodes.

``lower.py`` turns a trace into a :class:`Graph`; each pass of ``passes.py``
returns a new graph (nodes are never changed in place: a pass builds new ones
with :func:`dataclasses.replace`); ``codegen.py`` writes one line (or two)
per node.  A node defines at most one local (``out``) and reads operands:

* :class:`Local` — a local of the generated function (``v12``, ``a0``);
* :class:`Const` — Python source read as it is: a literal, a name in the
  generated code's namespace (a constant of the trace), or an expression
  read again at every replay (``SETTINGS['lr']``, ``P0._grad``).

Nodes, in the order they run: :class:`Argument` and :class:`Load` (arrays
from the arguments and from tensors of the closure), :class:`Op` (one
registry op), :class:`Accumulate` (a gradient added to what ``.grad`` held),
the effects (:class:`Call`, :class:`ReadGrad`, :class:`StoreGrad`,
:class:`ClearGrad`, :class:`Increment`, :class:`Write`, :class:`UpdateInPlace`)
and :class:`Return`.  The guards (:class:`Guard`) are checked before all of
them.
"""

from __future__ import annotations

import builtins
import keyword
import math
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

__all__ = ["Local", "Const", "Argument", "Load", "Op", "Accumulate", "Call", "ReadGrad", "StoreGrad", "ClearGrad",
           "Increment", "Write", "UpdateInPlace", "Result", "Return", "Guard", "Graph", "Namespace", "EFFECTS",
           "evolve"]


@dataclass(frozen=True)
class Local:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    """``fixed``: a constant of the trace (a literal or a name); else read again at each replay."""

    src: str
    fixed: bool = True

    def __str__(self) -> str:
        return self.src


Operand = Union[Local, Const]


@dataclass(frozen=True)
class Argument:
    """``out = A[index]._data`` (a Tensor argument) or ``out = A[index]`` (an array)."""

    out: Local
    index: int
    tensor: bool


@dataclass(frozen=True)
class Load:
    """``out = holder._data``: the array of a tensor read from the closure, as it is now."""

    out: Local
    holder: str


@dataclass(frozen=True)
class Op:
    """``out = fn(*args, **attrs)``: one registry op.

    ``form`` is how code generation writes it: ``"call"`` (the default),
    ``"operator"`` (``a + b``), ``"negate"``, ``"dot"`` (``a.dot(b)``),
    ``"buffer"`` (``fn(a, b, out=B[buffer])``) or ``"expr"`` (``expr``, the
    forward inlined).  ``run`` is the function the op runs (named in the
    generated code after the op); ``values`` are the traced operand values and ``shape``
    and ``dtype`` the traced result's (the guards keep them the same).
    """

    out: Local
    op: str
    args: tuple
    attrs: tuple = ()  # (keyword, source)
    shape: tuple = ()
    dtype: np.dtype = field(default=np.dtype("float64"))
    form: str = "call"
    expr: str = ""
    buffer: int = -1
    run: Any = field(default=None, compare=False)
    registry_op: Any = field(default=None, compare=False)
    values: tuple = field(default=(), compare=False)
    attr_values: tuple = field(default=(), compare=False)  # (keyword, value)
    library: str = "numpy"  # another array library: ``run`` is its namespace's forward, called as it is

    @property
    def scalar(self) -> bool:
        """NumPy returns a scalar, not an array, for a 0-d result (other libraries return 0-d arrays)."""
        return self.shape == () and self.library == "numpy"

    @property
    def ufunc(self) -> bool:
        return isinstance(self.run, np.ufunc)


@dataclass(frozen=True)
class Accumulate:
    """``out = grad if held is None else _plus(held, grad)``: a gradient added to what ``.grad`` held."""

    out: Local
    held: Operand
    grad: Operand
    shape: tuple = ()
    library: str = "numpy"

    @property
    def scalar(self) -> bool:
        return self.shape == () and self.library == "numpy"


@dataclass(frozen=True)
class Call:
    """``out = callee()``: a replayed call (an optimizer's ``step()``); ``out`` None where its result is unused."""

    callee: str
    out: Local | None = None


@dataclass(frozen=True)
class ReadGrad:
    """``out = target._grad``."""

    out: Local
    target: str


@dataclass(frozen=True)
class StoreGrad:
    """``_set_grad(target, value, given)``: a gradient stored as eager ``backward`` stores it."""

    target: str
    value: Operand


@dataclass(frozen=True)
class ClearGrad:
    """``target._grad = None``."""

    target: str


@dataclass(frozen=True)
class Increment:
    """``container[key] += 1`` (an optimizer's step count)."""

    container: str
    key: object


@dataclass(frozen=True)
class Write:
    """``holder._data[...] = value``: an in-place update of a closure tensor (``w -= lr * g`` under no_grad)."""

    holder: str
    value: Operand


@dataclass(frozen=True)
class UpdateInPlace:
    """``own op= other``: an in-place update written as one ufunc into the tensor's array (``in_place_updates``)."""

    holder: str
    own: Operand
    operator: str
    other: Operand


@dataclass(frozen=True)
class Result:
    """One returned value: ``operand``, made a Tensor (``_make``) where ``make``, an array first where ``array``."""

    operand: Operand
    make: bool = False
    array: bool = False


@dataclass(frozen=True)
class Return:
    results: tuple
    structure: str | None = None  # the namespace name of the output's tree structure, None for one result


@dataclass(frozen=True)
class Guard:
    """A test that the replay would be stale: checked on every ``call``, when a closure tensor's array is new
    (``closure``), or when the module world changed (``world``)."""

    check: str
    when: str = "call"


#: The nodes that act on the world: common subexpressions are not shared across them.
EFFECTS = (Call, ReadGrad, StoreGrad, ClearGrad, Increment, Write, UpdateInPlace)


@dataclass(frozen=True)
class Graph:
    """A traced step: its nodes in order, its guards, and the namespace the generated code runs in."""

    nodes: tuple
    guards: tuple
    names: Namespace = field(compare=False)
    holders: tuple = ()  # (name, tensor) of each tensor read from the closure, in the order of the SEEN list

    def uses(self) -> dict:
        """``{local name: how many times it is read}`` by the nodes and the returned values."""
        counts: dict = {}
        for node in self.nodes:
            for operand in operands(node):
                if isinstance(operand, Local):
                    counts[operand.name] = counts.get(operand.name, 0) + 1
        return counts

    def defined(self) -> dict:
        """``{local name: the node that defines it}``."""
        return {node.out.name: node for node in self.nodes if getattr(node, "out", None) is not None}


def operands(node) -> list:
    """What ``node`` reads."""
    if isinstance(node, Op):
        return list(node.args)
    if isinstance(node, Accumulate):
        return [node.held, node.grad]
    if isinstance(node, (StoreGrad, Write)):
        return [node.value]
    if isinstance(node, UpdateInPlace):
        return [node.own, node.other]
    if isinstance(node, Return):
        return [r.operand for r in node.results]
    return []


def renamed(node, rename: dict):
    """``node`` reading ``rename[name]`` for each local it reads that ``rename`` names."""
    if not rename or not any(isinstance(x, Local) and x.name in rename for x in operands(node)):
        return node

    def r(x):
        return rename.get(x.name, x) if isinstance(x, Local) else x

    if isinstance(node, Op):
        return evolve(node, args=tuple(r(a) for a in node.args))
    if isinstance(node, Accumulate):
        return evolve(node, held=r(node.held), grad=r(node.grad))
    if isinstance(node, (StoreGrad, Write)):
        return evolve(node, value=r(node.value))
    if isinstance(node, UpdateInPlace):
        return evolve(node, own=r(node.own), other=r(node.other))
    if isinstance(node, Return):
        return evolve(node, results=tuple(evolve(x, operand=r(x.operand)) for x in node.results))
    return node


def evolve(node, **changes):
    """A copy of the frozen ``node`` with ``changes``: :func:`dataclasses.replace` without calling ``__init__``
    again (1 us a node instead of 11; a trace of 12,000 ops passed through seven passes took 0.4 s less)."""
    new = object.__new__(type(node))
    new.__dict__.update(node.__dict__)
    new.__dict__.update(changes)
    return new


def scalars(graph: Graph) -> set:
    """The locals that may hold a NumPy scalar (a 0-d result): made arrays where an array is needed."""
    return {n.out.name for n in graph.nodes if isinstance(n, (Op, Accumulate)) and n.scalar}


def source(operand, scalar_locals: set, array: bool = False) -> str:
    """``operand`` as Python source; ``array``: never a NumPy scalar."""
    if isinstance(operand, Local) and array and operand.name in scalar_locals:
        return f"np.asarray({operand.name})"
    return str(operand)


class Namespace:
    """The globals of the generated function: the constants of the trace, each under a readable name."""

    def __init__(self, base: dict):
        self.namespace = dict(base)
        self.names: dict[int, str] = {id(v): k for k, v in self.namespace.items()}  # id(object) -> global name

    def constant(self, obj, stem: str) -> str:
        """A name (or a literal) for ``obj`` in the generated code."""
        literal = literal_source(obj)
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


def literal_source(v) -> str | None:
    """``v`` as Python source that evaluates to an equal value of the same type, or None."""
    if v is None or v is True or v is False or type(v) in (int, str):
        return repr(v)
    if type(v) is float:
        return repr(v) if math.isfinite(v) else None
    if type(v) in (tuple, list):
        parts = [literal_source(x) for x in v]
        if any(p is None for p in parts):
            return None
        inner = ", ".join(p for p in parts if p is not None) + ("," if type(v) is tuple and len(v) == 1 else "")
        return f"({inner})" if type(v) is tuple else f"[{inner}]"
    return None
