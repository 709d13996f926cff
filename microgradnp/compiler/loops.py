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

:func:`find_runs` finds the other repetitions a trace holds, in a kernel's
ops: a chain of the same layers, a recurrent network's time steps, the
backward pass of either.  There nothing marks the period; every period up
to :data:`MAX_PERIOD` is tried.  A copy may read the copy before it (what a
loop carries), the copies of an earlier run by an index that moves with it
(the backward pass reading the forward's values in reverse) and the rows of
an array by a moving key.  Used by the numba backend's ``roll_repeats``.
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


# -- repeated stretches of ops: a chain of layers, a long elementwise chain ----------------------------------------

#: The longest stretch of ops looked for as a loop's body, and the fewest copies of it, after the first, rolled.
MAX_PERIOD = 64
MIN_COUNT = 3


@dataclass(frozen=True)
class Run:
    """A stretch of ops repeated: nodes ``start + (w - 1) * period`` to ``start + w * period`` are iteration
    ``w`` (1 to ``count``), each the same ops as the first on the same things, up to names; the copy before
    ``start`` (iteration 0) is where the first iteration's values come from, kept in straight-line code.

    What an iteration reads, by local name of iteration 1 (the loop's body):

    * ``carried``: name -> body position: a value of the previous iteration (iteration 0's for the first);
    * ``stashed``: name -> (run number, body position, index of iteration 1, step): a value of an iteration of an
      earlier run, iteration ``index + step * (w - 1)`` for iteration ``w`` (a backward pass reading the
      forward's values in reverse);
    * ``rows``: body position -> (offset, step): ``x[offset + step * w]`` (a getitem whose integer key moves
      with the iteration).

    Anything else an iteration reads is the same local in every iteration (defined before the run)."""

    start: int
    period: int
    count: int
    carried: dict
    stashed: dict
    rows: dict


def find_runs(nodes: list, namespace: dict) -> list:
    """The runs of ``nodes`` (a kernel's ops, in order), first found first, none overlapping.

    At each node, every period up to :data:`MAX_PERIOD` whose ops repeat (by op, attributes, constants, shape
    and dtype) is checked for what each copy reads (:func:`_reads`); the one covering most nodes is taken and
    the search goes on after it.  ``namespace``: where the trace's constants are (compared by value)."""
    keys = [_key(n, i, namespace) for i, n in enumerate(nodes)]
    defined = {n.out.name: i for i, n in enumerate(nodes) if getattr(n, "out", None) is not None}
    owner: dict = {}  # node index -> (run number, iteration, position) for the iterations of the runs found
    runs: list = []
    i = 0
    while i < len(nodes):
        best = None
        for p in range(1, MAX_PERIOD + 1):
            if i + (MIN_COUNT + 1) * p > len(nodes):
                break
            if keys[i + p] != keys[i] or best is not None and p % best.period == 0:
                continue
            copies = 1
            while keys[i + copies * p:i + (copies + 1) * p] == keys[i:i + p]:
                copies += 1
            if copies - 1 < MIN_COUNT or best is not None and (copies - 1) * p <= best.count * best.period:
                continue
            run = _checked(nodes, defined, owner, i, p, copies)
            if run is not None and (best is None or run.count * p > best.count * best.period):
                best = run
        if best is None:
            i += 1
            continue
        for w in range(1, best.count + 1):
            for j in range(best.period):
                owner[best.start + (w - 1) * best.period + j] = (len(runs), w, j)
        runs.append(best)
        i = best.start + best.count * best.period
    return runs


def _key(node, i: int, namespace: dict):
    """What must be equal in two copies of an op: all but the locals it reads and an integer key it indexes."""
    if not isinstance(node, Op):
        return ("once", i)  # only ops are rolled
    if _int_key(node) is not None:
        attrs: tuple = ("row",)
    else:
        attrs = tuple((k, _value(v)) for k, v in node.attr_values)

    def operand(x):
        if isinstance(x, Local):
            return "local"
        if x.fixed and x.src in namespace:
            return ("constant", _value(namespace[x.src]))
        return ("const", x.src)

    return (node.op, attrs, node.shape, str(node.dtype), tuple(operand(x) for x in node.args))


def _int_key(node) -> int | None:
    if node.op != "getitem" or len(node.args) != 1:
        return None
    key = dict(node.attr_values).get("key")
    return int(key) if isinstance(key, (int, np.integer)) and not isinstance(key, bool) else None


def _reads(nodes, defined: dict, owner: dict, first: int, p: int, k: int):
    """Copy ``k`` of the stretch of ``p`` nodes from ``first`` (``k >= 1``): what each of its nodes reads, in a
    form equal for every copy that reads the same things (names excepted), and the indices that move with
    the copy (iterations of earlier runs, integer keys); None where it reads a copy older than the last."""
    base = first + k * p
    form: list = []
    moving: list = []
    for j in range(p):
        node = nodes[base + j]
        for x in node.args:
            d = defined.get(x.name) if isinstance(x, Local) else None
            if d is None:
                form.append(("same", x.name if isinstance(x, Local) else None))
            elif d >= base:
                form.append(("in", d - base))
            elif d >= base - p:
                form.append(("carried", d - base + p))
            elif d >= first:
                return None
            elif d in owner:
                run, w, position = owner[d]
                form.append(("stashed", run, position))
                moving.append(w)
            else:
                form.append(("same", x.name))
        key = _int_key(node)
        if key is not None:
            moving.append(key)
    return tuple(form), tuple(moving)


def _checked(nodes, defined: dict, owner: dict, first: int, p: int, copies: int) -> Run | None:
    """The run of the stretch of ``p`` nodes from ``first``, repeated ``copies`` times, as far as its copies
    read the same things and their moving indices move by a fixed step; None where fewer than MIN_COUNT do."""
    one = _reads(nodes, defined, owner, first, p, 1)
    if one is None:
        return None
    steps = None
    count = 1
    while count + 1 < copies:
        k = _reads(nodes, defined, owner, first, p, count + 1)
        if k is None or k[0] != one[0]:
            break
        if steps is None:
            steps = tuple(b - a for a, b in zip(one[1], k[1]))
        if any(b != a + s * count for a, b, s in zip(one[1], k[1], steps)):
            break
        count += 1
    if count < MIN_COUNT:
        return None
    start = first + p
    steps = steps or (0,) * len(one[1])
    carried, stashed, rows = {}, {}, {}
    moving = iter(zip(one[1], steps))
    for j in range(p):
        node = nodes[start + j]
        for x in node.args:
            d = defined.get(x.name) if isinstance(x, Local) else None
            if d is None or d >= start:
                continue
            if d >= first:
                carried[x.name] = d - first
            elif d in owner:
                run, _, position = owner[d]
                stashed[x.name] = (run, position) + next(moving)
        if _int_key(node) is not None:
            rows[j] = next(moving)
    return Run(start, p, count, carried, stashed, rows)
