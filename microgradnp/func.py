"""Function transforms: differentiate *functions*, as JAX and ``torch.func`` do.

``grad(f)`` is a new function that returns the gradient of ``f``; it can be
transformed again (``grad(grad(f))``, ``jacfwd(jacrev(f))``).  Each transform
runs ``f`` on tensors of its own, records what ``f`` does, and reads the
derivative off the recording:

* reverse mode (:func:`grad`, :func:`value_and_grad`, :func:`vjp`,
  :func:`jacrev`) walks the recording backwards with the engine's one
  backward pass;
* forward mode (:func:`jvp`, :func:`jacfwd`, :func:`push_forward`) pushes
  tangents through the recording in the order it was made, one JVP rule per
  op (``jvp`` in the op's registry entry): no backward pass at all.
  :func:`hessian` and :func:`hvp` are forward-over-reverse.

Nesting works because a transform never differentiates with respect to
another transform's tensors: an input that an outer transform (or an outer
graph) follows enters through a step of its own (``positive``), and a
transform records its own derivative computation (``create_graph``) exactly
when something outside it could differentiate the result: an outer
transform, or a tensor that requires grad and that ``f`` reads from its
closure (a model's parameters).  Otherwise results are plain tensors.

Inputs may be Tensors, arrays or numbers, or tuples, lists and dicts of
them (a parameter dict); results have the same structure.
"""

from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np

from ._mode import enable_grad, end_trace, is_grad_enabled, start_trace
from .api import positive, reshape, stack
from .api import sum as _sum
from .engine import TENSOR_NS, _fit, _modified, apply
from .engine import grad as _grad
from .ops import xp
from .tensor import Tensor, _make

__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "push_forward",
    "jacrev", "jacfwd", "jacobian", "hessian", "hvp", "vmap",
]


# ---------------------------------------------------------------------------
# Structures of inputs and outputs (tuples, lists, dicts of tensors)
# ---------------------------------------------------------------------------

_LEAF = None


def _flatten(tree) -> tuple[list, object]:
    """The leaves of a tuple/list/dict structure, and the structure to rebuild it."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(x) for x in tree]
        return [leaf for leaves, _ in parts for leaf in leaves], (type(tree), None, [spec for _, spec in parts])
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [_flatten(tree[k]) for k in keys]
        return [leaf for leaves, _ in parts for leaf in leaves], (type(tree), keys, [spec for _, spec in parts])
    return [tree], _LEAF


def _count(spec) -> int:
    return 1 if spec is _LEAF else sum(_count(s) for s in spec[2])


def _unflatten(spec, leaves):
    """Rebuild the structure ``spec`` with ``leaves`` in order."""
    it = iter(leaves)

    def build(s):
        if s is _LEAF:
            return next(it)
        kind, keys, children = s
        items = [build(c) for c in children]
        if keys is not None:
            return kind(zip(keys, items))
        if hasattr(kind, "_fields"):  # a named tuple
            return kind(*items)
        return kind(items)

    return build(spec)


# ---------------------------------------------------------------------------
# Inputs and outputs of a transform
# ---------------------------------------------------------------------------


def _fresh(x, who: str) -> Tensor:
    """A tensor of the transform's own to differentiate with respect to, holding ``x``'s values."""
    if isinstance(x, Tensor):
        if x.requires_grad and is_grad_enabled():
            # Followed by an outer transform or graph: a step of our own keeps
            # the two apart while the outer one still sees through it.
            return positive(x)
        data = x._data
    else:
        data = np.asarray(x)
    if data.dtype.kind != "f":
        raise TypeError(
            f"{who}: can only differentiate with respect to floating-point inputs, got {data.dtype} "
            f"(shape {data.shape}); pass floats, e.g. x.astype(float)"
        )
    return _make(data, requires_grad=True)


def _argnums(argnums, n: int, who: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError(f"{who}: argnums is empty")
    for i in nums:
        if not isinstance(i, int) or not -n <= i < n:
            raise ValueError(f"{who}: argnums {argnums!r} does not name one of the {n} positional argument(s)")
    nums = tuple(i % n for i in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"{who}: argnums {argnums!r} names an argument twice")
    return nums


class _Inputs:
    """The arguments of one call with those at ``argnums`` replaced by fresh tensors."""

    def __init__(self, args, argnums, who: str):
        self.nums = _argnums(argnums, len(args), who)
        self.args = list(args)
        self.specs, self.sources = [], []
        for i in self.nums:
            leaves, spec = _flatten(args[i])
            fresh = [_fresh(x, who) for x in leaves]
            self.args[i] = _unflatten(spec, fresh)
            self.specs.append(spec)
            self.sources.extend(fresh)

    def per_argnum(self, values, single: bool):
        """``values`` (one per source) in the structure of the arguments at ``argnums``."""
        out, k = [], 0
        for spec in self.specs:
            n = _count(spec)
            out.append(_unflatten(spec, values[k: k + n]))
            k += n
        return out[0] if single else tuple(out)


def _split_aux(result, has_aux: bool, who: str):
    if not has_aux:
        return result, None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"{who}: with has_aux=True the function must return a pair (output, aux)")
    return result[0], result[1]


def _as_output(x, who: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{who}: the function returned a {type(x).__name__}; it must return Tensors or arrays")
    return _make(arr)


def _scalar_output(out, who: str) -> Tensor:
    out = _as_output(out, who)
    if out.size != 1:
        raise ValueError(
            f"{who}: the function must return a scalar (one-element) output to differentiate, got shape "
            f"{out.shape}; use jacrev/jacfwd for a vector output, or vjp with a cotangent"
        )
    if out._data.dtype.kind != "f":
        raise TypeError(f"{who}: the function returned a {out.dtype} value; it must be floating point")
    return out


def _needs_graph(outputs, sources) -> bool:
    """Whether something outside this transform may differentiate its results.

    True when a source is itself a step on an outer graph, or when the outputs
    reach a tensor that requires grad and is not one of the sources (a
    parameter ``f`` reads from its closure, or a tensor of an outer transform).
    Then the derivative computation is recorded (``create_graph``).
    """
    if not is_grad_enabled():
        return False
    source_ids = {id(s) for s in sources}
    if any(s._op is not None for s in sources):
        return True
    seen = set(source_ids)
    stack = [o for o in outputs if o.requires_grad]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._op is None:
            return True  # a leaf that requires grad and is not ours
        stack.extend(p for p in t._parents if isinstance(p, Tensor) and p.requires_grad)
    return False


def _result(t, record: bool):
    """A transform's result: the recorded Tensor when an outer computation follows it, else a plain one."""
    if record:
        return t if isinstance(t, Tensor) else _make(np.asarray(t))
    return _make(t._data if isinstance(t, Tensor) else np.asarray(t))


