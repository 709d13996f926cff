"""The passes: each takes a graph (``ir.py``) and returns a new one that computes the same.

They run in the order of :data:`PASSES`; each can be switched off
(``mg.compile(fn, passes=...)``) and is tested alone (tests/compiler/
test_passes.py), and the registry's replay == eager property test runs with
each one off.  What each buys is measured in docs/compile.md.  The order
matters where a pass names what it writes: ``inline`` writes operands into
source text, so nothing renames locals after it.
"""

from __future__ import annotations

import math

import numpy as np

from ..ops import xp
from .inline import Inliner
from .ir import (
    EFFECTS,
    Accumulate,
    Call,
    ClearGrad,
    Const,
    Graph,
    Load,
    Local,
    Op,
    ReadGrad,
    Return,
    StoreGrad,
    UpdateInPlace,
    Write,
    evolve,
    operands,
    renamed,
    scalars,
    source,
)

__all__ = ["PASSES", "POOL_BYTES", "run_passes"]

#: Temporaries at least this large (bytes) are written into buffers kept from
#: one call to the next.  Allocating a fresh multi-megabyte array on every step
#: maps new pages and faults on each first touch; reusing the buffer does not
#: (measured on 784-1024-1024-10, batch 512: see docs/performance.md).  Smaller
#: arrays come from NumPy's own cache, and ``out=`` would only cost time.
POOL_BYTES = 1 << 18

#: Forwards that always return a fresh array and take ``out=``: the ones a buffer can serve.
POOLABLE = {np.add, np.subtract, np.multiply, np.true_divide, np.negative, np.exp, np.log, np.tanh, np.maximum,
            np.minimum, np.square, np.sqrt, np.matmul, xp.matmul}

#: Binary ufuncs written as Python operators: the same computation, without
#: parsing a ufunc's keyword arguments (about 60 ns per call).
OPERATORS: dict = {np.add: "+", np.subtract: "-", np.multiply: "*", np.true_divide: "/"}
#: The same ops by name, on another array library's arrays (whose in-place operators the standard defines).
LIBRARY_OPERATORS: dict = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def _operator(op: Op) -> str | None:
    """The Python operator an op's forward is (``np.add``: ``+``), on NumPy or another library, or None."""
    return OPERATORS.get(op.run) if op.library == "numpy" else LIBRARY_OPERATORS.get(op.op)


def fold_constants(graph: Graph) -> Graph:
    """An op whose result its constant operand decides is its other operand: ``x * 1``, ``x`` reshaped to its
    own shape.  (Backward passes make both: the seed gradient 1 of a loss, a gradient reshaped to its input.)"""
    rename: dict = {}
    defined = graph.defined()
    nodes = []
    for node in graph.nodes:
        node = renamed(node, rename)
        same = _unchanged(node, defined) if isinstance(node, Op) else None
        if same is not None:
            rename[node.out.name] = same
            continue
        nodes.append(node)
    return evolve(graph, nodes=tuple(nodes))


def common_subexpressions(graph: Graph) -> Graph:
    """The same op on the same operands, with no effect between them (which may write into an operand), is
    computed once."""
    rename: dict = {}
    seen: dict = {}
    nodes = []
    for node in graph.nodes:
        node = renamed(node, rename)
        if isinstance(node, EFFECTS):
            seen.clear()
        elif isinstance(node, Op):
            key = (id(node.registry_op), node.op, node.args, node.attrs)
            if key in seen:
                rename[node.out.name] = seen[key]
                continue
            seen[key] = node.out
        nodes.append(node)
    return evolve(graph, nodes=tuple(nodes))


def dead_code(graph: Graph) -> Graph:
    """Gradients stored and cleared (``.grad = None``) before anything read them are not stored; then what
    nothing reads (ops, loads, ``.grad`` reads) is not computed."""
    nodes = _unobserved_stores_dropped(list(graph.nodes))
    live: set = set()
    kept = []
    for node in reversed(nodes):
        if isinstance(node, (Op, Load, Accumulate, ReadGrad)) and node.out.name not in live:
            continue
        kept.append(node)
        live |= {x.name for x in operands(node) if isinstance(x, Local)}
    return evolve(graph, nodes=tuple(reversed(kept)))


