"""The engine: records what ran, then walks the graph backwards once.

Recording
    :func:`_apply` runs an op's NumPy forward and, when some input requires a
    gradient and grad mode is on, stores on the output Tensor the op, its
    inputs (``_parents``, a tuple: deterministic order) and the arrays the
    forward saw (``_saved``).  Nothing else is kept: no closure, and in
    particular nothing that refers back to the output, so a graph is freed by
    reference counting alone as soon as its root is dropped.

Backward
    :func:`backward` and :func:`grad` visit each node once, the most recently
    created first (a heap keyed by creation number: every consumer is created
    after its inputs, so a node's gradient is complete when it is visited).
    No recursion, so a 10^6-op chain is fine.  Gradients of interior nodes
    live in a local dict and are dropped as soon as they have been passed on;
    leaves accumulate into ``.grad`` (PyTorch semantics).  Broadcasting is
    undone in exactly one place, :func:`_sum_to`, followed by a shape check
    that names the op.

Policies (see ``docs/design.md``):

* leaves accumulate across calls; interior nodes keep no gradient unless
  :meth:`Tensor.retain_grad` was called on them;
* after a backward pass the saved arrays are released unless
  ``retain_graph=True``; the structure (op, parents) stays, so the graph can
  still be drawn, but a second backward raises;
* a leaf's ``.grad`` never aliases another gradient, the upstream gradient or
  a read-only broadcast view: such arrays are copied once when stored.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from operator import attrgetter
from typing import Sequence

import numpy as np

from . import _mode as _modes
from ._mode import _mode, enable_grad
from .ops.registry import NUMPY_NS, TENSOR_NS, Op
from .tensor import Tensor, _make, _new, _next_seq

__all__ = ["backward", "grad", "Function", "FunctionCtx"]

_ndarray = np.ndarray
_by_seq = attrgetter("_seq")
_SCALAR_TYPES = (int, float, bool, np.generic)

_RELEASED = (
    "Trying to backward through the graph a second time, but the arrays it saved for "
    "the backward pass were released by the first backward(). Call backward(retain_graph=True) "
    "(or mg.grad(..., retain_graph=True)) the first time if you need to backward twice."
)


# ---------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------


def _constant(x):
    """A non-Tensor input as the forward sees it: arrays and Python or NumPy scalars as they are."""
    if x.__class__ is _ndarray or isinstance(x, _SCALAR_TYPES):
        return x  # Python scalars stay "weak" in NumPy's type promotion: x32 * 0.5 stays float32
    return np.asarray(x)  # lists, tuples, array-likes


def _apply(op: Op, *inputs, **attrs) -> Tensor:
    """Run ``op`` forward on ``inputs`` (Tensors or constants) and record it if needed.

    This is the hot path of every operation, so the one- and two-input cases
    (nearly all ops) are written out instead of looped over.
    """
    n = len(inputs)
    if n == 2:
        a, b = inputs
        if isinstance(a, Tensor):
            ad, record = a.data, a.requires_grad
        else:
            ad, record = _constant(a), False
        if isinstance(b, Tensor):
            bd = b.data
            record = record or b.requires_grad
        else:
            bd = _constant(b)
        arrays = (ad, bd)
        converted = ad is not a and not isinstance(a, Tensor) or bd is not b and not isinstance(b, Tensor)
    elif n == 1:
        a = inputs[0]
        if isinstance(a, Tensor):
            arrays, record, converted = (a.data,), a.requires_grad, False
        else:
            ad = _constant(a)
            arrays, record, converted = (ad,), False, ad is not a
    else:
        arrays, record, converted = [], False, False
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x.data)
                record = record or x.requires_grad
            else:
                c = _constant(x)
                converted = converted or c is not x
                arrays.append(c)
        arrays = tuple(arrays)  # a tuple is passed on by *arrays without a copy
    try:
        out = op.forward(*arrays, **attrs) if attrs else op.forward(*arrays)
    except (ValueError, TypeError, IndexError) as exc:
        raise _forward_error(op, arrays, attrs, exc) from exc
    if out.__class__ is not _ndarray:
        out = np.asarray(out)  # NumPy returns scalars for 0-d results; a Tensor always holds an array
    # What tensor._make does, inlined: this runs once per operation.
    t = _new(Tensor)
    t.data = out
    t.grad = None
    t._retain = False
    t._seq = _next_seq()
    if record and (_modes.disabled_threads == 0 or _mode.enabled):
        t.requires_grad = True
        t._op = op
        t._parents = inputs if not converted else tuple(
            x if isinstance(x, Tensor) else c for x, c in zip(inputs, arrays)
        )
        t._saved = arrays
        t._attrs = attrs
    else:
        t.requires_grad = False
        t._op = None
        t._parents = ()
        t._saved = None
        t._attrs = None
    return t


def _describe(a) -> str:
    if isinstance(a, _ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return f"{type(a).__name__} {a!r}"


def _forward_error(op: Op, arrays, attrs, exc: Exception) -> Exception:
    shapes = " and ".join(str(np.shape(a)) for a in arrays)
    inputs = ", ".join(_describe(a) for a in arrays)
    extra = "".join(f", {k}={_short(v)}" for k, v in attrs.items())
    msg = f"{op.name}: cannot apply to inputs of shape {shapes} ({inputs}{extra}): {exc}"
    if isinstance(exc, IndexError) and not isinstance(exc, ValueError):
        return IndexError(msg)
    if isinstance(exc, ValueError):
        return ValueError(msg)
    return TypeError(msg)


def _short(v) -> str:
    if isinstance(v, _ndarray):
        return f"<{v.dtype} array {v.shape}>"
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


# ---------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------


def _toposort(roots: Sequence[Tensor]) -> list[Tensor]:
    """Every tensor that requires grad and leads to ``roots``, consumers before producers.

    Discovery is iterative (an explicit stack, no recursion, so a 10^6-op
    chain is fine).  The order is the reverse of creation: every tensor is
    created after its inputs, so a larger creation number (``_seq``) always
    means "later in the graph", and sorting by it is a topological sort done
    in C.  Used to prune :func:`grad`'s walk.
    """
    seen = {id(r) for r in roots}
    nodes = [r for r in roots]
    stack = list(nodes)
    while stack:
        for p in stack.pop()._parents:
            if isinstance(p, Tensor) and p.requires_grad:
                k = id(p)
                if k not in seen:
                    seen.add(k)
                    nodes.append(p)
                    stack.append(p)
    nodes.sort(key=_by_seq, reverse=True)
    return nodes


def _sum_to(g, shape: tuple, op_name: str, index: int):
    """Undo broadcasting: sum ``g`` down to ``shape``, then check the result.

    The one place where broadcasting is undone.  Works on arrays and, when
    the backward pass is recorded, on Tensors.
    """
    gshape = g.shape
    lead = len(gshape) - len(shape)
    if lead < 0 or any(s != 1 and s != gs for s, gs in zip(shape, gshape[lead:])):
        raise ValueError(
            f"{op_name}: the gradient for input {index} has shape {gshape}, but the input has "
            f"shape {shape}; a VJP must return the input's shape (or a shape the input "
            "broadcasts to, which is then summed back)"
        )
    axes = tuple(range(lead)) + tuple(
        lead + j for j, s in enumerate(shape) if s == 1 and gshape[lead + j] != 1
    )
    if axes:
        g = g.sum(axis=axes)
    if isinstance(g, Tensor):
        return g.reshape(shape)
    return np.asarray(g).reshape(shape)


def _fit(gi, p: Tensor, op_name: str, index: int, record: bool):
    """Bring one input's gradient to the input's shape and dtype."""
    if record:
        if not isinstance(gi, Tensor):
            gi = _make(np.asarray(gi))
    elif gi.__class__ is not _ndarray:
        if isinstance(gi, Tensor):
            raise TypeError(f"{op_name}: its VJP returned a Tensor on the NumPy path")
        gi = np.asarray(gi)
    pd = p.data
    if gi.shape != pd.shape:
        gi = _sum_to(gi, pd.shape, op_name, index)
    if gi.dtype != pd.dtype:
        gi = gi.astype(pd.dtype)
    return gi


def _owned(g, given: set) -> np.ndarray:
    """``g`` as an array no other gradient, view or caller holds.

    A gradient is stored as is when we own it; a NumPy scalar (0-d results),
    a view (reshape, broadcast), an array already handed to another leaf or
    the caller's own upstream array is copied, so no ``.grad`` ever aliases
    another.
    """
    if g.__class__ is not _ndarray:
        g = np.array(g)
    elif g.base is not None or id(g) in given:  # read-only broadcast views have a base too
        g = g.copy()
    given.add(id(g))
    return g


def _store_leaf(t: Tensor, g, given: set, record: bool) -> None:
    """Accumulate ``g`` into a leaf's ``.grad`` (PyTorch semantics)."""
    cur = t.grad
    if record:
        # With create_graph=True the gradient is itself a differentiable Tensor.
        t.grad = g if cur is None else cur + g
        return
    if cur is None:
        t.grad = _owned(g, given)
    elif isinstance(cur, Tensor):
        t.grad = cur + g
    else:
        cur += g  # in place, as PyTorch does: the array is ours