def _zeros_like(x: Tensor) -> Tensor:
    return _make(np.zeros(x.shape, dtype=x._data.dtype))


# ---------------------------------------------------------------------------
# Reverse mode
# ---------------------------------------------------------------------------


def _value_and_grad(f, argnums, has_aux, args, kwargs, who):
    inputs = _Inputs(args, argnums, who)
    with enable_grad():
        result = f(*inputs.args, **kwargs)
    out, aux = _split_aux(result, has_aux, who)
    out = _scalar_output(out, who)
    record = _needs_graph([out], inputs.sources)
    wanted = [s for s in inputs.sources if out.requires_grad]
    grads = dict(zip(map(id, wanted), _grad(out, wanted, create_graph=record, allow_unused=True))) if wanted else {}
    values = [_result(grads[id(s)], record) if grads.get(id(s)) is not None else _zeros_like(s) for s in inputs.sources]
    return _result(out, record), inputs.per_argnum(values, isinstance(argnums, int)), aux


def grad(f, argnums=0, has_aux: bool = False):
    """The gradient of ``f`` as a function: ``grad(f)(*args)`` is ``df/d args[argnums]``.

    Parameters
    ----------
    f
        A function returning a scalar (one-element) Tensor (and, with
        ``has_aux``, a second value passed through).
    argnums
        Which positional argument(s) to differentiate with respect to: an int
        (the gradient has that argument's structure) or a tuple of ints (a
        tuple of gradients).
    has_aux
        ``f`` returns ``(output, aux)``; the result is ``(gradient, aux)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import grad
    >>> f = lambda x: (x ** 3).sum()
    >>> grad(f)(mg.tensor([1.0, 2.0]))
    tensor([ 3., 12.])
    >>> grad(lambda x: grad(f)(x).sum())(mg.tensor([1.0, 2.0]))  # second derivative: 6x
    tensor([ 6., 12.])
    """

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        _, g, aux = _value_and_grad(f, argnums, has_aux, args, kwargs, "grad")
        return (g, aux) if has_aux else g

    return grad_f


def value_and_grad(f, argnums=0, has_aux: bool = False):
    """Like :func:`grad`, but the function returns ``(value, gradient)``.

    With ``has_aux`` it returns ``((value, aux), gradient)``, as JAX does.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import value_and_grad
    >>> value, g = value_and_grad(lambda x: (x ** 2).sum())(mg.tensor([1.0, 2.0]))
    >>> value.item(), g
    (5.0, tensor([2., 4.]))
    """

    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        value, g, aux = _value_and_grad(f, argnums, has_aux, args, kwargs, "value_and_grad")
        return ((value, aux), g) if has_aux else (value, g)

    return value_and_grad_f