def in_place_updates(graph: Graph) -> Graph:
    """``w -= lr * g`` under no_grad computes ``w - lr * g`` and copies it into ``w``: one ufunc writing into
    ``w``'s array does both, without the new array and the copy (on another library, its in-place operator:
    on torch's CPU it took the compiled `wide` step from 1.09x to 1.0x its eager time)."""
    uses, defined = graph.uses(), graph.defined()
    fused: dict = {}  # the op's local -> the update that replaces op and write
    last_call = -1
    position = {}
    for i, node in enumerate(graph.nodes):
        if isinstance(node, Op):
            position[node.out.name] = i
        if isinstance(node, Call):
            last_call = i
        if isinstance(node, Write) and isinstance(node.value, Local):
            op = defined.get(node.value.name)
            operator = _operator(op) if isinstance(op, Op) else None
            if isinstance(op, Op) and operator is not None and _fusable(op, node, defined) \
                    and uses[op.out.name] == 1 and position[op.out.name] > last_call:
                fused[op.out.name] = UpdateInPlace(node.holder, op.args[0], operator, op.args[1])
    nodes = []
    for node in graph.nodes:
        if isinstance(node, Op) and node.out.name in fused:
            continue
        if isinstance(node, Write) and isinstance(node.value, Local) and node.value.name in fused:
            node = fused[node.value.name]
        nodes.append(node)
    return evolve(graph, nodes=tuple(nodes))


def buffer_reuse(graph: Graph) -> Graph:
    """A large temporary (``POOL_BYTES``) that does not outlive the call is written into a buffer kept from one
    call to the next (``out=``), one buffer per op and per thread."""
    escaping = _escaping(graph)
    count = 0
    nodes = []
    for node in graph.nodes:
        if (isinstance(node, Op) and node.form == "call" and node.run in POOLABLE and not node.attrs
                and node.out.name not in escaping
                and math.prod(node.shape) * node.dtype.itemsize >= POOL_BYTES):
            node = evolve(node, form="buffer", buffer=count)
            count += 1
        nodes.append(node)
    return evolve(graph, nodes=tuple(nodes))


def operator_forms(graph: Graph) -> Graph:
    """``np.add(a, b)`` written ``a + b`` (and ``-``, ``*``, ``/``, negation, ``a.dot(b)`` for a matmul of
    matrices or vectors): the same computation without a call's argument parsing."""
    nodes = []
    for node in graph.nodes:
        if isinstance(node, Op) and node.form == "call" and not node.attrs:
            if node.run in OPERATORS and len(node.args) == 2:
                node = evolve(node, form="operator")
            elif node.run is np.negative:
                node = evolve(node, form="negate")
            elif node.run is xp.matmul and all(0 < np.ndim(v) <= 2 for v in node.values):
                node = evolve(node, form="dot")  # what xp.matmul does on these
        nodes.append(node)
    return evolve(graph, nodes=tuple(nodes))


def inline(graph: Graph) -> Graph:
    """An op's forward written as one expression where it is one (see ``inline.py``): no Python call of its
    own at replay, about 0.15 us each."""
    small = scalars(graph)
    nodes = []
    for node in graph.nodes:
        if isinstance(node, Op) and node.form == "call":
            expr = _inlined(node, graph, small)
            if expr is not None:
                node = evolve(node, form="expr", expr=expr)
        nodes.append(node)
    return evolve(graph, nodes=tuple(nodes))


#: The pipeline, in order: name -> pass.
PASSES = {
    "fold_constants": fold_constants,
    "common_subexpressions": common_subexpressions,
    "dead_code": dead_code,
    "in_place_updates": in_place_updates,
    "buffer_reuse": buffer_reuse,
    "operator_forms": operator_forms,
    "inline": inline,
}


def run_passes(graph: Graph, names, on_pass=None) -> Graph:
    """``graph`` after the passes ``names`` (in the pipeline's order); ``on_pass(name, graph)`` after each."""
    for name, fn in PASSES.items():
        if name in names:
            graph = fn(graph)
            if on_pass is not None:
                on_pass(name, graph)
    return graph


# Helpers.


