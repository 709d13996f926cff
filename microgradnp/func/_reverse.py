"""Reverse mode as function transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jacrev``, ``hessian``, ``hvp``.

Each runs ``f`` on fresh tensors of its own, which the engine's tape records,
and reads the derivative off the recording with the engine's one backward
pass.  Nesting works because a transform never differentiates with respect
to another's tensors: an input that an outer transform (or an outer graph)
follows enters through a step of its own (``positive``), and a transform
records its own derivative computation (``create_graph``) exactly when
something outside it could differentiate the result: an outer transform, or
a tensor that requires grad and that ``f`` reads from its closure (a
model's parameters).  Otherwise results are plain tensors, cut from the
graph.  Inside ``vmap`` or ``jvp`` the tensors are tracers and the tape is
walked with their rules (the engine decides that), so the same code gives
per-example gradients and derivatives of tangents.
"""

from __future__ import annotations

import functools

import numpy as np

from .._mode import differentiation, enable_grad, is_grad_enabled
from .._tensor import Tensor, _make, kind_of, user_array, zeros_for
from ..api import positive
from ..backends import namespace_of
from ..engine import TENSOR_NS, _tied
from ..engine import grad as _grad
from ._tree import count, flatten, unflatten

__all__ = ["grad", "value_and_grad", "vjp", "jacrev", "jacobian"]


# ---------------------------------------------------------------------------
# Inputs and results of a transform
# ---------------------------------------------------------------------------


def _fresh(x, who: str) -> Tensor:
    """A tensor of the transform's own to differentiate with respect to, holding ``x``'s values."""
    if isinstance(x, Tensor):
        if kind_of(x._data) not in "fc":
            raise TypeError(f"{who}: can only differentiate with respect to floating-point or complex inputs, got "
                            f"{x.dtype} (shape {x.shape}); pass floats, e.g. x.astype(float)")
        if x.requires_grad and is_grad_enabled():
            # Followed by an outer transform or graph: a step of our own keeps
            # the two apart while the outer one still sees through it.
            return positive(x)
        if x._trace is not None:
            return x._trace.logical_leaf(x, requires_grad=True)  # the same values, a leaf of ours
        return _make(x._data, requires_grad=True)
    data = user_array(x)
    if kind_of(data) not in "fc":
        raise TypeError(f"{who}: can only differentiate with respect to floating-point or complex inputs, got "
                        f"{data.dtype} (shape {data.shape}); pass floats, e.g. x.astype(float)")
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


class Inputs:
    """The arguments of one call, those at ``argnums`` as leaves to differentiate with respect to.

    ``fresh=True`` (reverse mode) replaces each leaf by a fresh tensor of the
    transform's own; otherwise the leaves are kept (forward mode wraps them).
    """

    def __init__(self, args, argnums, who: str, fresh: bool = True):
        self.nums = _argnums(argnums, len(args), who)
        self.args = list(args)
        self.specs, self.sources = [], []
        for i in self.nums:
            leaves, spec = flatten(args[i])
            leaves = [_fresh(x, who) for x in leaves] if fresh else leaves
            self.args[i] = unflatten(spec, leaves)
            self.specs.append(spec)
            self.sources.extend(leaves)

    def rebuild(self, sources) -> list:
        """The arguments with ``sources`` (one per leaf at ``argnums``) in place of the leaves."""
        args, k = list(self.args), 0
        for i, spec in zip(self.nums, self.specs):
            n = count(spec)
            args[i] = unflatten(spec, sources[k: k + n])
            k += n
        return args

    def per_argnum(self, values, single: bool):
        """``values`` (one per source) in the structure of the arguments at ``argnums``."""
        out, k = [], 0
        for spec in self.specs:
            n = count(spec)
            out.append(unflatten(spec, values[k: k + n]))
            k += n
        return out[0] if single else tuple(out)


def split_aux(result, has_aux: bool, who: str):
    if not has_aux:
        return result, None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"{who}: with has_aux=True the function must return a pair (output, aux)")
    return result[0], result[1]