def vjp(f, *primals, has_aux: bool = False):
    """Run ``f(*primals)`` and return ``(output, vjp_fn)``; ``vjp_fn(cotangent)`` pulls it back.

    ``vjp_fn`` takes a cotangent of the output's structure and shapes and
    returns a tuple with one vector-Jacobian product per primal (zeros where
    the output does not depend on it).  It can be called many times.  With
    ``has_aux`` the result is ``(output, vjp_fn, aux)``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> from microgradnp.func import vjp
    >>> out, pull = vjp(lambda x: x * x, mg.tensor([1.0, 2.0, 3.0]))
    >>> pull(np.array([1.0, 0.0, 1.0]))
    (tensor([2., 0., 6.]),)
    """
    inputs = _Inputs(primals, tuple(range(len(primals))), "vjp") if primals else None
    if inputs is None:
        raise TypeError("vjp: give at least one primal")
    with enable_grad():
        result = f(*inputs.args)
    out, aux = _split_aux(result, has_aux, "vjp")
    out_leaves, out_spec = _flatten(out)
    out_leaves = [_as_output(o, "vjp") for o in out_leaves]
    record = _needs_graph(out_leaves, inputs.sources)

    def vjp_fn(cotangents):
        ct_leaves, _ = _flatten(cotangents)
        if len(ct_leaves) != len(out_leaves):
            raise ValueError(f"vjp_fn: got {len(ct_leaves)} cotangent(s) for {len(out_leaves)} output(s)")
        roots, seeds = [], []
        for i, (o, c) in enumerate(zip(out_leaves, ct_leaves)):
            if np.shape(c) != o.shape:
                raise ValueError(f"vjp_fn: cotangent {i} has shape {np.shape(c)}, but the output has shape {o.shape}")
            if o.requires_grad:
                roots.append(o)
                seeds.append(c)
        found = {}
        if roots:
            grads = _grad(roots, inputs.sources, grad_outputs=seeds, retain_graph=True, create_graph=record,
                          allow_unused=True)
            found = dict(zip(map(id, inputs.sources), grads))
        values = [_result(found[id(s)], record) if found.get(id(s)) is not None else _zeros_like(s)
                  for s in inputs.sources]
        return inputs.per_argnum(values, False)

    out = _unflatten(out_spec, [_result(o, record) for o in out_leaves])
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


# ---------------------------------------------------------------------------
# Forward mode: tangents pushed through a recording
# ---------------------------------------------------------------------------


def _value(x):
    return x._data if isinstance(x, Tensor) else x


def _floating(x) -> bool:
    return np.asarray(_value(x)).dtype.kind == "f"


def _run(op, args, attrs, record: bool):
    """``op``'s forward on ``args``: recorded when an outer computation follows, else on arrays."""
    if record:
        return apply(op, tuple(args), attrs)
    run = op.run if op.run is not None else op.bind(xp)
    return np.asarray(run(*args, **attrs) if attrs else run(*args))


def _transposed(t: Tensor, ts, record: bool):
    """The JVP of the op that made ``t``, by transposing its VJP (the "double VJP" method).

    The VJP is linear in its upstream gradient ``u``: ``u -> J^T u``.  So
    ``s(u) = sum_i <J_i^T u, t_i>`` is linear in ``u`` and its gradient is
    ``J t``.  Always right (every VJP is written with differentiable ops),
    at the cost of one recorded VJP and one backward pass through it.
    """
    op = t._op
    attrs = t._attrs or {}
    value = t._data
    u = _make(np.zeros(value.shape, dtype=value.dtype), requires_grad=True)
    if record:
        out, ins = t, t._parents
    else:
        out, ins = value, tuple(_value(p) for p in t._parents)
    needs = tuple(ti is not None for ti in ts)
    with enable_grad():
        if op.vjps is None:
            gis = op.vjp_all(TENSOR_NS, u, out, ins, attrs, needs)
        else:
            gis = [op.vjps[i](TENSOR_NS, u, out, *ins, **attrs) if needs[i] else None for i in range(len(ts))]
        total = None
        for i, (gi, ti) in enumerate(zip(gis, ts)):
            if ti is None or gi is None:
                continue
            gi = _fit(TENSOR_NS, gi, t._parents[i], op.name, i, True)
            term = _sum(gi * ti)
            total = term if total is None else total + term
        if total is None or not total.requires_grad:
            return np.zeros(value.shape, dtype=value.dtype)
        (jv,) = _grad(total, u, create_graph=record, allow_unused=True)
    if jv is None:
        return np.zeros(value.shape, dtype=value.dtype)
    return jv if record else jv._data