def _unchanged(node: Op, defined: dict):
    """The operand ``node``'s result equals, else None: ``x`` times a constant of ones that leaves its shape and
    dtype, ``x`` reshaped to its own shape, the value of ``x`` (``detach``), where ``x`` is computed in the step
    (an array of its own: never an argument's or a parameter's, which the result would then share)."""
    if node.op == "reshape":
        same = isinstance(node.args[0], Local) and np.shape(node.values[0]) == node.shape
        return node.args[0] if same else None
    if node.op == "value":
        return node.args[0] if _fresh(node.args[0], defined) and _same_layout(node.values[0], node) else None
    if node.run is not np.multiply or node.attrs or len(node.args) != 2:
        return None
    for i in (0, 1):
        one, x = node.args[i], node.args[1 - i]
        if isinstance(one, Const) and one.fixed and _ones(node.values[i]) and _fresh(x, defined) \
                and _same_layout(node.values[1 - i], node):
            return x
    return None


def _fresh(x, defined: dict) -> bool:
    return isinstance(x, Local) and isinstance(defined.get(x.name), (Op, Accumulate))


def _same_layout(value, node: Op) -> bool:
    return np.shape(value) == node.shape and getattr(value, "dtype", None) == node.dtype


def _ones(c) -> bool:
    """A number or a small array of ones."""
    if type(c) in (int, float):
        return c == 1
    if not isinstance(c, (np.ndarray, np.generic)) or c.dtype.kind not in "iuf":
        return False
    return c.size <= 4096 and bool((c == 1).all())


def _unobserved_stores_dropped(nodes: list) -> list:
    """The nodes without the gradient stores that ``.grad = None`` replaces before anything could read them."""
    dropped = set()
    for i, node in enumerate(nodes):
        if not isinstance(node, StoreGrad):
            continue
        for later in nodes[i + 1:]:
            if isinstance(later, Call) or isinstance(later, ReadGrad) and later.target == node.target:
                break
            if isinstance(later, (ClearGrad, StoreGrad)) and later.target == node.target:
                if isinstance(later, ClearGrad):
                    dropped.add(i)
                break
    return [n for i, n in enumerate(nodes) if i not in dropped]


def _fusable(op, write: Write, defined: dict) -> bool:
    if not isinstance(op, Op) or op.form != "call" or op.attrs or _operator(op) is None or len(op.args) != 2:
        return False
    own = defined.get(op.args[0].name) if isinstance(op.args[0], Local) else None
    return (isinstance(own, Load) and own.holder == write.holder
            and np.shape(op.values[0]) == op.shape and getattr(op.values[0], "dtype", None) == op.dtype)


def _escaping(graph: Graph) -> set:
    """The locals whose arrays outlive the call (returned or stored as a gradient), or may be views of such."""
    out: set = set()
    for node in graph.nodes:
        if isinstance(node, (Return, StoreGrad)):
            out |= {x.name for x in operands(node) if isinstance(x, Local)}
    for node in reversed(graph.nodes):
        if isinstance(node, Accumulate) and node.out.name in out:  # it returns its gradient as it is
            out |= {x.name for x in (node.grad,) if isinstance(x, Local)}
        elif isinstance(node, Op) and node.out.name in out and node.run not in POOLABLE:  # may be a view
            out |= {x.name for x in node.args if isinstance(x, Local)}
    return out


def _inlined(node: Op, graph: Graph, small: set) -> str | None:
    """The op's forward as one expression on the operands (see :class:`~.inline.Inliner`), or None."""
    op = node.registry_op
    if op is None or op.forward is None or node.library != "numpy":
        return None  # a custom Function: its forward is a method; another library: its namespace's forward
    args = [source(a, small, array=not node.ufunc) for a in node.args]
    if isinstance(op.forward, str):
        fn, operands_, values = getattr(xp, op.forward), list(args), list(node.values)
    else:
        fn, operands_, values = op.forward, ["xp", *args], [xp, *node.values]
    if isinstance(fn, np.ufunc) or not callable(fn):
        return None
    tree = Inliner._tree(fn)
    if tree is None:
        return None
    names, defaults, _ = tree
    attrs = dict(node.attr_values)
    rest = names[len(operands_):]  # the attributes, by their place in the signature
    if any(k not in rest for k in attrs):
        return None
    for name in rest:
        if name in attrs:
            v = attrs[name]
        elif name in defaults:
            v = defaults[name]
        else:
            return None
        operands_.append(graph.names.constant(v, name))
        values.append(v)
    return Inliner(graph.names).expression(fn, operands_, values)
