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
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import math
import os
import sys
import time

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
    scalars,
    source,
)

__all__ = ["available", "generate", "Unsupported", "CACHE"]

#: Where kernels and their machine code are kept (``MICROGRADNP_CACHE`` to move it).
CACHE = os.path.join(os.environ.get("MICROGRADNP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                           "microgradnp"), "numba")

#: A kernel longer than this stays on the NumPy backend: Numba's compile time grows faster than the function
#: (a chain of tanh and products, forward and backward, measured: 200 ops 2.4 s, 1,000 ops 12 s, 2,000 ops 34 s).
MAX_OPS = 1000


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
    if len(axes) == ndim:
        out = f"np.sum({expr})"
    else:
        out = expr
        for a in axes:  # from the last, so that the others keep their numbers
            out = f"np.sum({out}, axis={a})"
    if mean:
        count = math.prod(np.shape(node.values[0])[a] for a in axes)
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


def _matmul(node: Op, a: list, attrs: dict) -> str | None:
    return f"np.dot({a[0]}, {a[1]})" if len(a) == 2 and all(1 <= _ndim(v) <= 2 for v in node.values) else None


def _linear(node: Op, a: list, attrs: dict) -> str | None:
    if not 1 <= _ndim(node.values[0]) <= 2:
        return None
    out = f"np.dot({a[0]}, {a[1]}.T)"
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


def _astype(node: Op, a: list, attrs: dict) -> str | None:
    dtype = np.dtype(attrs.get("dtype"))
    return f"{a[0]}.astype(np.{dtype.name})" if dtype.kind in "fiub" else None


def _extreme(node: Op, a: list, attrs: dict) -> str | None:  # max, min of the whole array
    return f"np.{node.op}({a[0]})" if attrs.get("axis") is None and not attrs.get("keepdims", False) else None


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
    "matmul": _matmul,
    "dot": _matmul,
    "linear": _linear,
    "getitem": _getitem,
    "clip": _clip,
    "squared_error": _squared_error,
    "bce_with_logits": _bce_with_logits,
    "log_softmax": _rows,
    "softmax": _rows,
    "max": _extreme,
    "min": _extreme,
    "outer": lambda node, a, attrs: f"np.outer({a[0]}, {a[1]})",
}


def form(node: Op, a: list) -> str | None:
    """The Numba source of ``node`` on operand sources ``a``, or None where it has none."""
    op = node.op
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


def _is_literal(src: str) -> bool:
    try:
        ast.literal_eval(src)
    except (ValueError, SyntaxError):
        return False
    return True


class _Plan:
    """The nodes before, in and after the kernel, with the kernel's parameters (what it reads from outside) and
    results (what is read after it)."""

    def __init__(self, graph: Graph):
        self.before, self.kernel, self.after = [], [], []
        read: set = set()  # the .grad the step has read so far
        set_after: set = set()  # the .grad set after the kernel: reading one again would need its new value
        written: set = set()
        for node in graph.nodes:
            kind = type(node)
            if kind in _KERNEL:
                self._checkoperands(node, written)
                self.kernel.append(node)
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
        ops = sum(isinstance(n, Op) for n in self.kernel)
        if ops > MAX_OPS:
            raise Unsupported(f"{ops} ops, more than {MAX_OPS} (Numba's compile time grows faster than the length "
                              "of the function it compiles)")
        self._wire(graph)

    def _checkoperands(self, node, written: set) -> None:
        for x in operands(node):
            if isinstance(x, Const) and not x.fixed and written:
                raise Unsupported("an array operation reads a value after the step wrote a tensor's .data")

    def _wire(self, graph: Graph) -> None:
        inside = {n.out.name for n in self.kernel if getattr(n, "out", None) is not None}
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
        self.results = [n.out.name for n in self.kernel if getattr(n, "out", None) is not None
                        and n.out.name in used_after]


# -- the code ------------------------------------------------------------------------------------------------------


#: At most this many ops in one fused expression (Python's parser refuses deeper nesting; Numba's loop is
#: as fast at 16 as at 200).
MAX_FUSED = 16

#: Ops whose form is one elementwise array expression: inlined into their one reader (``fuse``).
ELEMENTWISE = frozenset(_UNARY) | frozenset(_BINARY) | frozenset(_BINARY_CALLS) | {
    "neg", "positive", "sigmoid", "relu", "softplus"}


def _kernel_source(plan: _Plan, fuse: bool = True) -> str:
    """The kernel's source.  ``fuse``: an elementwise result read once is written into its reader's expression,
    so that Numba compiles the chain as one loop over the elements, with no array in between (see
    docs/compile.md for what it buys); an in-place update first writes out what is pending, so that no
    expression moves past a write of what it reads."""
    uses: dict = {}
    for node in plan.kernel + plan.after:
        for x in operands(node):
            if isinstance(x, Local):
                uses[x.name] = uses.get(x.name, 0) + 1
    pending: dict = {}  # local -> (its expression, not written yet; how many ops it holds in a chain)
    body: list = []
    depth = [0]  # the longest chain inlined into the expression being written

    def src(x) -> str:
        if isinstance(x, Local):
            if x.name not in pending:
                return x.name
            expr, d = pending.pop(x.name)
            depth[0] = max(depth[0], d)
            return f"({expr})"
        return plan.sources.get(x.src, x.src)

    def flush() -> None:
        body.extend(f"{name} = {expr}" for name, (expr, _) in pending.items())
        pending.clear()

    for node in plan.kernel:
        if isinstance(node, Op):
            if node.dtype.kind not in "fiub" or node.dtype.kind == "f" and node.dtype != np.float64:
                raise Unsupported(f"{node.op} computes in {node.dtype} (machine code is float64 for now)")
            depth[0] = 0
            expr = form(node, [src(x) for x in node.args])
            if expr is None:
                raise Unsupported(f"op {node.op!r} has no machine-code form")
            if (fuse and node.op in ELEMENTWISE and uses.get(node.out.name) == 1 and node.out.name not in plan.results
                    and depth[0] < MAX_FUSED):
                pending[node.out.name] = (expr, depth[0] + 1)
            else:
                body.append(f"{node.out.name} = {expr}")
        elif isinstance(node, Accumulate):
            held, grad = src(node.held), src(node.grad)
            body += [f"if {held} is None:", f"    {node.out.name} = {grad}", "else:",
                     f"    {node.out.name} = {held} + {grad}"]
        else:  # UpdateInPlace
            if not isinstance(node.own, Local):
                raise Unsupported(f"an in-place update of {node.holder} through a constant")
            other = src(node.other)
            flush()
            body.append(f"{node.own.name} {node.operator}= {other}")
    flush()
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
                    seen[key] = numba.typeof(value)
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


def _grad_array(held):
    """What ``.grad`` holds, as the kernel takes it: an array, or None."""
    return held if held is None or isinstance(held, np.ndarray) else held._data


def generate(graph: Graph, filename: str, flat: bool = False, stats: dict | None = None,
             fuse: bool = True) -> Program:
    """The program of ``graph`` with its arithmetic in one Numba kernel; raises :class:`Unsupported`.

    ``fuse``: the ``fuse_elementwise`` pass (see :func:`_kernel_source`)."""
    plan = _Plan(graph)
    kernel_code = _kernel_source(plan, fuse)
    kernel, path = _load_kernel(kernel_code)
    names = graph.names
    small = scalars(graph)
    stats = dict(stats or {})
    stats.update(backend="numba", kernel=path)
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