def _tangent_of(t: Tensor, ts, record: bool):
    """The tangent of ``t`` given its inputs' tangents ``ts`` (``None``: no tangent), by its op's JVP rule."""
    op = t._op
    attrs = t._attrs or {}
    if record:
        ns, out, ins = TENSOR_NS, t, t._parents
    else:
        ns, out, ins = xp, t._data, tuple(_value(p) for p in t._parents)
    rule = op.jvp
    if rule is None:
        res = _transposed(t, ts, record)
    elif rule == "elementwise":
        res = None
        for i, ti in enumerate(ts):
            if ti is not None:
                d = op.vjps[i](ns, ti, out, *ins, **attrs)
                res = d if res is None else res + d
    elif rule == "linear":
        args = [ti if ti is not None else (xp.zeros_like(_value(x)) if _floating(x) else x) for ti, x in zip(ts, ins)]
        res = _run(op, args, attrs, record)
    elif rule == "multilinear":
        res = None
        for i, ti in enumerate(ts):
            if ti is not None:
                d = _run(op, ins[:i] + (ti,) + tuple(ins[i + 1:]), attrs, record)
                res = d if res is None else res + d
    elif rule == "reduction":
        value = t._data
        weights = op.vjps[0](ns, np.ones(value.shape, dtype=value.dtype), out, *ins, **attrs)
        res = ns.sum(weights * ts[0], axis=attrs.get("axis"), keepdims=attrs.get("keepdims", False))
    else:
        res = rule(ns, ts, out, *ins, **attrs)
    return _fit_tangent(ns, res, t, record)


def _fit_tangent(ns, res, t: Tensor, record: bool):
    """The tangent in the output's shape (an elementwise rule may leave it unbroadcast) and dtype."""
    if res is None:
        return None
    value = t._data
    if record and not isinstance(res, Tensor):
        res = _make(np.asarray(res))
    elif not record:
        res = np.asarray(res)
    if res.shape != value.shape:
        try:
            np.broadcast_shapes(res.shape, value.shape)
        except ValueError:
            raise ValueError(
                f"{t._op.name}: its JVP rule returned shape {res.shape} for an output of shape {value.shape}"
            ) from None
        res = ns.broadcast_to(res, value.shape)
    if res.dtype != value.dtype:
        res = ns.astype(res, value.dtype)
    return res


def _recorded_steps(outputs, stops) -> list:
    """The recorded ops the outputs were computed by, back to the tensors in ``stops`` (ids), in creation order.

    Creation order puts every op after the ops that made its inputs: the
    order forward mode and vmap's replay visit them in.
    """
    nodes, stack = {}, [o for o in outputs if isinstance(o, Tensor) and o.requires_grad]
    while stack:
        t = stack.pop()
        if id(t) in nodes or id(t) in stops or t._op is None:
            continue
        nodes[id(t)] = t
        stack.extend(p for p in t._parents if isinstance(p, Tensor) and p.requires_grad)
    return sorted(nodes.values(), key=lambda n: n._seq)


def _check_unmodified(t: Tensor) -> None:
    """Raise, as the backward pass does, when an input of ``t``'s op was written after the op used it."""
    if t._written > t._seq:
        raise _modified(t, t, 0)
    for i, p in enumerate(t._parents):
        if isinstance(p, Tensor) and p._written > t._seq:
            raise _modified(t, p, i)


def _sweep(outputs, sources, tangents, record: bool) -> list:
    """The tangents of ``outputs`` given those of ``sources``: every op visited once, in creation order."""
    tangent = {id(s): ti for s, ti in zip(sources, tangents) if ti is not None}
    for t in _recorded_steps(outputs, tangent):
        _check_unmodified(t)
        ts = tuple(tangent.get(id(p)) if isinstance(p, Tensor) else None for p in t._parents)
        if any(ti is not None for ti in ts):
            ti = _tangent_of(t, ts, record)
            if ti is not None:  # None: a step that passes no tangent (a mask recorded in a trace)
                tangent[id(t)] = ti
    return [tangent.get(id(o)) for o in outputs]


def _tangent_input(v, source: Tensor, record: bool, who: str, i: int):
    if np.shape(v) != source.shape:
        raise ValueError(f"{who}: tangent {i} has shape {np.shape(v)}, but its primal has shape {source.shape}")
    if record and isinstance(v, Tensor):
        return v if v.dtype == source.dtype else v.astype(source.dtype)
    arr = np.asarray(_value(v), dtype=source._data.dtype)
    return _make(arr) if record else arr


