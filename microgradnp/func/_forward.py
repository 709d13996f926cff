"""Forward mode: the JVP interpreter (``jvp``, ``jacfwd``) and tangents pushed along a recorded graph.

Inside ``jvp(f, primals, tangents)``, ``f`` runs on *JVP tracers*: each
carries a primal and its tangent, both tensors of the level below.  Every op
on a tracer reaches :meth:`JVPTrace.process_primitive`, which applies the op
to the primals and its JVP rule (``op.jvp_rule``, see
:mod:`microgradnp.ops.rules`) to the tangents, both with ops of the level
below: so a tangent is differentiable (``grad`` of ``jvp``), batched
(``vmap`` of ``jvp``) and pushed forward again (``jvp`` of ``jvp``).  No
backward pass runs.

:func:`push_forward` is forward mode on a graph already recorded (the
forward-mode twin of ``mg.grad``): it visits the recorded ops in the order
they ran and applies the same rules.
"""

from __future__ import annotations

import functools

import numpy as np

from .._mode import Trace, TransformError, enable_grad, is_grad_enabled, new_trace
from .._tensor import Tensor, Tracer, _init_leaf, _make, _new, kind_of, library_of_data, user_array, zeros_for
from ..engine import TENSOR_NS, _modified, _tied, apply, on_library_of, record
from ._reverse import Inputs, basis, finish, jacrev, needs_graph, split_aux, value_and_grad
from ._tree import flatten, unflatten

__all__ = ["jvp", "jacfwd", "hessian", "hvp", "push_forward", "JVPTracer", "JVPTrace"]


class JVPTracer(Tracer):
    """A primal and its tangent (``None``: zero), both of the level below, inside ``jvp``."""

    __slots__ = ("_primal", "_tangent")


class JVPTrace(Trace):
    """The interpreter of one ``jvp`` call."""

    name = "jvp"

    def tracer(self, primal: Tensor, tangent, requires_grad: bool = False) -> JVPTracer:
        t = _new(JVPTracer)
        _init_leaf(t, primal._data, requires_grad)
        t._trace = self
        t._primal = primal
        t._tangent = tangent
        return t

    def logical_leaf(self, t: JVPTracer, requires_grad: bool = False) -> JVPTracer:
        return self.tracer(t._primal, t._tangent, requires_grad)

    def detach(self, t: JVPTracer) -> Tensor:
        return t._primal.detach()  # no tangent: a constant of this level

    def process_primitive(self, op, inputs, attrs):
        primals, tangents = [], []
        for x in inputs:
            mine = getattr(x, "_trace", None) is self
            primals.append(x._primal if mine else x)
            tangents.append(x._tangent if mine else None)
        out = apply(op, tuple(primals), attrs)
        if not op.differentiable:
            return out  # a comparison, an argmax: no tangent, a value of the level below
        tangent = None
        if any(t is not None for t in tangents):
            tangent = _fit_tangent(on_library_of(out._data, op.jvp_rule, TENSOR_NS, tuple(tangents), out, *primals,
                                                 **(attrs or {})), out, op)
        return record(self.tracer(out, tangent), op, inputs, attrs)

    def read(self, tracer, what: str, implicit: bool = False):
        if implicit:
            raise TransformError(
                f"jvp: {what} was given a tensor that jvp pushes a tangent through: as an array it would carry no "
                "tangent, and every result computed from it would silently have none. Use microgradnp functions, "
                "or x.detach() if you mean to stop the tangent there")
        # Asked for by name (item(), .data, a Python decision): the primal's value, as JAX and PyTorch's
        # forward AD give it; the tangent stays with the tensor.
        return _concrete(tracer._primal, what)


def _concrete(x, what: str):
    return x._trace.read(x, what) if x._trace is not None else x._data


def _fit_tangent(res, out: Tensor, op):
    """The tangent in the output's shape (an elementwise rule may leave it unbroadcast) and dtype."""
    if res is None:
        return None
    if not isinstance(res, Tensor):
        res = _make(user_array(res))
    if res.shape != out.shape:
        try:
            np.broadcast_shapes(res.shape, out.shape)
        except ValueError:
            raise ValueError(f"{op.name}: its JVP rule returned shape {res.shape} for an output of shape "
                             f"{out.shape}") from None
        res = TENSOR_NS.broadcast_to(res, out.shape)
    if res.dtype != out.dtype:
        res = TENSOR_NS.astype(res, out.dtype)
    return res


def _primal_input(x, who: str, i: int) -> Tensor:
    t = x if isinstance(x, Tensor) else _make(user_array(x))
    if kind_of(t._data) not in "fc":
        raise TypeError(f"{who}: primal {i} has dtype {t.dtype}; forward mode pushes tangents through "
                        "floating-point and complex inputs only (pass floats, e.g. x.astype(float))")
    return t