def _as_output(x, who: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    arr = user_array(x)
    if kind_of(arr) not in "fiub":
        raise TypeError(f"{who}: the function returned a {type(x).__name__}; it must return Tensors or arrays")
    return _make(arr)


def _scalar_output(out, who: str, holomorphic: bool = False) -> Tensor:
    out = _as_output(out, who)
    if out.size != 1:
        raise ValueError(
            f"{who}: the function must return a scalar (one-element) output to differentiate, got shape "
            f"{out.shape}; use jacrev/jacfwd for a vector output, or vjp with a cotangent"
        )
    if kind_of(out._data) not in "fc":
        raise TypeError(f"{who}: the function returned a {out.dtype} value; it must be floating point")
    return _real_unless_holomorphic(out, who, holomorphic)


def _real_unless_holomorphic(out: Tensor, who: str, holomorphic: bool) -> Tensor:
    """A reverse-mode transform's output: real, or complex with ``holomorphic=True`` (JAX's convention)."""
    complex_ = kind_of(out._data) == "c"
    if holomorphic and not complex_:
        raise TypeError(f"{who}: with holomorphic=True the function must return complex values, got {out.dtype}")
    if complex_ and not holomorphic:
        raise TypeError(f"{who}: the function returned {out.dtype} values; reverse mode differentiates real outputs "
                        "(take mg.abs(z) ** 2, mg.real(z), mg.imag(z)), or pass holomorphic=True for the complex "
                        "derivative f'(z) of a holomorphic function")
    return out


def _complex_sources(sources, who: str) -> None:
    """``holomorphic=True`` differentiates with respect to complex inputs only (as in JAX)."""
    for s in sources:
        if kind_of(s._data) != "c":
            raise TypeError(f"{who}: holomorphic=True needs complex inputs, got {s.dtype} (shape {s.shape}); "
                            "make it complex, e.g. x.astype(complex)")


def _holomorphic_derivative(g: Tensor) -> Tensor:
    """``f'(z)`` from the gradient of a holomorphic ``f`` seeded with 1: ``conj(f'(z))`` (ops/complex.py)."""
    return TENSOR_NS.conj(g) if (g.requires_grad or g._trace is not None) else _make(np.conj(g._data))


def needs_graph(outputs, sources) -> bool:
    """Whether something outside this transform may differentiate its results.

    True when a source is itself a step on an outer graph, or when the outputs
    reach a tensor that requires grad and is not one of the sources (a
    parameter ``f`` reads from its closure, or a tensor of an outer transform).
    Then the derivative computation is recorded (``create_graph``).
    """
    if not is_grad_enabled():
        return False
    if any(s._op is not None for s in sources):
        return True
    seen = {id(s) for s in sources}
    stack = [o for o in outputs if isinstance(o, Tensor) and o.requires_grad]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._op is None:
            return True  # a leaf that requires grad and is not ours
        stack.extend(p for p in t._parents if isinstance(p, Tensor) and p.requires_grad)
    return False


def finish(t, record: bool) -> Tensor:
    """A transform's result: the recorded Tensor when an outer computation follows it, else cut from the graph.

    A tracer keeps its values of the level below (and their graph there:
    ``grad`` of ``vmap`` of ``grad``); only its graph at its own level is cut.
    """
    if not isinstance(t, Tensor):
        return _make(user_array(t))
    if record:
        return t
    if t._trace is not None:
        return t._trace.logical_leaf(t)
    return _make(t._data)


def _finished_aux(aux, record: bool):
    leaves, spec = flatten(aux)
    return unflatten(spec, [finish(x, record) if isinstance(x, Tensor) else x for x in leaves])


def _zeros_like(x: Tensor) -> Tensor:
    return _make(zeros_for(x._data))


def _no_gradient(source: Tensor, record: bool) -> Tensor:
    """The gradient of a source the output does not reach: zeros, tied to the source when recorded.

    Tied (derivative zero), so that an outer computation differentiating it
    gets zeros, as from any other gradient, not "does not require grad".
    """
    zeros = _zeros_like(source)
    return _tied(zeros, source) if record else zeros


# ---------------------------------------------------------------------------
# grad, value_and_grad, vjp
# ---------------------------------------------------------------------------


def _value_and_grad(f, argnums, has_aux, args, kwargs, who, holomorphic=False):
    inputs = Inputs(args, argnums, who)
    if holomorphic:
        _complex_sources(inputs.sources, who)
    with enable_grad(), differentiation():
        result = f(*inputs.args, **kwargs)
    out, aux = split_aux(result, has_aux, who)
    out = _scalar_output(out, who, holomorphic)
    record = needs_graph([out], inputs.sources)
    wanted = inputs.sources if out.requires_grad else []
    seed = np.ones(out.shape, out.dtype) if holomorphic else None
    found = _grad(out, wanted, grad_outputs=seed, create_graph=record, allow_unused=True) if wanted else ()
    if holomorphic:
        found = [None if g is None else _holomorphic_derivative(g) for g in found]
    grads = dict(zip(map(id, wanted), found))
    values = [finish(grads[id(s)], record) if grads.get(id(s)) is not None else _no_gradient(s, record)
              for s in inputs.sources]
    return finish(out, record), inputs.per_argnum(values, isinstance(argnums, int)), _finished_aux(aux, record)


def grad(f, argnums=0, has_aux: bool = False, holomorphic: bool = False):
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
        ``f`` returns ``(output, aux)``; the result is ``(gradient, aux)``,
        the tensors in ``aux`` cut from this transform's graph.
    holomorphic
        ``f`` is a holomorphic function of complex inputs with a complex
        output: the result is its complex derivative ``f'(z)`` (JAX's
        convention).  Without it a complex input gets PyTorch's gradient of
        a real output, ``dL/dx + i dL/dy`` (what ``backward()`` gives), and
        a complex output is refused.

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
        _, g, aux = _value_and_grad(f, argnums, has_aux, args, kwargs, "grad", holomorphic)
        return (g, aux) if has_aux else g

    return grad_f