def push_forward(outputs, inputs, tangents, create_graph: bool = False) -> tuple:
    """Forward mode on a graph already recorded: the tangents of ``outputs`` given those of ``inputs``.

    The forward-mode twin of :func:`microgradnp.grad`: ``inputs`` are tensors
    that require grad (leaves or not), ``tangents`` one array per input, and
    the result has one Tensor per output, the Jacobian-vector product
    ``J @ tangent`` (zeros for an output that does not depend on the
    inputs).  With ``create_graph=True`` the computation is recorded, so it
    can be differentiated again.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import push_forward
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x ** 2).sum()
    >>> push_forward(y, x, mg.tensor([1.0, 1.0]))  # the directional derivative 2*1 + 2*2
    (tensor(6.),)
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    ins = [inputs] if single else list(inputs)
    tans = [tangents] if single else list(tangents)
    if len(tans) != len(ins):
        raise ValueError(f"push_forward: got {len(tans)} tangent(s) for {len(ins)} input(s)")
    for i, x in enumerate(ins):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"push_forward: input {i} is not a Tensor that requires grad")
    record = bool(create_graph)
    tans = [_tangent_input(v, x, record, "push_forward", i) for i, (v, x) in enumerate(zip(tans, ins))]
    with enable_grad():
        found = _sweep(outs, ins, tans, record)
    return tuple(_zeros_like(o) if v is None else _result(v, record) for o, v in zip(outs, found))


def jvp(f, primals, tangents, has_aux: bool = False):
    """``(f(*primals), J @ tangents)``: forward mode, one run of ``f`` and one sweep of its recording.

    ``primals`` and ``tangents`` are tuples of the same structure (one tangent
    per primal, of its shape).  Each op's tangent comes from the JVP rule in
    its registry entry; no backward pass runs.  With ``has_aux`` the result
    is ``(output, tangent, aux)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import jvp
    >>> out, tangent = jvp(mg.sin, (mg.tensor(0.0),), (mg.tensor(2.0),))
    >>> out.item(), tangent.item()
    (0.0, 2.0)
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples (one entry per argument of f)")
    p_leaves, _ = _flatten(tuple(primals))
    t_leaves, _ = _flatten(tuple(tangents))
    if len(p_leaves) != len(t_leaves):
        raise ValueError(f"jvp: got {len(t_leaves)} tangent(s) for {len(p_leaves)} primal(s)")
    inputs = _Inputs(tuple(primals), tuple(range(len(primals))), "jvp")
    with enable_grad():
        result = f(*inputs.args)
    out, aux = _split_aux(result, has_aux, "jvp")
    out_leaves, out_spec = _flatten(out)
    out_leaves = [_as_output(o, "jvp") for o in out_leaves]
    record = _needs_graph(out_leaves, inputs.sources) or any(
        isinstance(v, Tensor) and v.requires_grad for v in t_leaves)
    tans = [_tangent_input(v, s, record, "jvp", i) for i, (v, s) in enumerate(zip(t_leaves, inputs.sources))]
    with enable_grad():
        found = _sweep(out_leaves, inputs.sources, tans, record)
    outs = _unflatten(out_spec, [_result(o, record) for o in out_leaves])
    touts = _unflatten(out_spec, [_zeros_like(o) if v is None else _result(v, record)
                                  for o, v in zip(out_leaves, found)])
    return (outs, touts, aux) if has_aux else (outs, touts)


# ---------------------------------------------------------------------------
# Jacobians and Hessians
# ---------------------------------------------------------------------------


def _assemble(parts, out: Tensor, source: Tensor, record: bool, rows: bool):
    """One Jacobian block, ``out.shape + source.shape``, from rows (reverse) or columns (forward)."""
    shape = out.shape + source.shape
    if not parts:
        return _make(np.zeros(shape, dtype=out._data.dtype))
    if record:
        return reshape(stack(parts, axis=0 if rows else -1), shape)
    return _make(np.stack([_value(p) for p in parts], axis=0 if rows else -1).reshape(shape))