def _run(roots, seeds, targets, retain: bool, record: bool):
    """The backward pass shared by :func:`backward` and :func:`grad`.

    One pass over a max-heap keyed by creation number: a node is scheduled
    when the first gradient reaches it and visited when it is the most
    recently created node left.  Every consumer of a node was created after
    it, so by then all of them have added their share and the node's gradient
    is complete.  The order depends only on how the graph was built, so
    backward passes are bitwise reproducible; there is no recursion.
    """
    needed = None
    if targets is not None:
        # Only propagate along paths that reach a requested input: walk the
        # graph producers-first and mark what leads to a target.
        target_ids = {id(t) for t in targets}
        needed = set()
        for t in reversed(_toposort(roots)):
            if id(t) in target_ids or any(id(p) in needed for p in t._parents if isinstance(p, Tensor)):
                needed.add(id(t))
        captured: dict[int, object] = {}

    ns = TENSOR_NS if record else NUMPY_NS
    grads: dict[int, object] = {}
    heap = []
    for r, s in zip(roots, seeds):
        k = id(r)
        if k in grads:
            grads[k] = grads[k] + s
        else:
            grads[k] = s
            heap.append((-r._seq, r))
    heapify(heap)
    given = {id(s) for s in seeds}

    while heap:
        t = heappop(heap)[1]
        k = id(t)
        g = grads.pop(k)
        op = t._op
        if targets is not None:
            if k in target_ids:
                captured[k] = g
        elif op is None or t._retain:
            _store_leaf(t, g, given, record)
        if op is None:
            continue
        saved = t._saved
        if saved is None:
            raise RuntimeError(_RELEASED)
        parents = t._parents
        attrs = t._attrs
        if record:
            ins, out = parents, t
        else:
            ins, out = saved, t.data
        vjps = op.vjps
        if vjps is None:
            needs = tuple(
                isinstance(p, Tensor) and p.requires_grad and (needed is None or id(p) in needed) for p in parents
            )
            gis = op.vjp_all(ns, g, out, ins, attrs, needs)
        for i, p in enumerate(parents):
            if not (isinstance(p, Tensor) and p.requires_grad):
                continue
            pk = id(p)
            if needed is not None and pk not in needed:
                continue
            if vjps is None:
                gi = gis[i]
            elif attrs:
                gi = vjps[i](ns, g, out, *ins, **attrs)
            else:
                gi = vjps[i](ns, g, out, *ins)
            if gi is None:
                continue  # a custom Function may return None for "no gradient"
            pd = p.data
            if record or gi.__class__ is not _ndarray or gi.shape != pd.shape or gi.dtype != pd.dtype:
                gi = _fit(gi, p, op.name, i, record)
            prev = grads.get(pk)
            if prev is None:
                grads[pk] = gi
                heappush(heap, (-p._seq, p))  # first gradient to reach p: schedule it
            else:
                grads[pk] = prev + gi
        if not retain:
            t._saved = None

    if targets is None:
        return None
    out = []
    for t in targets:
        g = captured.get(id(t))
        if g is not None and not record:
            g = _owned(g, given)
        out.append(g)
    return out