def value_and_grad(f, argnums=0, has_aux: bool = False, holomorphic: bool = False):
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
        value, g, aux = _value_and_grad(f, argnums, has_aux, args, kwargs, "value_and_grad", holomorphic)
        return ((value, aux), g) if has_aux else (value, g)

    return value_and_grad_f


def vjp(f, *primals, has_aux: bool = False):
    """Run ``f(*primals)`` and return ``(output, vjp_fn)``; ``vjp_fn(cotangent)`` pulls it back.

    ``vjp_fn`` takes a cotangent of the output's structure and shapes and
    returns a tuple with one vector-Jacobian product per primal (zeros where
    the output does not depend on it).  It can be called many times, and
    differentiated: its result depends on the cotangent (and on the primals
    where ``f`` is not linear), as in JAX and torch.func.  With ``has_aux``
    the result is ``(output, vjp_fn, aux)``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> from microgradnp.func import vjp
    >>> out, pull = vjp(lambda x: x * x, mg.tensor([1.0, 2.0, 3.0]))
    >>> pull(np.array([1.0, 0.0, 1.0]))
    (tensor([2., 0., 6.]),)
    """
    if not primals:
        raise TypeError("vjp: give at least one primal")
    inputs = Inputs(primals, tuple(range(len(primals))), "vjp")
    with enable_grad(), differentiation():
        result = f(*inputs.args)
    out, aux = split_aux(result, has_aux, "vjp")
    out_leaves, out_spec = flatten(out)
    out_leaves = [_as_output(o, "vjp") for o in out_leaves]
    record = needs_graph(out_leaves, inputs.sources)

    def vjp_fn(cotangents):
        ct_leaves, _ = flatten(cotangents)
        if len(ct_leaves) != len(out_leaves):
            raise ValueError(f"vjp_fn: got {len(ct_leaves)} cotangent(s) for {len(out_leaves)} output(s)")
        roots, seeds = [], []
        for i, (o, c) in enumerate(zip(out_leaves, ct_leaves)):
            shape = tuple(c.shape) if hasattr(c, "shape") else np.shape(c)
            if shape != o.shape:
                raise ValueError(f"vjp_fn: cotangent {i} has shape {shape}, but the output has shape {o.shape}")
            if o.requires_grad:
                roots.append(o)
                seeds.append(c)
        # The pullback is a function of the cotangent like any other: when the cotangent is followed
        # (an outer grad, a tracer) its computation is recorded, so it can be differentiated or batched.
        follow = record or any(isinstance(c, Tensor) and (c.requires_grad or c._trace is not None) for c in seeds)
        found = {}
        if roots:
            with enable_grad():
                grads = _grad(roots, inputs.sources, grad_outputs=seeds, retain_graph=True, create_graph=follow,
                              allow_unused=True)
            found = dict(zip(map(id, inputs.sources), grads))
        values = [finish(found[id(s)], follow) if found.get(id(s)) is not None else _no_gradient(s, follow)
                  for s in inputs.sources]
        return inputs.per_argnum(values, False)

    out = unflatten(out_spec, [finish(o, record) for o in out_leaves])
    return (out, vjp_fn, _finished_aux(aux, record)) if has_aux else (out, vjp_fn)