def _jacobian(f, argnums, has_aux, args, kwargs, forward: bool, who: str):
    inputs = _Inputs(args, argnums, who)
    with enable_grad():
        result = f(*inputs.args, **kwargs)
    out, aux = _split_aux(result, has_aux, who)
    out_leaves, out_spec = _flatten(out)
    out_leaves = [_as_output(o, who) for o in out_leaves]
    record = _needs_graph(out_leaves, inputs.sources)
    sources = inputs.sources
    # blocks[k][j]: d output k / d source j
    blocks = [[None] * len(sources) for _ in out_leaves]
    if forward:
        for j, s in enumerate(sources):
            columns = [[] for _ in out_leaves]
            for e in _basis(s):
                tans = [None] * len(sources)
                tans[j] = _make(e) if record else e
                with enable_grad():
                    found = _sweep(out_leaves, sources, tans, record)
                for k, (o, v) in enumerate(zip(out_leaves, found)):
                    columns[k].append(_value(_zeros_like(o)) if v is None else v)
            for k, o in enumerate(out_leaves):
                blocks[k][j] = _assemble(columns[k], o, s, record, rows=False)
    else:
        for k, o in enumerate(out_leaves):
            rows = [[] for _ in sources]
            if o.requires_grad:
                for e in _basis(o):
                    seed = _make(e) if record else e
                    grads = _grad(o, sources, grad_outputs=seed, retain_graph=True, create_graph=record,
                                  allow_unused=True)
                    for j, (s, g) in enumerate(zip(sources, grads)):
                        rows[j].append(_value(_zeros_like(s)) if g is None else (g if record else g._data))
            else:
                for j, s in enumerate(sources):
                    rows[j] = [np.zeros(s.shape, dtype=s._data.dtype)] * o.size
            for j, s in enumerate(sources):
                blocks[k][j] = _assemble(rows[j], o, s, record, rows=True)
    per_output = [inputs.per_argnum(b, isinstance(argnums, int)) for b in blocks]
    jac = _unflatten(out_spec, per_output)
    return (jac, aux) if has_aux else jac


def _basis(t: Tensor):
    """The unit arrays of ``t``'s shape, one per element, in row-major order."""
    value = t._data
    for j in range(value.size):
        e = np.zeros(value.size, dtype=value.dtype)
        e[j] = 1
        yield e.reshape(value.shape)


def jacrev(f, argnums=0, has_aux: bool = False):
    """The Jacobian of ``f`` by reverse mode: one backward pass per output element.

    ``jacrev(f)(x)`` has shape ``out.shape + x.shape``.  Best when ``f`` has
    fewer outputs than inputs.  A function returning several outputs gives
    one Jacobian per output, in the same structure; a tuple ``argnums``
    gives a tuple per output.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import jacrev
    >>> jacrev(lambda x: x ** 2)(mg.tensor([1.0, 3.0]))
    tensor([[2., 0.],
            [0., 6.]])
    """

    @functools.wraps(f)
    def jac_f(*args, **kwargs):
        return _jacobian(f, argnums, has_aux, args, kwargs, forward=False, who="jacrev")

    return jac_f


def jacfwd(f, argnums=0, has_aux: bool = False):
    """The Jacobian of ``f`` by forward mode: one run of ``f``, one tangent sweep per input element.

    Same result as :func:`jacrev`; best when ``f`` has more outputs than
    inputs.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import jacfwd
    >>> jacfwd(lambda x: mg.stack([x[0] * x[1], x[0] + x[1], x[1]]))(mg.tensor([2.0, 3.0]))
    tensor([[3., 2.],
            [1., 1.],
            [0., 1.]])
    """

    @functools.wraps(f)
    def jac_f(*args, **kwargs):
        return _jacobian(f, argnums, has_aux, args, kwargs, forward=True, who="jacfwd")

    return jac_f


#: JAX's name; the same as :func:`jacrev`.
jacobian = jacrev


def hessian(f, argnums=0):
    """The Hessian of a scalar ``f``: ``jacfwd(jacrev(f))``, forward-over-reverse.

    Shape ``x.shape + x.shape`` for one argument; for a tuple ``argnums``, a
    tuple of tuples of blocks (``H[i][j] = d2f / dx_i dx_j``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import hessian
    >>> hessian(lambda x: x[0] ** 2 * x[1])(mg.tensor([1.0, 2.0]))
    tensor([[4., 2.],
            [2., 0.]])
    """
    return jacfwd(jacrev(f, argnums), argnums)