def _run_plain(root: Tensor, seed, retain: bool) -> None:
    """:func:`_run` for the common case: one root, gradients into ``.grad``, nothing recorded.

    The same algorithm with every check that cannot apply here taken out of
    the loop (no targets, no recording, no pruning): on small networks this
    loop is the largest single cost of a training step.  Leaves never enter
    the heap: their gradient is complete once the walk is over, so they are
    collected in the order gradients first reach them and stored at the end.
    """
    grads = {id(root): seed}
    given = {id(seed)}
    if root._op is None:
        _store_leaf(root, seed, given, False)
        return
    heap = [(-root._seq, root)]
    leaves = []
    ns = NUMPY_NS
    while heap:
        t = heappop(heap)[1]
        g = grads.pop(id(t))
        op = t._op
        if t._retain:
            _store_leaf(t, g, given, False)
        saved = t._saved
        if saved is None:
            raise RuntimeError(_RELEASED)
        attrs = t._attrs
        out = t.data
        vjps = op.vjps
        gis = op.vjp_all(ns, g, out, saved, attrs, _needs(t._parents)) if vjps is None else None
        i = -1
        for p in t._parents:
            i += 1
            if not (isinstance(p, Tensor) and p.requires_grad):
                continue
            if gis is not None:
                gi = gis[i]
                if gi is None:
                    continue
            elif attrs:
                gi = vjps[i](ns, g, out, *saved, **attrs)
            else:
                gi = vjps[i](ns, g, out, *saved)
            pd = p.data
            # dtype objects of the built-in types are singletons, so "is not" is the
            # cheap test; _fit compares properly when it fails.
            if gi.__class__ is not _ndarray or gi.shape != pd.shape or gi.dtype is not pd.dtype:
                gi = _fit(gi, p, op.name, i, False)
            pk = id(p)
            prev = grads.get(pk)
            if prev is None:
                grads[pk] = gi
                if p._op is None:
                    leaves.append(p)
                else:
                    heappush(heap, (-p._seq, p))  # first gradient to reach p: schedule it
            else:
                grads[pk] = prev + gi
        if not retain:
            t._saved = None
    for leaf in leaves:
        _store_leaf(leaf, grads[id(leaf)], given, False)


