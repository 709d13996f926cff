"""Finding the loop in a traced step: the iterations of a Python ``for`` over an argument's rows, rolled back up.

A trace records a Python loop unrolled: ``for x, t in zip(X, T)`` over 1,000
examples leaves 1,000 copies of the step's nodes, each reading its own rows
(``X[k]``, ``T[k]``).  :func:`find_loop` finds them: the rows an argument is
read by, in order (keys ``k0, k0 + 1, ...``), set the period; the copies from
the second on must then be the same nodes, reading the same things, up to
the names of their locals and the row they read.  The first copy stays out
of the loop (it is where the parameters are first read, and where the
gradients start from what ``.grad`` held); the copies after the last equal
one, and whatever follows, run after the loop.  Used by the numba backend
with ``mg.compile(..., unroll=False)`` (machine.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir import Accumulate, Argument, ClearGrad, Const, Local, Op, ReadGrad, StoreGrad, UpdateInPlace

__all__ = ["Loop", "find_loop"]


@dataclass(frozen=True)
class Loop:
    """Nodes ``start + (w - 1) * period`` to ``start + w * period`` are iteration ``w`` (1 to ``count``), each
    the same as the first; ``rows`` maps the position (in an iteration) of each row read to its offset: the
    row of iteration ``w`` is ``offset + w``."""

    start: int
    period: int
    count: int
    rows: dict


def find_loop(nodes: tuple, namespace: dict) -> Loop | None:
    """The loop of ``nodes``, or None where they hold no loop of at least two iterations after the first.

    ``namespace``: the generated code's, where the trace's constants are (each iteration makes its own, equal
    ones: a mean's ``1/n`` array in its backward pass), compared by value."""
    defined = {n.out.name: i for i, n in enumerate(nodes) if getattr(n, "out", None) is not None}
    arguments = {n.out.name for n in nodes if isinstance(n, Argument)}
    reads: dict = {}  # argument local -> [(position, row)]
    for i, n in enumerate(nodes):
        row = _row(n, arguments)
        if row is not None:
            reads.setdefault(n.args[0].name, []).append((i, row))
    best: list = max(reads.values(), key=len, default=[])
    rows = [r for _, r in best]
    if len(best) < 3 or rows != list(range(rows[0], rows[0] + len(rows))):
        return None
    start, period = best[1][0], best[2][0] - best[1][0]
    first = _iteration(nodes, defined, arguments, namespace, start, period, 1)
    count = 1
    while start + (count + 1) * period <= len(nodes) and \
            _iteration(nodes, defined, arguments, namespace, start + count * period, period, count + 1) == first:
        count += 1
    if count < 2:
        return None
    rows_read = {j: _row(nodes[start + j], arguments) for j in range(period)}
    return Loop(start, period, count, {j: r - 1 for j, r in rows_read.items() if r is not None})


def _row(node, arguments: set) -> int | None:
    """The row ``node`` reads of an argument (``X[k]``), or None."""
    if not (isinstance(node, Op) and node.op == "getitem" and len(node.args) == 1 and isinstance(node.args[0], Local)
            and node.args[0].name in arguments):
        return None
    key = dict(node.attr_values).get("key")
    return int(key) if isinstance(key, (int, np.integer)) and not isinstance(key, bool) else None


def _iteration(nodes, defined: dict, arguments: set, namespace: dict, start: int, period: int, w: int) -> tuple:
    """Iteration ``w`` (its nodes from ``start``) in a form equal for every iteration that does the same."""
    def operand(x):
        if isinstance(x, Local):
            i = defined.get(x.name, -1)
            return ("in", i - start) if start <= i < start + period else ("out", x.name)
        if isinstance(x, Const) and x.fixed and x.src in namespace:
            return ("constant", _value(namespace[x.src]))
        return ("const", x.src) if isinstance(x, Const) else ("?", repr(x))

    out: list[tuple] = []
    for j in range(period):
        n = nodes[start + j]
        if isinstance(n, Op):
            row = _row(n, arguments)
            attrs = ("row", row - w) if row is not None else tuple((k, _value(v)) for k, v in n.attr_values)
            out.append(("op", n.op, attrs, n.shape, str(n.dtype), tuple(operand(a) for a in n.args)))
        elif isinstance(n, Accumulate):
            out.append(("accumulate", operand(n.held), operand(n.grad), n.shape))
        elif isinstance(n, (ReadGrad, ClearGrad)):
            out.append((type(n).__name__, n.target))
        elif isinstance(n, StoreGrad):
            out.append(("store", n.target, operand(n.value)))
        elif isinstance(n, UpdateInPlace):
            out.append(("update", n.holder, operand(n.own), n.operator, operand(n.other)))
        else:  # anything else (a load, a write, a call, a count) happens once: it ends the loop here
            out.append(("once", start + j))
    return tuple(out)


def _value(v):
    """An attribute's value in a form that compares by value (arrays and slices included)."""
    if isinstance(v, np.ndarray):
        return ("array", v.shape, str(v.dtype), v.tobytes())
    if isinstance(v, slice):
        return ("slice", v.start, v.stop, v.step)
    if isinstance(v, (tuple, list)):
        return (type(v).__name__,) + tuple(_value(x) for x in v)
    return v