def hvp(f, primals, tangents):
    """``(f(*primals), H @ tangents)``: a Hessian-vector product without forming the Hessian.

    Forward-over-reverse: the tangent is pushed through the recorded
    gradient computation, so it costs about one gradient evaluation and one
    tangent sweep, whatever the size.  The product has one entry per
    primal, like ``tangents``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import hvp
    >>> value, (hv,) = hvp(lambda x: (x ** 3).sum(), (mg.tensor([1.0, 2.0]),), (mg.tensor([1.0, 0.0]),))
    >>> value.item(), hv
    (9.0, tensor([6., 0.]))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("hvp: primals and tangents must be tuples (one entry per argument of f)")
    both = value_and_grad(f, argnums=tuple(range(len(primals))))
    (value, _), (_, product) = jvp(both, tuple(primals), tuple(tangents))
    return value, product


# ---------------------------------------------------------------------------
# vmap: record once on one example, replay on the whole batch
# ---------------------------------------------------------------------------


class _Trace:
    """What vmap records: the tensors standing for one example of each mapped input."""

    def __init__(self, sources):
        self.ids = {id(s) for s in sources}

    def depends(self, t: Tensor) -> bool:
        seen, stack = set(), [t]
        while stack:
            x = stack.pop()
            if id(x) in self.ids:
                return True
            if id(x) in seen:
                continue
            seen.add(id(x))
            stack.extend(p for p in x._parents if isinstance(p, Tensor) and p.requires_grad)
        return False

    def on_unreplayable(self, what: str, why: str) -> None:
        raise RuntimeError(f"vmap: {what} {why}; vmap records the function once and replays the recording on "
                           "the batch. Loop over the examples instead")

    def on_read(self, t: Tensor) -> None:
        if self.depends(t):
            raise RuntimeError(
                "vmap: the function reads the value of a tensor computed from a mapped input (item(), bool(), "
                "float(), tolist(), numpy() or np.asarray()): vmap records the function once, on one example, "
                "and replays the recording on the whole batch, so a Python decision or index taken from one "
                "example's values cannot hold for the others. Write it with tensor operations (mg.where, or "
                "one-hot rows instead of an integer index), or loop over the examples"
            )


_WARNED: set = set()


def _loop(op, arrays, batched, attrs, n: int):
    """The fallback of an op without a batching rule: once per example, then stacked."""
    if op.forward is None:
        raise TypeError(f"vmap: the custom Function {op.name} cannot be batched (it has no batching rule); "
                        "write it with microgradnp operations, or loop over the examples")
    if op.name not in _WARNED:
        _WARNED.add(op.name)
        warnings.warn(f"vmap: {op.name} has no batching rule here, so it runs once per example (a Python "
                      "loop); the result is the same, only slower", RuntimeWarning, stacklevel=4)
    run = op.bind(xp)
    results = [np.asarray(run(*[a[i] if b else a for a, b in zip(arrays, batched)], **attrs)) for i in range(n)]
    return np.stack(results)


def _shifted(axis, ndim: int, flattens: bool):
    """An ``axis`` attribute of the example, for the batch (batch axis in front)."""
    if axis is None:
        return None if flattens else tuple(range(1, ndim + 1))
    if isinstance(axis, tuple):
        return tuple(ax + 1 if ax >= 0 else ax for ax in axis)
    return axis + 1 if axis >= 0 else axis


def _run_batched(t: Tensor, arrays, batched, n: int):
    """``t``'s op on the batch: its batching rule where it has one, else once per example."""
    op = t._op
    attrs = dict(t._attrs or {})
    out_shape = t._data.shape
    rule = op.batch
    res = None
    if rule == "elementwise":
        ndim = len(out_shape)
        args = [xp.reshape(a, a.shape[:1] + (1,) * (ndim - a.ndim + 1) + a.shape[1:]) if b else a
                for a, b in zip(arrays, batched)]
        res = op.bind(xp)(*args, **attrs)
    elif rule == "reshape":
        res = xp.reshape(arrays[0], (n,) + out_shape)
    elif rule == "trailing":
        res = op.bind(xp)(*arrays, **attrs)
    elif rule in ("reduce", "axis"):
        if "axis" not in attrs:
            attrs["axis"] = inspect.signature(op.forward).parameters["axis"].default
        attrs["axis"] = _shifted(attrs["axis"], arrays[0].ndim - 1, rule == "axis")
        if attrs["axis"] is not None:
            res = op.bind(xp)(*arrays, **attrs)
    elif callable(rule):
        res = rule(xp, arrays, batched, out_shape, **attrs)
    if res is not None:
        res = np.asarray(res)
        if res.shape == (n,) + out_shape and res.dtype == t._data.dtype:
            return res
    return _loop(op, arrays, batched, t._attrs or {}, n)


def _replay(outputs, sources, batches, n: int) -> list:
    """The outputs' values on the whole batch: every recorded op that depends on a mapped input, again."""
    value = {id(s): b for s, b in zip(sources, batches)}
    for t in _recorded_steps(outputs, value):
        batched = [isinstance(p, Tensor) and id(p) in value for p in t._parents]
        if any(batched):  # otherwise the value recorded holds for every example
            arrays = [value[id(p)] if b else _value(p) for p, b in zip(t._parents, batched)]
            value[id(t)] = _run_batched(t, arrays, batched, n)
    return [value[id(o)] if id(o) in value else np.broadcast_to(o._data, (n,) + o.shape) for o in outputs]