def _needs(parents) -> tuple:
    return tuple(isinstance(p, Tensor) and p.requires_grad for p in parents)


_UNIT_SEEDS: dict = {}


def _unit_seed(shape: tuple, dtype) -> np.ndarray:
    """A read-only array of ones, made once per shape and dtype.

    Safe to share: no VJP writes into its upstream gradient, and a leaf that
    receives it copies it first (it is in the engine's "given" set, and
    read-only).
    """
    key = (shape, dtype)
    s = _UNIT_SEEDS.get(key)
    if s is None:
        s = np.ones(shape, dtype=dtype)
        s.flags.writeable = False
        if len(_UNIT_SEEDS) < 64:
            _UNIT_SEEDS[key] = s
    return s


def _seed(root: Tensor, grad, record: bool, what: str = "backward()"):
    if not isinstance(root, Tensor):
        raise TypeError(f"{what}: expected a Tensor output, got {type(root).__name__}")
    if not root.requires_grad:
        raise RuntimeError(
            f"{what}: the output does not require grad: it was not computed from any tensor "
            "with requires_grad=True (or it was computed under no_grad())"
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"{what}: grad can be created implicitly only for a scalar output, but the output "
                f"has shape {root.shape}; pass grad= (an array of shape {root.shape}), or reduce "
                "the output first (e.g. .sum())"
            )
        if record:
            return _make(np.ones(root.data.shape, dtype=root.data.dtype))
        return _unit_seed(root.data.shape, root.data.dtype)
    if record and isinstance(grad, Tensor):
        s = grad
    else:
        s = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=root.data.dtype)
    if s.shape != root.shape:
        raise ValueError(
            f"{what}: grad has shape {s.shape} but the output has shape {root.shape}; they must match"
        )
    return _make(s) if record and not isinstance(s, Tensor) else s