# ---------------------------------------------------------------------------
# Jacobians and Hessians
# ---------------------------------------------------------------------------


def basis(t: Tensor):
    """The unit arrays of ``t``'s shape, one per element, in row-major order."""
    for j in range(t.size):
        e = zeros_for(t._data, (t.size,))
        e[j] = 1
        yield namespace_of(e).reshape(e, t.shape)


def jacrev(f, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian of ``f`` by reverse mode: one backward pass per output element.

    ``jacrev(f)(x)`` has shape ``out.shape + x.shape``.  Best when ``f`` has
    fewer outputs than inputs.  A function returning several outputs gives
    one Jacobian per output, in the same structure; a tuple ``argnums``
    gives a tuple per output.  ``holomorphic=True``: the complex Jacobian
    ``df/dz`` of a holomorphic ``f`` of complex inputs (JAX's convention);
    without it a complex output is refused, and a complex input of a real
    output gets PyTorch's gradients, as from :func:`grad`.

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
        inputs = Inputs(args, argnums, "jacrev")
        if holomorphic:
            _complex_sources(inputs.sources, "jacrev")
        with enable_grad(), differentiation():
            result = f(*inputs.args, **kwargs)
        out, aux = split_aux(result, has_aux, "jacrev")
        out_leaves, out_spec = flatten(out)
        out_leaves = [_real_unless_holomorphic(_as_output(o, "jacrev"), "jacrev", holomorphic) for o in out_leaves]
        sources = inputs.sources
        record = needs_graph(out_leaves, sources)
        blocks = []
        for o in out_leaves:
            rows = [[] for _ in sources]
            if o.requires_grad:
                for e in basis(o):
                    with enable_grad():
                        grads = _grad(o, sources, grad_outputs=_make(e) if record else e, retain_graph=True,
                                      create_graph=record, allow_unused=True)
                    for j, (s, g) in enumerate(zip(sources, grads)):
                        if g is not None and holomorphic:
                            g = _holomorphic_derivative(g)
                        rows[j].append(_no_gradient(s, record) if g is None else g)
            blocks.append([finish(_assemble(rows[j], o, s, record), record) for j, s in enumerate(sources)])
        jac = unflatten(out_spec, [inputs.per_argnum(b, isinstance(argnums, int)) for b in blocks])
        return (jac, _finished_aux(aux, record)) if has_aux else jac

    return jac_f


def _assemble(rows, out: Tensor, source: Tensor, record: bool) -> Tensor:
    """One Jacobian block, ``out.shape + source.shape``, from one gradient per output element."""
    shape = out.shape + source.shape
    if not rows:  # an output that does not depend on the sources
        zeros = _make(zeros_for(out._data, shape))
        return _tied(zeros, source) if record else zeros
    if all(r._trace is None and not r.requires_grad for r in rows):
        ns = namespace_of(rows[0]._data)
        return _make(ns.reshape(ns.stack([r._data for r in rows]), shape))
    return TENSOR_NS.reshape(TENSOR_NS.stack(rows, axis=0), shape)


#: JAX's name; the same as :func:`jacrev`.
jacobian = jacrev