def _axes_per_argument(in_axes, n: int) -> tuple:
    if in_axes is None or isinstance(in_axes, int):
        return (in_axes,) * n
    axes = tuple(in_axes)
    if len(axes) != n:
        raise ValueError(f"vmap: in_axes has {len(axes)} entries for {n} positional argument(s)")
    for ax in axes:
        if ax is not None and not isinstance(ax, int):
            raise TypeError(f"vmap: each entry of in_axes must be an int or None, got {ax!r}")
    return axes


def vmap(f, in_axes=0, out_axes=0):
    """Vectorise ``f`` over a batch axis: ``vmap(f)(X)`` equals ``stack([f(x) for x in X])``.

    ``f`` is recorded once, on the first example of each mapped input, and
    the recording is replayed on the whole batch, each op by its batching
    rule (elementwise ops broadcast with the batch axis in front,
    reductions shift their axis, ``matmul`` and indexing keep the batch
    axis apart, ...).  So ``vmap(grad(loss), in_axes=(None, 0, 0))`` gives
    per-example gradients as one vectorised computation.  An op without a
    batching rule runs once per example, with a one-time warning naming it.

    Parameters
    ----------
    f
        A function of Tensors (or arrays), returning a Tensor or a tuple,
        list or dict of them.
    in_axes
        The batch axis of each positional argument (an int for all, or one
        entry per argument; ``None``: not mapped, the same for every
        example).  A mapped argument may be a tuple, list or dict of arrays,
        all mapped along that axis.
    out_axes
        Where the batch axis goes in each output (an int).

    Notes
    -----
    Because ``f`` is recorded on one example, it must not take Python
    decisions from the mapped values: reading one (``item()``, ``bool()``,
    ``float()``, ``np.asarray``) raises.  Use ``mg.where`` for choices.
    Integer class labels in ``cross_entropy`` and ``nll_loss`` are batched
    (they are an input of the ``pick`` op), as are the indices of
    ``F.embedding``; an integer index read as values (``x[idx]`` with a
    mapped ``idx``) raises.
    ``.data`` reads are not detected.  The results are plain tensors:
    differentiate inside ``vmap`` (``vmap(grad(f))``), not through it.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> from microgradnp.func import grad, vmap
    >>> w = np.array([1.0, -1.0])
    >>> X = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]])
    >>> loss = lambda w, x: (mg.tanh(x @ w) ** 2).sum()
    >>> per_example = vmap(grad(loss), in_axes=(None, 0))(w, X)   # one gradient per row of X
    >>> per_example.shape
    (3, 2)
    >>> np.allclose(per_example.numpy(), [grad(loss)(w, x).numpy() for x in X])
    True
    """
    if not isinstance(out_axes, int):
        raise TypeError(f"vmap: out_axes must be an int, got {out_axes!r}")

    @functools.wraps(f)
    def batched_f(*args):
        axes = _axes_per_argument(in_axes, len(args))
        n, sources, batches, traced_args = None, [], [], []
        for i, (arg, ax) in enumerate(zip(args, axes)):
            if ax is None:
                traced_args.append(arg)
                continue
            leaves, spec = _flatten(arg)
            examples = []
            for leaf in leaves:
                arr = np.asarray(_value(leaf))
                if not -arr.ndim <= ax < arr.ndim:
                    raise ValueError(f"vmap: in_axes {ax} is out of range for argument {i} of shape {arr.shape}")
                arr = np.moveaxis(arr, ax, 0)
                if n is None:
                    n = arr.shape[0]
                elif arr.shape[0] != n:
                    raise ValueError(f"vmap: argument {i} has {arr.shape[0]} examples along axis {ax}, "
                                     f"the others {n}; every mapped input needs the same batch size")
                if n == 0:
                    raise ValueError("vmap: the batch is empty (size 0 along the mapped axis)")
                source = _make(arr[0], requires_grad=True)
                sources.append(source)
                batches.append(arr)
                examples.append(source)
            traced_args.append(_unflatten(spec, examples))
        if n is None:
            raise ValueError("vmap: in_axes maps no argument; at least one needs a batch axis")
        start_trace(_Trace(sources))
        try:
            with enable_grad():
                result = f(*traced_args)
        finally:
            end_trace()
        out_leaves, out_spec = _flatten(result)
        out_leaves = [_as_output(o, "vmap") for o in out_leaves]
        values = _replay(out_leaves, sources, batches, n)
        outs = [_make(np.ascontiguousarray(np.moveaxis(v, 0, out_axes))) for v in values]
        return _unflatten(out_spec, outs)

    return batched_f