def _tangent_input(v, primal: Tensor, who: str, i: int) -> Tensor:
    t = v if isinstance(v, Tensor) else _make(user_array(v))
    if t.shape != primal.shape:
        raise ValueError(f"{who}: tangent {i} has shape {t.shape}, but its primal has shape {primal.shape}")
    ours, theirs = library_of_data(t._data), library_of_data(primal._data)
    if ours != theirs:
        raise TypeError(f"{who}: tangent {i} is a {ours} array but its primal is on {theirs}; a tangent lives on its "
                        f"primal's library: convert it with .to({theirs!r})")
    if kind_of(t._data) == "c" and kind_of(primal._data) != "c":
        raise TypeError(f"{who}: tangent {i} is complex but its primal is {primal.dtype}; a real input moves in real "
                        "directions only (make the primal complex to push a complex tangent)")
    return t if t.dtype == primal.dtype else TENSOR_NS.astype(t, primal.dtype)


def _zeros(x: Tensor) -> Tensor:
    return _make(zeros_for(x._data))


def _leave(trace: JVPTrace, out, who: str):
    """An output as ``(primal, tangent)`` of the level below (the tangent zeros where there is none).

    A tangent that came out constant while its primal is followed by an outer graph is tied to the primal
    (derivative zero), so that differentiating it gives zeros, as in PyTorch, not "does not require grad".
    """
    if isinstance(out, Tensor) and out._trace is trace:
        return out._primal, _tied(_zeros(out) if out._tangent is None else out._tangent, out._primal)
    if isinstance(out, Tensor):
        return out, _tied(_zeros(out), out)
    arr = user_array(out)
    if kind_of(arr) not in "fiub":
        raise TypeError(f"{who}: the function returned a {type(out).__name__}; it must return Tensors or arrays")
    return _make(arr), _make(zeros_for(arr))


def _lowered(aux, trace: JVPTrace):
    """``aux`` with this trace's tracers replaced by their primals (aux leaves the transform as values)."""
    leaves, spec = flatten(aux)
    return unflatten(spec, [x._primal if isinstance(x, Tensor) and x._trace is trace else x for x in leaves])


def _run(f, args, kwargs, positions, tangents, has_aux: bool, who: str):
    """Run ``f`` under a new JVP trace, the leaves at ``positions`` carrying ``tangents``.

    Returns the outputs as ``(primal, tangent)`` pairs of the level below,
    the outputs' structure and ``aux``, all taken out of the trace before it ends.
    """
    with new_trace(JVPTrace()) as trace:
        traced = list(args)
        for k, t in zip(positions, tangents):
            p = args[k]
            traced[k] = trace.tracer(p, t, requires_grad=p.requires_grad and is_grad_enabled())
        out, aux = split_aux(f(*traced, **kwargs), has_aux, who)
        out_leaves, out_spec = flatten(out)
        return [_leave(trace, o, who) for o in out_leaves], out_spec, _lowered(aux, trace)