def _as_list(x, name: str) -> list:
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return list(x)
    raise TypeError(f"{name} must be a Tensor or a sequence of Tensors, got {type(x).__name__}")


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves.

    Parameters
    ----------
    tensors
        An output Tensor or a sequence of them.
    grad_tensors
        The upstream gradient for each output (``None`` for a scalar output
        means 1).
    retain_graph
        Keep the saved arrays so the graph can be differentiated again.
        Defaults to ``create_graph``.
    create_graph
        Record the backward pass itself; ``.grad`` then holds Tensors that can
        be differentiated again.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> mg.backward((x * x).sum())
    >>> x.grad
    array([2., 4.])
    """
    if isinstance(tensors, Tensor) and not isinstance(grad_tensors, (list, tuple)):
        if not create_graph:  # the common case, Tensor.backward(): straight to the lean loop
            _run_plain(tensors, _seed(tensors, grad_tensors, False), bool(retain_graph))
            return
        roots, gts = [tensors], [grad_tensors]
    else:
        roots = _as_list(tensors, "tensors")
        gts = [None] * len(roots) if grad_tensors is None else _as_list_any(grad_tensors, len(roots))
    retain = create_graph if retain_graph is None else retain_graph
    seeds = [_seed(r, g, create_graph) for r, g in zip(roots, gts)]
    if create_graph:
        with enable_grad():
            _run(roots, seeds, None, retain, True)
    elif len(roots) == 1:
        _run_plain(roots[0], seeds[0], retain)
    else:
        _run(roots, seeds, None, retain, False)


def _as_list_any(x, n: int) -> list:
    if n == 1 and not isinstance(x, (list, tuple)):
        return [x]
    x = list(x)
    if len(x) != n:
        raise ValueError(f"got {len(x)} upstream gradients for {n} outputs")
    return x


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    Like ``torch.autograd.grad``: ``.grad`` attributes are left untouched and
    the result is a tuple with one Tensor per input.  With
    ``create_graph=True`` the returned gradients are themselves differentiable,
    which gives Hessian-vector products and higher derivatives.

    Parameters
    ----------
    outputs
        A Tensor or a sequence of Tensors to differentiate.
    inputs
        A Tensor or a sequence of Tensors (leaves or interior) to differentiate
        with respect to.
    grad_outputs
        Upstream gradient per output (``None`` means 1 for a scalar output).
        With ``create_graph=True`` it may be a Tensor that requires grad.
    retain_graph
        Keep the graph's saved arrays; defaults to ``create_graph``.
    create_graph
        Record the backward pass so its results can be differentiated.
    allow_unused
        Return ``None`` for an input the outputs do not depend on, instead of
        raising.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor(2.0, requires_grad=True)
    >>> y = x ** 3
    >>> (dy,) = mg.grad(y, x, create_graph=True)
    >>> dy.item()
    12.0
    >>> (d2y,) = mg.grad(dy, x)
    >>> d2y.item()
    12.0
    """
    outs = _as_list(outputs, "outputs")
    ins = _as_list(inputs, "inputs")
    for i, x in enumerate(ins):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(
                f"grad(): input {i} does not require grad; only tensors with requires_grad=True "
                "(or results computed from them) can be differentiated with respect to"
            )
    gos = [None] * len(outs) if grad_outputs is None else _as_list_any(grad_outputs, len(outs))
    retain = create_graph if retain_graph is None else retain_graph
    seeds = [_seed(r, g, create_graph, "grad()") for r, g in zip(outs, gos)]
    if create_graph:
        with enable_grad():
            res = _run(outs, seeds, ins, retain, True)
    else:
        res = _run(outs, seeds, ins, retain, False)
    result = []
    for i, (x, g) in enumerate(zip(ins, res)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): input {i} (shape {x.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
        elif isinstance(g, Tensor):
            result.append(g)
        else:
            result.append(_make(g))
    return tuple(result)


# ---------------------------------------------------------------------------
# Custom functions
# ---------------------------------------------------------------------------


class FunctionCtx:
    """The ``ctx`` a :class:`Function` gets: a place to keep what backward needs.

    Attributes
    ----------
    needs_input_grad
        One bool per forward input: does it want a gradient?
    saved_arrays
        What :meth:`save_for_backward` stored (also as ``saved_tensors``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> class Double(mg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.scale = 2.0  # any attribute can be kept on ctx
    ...         return x * ctx.scale
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         return grad * ctx.scale
    >>> x = mg.tensor([1.0], requires_grad=True)
    >>> Double.apply(x).sum().backward()
    >>> x.grad
    array([2.])
    """

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_arrays = ()

    def save_for_backward(self, *arrays) -> None:
        """Keep arrays for the backward pass."""
        self.saved_arrays = arrays

    @property
    def saved_tensors(self) -> tuple:
        """Alias of ``saved_arrays`` (PyTorch's name)."""
        return self.saved_arrays


class _FunctionOp(Op):
    __slots__ = ("function",)


def _not_differentiable(ns, g, out, inputs, attrs, needs):
    raise RuntimeError(
        f"{attrs['function']}.backward runs on NumPy arrays, so its result cannot be differentiated "
        "again; for higher-order derivatives write the function with microgradnp operations"
    )


_NOT_DIFFERENTIABLE = Op(
    "not_differentiable", None, vjp_all=_not_differentiable,
    formula="result of a custom Function's backward: no derivative",
)


def _function_vjp_all(ns, g, out, inputs, attrs, needs):
    ctx = attrs["ctx"]
    fn = attrs["function"]
    cls = attrs["cls"]
    record = ns is TENSOR_NS
    garr = g.data if record else g
    if garr.__class__ is not _ndarray or not garr.flags.writeable:
        # The engine may pass a shared read-only array (the seed of a scalar
        # output); user code gets its own writable copy.
        garr = np.array(garr)
    result = cls.backward(ctx, garr)
    if not isinstance(result, (tuple, list)):
        result = (result,)
    if len(result) != len(needs):
        raise ValueError(
            f"{fn}.backward returned {len(result)} gradient(s) for {len(needs)} forward input(s); "
            "return one per input (None where there is none)"
        )
    saved = ctx.saved_arrays
    grads = []
    for need, r in zip(needs, result):
        if not need or r is None:
            grads.append(None)
            continue
        r = np.asarray(r)
        # Whatever the user returns, a gradient must not share memory with
        # the arrays their forward saw or saved.
        if r.base is not None or any(r is a for a in saved) or any(r is a for a in inputs):
            r = r.copy()
        if record:
            t = _make(r)
            parents = (g,) + tuple(p for p in inputs if isinstance(p, Tensor))
            if any(p.requires_grad for p in parents):
                t.requires_grad = True
                t._op = _NOT_DIFFERENTIABLE
                t._parents = parents
                t._saved = []
                t._attrs = {"function": fn}
            r = t
        grads.append(r)
    return grads


class Function:
    """Base class for a differentiable function written with NumPy.

    Subclass it with two static methods, as in PyTorch, and call
    ``F.apply(*tensors)``:

    * ``forward(ctx, *arrays) -> ndarray``: gets the inputs' arrays (and any
      non-Tensor arguments as given);
    * ``backward(ctx, grad) -> gradient or tuple``: gets the upstream
      gradient as an array and returns one gradient per forward input
      (``None`` for inputs without one).  Broadcasting is undone for you.

    ``gradcheck`` tests such a function against finite differences.  A
    Function's backward runs on arrays, so it can be differentiated only once:
    a second-order pass through it raises.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> class Cube(mg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_arrays
    ...         return grad * 3 * x ** 2
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad
    array([ 3., 12.])
    """

    _op: _FunctionOp

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        op = _FunctionOp(cls.__name__, None, vjp_all=_function_vjp_all, formula=f"custom Function {cls.__qualname__}")
        op.function = cls
        cls._op = op

    @staticmethod
    def forward(ctx, *args):  # pragma: no cover - abstract
        raise NotImplementedError("a Function subclass must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *inputs) -> Tensor:
        """Run ``forward`` on the inputs' arrays and record the call for ``backward``."""
        if cls is Function:
            raise TypeError("call apply() on a subclass of Function")
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        needs = tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs)
        ctx = FunctionCtx(needs)
        out = cls.forward(ctx, *arrays)
        if isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a NumPy array, not a Tensor")
        out = np.asarray(out)
        if any(out is a for a in arrays):
            out = out.copy()  # an identity forward must not alias its input
        t = _make(out)
        if any(needs) and (_modes.disabled_threads == 0 or _mode.enabled):
            if out.dtype.kind != "f":
                raise TypeError(
                    f"{cls.__name__}.forward returned a {out.dtype} array; an output that requires "
                    "grad must be floating point"
                )
            t.requires_grad = True
            t._op = cls._op
            t._parents = inputs
            t._saved = arrays
            t._attrs = {"ctx": ctx, "function": cls.__name__, "cls": cls}
        return t
