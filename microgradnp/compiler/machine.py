"""The ``numba`` backend of ``mg.compile``: a traced step's array computation as one machine-code kernel.

The graph (``ir.py``, after the passes that hold for any backend) is split
in three, keeping the order of what the step does:

* before the kernel, in Python: the guards, the arrays of the arguments and
  of the closure's tensors, the ``.grad`` arrays the step reads (``ReadGrad``,
  moved ahead of the arithmetic: nothing in it touches a ``.grad``), the
  optimizers' step counts (``Increment``);
* the kernel, a function compiled by Numba's ``njit``: every op, every
  gradient added to what ``.grad`` held (``Accumulate``) and every in-place
  update of a parameter (``UpdateInPlace``), in the order they ran;
* after it, in Python: the stamps of the written tensors, ``.grad`` stored
  or cleared, ``.data`` written, the result.

Each op is written by its **form** below: one NumPy expression Numba
compiles (its array expressions fused into one loop by Numba itself) or a
small helper.  A step with an op that has no form here, or whose order the
split would change, runs on the NumPy backend, and ``step.program.stats
["backend"]`` says which op or which effect kept it there: never a wrong
number.  The kernel is written into a file under the cache folder, named by
a hash of its source, with ``cache=True``: a second run of the same script
loads the machine code from disk instead of compiling again.  The
kernel is compiled when the step is traced, for the types the trace saw (a
form Numba cannot type is found then, and the step stays on NumPy); the
seconds it took (or took to load) are ``step.program.stats
["compile_seconds"]``.

With ``unroll=False``, a loop the trace holds (``loops.py``) is written as a
``for`` in the kernel (:class:`_LoopPlan`): the seeds' per-example SGD as one
call instead of one per example.  A long kernel's repeated stretches of ops
(a chain of layers, a recurrent network's steps, forward and backward) are
rolled back into loops (``roll_repeats``, :class:`_Rolled`), which is what
lets a 20,000-op chain compile at all.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .codegen import RUNTIME, Program, _guard_lines
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
    Op,
    ReadGrad,
    Return,
    StoreGrad,
    UpdateInPlace,
    Write,
    operands,
    renamed,
    scalars,
    source,
)
from .loops import find_loop, find_runs

__all__ = ["available", "generate", "Unsupported", "CACHE"]

#: Where kernels and their machine code are kept (``MICROGRADNP_CACHE`` to move it).
CACHE = os.path.join(os.environ.get("MICROGRADNP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                           "microgradnp"), "numba")

#: A kernel longer than this stays on the NumPy backend: Numba's compile time grows faster than the function
#: (a chain of tanh and products, forward and backward, measured: 200 ops 2.4 s, 1,000 ops 12 s, 2,000 ops 34 s).
#: Counted after ``roll_repeats``: the ops written, a loop's body once.
MAX_OPS = 1000

#: ``roll_repeats`` rolls the repeated stretches of a kernel of more ops than this back into loops (loops.py
#: finds them): a 20,000-op chain is then a kernel of a few dozen lines.  Below it the kernel is written
#: straight, where Numba's compile time is a few seconds at most and nothing is lost to a loop's boundaries.
ROLL_ABOVE = 200


class Unsupported(Exception):
    """Why a step stays on the NumPy backend (an op without a form, an order the split would change)."""


def available() -> bool:
    return importlib.util.find_spec("numba") is not None


# -- the forms -----------------------------------------------------------------------------------------------------

_UNARY = {"exp": "np.exp", "log": "np.log", "tanh": "np.tanh", "sin": "np.sin", "cos": "np.cos", "tan": "np.tan",
          "sqrt": "np.sqrt", "abs": "np.abs", "square": "np.square", "sign": "np.sign", "sinh": "np.sinh",
          "cosh": "np.cosh", "arctan": "np.arctan", "arcsin": "np.arcsin", "arccos": "np.arccos",
          "arcsinh": "np.arcsinh", "arctanh": "np.arctanh", "log1p": "np.log1p", "expm1": "np.expm1",
          "log2": "np.log2", "log10": "np.log10", "exp2": "np.exp2", "reciprocal": "1.0 / ",
          "rad2deg": "np.rad2deg", "deg2rad": "np.deg2rad", "logical_not": "np.logical_not", "sinc": "np.sinc"}
_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "greater": ">", "less": "<",
           "greater_equal": ">=", "less_equal": "<=", "equal": "==", "not_equal": "!="}
_BINARY_CALLS = {"maximum": "np.maximum", "minimum": "np.minimum", "logaddexp": "np.logaddexp",
                 "arctan2": "np.arctan2", "hypot": "np.hypot", "fmax": "np.fmax", "fmin": "np.fmin",
                 "logical_and": "np.logical_and", "logical_or": "np.logical_or", "remainder": "np.remainder"}

#: Helpers the kernels may call, compiled with them (each is one thing NumPy's spelling does that Numba's lacks).
HELPERS = '''
@njit(cache=True)
def _log_softmax_rows(a):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        m = a[i].max()
        if not np.isfinite(m):
            m = 0.0
        s = a[i] - m
        out[i] = s - np.log(np.sum(np.exp(s)))
    return out


@njit(cache=True)
def _pick(a, labels):
    n, c = a.shape
    out = np.empty(n, dtype=a.dtype)
    for i in range(n):
        k = labels[i]
        if k < 0 or k >= c:
            raise ValueError("pick: class labels must lie in [0, C) for the C columns of the scores")
        out[i] = a[i, k]
    return out


@njit(cache=True)
def _extreme_rows(a, largest):
    out = np.empty(a.shape[0], dtype=a.dtype)
    for i in range(a.shape[0]):
        out[i] = a[i].max() if largest else a[i].min()
    return out


@njit(cache=True)
def _dot_vv(a, b):
    s = 0.0
    for k in range(a.shape[0]):
        s += a[k] * b[k]
    return s


@njit(cache=True)
def _dot_mv(a, b):
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        s = 0.0
        for k in range(a.shape[1]):
            s += a[i, k] * b[k]
        out[i] = s
    return out


@njit(cache=True)
def _dot_vm(a, b):
    out = np.zeros(b.shape[1])
    for k in range(a.shape[0]):
        for j in range(b.shape[1]):
            out[j] += a[k] * b[k, j]
    return out


@njit(cache=True)
def _dot_mm(a, b):
    out = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for k in range(a.shape[1]):
            for j in range(b.shape[1]):
                out[i, j] += a[i, k] * b[k, j]
    return out


@njit(cache=True)
def _softmax_rows(a):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        e = np.exp(a[i] - a[i].max())
        out[i] = e / np.sum(e)
    return out
'''


def _ndim(value) -> int:
    return int(np.ndim(value))


def _reduced(node: Op, expr: str, mean: bool) -> str:
    """``sum``/``mean`` over ``axis`` (None, an int or a tuple), ``keepdims`` by a reshape to the traced shape."""
    attrs = dict(node.attr_values)
    ndim = _ndim(node.values[0])
    axis, keep = attrs.get("axis"), attrs.get("keepdims", False)
    axes = tuple(range(ndim)) if axis is None else tuple(sorted((a % ndim for a in np.atleast_1d(axis)),
                                                                reverse=True))
    shape = np.shape(node.values[0])
    if len(axes) == ndim:
        out = f"np.sum({expr})"
    elif ndim == 2 and len(axes) == 1 and getattr(node.values[0], "dtype", None) == np.float64:
        # A matrix's row or column sums as a product with ones (as the NumPy backend's _column_sums): Numba's
        # np.sum along an axis runs 4x slower loaded from its disk cache than freshly compiled (a 1000 x 5
        # matrix: 20 us against 4.7 us; the product, 3.3 us either way).
        ones = f"np.ones({shape[0] if axes[0] == 0 else shape[1]})"
        out = f"np.dot({ones}, {expr})" if axes[0] == 0 else f"np.dot({expr}, {ones})"
    else:
        out = expr
        for a in axes:  # from the last, so that the others keep their numbers
            out = f"np.sum({out}, axis={a})"
    if mean:
        count = math.prod(shape[a] for a in axes)
        out = f"({out} / {float(count)!r})"
    if keep and node.shape != ():
        out = f"np.ascontiguousarray({out}).reshape({node.shape!r})"
    return out


def _key(key) -> str | None:
    """A basic index (ints, slices, None, Ellipsis) as source; None for an advanced one."""
    if isinstance(key, tuple) and not key:
        return "()"
    parts = key if isinstance(key, tuple) else (key,)
    out = []
    for k in parts:
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            out.append(str(int(k)))
        elif isinstance(k, slice) and all(v is None or isinstance(v, (int, np.integer)) for v in
                                          (k.start, k.stop, k.step)):
            out.append(":".join("" if v is None else str(int(v)) for v in (k.start, k.stop, k.step)))
        elif k is None:
            out.append("None")
        elif k is Ellipsis:
            out.append("...")
        else:
            return None
    return ", ".join(out) + ("," if len(out) == 1 and isinstance(key, tuple) else "")


def _loss(node: Op, terms: str, values_shape: tuple, scale: float) -> str | None:
    reduction = dict(node.attr_values).get("reduction", "mean")
    if reduction == "none":
        return f"({terms}) * {scale!r}" if scale != 1.0 else terms
    divisor = {"mean": math.prod(values_shape), "batchmean": values_shape[0] if values_shape else 1}.get(reduction, 1)
    return f"np.sum({terms}) * {scale / divisor!r}"


#: ``small_products``: a float64 matrix product of at most this many multiply-adds is written as loops (a helper
#: below), a larger one stays a BLAS call.  Measured in a kernel (1000 calls, this page's machine): 2x2 @ 2x2
#: 54 ns as loops against 135 ns through BLAS, 4x4 @ 4 44 against 139, 16x16 @ 16 108 against 154; 8x8 @ 8x8
#: (512) ties, 64x2 @ 2x5 (640) 448 against 232.
SMALL_PRODUCT = 256


def _dot(a: str, b: str, left, right, small: bool) -> str:
    """``a @ b`` for operands of 1 or 2 dimensions (their traced values ``left`` and ``right``); ``small``: the
    ``small_products`` pass."""
    dims = (_ndim(left), _ndim(right))
    size = math.prod(np.shape(left)) * (np.shape(right)[-1] if dims[1] == 2 else 1)
    if small and size <= SMALL_PRODUCT and all(getattr(v, "dtype", None) == np.float64 for v in (left, right)):
        return f"_dot_{'vm'[dims[0] - 1]}{'vm'[dims[1] - 1]}({a}, {b})"
    return f"np.dot({a}, {b})"


def _product(node: Op, a: list, small: bool) -> str | None:
    """``matmul``, ``dot`` and ``linear`` (``x @ W.T + b``) on operands of 1 or 2 dimensions."""
    if not all(1 <= _ndim(v) <= 2 for v in node.values[:2]):
        return None
    if node.op != "linear":
        return _dot(a[0], a[1], node.values[0], node.values[1], small) if len(a) == 2 else None
    out = _dot(a[0], f"{a[1]}.T", node.values[0], np.transpose(node.values[1]), small)
    return out if len(a) == 2 else f"({out} + {a[2]})"


def _getitem(node: Op, a: list, attrs: dict) -> str | None:
    key = _key(attrs["key"]) if len(a) == 1 and "key" in attrs else None
    return None if key is None else f"{a[0]}[{key}]"


def _clip(node: Op, a: list, attrs: dict) -> str | None:
    lo, hi = attrs.get("lo"), attrs.get("hi")
    return None if lo is None or hi is None else f"np.minimum(np.maximum({a[0]}, {float(lo)!r}), {float(hi)!r})"


def _squared_error(node: Op, a: list, attrs: dict) -> str | None:
    d = f"({a[0]} - {a[1]})"
    shape = np.broadcast_shapes(np.shape(node.values[0]), np.shape(node.values[1]))
    return _loss(node, f"{d} * {d}", shape, float(attrs.get("scale", 1.0)))


def _bce_with_logits(node: Op, a: list, attrs: dict) -> str | None:
    shape = np.broadcast_shapes(np.shape(node.values[0]), np.shape(node.values[1]))
    return _loss(node, f"np.logaddexp(0.0, {a[0]}) - {a[1]} * {a[0]}", shape, 1.0)


def _rows(node: Op, a: list, attrs: dict) -> str | None:  # log_softmax, softmax along the rows of a matrix
    return f"_{node.op}_rows({a[0]})" if _ndim(node.values[0]) == 2 and attrs.get("axis", -1) in (-1, 1) else None


def _pick(node: Op, a: list, attrs: dict) -> str | None:  # each row's entry at its (integer) class label
    labels = node.values[1]
    ok = _ndim(node.values[0]) == 2 and getattr(labels, "dtype", np.dtype(float)).kind in "iu" and _ndim(labels) == 1
    return f"_pick({a[0]}, {a[1]})" if ok else None


def _astype(node: Op, a: list, attrs: dict) -> str | None:
    dtype = np.dtype(attrs.get("dtype"))
    return f"{a[0]}.astype(np.{dtype.name})" if dtype.kind in "fiub" else None


def _extreme(node: Op, a: list, attrs: dict) -> str | None:  # max, min: of the whole array, of a matrix's rows
    axis, keep, ndim = attrs.get("axis"), attrs.get("keepdims", False), _ndim(node.values[0])
    if axis is None:
        return None if keep else f"np.{node.op}({a[0]})"
    if ndim != 2 or not isinstance(axis, (int, np.integer)):
        return None
    matrix = a[0] if axis % 2 == 1 else f"np.ascontiguousarray({a[0]}.T)"
    rows = f"_extreme_rows({matrix}, {node.op == 'max'})"
    return f"{rows}.reshape({node.shape!r})" if keep else rows


def _transpose(node: Op, a: list, attrs: dict) -> str:
    axes = attrs.get("axes")
    return f"np.transpose({a[0]})" if axes is None else f"np.transpose({a[0]}, {tuple(axes)!r})"


def _reshaped(node: Op, a: list, attrs: dict) -> str:  # to the traced result's shape: -1 resolved
    return f"np.ascontiguousarray({a[0]}).reshape({node.shape!r})"


#: The forms of the other ops: ``form(node, operand sources, attributes)`` -> source, or None where it has none.
FORMS = {
    "neg": lambda node, a, attrs: f"(-{a[0]})",
    # a copy of the value (locally_constant: of its first operand, the second only ties it to a tensor)
    "positive": lambda node, a, attrs: f"(+{a[0]})",
    "value": lambda node, a, attrs: f"(+{a[0]})",
    "locally_constant": lambda node, a, attrs: f"(+{a[0]})",
    "sigmoid": lambda node, a, attrs: f"(1.0 / (1.0 + np.exp(-{a[0]})))",
    "relu": lambda node, a, attrs: f"np.maximum({a[0]}, 0.0)",
    "softplus": lambda node, a, attrs: f"np.logaddexp(0.0, {a[0]})",
    "where": lambda node, a, attrs: f"np.where({a[2]}, {a[0]}, {a[1]})",  # forward(a, b, cond)
    "sum": lambda node, a, attrs: _reduced(node, a[0], mean=False),
    "mean": lambda node, a, attrs: _reduced(node, a[0], mean=True),
    "transpose": _transpose,
    **dict.fromkeys(("reshape", "ravel", "flatten", "expand_dims", "squeeze"), _reshaped),
    "broadcast_to": lambda node, a, attrs: f"np.broadcast_to({a[0]}, {node.shape!r})",
    "astype": _astype,
    "getitem": _getitem,
    "clip": _clip,
    "squared_error": _squared_error,
    "bce_with_logits": _bce_with_logits,
    "log_softmax": _rows,
    "softmax": _rows,
    "max": _extreme,
    "min": _extreme,
    "outer": lambda node, a, attrs: f"np.outer({a[0]}, {a[1]})",
    "pick": _pick,
    "concatenate": lambda node, a, attrs: f"np.concatenate(({', '.join(a)},), axis={int(attrs.get('axis', 0))})",
    "stack": lambda node, a, attrs: f"np.stack(({', '.join(a)},), axis={int(attrs.get('axis', 0))})",
}


def form(node: Op, a: list, small: bool = True) -> str | None:
    """The Numba source of ``node`` on operand sources ``a``, or None where it has none (``small``: the
    ``small_products`` pass)."""
    op = node.op
    if op in ("matmul", "dot", "linear"):
        return _product(node, a, small)
    if op in _UNARY and len(a) == 1:
        return f"({_UNARY[op]}({a[0]}))" if not _UNARY[op].endswith(" ") else f"({_UNARY[op]}{a[0]})"
    if op in _BINARY and len(a) == 2:
        return f"({a[0]} {_BINARY[op]} {a[1]})"
    if op in _BINARY_CALLS and len(a) == 2:
        return f"{_BINARY_CALLS[op]}({a[0]}, {a[1]})"
    rule = FORMS.get(op)
    return None if rule is None else rule(node, a, dict(node.attr_values))


# -- the split -----------------------------------------------------------------------------------------------------

_KERNEL = (Op, Accumulate, UpdateInPlace)


@dataclass
class _Block:
    """Kernel nodes written straight (``count`` 0) or as the body of ``for _w in range(1, count + 1)``, with what
    ``roll_repeats`` adds to a loop: ``pre``, lines before it; ``carried``, copy -> (the local it starts from, the
    body's local it takes at the end of each iteration); ``stash``, body local -> the array that keeps its value
    of every iteration."""

    count: int
    nodes: list
    pre: list = field(default_factory=list)
    carried: dict = field(default_factory=dict)
    stash: dict = field(default_factory=dict)


def _is_literal(src: str) -> bool:
    try:
        ast.literal_eval(src)
    except (ValueError, SyntaxError):
        return False
    return True


class _Plan:
    """The nodes before, in and after the kernel, with the kernel's parameters (what it reads from outside) and
    results (what is read after it)."""

    #: ``.grad`` reads resolved inside the kernel and values read from a loop's stash (local -> source), and the
    #: rows a loop reads (local -> (offset, step): ``x[offset + step * _w]``): none on straight-line code.
    resolved: dict = {}
    rows: dict = {}
    #: the ``small_products`` pass: tiny matrix products written as loops; ``fuse_reductions``: a sum of an
    #: elementwise expression written as one loop
    small: bool = True
    reductions: bool = True

    def __init__(self, graph: Graph, roll: bool = True):
        self.before, self.kernel, self.after = [], [], []
        read: set = set()  # the .grad the step has read so far
        set_after: set = set()  # the .grad set after the kernel: reading one again would need its new value
        written: set = set()
        counted: set = set()  # the names in the values array operations read at each call (STATE['step'])
        for node in graph.nodes:
            kind = type(node)
            if kind in _KERNEL:
                self._check_reads(node, written)
                counted.update(re.findall(r"[A-Za-z_]\w*", " ".join(
                    x.src for x in operands(node) if isinstance(x, Const) and not x.fixed)))
                self.kernel.append(node)
            elif kind is Increment and node.container in counted:
                # The kernel reads such values once, when it is called: after every count of the step.
                raise Unsupported("an optimizer's step count changes after an array operation read it (several "
                                  "optimizer steps in one call)")
            elif kind in (Argument, Load, Increment):
                self.before.append(node)
            elif kind is ReadGrad:
                if node.target in set_after:
                    raise Unsupported(f"the step reads {node.target}.grad after setting it, between array "
                                      "operations")
                read.add(node.target)
                self.before.append(node)
            elif kind is ClearGrad and node.target not in read:
                self.before.append(node)  # nothing read it before: cleared ahead of the arithmetic, as it was
            elif kind in (ClearGrad, StoreGrad):
                set_after.add(node.target)
                self.after.append(node)
            elif kind is Write:
                written.add(node.holder)
                self.after.append(node)
            elif kind is Return:
                self.after.append(node)
            elif kind is Call:
                raise Unsupported(f"the step calls {node.callee}() (a replayed Python call)")
            else:  # pragma: no cover - a new node kind needs its place here
                raise Unsupported(f"no place for a {kind.__name__} node")
        self.blocks = [_Block(0, self.kernel)]
        if roll and sum(isinstance(n, Op) for n in self.kernel) > ROLL_ABOVE:
            self._roll(graph.names.namespace)
        self._wire()

    def _roll(self, namespace: dict) -> None:
        """``roll_repeats``: the runs of the kernel (loops.py) written as loops (see :class:`_Rolled`)."""
        runs = find_runs(self.kernel, namespace)
        if not runs:
            return
        self.resolved, self.rows = dict(self.resolved), dict(self.rows)
        rolled = _Rolled(self.kernel, runs, self.resolved)
        for node in self.after:
            for x in operands(node):
                if isinstance(x, Local) and not rolled.last(x.name):
                    raise Unsupported("the step returns or stores a value of a repeated stretch of ops other than "
                                      "its last")
        self.after = [rolled.outside(n) for n in self.after]
        written, done = [], 0
        for r, run in enumerate(runs):
            written.append(_Block(0, [rolled.outside(n) for n in self.kernel[done:run.start]]))
            written.append(rolled.body(r, self.rows))
            done = run.start + run.count * run.period
        written.append(_Block(0, [rolled.outside(n) for n in self.kernel[done:]]))
        rolled.allocate()
        self.blocks = [b for b in written if b.nodes]
        self.kernel = [n for b in self.blocks for n in b.nodes]

    def _check_reads(self, node, written: set) -> None:
        for x in operands(node):
            if isinstance(x, Const) and not x.fixed and written:
                raise Unsupported("an array operation reads a value after the step wrote a tensor's .data")

    def _wire(self) -> None:
        ops = sum(isinstance(n, Op) for n in self.kernel)
        if ops > MAX_OPS:
            raise Unsupported(f"{ops} ops, more than {MAX_OPS} (Numba's compile time grows faster than the length "
                              "of the function it compiles)")
        inside = {n.out.name for n in self.kernel if getattr(n, "out", None) is not None} | set(self.resolved)
        self.params: list = []  # (parameter name, the Python source passed)
        self.sources: dict = {}  # operand source -> parameter name inside the kernel
        for node in self.kernel:
            for x in operands(node):
                if isinstance(x, Local) and x.name not in inside and x.name not in self.sources:
                    self.sources[x.name] = x.name
                    self.params.append((x.name, x.name))
                elif isinstance(x, Const) and not _is_literal(x.src) and x.src not in self.sources:
                    name = f"k{len(self.params)}"
                    self.sources[x.src] = name
                    self.params.append((name, x.src))
        used_after = {x.name for n in self.after for x in operands(n) if isinstance(x, Local)}
        self.results = list(dict.fromkeys(n.out.name for n in self.kernel if getattr(n, "out", None) is not None
                                          and n.out.name in used_after))


class _Rolled:
    """The runs of a kernel (loops.py) as loops: ``roll_repeats``.

    A run's body is its iteration 1.  What an iteration carries from the one before goes through a copy
    (``c<run>_<position>``: set before the loop from iteration 0, and at the end of each iteration); what it
    reads of an earlier run's iterations comes from that run's stash (``S<run>_<position>``: an array of that
    value in every iteration, filled by the loop).  Code after a loop reads its last iteration by the body's
    names, an earlier one from the stash."""

    def __init__(self, kernel: list, runs: list, resolved: dict):
        self.kernel, self.runs, self.resolved = kernel, runs, resolved
        self.where: dict = {}  # local of a looped iteration -> (run number, iteration, position)
        for r, run in enumerate(runs):
            for w in range(1, run.count + 1):
                for j in range(run.period):
                    self.where[kernel[run.start + (w - 1) * run.period + j].out.name] = (r, w, j)
        self.blocks = [_Block(run.count, []) for run in runs]

    def last(self, name: str) -> bool:
        """Whether ``name`` is not of a looped iteration other than its run's last."""
        r, w, _ = self.where.get(name, (0, 0, 0))
        return w == 0 or w == self.runs[r].count

    def stash(self, r: int, j: int) -> str:
        """The array keeping position ``j``'s value of each iteration of run ``r``."""
        return self.blocks[r].stash.setdefault(self.kernel[self.runs[r].start + j].out.name, f"S{r}_{j}")

    def outside(self, node):
        """``node``, after the runs it reads, reading their last iteration by name and the others' stash."""
        rename = {}
        for x in operands(node):
            if isinstance(x, Local) and x.name in self.where:
                r, w, j = self.where[x.name]
                if w == self.runs[r].count:
                    rename[x.name] = self.kernel[self.runs[r].start + j].out
                else:
                    rename[x.name] = self._read(f"_{self.stash(r, j)}_{w}", f"{self.stash(r, j)}[{w - 1}]")
        return renamed(node, rename)

    def body(self, r: int, rows: dict) -> _Block:
        """Run ``r``'s loop: its iteration 1 reading its carried copies and the stashes (``rows``: filled with
        its getitems whose key moves)."""
        run, block, rename = self.runs[r], self.blocks[r], {}
        for name, position in run.carried.items():
            copy = f"c{r}_{position}"
            rename[name] = self._read(copy, copy)
            block.carried[copy] = (name, self.kernel[run.start + position].out.name)
        for name, (earlier, position, index, step) in run.stashed.items():
            array = self.stash(earlier, position)
            rename[name] = self._read(f"_{array}_{r}_{index}_{step}", f"{array}[{index - 1 - step} + {step} * _w]")
        for j, (offset, step) in run.rows.items():
            rows[self.kernel[run.start + j].out.name] = (offset - step, step)
        block.nodes = [renamed(n, rename) for n in self.kernel[run.start:run.start + run.period]]
        return block

    def allocate(self) -> None:
        """Each stash allocated before its loop."""
        for run, block in zip(self.runs, self.blocks):
            shapes = {n.out.name: n for n in block.nodes}
            block.pre += [f"{array} = np.empty({(run.count,) + shapes[name].shape!r}, dtype=np.{shapes[name].dtype})"
                          for name, array in block.stash.items()]

    def _read(self, name: str, source: str) -> Local:
        self.resolved[name] = source
        return Local(name)


class _LoopPlan(_Plan):
    """A step whose trace holds a loop (``unroll=False``, loops.py): the first iteration and what comes before it
    in straight-line code, the iterations found equal as one machine-code ``for``, the rest after it.

    ``.grad`` is not touched inside the kernel: each read is resolved where the trace says what it holds (what
    it held before the step, nothing after a clear, a gradient stored), and only the last state of each is
    stored after the kernel.  A gradient carried from one iteration to the next, an optimizer's step count or
    a write of ``.data`` inside the loop keep the step on the NumPy backend, named.
    """

    def __init__(self, graph: Graph, loop):
        nodes = graph.nodes
        end = loop.start + loop.count * loop.period
        body = nodes[loop.start:loop.start + loop.period]
        last = loop.start + (loop.count - 1) * loop.period
        rename = {nodes[last + j].out.name: body[j].out for j in range(loop.period)
                  if getattr(nodes[last + j], "out", None) is not None}
        looped = {n.out.name for n in nodes[loop.start:last] if getattr(n, "out", None) is not None}
        if any(isinstance(x, Local) and x.name in looped for n in nodes[end:] for x in operands(n)):
            raise Unsupported("the step reads a value of an iteration of its loop other than the last")
        after_loop = [renamed(n, rename) for n in nodes[end:]]
        self.before, self.after, self.resolved = [], [], {}
        self.rows = {body[j].out.name: (offset, 1) for j, offset in loop.rows.items()}
        state: dict = {}  # target -> "initial" | "none" | the local of the gradient stored
        head = self._walk(nodes[:loop.start], state)
        entry = dict(state)
        loop_body = self._walk(body, state)
        if any(state.get(t, "initial") != entry.get(t, "initial") for t in set(state) | set(entry)):
            raise Unsupported("a gradient is carried from one iteration of the loop to the next")
        tail = self._walk(after_loop, state)
        for target, held in state.items():
            self.after.append(ClearGrad(target) if held == "none" else StoreGrad(target, Local(held)))
        self.after += [n for n in after_loop if isinstance(n, Return)]
        self.kernel = head + loop_body + tail
        self.blocks = [_Block(0, head), _Block(loop.count, loop_body), _Block(0, tail)]
        self._wire()

    def _walk(self, nodes, state: dict) -> list:
        """The kernel nodes of ``nodes``; their Python ones sorted before or after, their ``.grad`` resolved."""
        kernel = []
        for node in nodes:
            if isinstance(node, _KERNEL):
                kernel.append(node)
            elif isinstance(node, (Argument, Load)):
                self.before.append(node)
            elif isinstance(node, ReadGrad):
                held = state.get(node.target, "initial")
                if held == "initial":
                    self.before.append(node)  # read before the kernel: nothing has touched it yet
                else:
                    self.resolved[node.out.name] = "None" if held == "none" else held
            elif isinstance(node, ClearGrad):
                state[node.target] = "none"
            elif isinstance(node, StoreGrad):
                if not isinstance(node.value, Local):
                    raise Unsupported(f"{node.target}.grad is stored from a constant")
                state[node.target] = node.value.name
            elif not isinstance(node, Return):
                raise Unsupported(f"a {type(node).__name__} node in a looped step (an optimizer's step count, a "
                                  "write of .data or a replayed call)")
        return kernel


# -- the code ------------------------------------------------------------------------------------------------------


#: At most this many ops in one fused expression (Python's parser refuses deeper nesting; Numba's loop is
#: as fast at 16 as at 200).
MAX_FUSED = 16

#: Ops whose form is one elementwise array expression: inlined into their one reader (``fuse``).
ELEMENTWISE = frozenset(_UNARY) | frozenset(_BINARY) | frozenset(_BINARY_CALLS) | {
    "neg", "positive", "sigmoid", "relu", "softplus"}


def _terms(node: Op, e: list) -> tuple | None:
    """A reduction of every element of one shape (``sum``, ``mean``, a loss): its terms written on its operands'
    elements ``e``, and what then divides or multiplies their sum; None for any other op."""
    attrs = dict(node.attr_values)
    shape = np.shape(node.values[0])
    if node.op in ("sum", "mean"):
        axis = attrs.get("axis")
        if attrs.get("keepdims") or axis is not None and len({a % len(shape) for a in np.atleast_1d(axis)}) < len(shape):
            return None
        return e[0], (f" / {float(math.prod(shape))!r}" if node.op == "mean" else "")
    reduction = attrs.get("reduction", "mean")
    if node.op not in ("squared_error", "bce_with_logits") or reduction == "none" or np.shape(node.values[1]) != shape:
        return None
    divisor = {"mean": math.prod(shape), "batchmean": shape[0]}.get(reduction, 1)
    if node.op == "squared_error":
        return f"({e[0]} - {e[1]}) * ({e[0]} - {e[1]})", f" * {float(attrs.get('scale', 1.0)) / divisor!r}"
    return f"np.logaddexp(0.0, {e[0]}) - {e[1]} * {e[0]}", f" * {1.0 / divisor!r}"


def _element(x, value, shape: tuple, plan, pending: dict) -> str | None:
    """``x``'s element at the index ``_e0, _e1, ...`` of ``shape``: a number as it is, an array of that shape
    indexed, a pending elementwise expression by its element form; None where it is broadcast."""
    if isinstance(x, Local) and x.name in pending:
        _, _, element, its_shape = pending[x.name]
        return f"({element})" if element is not None and its_shape == shape else None
    source = plan.resolved.get(x.name, x.name) if isinstance(x, Local) else plan.sources.get(x.src, x.src)
    if np.ndim(value) == 0:
        return source
    return f"{source}[{', '.join(f'_e{k}' for k in range(len(shape)))}]" if np.shape(value) == shape else None


def _reduced_in_a_loop(node: Op, plan, emit, pending: dict) -> str | None:
    """``fuse_reductions``: a float64 reduction of every element of an elementwise expression (the one its
    pending operand holds, or a loss's terms) summed in one loop over the elements, with no array of terms made;
    its source, or None where it is not such a reduction.  The loop adds in the order Numba's ``np.sum`` does."""
    shape = np.shape(node.values[0])
    if not shape or node.dtype != np.float64 or node.op not in ("sum", "mean", "squared_error", "bce_with_logits"):
        return None
    elements = [_element(x, v, shape, plan, pending) for x, v in zip(node.args, node.values)]
    terms = None if None in elements else _terms(node, [f"_t{k}" for k in range(len(elements))])
    if terms is None or node.op in ("sum", "mean") and not (isinstance(node.args[0], Local)
                                                            and node.args[0].name in pending):
        return None  # the sum of an array already made: np.sum, no temporary to save
    for x in node.args:
        if isinstance(x, Local):
            pending.pop(x.name, None)
    total = f"_sum_{node.out.name}"
    emit(f"{total} = 0.0")
    for k, n in enumerate(shape):
        emit(f"{'    ' * k}for _e{k} in range({n}):")
    inner = "    " * len(shape)
    for k, element in enumerate(elements):
        emit(f"{inner}_t{k} = {element}")
    emit(f"{inner}{total} += {terms[0]}")
    return f"({total}{terms[1]})"


def _statement(node, plan, src, emit, flush, pending: dict, depth: list, fusable: bool, uses: dict) -> None:
    """Write ``node``'s line (or keep its expression pending, for its one reader, with its element form)."""
    if isinstance(node, Op):
        if node.dtype.kind not in "fiub" or node.dtype.kind == "f" and node.dtype != np.float64:
            raise Unsupported(f"{node.op} computes in {node.dtype} (machine code is float64 for now)")
        depth[0] = 0
        reduced = _reduced_in_a_loop(node, plan, emit, pending) if plan.reductions else None
        elements = [_element(x, v, node.shape, plan, pending) for x, v in zip(node.args, node.values)]
        args = [src(x) for x in node.args]
        row = plan.rows.get(node.out.name)
        expr = reduced or (f"{args[0]}[{row[0]} + {row[1]} * _w]" if row is not None
                           else form(node, args, plan.small))
        if expr is None:
            raise Unsupported(f"op {node.op!r} has no machine-code form")
        if fusable and node.op in ELEMENTWISE and uses.get(node.out.name) == 1 and depth[0] < MAX_FUSED:
            element = form(node, elements, plan.small) if node.shape and None not in elements else None
            pending[node.out.name] = (expr, depth[0] + 1, element, node.shape)
        else:
            emit(f"{node.out.name} = {expr}")
    elif isinstance(node, Accumulate):
        held, grad = src(node.held), src(node.grad)
        if held == "None":
            emit(f"{node.out.name} = {grad}")
        else:
            for line in (f"if {held} is None:", f"    {node.out.name} = {grad}", "else:",
                         f"    {node.out.name} = {held} + {grad}"):
                emit(line)
    else:  # UpdateInPlace
        if not isinstance(node.own, Local):
            raise Unsupported(f"an in-place update of {node.holder} through a constant")
        other = src(node.other)
        flush()
        emit(f"{node.own.name} {node.operator}= {other}")


def _uses(plan: _Plan) -> dict:
    """How many times each local is read: a value a loop copies or stashes counts twice more (written out)."""
    uses: dict = {}
    for node in plan.kernel + plan.after:
        for x in operands(node):
            if isinstance(x, Local):
                uses[x.name] = uses.get(x.name, 0) + 1
    for block in plan.blocks:
        for name in [n for pair in block.carried.values() for n in pair] + list(block.stash):
            uses[name] = uses.get(name, 0) + 2
    return uses


def _kernel_source(plan: _Plan, fuse: bool = True) -> str:
    """The kernel's source.  ``fuse``: an elementwise result read once is written into its reader's expression,
    so that Numba compiles the chain as one loop over the elements, with no array in between (see
    docs/compile.md for what it buys); an in-place update first writes out what is pending, so that no
    expression moves past a write of what it reads."""
    uses = _uses(plan)
    pending: dict = {}  # local -> (its expression, not written yet; how many ops it holds in a chain)
    body: list = []
    depth = [0]  # the longest chain inlined into the expression being written
    indent = [""]

    def src(x) -> str:
        if isinstance(x, Local):
            if x.name in plan.resolved:
                return plan.resolved[x.name]
            if x.name not in pending:
                return x.name
            expr, d, _, _ = pending.pop(x.name)
            depth[0] = max(depth[0], d)
            return f"({expr})"
        return plan.sources.get(x.src, x.src)

    def emit(line: str) -> None:
        body.append(indent[0] + line)

    def flush() -> None:
        for name, (expr, *_) in pending.items():
            emit(f"{name} = {expr}")
        pending.clear()

    for block in plan.blocks:
        flush()
        for line in block.pre + [f"{copy} = {first}" for copy, (first, _) in block.carried.items()]:
            emit(line)
        if block.count:
            emit(f"for _w in range(1, {block.count + 1}):")
            indent[0] = "    "
        for node in block.nodes:
            _statement(node, plan, src, emit, flush, pending, depth, fuse and node.out.name not in plan.results
                       if getattr(node, "out", None) is not None else False, uses)
            if getattr(node, "out", None) is not None and node.out.name in block.stash:
                emit(f"{block.stash[node.out.name]}[_w - 1] = {node.out.name}")
        flush()
        for copy, (_, last) in block.carried.items():
            emit(f"{copy} = {last}")
        indent[0] = ""
    results = ", ".join(plan.results)
    body.append(f"return ({results},)" if plan.results else "return 0")
    params = ", ".join(name for name, _ in plan.params)
    return ("import numpy as np\nfrom numba import njit\n" + HELPERS + "\n\n@njit(cache=True)\n"
            f"def kernel({params}):\n" + "".join(f"    {line}\n" for line in body))


def _load_kernel(code: str):
    """The kernel of ``code``, from a file named by its hash (Numba keeps the machine code next to it)."""
    digest = hashlib.sha256(code.encode()).hexdigest()[:20]
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"k_{digest}.py")
    if not os.path.exists(path):  # an existing file is left as it is: Numba's cache is keyed by its time stamp
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            fh.write(code)
        os.replace(tmp, path)
    name = f"microgradnp_kernel_{digest}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
            raise ImportError(f"compile: cannot load the kernel {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return module.kernel, path


def _signature(plan: _Plan):
    """The kernel's argument types as the trace saw them (``.grad`` held: none), or None where one is unknown."""
    import numba

    seen: dict = {}
    for node in plan.kernel:
        if isinstance(node, Op):
            for x, value in zip(node.args, node.values):
                key = x.name if isinstance(x, Local) else plan.sources.get(x.src)
                if key is not None and key not in seen:
                    number = isinstance(x, Const) and isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0
                    seen[key] = numba.typeof(value.item() if number else value)  # constants: passed as numbers
        elif isinstance(node, Accumulate) and isinstance(node.held, Local):
            seen.setdefault(node.held.name, numba.types.none)
    types = [seen.get(name) for name, _ in plan.params]
    return None if any(t is None for t in types) else tuple(types)


def _compiled(kernel, plan: _Plan, stats: dict) -> None:
    """Compile ``kernel`` now, for the traced types (or load it from the disk cache): a form Numba cannot type
    is found here, before any replay, and the step stays on NumPy."""
    from numba.core.errors import NumbaError

    signature = _signature(plan)
    if signature is None:
        return  # compiled at the first call instead
    t0 = time.perf_counter()
    try:
        kernel.compile(signature)
    except NumbaError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise Unsupported(f"Numba cannot compile its kernel ({first})") from None
    stats["compile_seconds"] = time.perf_counter() - t0
    stats["from_disk_cache"] = sum(kernel.stats.cache_hits.values()) > 0


def _scalar_constants(plan: _Plan, namespace: dict) -> None:
    """A constant of the trace that is a 0-d array (a loss's scale) passed as a Python number, as the kernel's
    signature types it: a step's settings (the learning rate) are Python numbers at a replay, and one type for
    both compiles the kernel once."""
    for i, (name, src) in enumerate(plan.params):
        value = namespace.get(src) if src.isidentifier() else None
        if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0 and value.dtype.kind in "fiub":
            number = f"{src}_number"
            namespace[number] = value.item()
            plan.params[i] = (name, number)
        elif isinstance(value, np.ndarray) and not value.flags.c_contiguous:
            # a constant that is a view (a broadcast, a transpose): a contiguous copy, which np.dot reads faster
            # and Numba compiles for one layout
            namespace[f"{src}_contiguous"] = np.ascontiguousarray(value)
            plan.params[i] = (name, f"{src}_contiguous")


def _grad_array(held):
    """What ``.grad`` holds, as the kernel takes it: an array, or None."""
    return held if held is None or isinstance(held, np.ndarray) else held._data


def _on_numpy(graph: Graph) -> None:
    """Raise :class:`Unsupported` for an op on another array library's arrays: Numba compiles NumPy's."""
    for node in graph.nodes:
        if isinstance(node, Op) and node.library != "numpy":
            raise Unsupported(f"{node.op} runs on {node.library}'s arrays; Numba compiles NumPy arrays (on another "
                              "library the step replays that library's calls)")


def generate(graph: Graph, filename: str, flat: bool = False, stats: dict | None = None,
             fuse: bool = True, unroll: bool = True, roll: bool = True, loops: bool = True,
             reductions: bool = True) -> Program:
    """The program of ``graph`` with its arithmetic in one Numba kernel; raises :class:`Unsupported`.

    ``fuse``: the ``fuse_elementwise`` pass (see :func:`_kernel_source`); ``roll``: the ``roll_repeats`` pass
    (see :meth:`_Plan._roll`); ``loops``: the ``small_products`` pass (:data:`SMALL_PRODUCT`); ``reductions``: the ``fuse_reductions``
    pass (:func:`_reduced_in_a_loop`); ``unroll=False``: a loop the trace holds (loops.py) is written as a loop."""
    _on_numpy(graph)
    loop = None if unroll else find_loop(graph.nodes, graph.names.namespace)
    plan = _Plan(graph, roll) if loop is None else _LoopPlan(graph, loop)
    plan.small, plan.reductions = loops, reductions
    _scalar_constants(plan, graph.names.namespace)
    kernel_code = _kernel_source(plan, fuse)
    kernel, path = _load_kernel(kernel_code)
    names = graph.names
    small = scalars(graph)
    stats = dict(stats or {})
    stats.update(backend="numba", kernel=path)
    if loop is not None:
        stats["loop"] = {"iterations_in_loop": loop.count, "nodes_each": loop.period}
    rolled = [{"iterations": b.count, "ops_each": len(b.nodes)} for b in plan.blocks if b.count and loop is None]
    if rolled:
        stats["rolled"] = rolled
    _compiled(kernel, plan, stats)
    header, functions = _guard_lines(graph)
    body = []
    if any(isinstance(n, StoreGrad) for n in graph.nodes):
        body.append("given = set()")
    for node in plan.before:
        if isinstance(node, Argument):
            body.append(f"{node.out} = A[{node.index}]._data" if node.tensor else f"{node.out} = A[{node.index}]")
        elif isinstance(node, Load):
            body.append(f"{node.out} = {node.holder}._data")
        elif isinstance(node, ReadGrad):
            body.append(f"{node.out} = _grad_array({node.target}._grad)")
        elif isinstance(node, ClearGrad):
            body.append(f"{node.target}._grad = None")
        else:  # Increment
            body.append(f"{node.container}[{node.key!r}] += 1")
    call = f"KERNEL({', '.join(src for _, src in plan.params)})"
    body.append(f"{', '.join(plan.results)}, = {call}" if plan.results else call)
    for holder in dict.fromkeys(n.holder for n in plan.kernel if isinstance(n, UpdateInPlace)):
        body.append(f"{holder}._written = next_seq()")
    for node in plan.after:
        if isinstance(node, StoreGrad):
            body.append(f"_set_grad({node.target}, {source(node.value, small, array=True)}, given)")
        elif isinstance(node, ClearGrad):
            body.append(f"{node.target}._grad = None")
        elif isinstance(node, Write):
            body += [f"{node.holder}._data[...] = {source(node.value, small)}", f"{node.holder}._written = next_seq()"]
        else:  # Return
            results = [f"_make({source(r.operand, small, array=r.array)})" if r.make
                       else source(r.operand, small, array=r.array) for r in node.results]
            body.append(f"return {results[0]}" if node.structure is None
                        else f"return _unflatten({node.structure}, [{', '.join(results)}])")
    code = "def replay(A):\n" + "".join(f"    {line}\n" for line in header + body)
    for lines in functions:
        code += "\n\n" + "".join(f"{line}\n" for line in lines)
    namespace = names.namespace
    namespace.update({k: v for k, v in RUNTIME.items() if k not in namespace})
    namespace["_grad_array"] = _grad_array
    namespace["KERNEL"] = kernel
    exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - our own source (step.code)
    return Program(code + "\n\n# The kernel (Numba, " + path + "):\n" + kernel_code, namespace["replay"],
                   graph.guards, filename, {}, flat, stats)