def jvp(f, primals, tangents, has_aux: bool = False):
    """``(f(*primals), J @ tangents)``: forward mode, one run of ``f`` on (primal, tangent) pairs.

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
    p_leaves, p_spec = flatten(tuple(primals))
    t_leaves, t_spec = flatten(tuple(tangents))
    if len(p_leaves) != len(t_leaves):
        raise ValueError(f"jvp: got {len(t_leaves)} tangent(s) for {len(p_leaves)} primal(s)")
    p_leaves = [_primal_input(p, "jvp", i) for i, p in enumerate(p_leaves)]
    t_leaves = [_tangent_input(v, p, "jvp", i) for i, (v, p) in enumerate(zip(t_leaves, p_leaves))]
    n = len(p_leaves)

    def rebuilt(*leaves):
        return f(*unflatten(p_spec, leaves))

    with enable_grad():
        pairs, out_spec, aux = _run(rebuilt, p_leaves, {}, range(n), t_leaves, has_aux, "jvp")
    outs = unflatten(out_spec, [p for p, _ in pairs])
    touts = unflatten(out_spec, [t for _, t in pairs])
    return (outs, touts, aux) if has_aux else (outs, touts)


def jacfwd(f, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian of ``f`` by forward mode: one ``jvp`` per input element.

    Same result as :func:`~microgradnp.func.jacrev` (shape ``out.shape +
    x.shape``); best when ``f`` has more outputs than inputs.
    ``holomorphic=True``: the complex Jacobian ``df/dz`` of a holomorphic
    ``f`` of complex inputs (JAX's convention); without it complex inputs
    are refused (a real input may have complex outputs).

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
        inputs = Inputs(args, argnums, "jacfwd", fresh=False)
        sources = [_primal_input(s, "jacfwd", i) for i, s in enumerate(inputs.sources)]
        for s in sources:
            if (kind_of(s._data) == "c") != holomorphic:
                raise TypeError(
                    f"jacfwd: holomorphic=True needs complex inputs, got {s.dtype} (shape {s.shape})" if holomorphic
                    else f"jacfwd: a complex input ({s.dtype}, shape {s.shape}) has no real Jacobian; pass "
                    "holomorphic=True for the complex Jacobian of a holomorphic function, or differentiate "
                    "with respect to its real and imaginary parts (mg.complex(re, im))")

        def call_with(*leaves, **kw):
            return f(*inputs.rebuild(leaves), **kw)

        columns, out_spec, aux, outs = None, None, None, None
        with enable_grad():
            for j, s in enumerate(sources):
                for e in basis(s):
                    tangents = [None] * len(sources)
                    tangents[j] = _make(e)
                    pairs, out_spec, found = _run(call_with, sources, kwargs, range(len(sources)), tangents,
                                                  has_aux, "jacfwd")
                    if columns is None:
                        columns = [[[] for _ in sources] for _ in pairs]
                        outs, aux = [p for p, _ in pairs], found
                    for k, (_, t) in enumerate(pairs):
                        columns[k][j].append(t)
            if holomorphic:
                for o in outs or ():
                    if kind_of(o._data) != "c":
                        raise TypeError("jacfwd: with holomorphic=True the function must return complex values, "
                                        f"got {o.dtype}")
            if columns is None:  # no input element at all
                pairs, out_spec, aux = _run(call_with, sources, kwargs, (), (), has_aux, "jacfwd")
                outs = [p for p, _ in pairs]
                columns = [[[] for _ in sources] for _ in outs]
        record = needs_graph(outs, sources) or any(isinstance(c, Tensor) and c.requires_grad
                                                   for per in columns for cols in per for c in cols)
        blocks = [[finish(_assemble(columns[k][j], o, s), record) for j, s in enumerate(sources)]
                  for k, o in enumerate(outs)]
        jac = unflatten(out_spec, [inputs.per_argnum(b, isinstance(argnums, int)) for b in blocks])
        return (jac, aux) if has_aux else jac

    return jac_f


def _assemble(columns, out: Tensor, source: Tensor) -> Tensor:
    """One Jacobian block, ``out.shape + source.shape``, from one tangent of ``out`` per source element."""
    shape = out.shape + source.shape
    if not columns:
        return _make(zeros_for(out._data, shape))
    return TENSOR_NS.reshape(TENSOR_NS.stack(columns, axis=-1), shape)


def hessian(f, argnums=0, has_aux: bool = False):
    """The Hessian of a scalar ``f``: ``jacfwd(jacrev(f))``, forward-over-reverse.

    Shape ``x.shape + x.shape`` for one argument; for a tuple ``argnums``, a
    tuple of tuples of blocks (``H[i][j] = d2f / dx_i dx_j``).  With
    ``has_aux`` the result is ``(hessian, aux)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import hessian
    >>> hessian(lambda x: x[0] ** 2 * x[1])(mg.tensor([1.0, 2.0]))
    tensor([[4., 2.],
            [2., 0.]])
    """
    return jacfwd(jacrev(f, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


def hvp(f, primals, tangents):
    """``(f(*primals), H @ tangents)``: a Hessian-vector product without forming the Hessian.

    Forward-over-reverse: the tangent is pushed through the gradient
    computation, so it costs about one gradient evaluation and one tangent
    sweep, whatever the size.  The product has one entry per primal, like
    ``tangents``.

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
# Forward mode along a recorded graph
# ---------------------------------------------------------------------------


def _recorded_steps(outputs, stops) -> list:
    """The recorded ops the outputs were computed by, back to the tensors in ``stops`` (ids), in creation order."""
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


def push_forward(outputs, inputs, tangents, create_graph: bool = False) -> tuple:
    """Forward mode on a graph already recorded: the tangents of ``outputs`` given those of ``inputs``.

    The forward-mode twin of :func:`microgradnp.grad`: ``inputs`` are tensors
    that require grad (leaves or not), ``tangents`` one array per input, and
    the result has one Tensor per output, the Jacobian-vector product
    ``J @ tangent`` (zeros for an output that does not depend on the
    inputs).  The recorded ops are visited once each, in the order they ran,
    with the JVP rules ``jvp`` uses.  With ``create_graph=True`` the
    computation is recorded, so it can be differentiated again.

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
    tangent = {id(x): _tangent_input(v, x, "push_forward", i) for i, (v, x) in enumerate(zip(tans, ins))}
    with enable_grad():
        for t in _recorded_steps(outs, tangent):
            _check_unmodified(t)
            ts = tuple(tangent.get(id(p)) if isinstance(p, Tensor) else None for p in t._parents)
            if any(ti is not None for ti in ts):
                ti = _fit_tangent(on_library_of(t._data, t._op.jvp_rule, TENSOR_NS, ts, t, *t._parents,
                                                **(t._attrs or {})), t, t._op)
                if ti is not None:  # None: a step that passes no tangent (a mask)
                    tangent[id(t)] = ti
    found = [tangent.get(id(o)) for o in outs]
    return tuple(_zeros(o) if v is None else finish(v, bool(create_graph)) for o, v in zip(outs, found))
