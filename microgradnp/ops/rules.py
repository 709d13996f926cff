"""Rules as functions: each op's forward-mode and batching rule, built once when the op is registered.

An entry of the registry states its rules by *kind* where one fits
(``jvp="elementwise"``, ``batch="reduce"``); :class:`~microgradnp.ops.registry.Op`
turns the kind into a function here, once, at registration (autograd's
``translate_jvp``, JAX's ``defvectorized`` / ``defreducer``), so an
interpreter asks the op for ``op.jvp_rule`` and ``op.batch_rule`` and never
branches on a string.

Both kinds of rule are written in the namespace-generic style of the VJPs:
they compute with the namespace ``ns`` the interpreter passes (the Tensor
namespace: every call records, and goes to the next interpreter down), so a
rule's result is differentiable again and batched again.  ``ns.call(op,
*args, **attrs)`` applies an op itself.

A **JVP rule** is ``rule(ns, tangents, out, *inputs, **attrs)``: the tangent
of the output ``out`` given one tangent (or ``None``) per input.

A **batching rule** is ``rule(ns, args, batched, size, **attrs)``: ``args``
are the op's inputs on the level below, those with ``batched[i]`` carrying
``size`` examples along a leading axis; it returns the op's result for every
example, batch axis first, or ``None`` where it has no vectorised form (the
interpreter then runs the op once per example).

This module is pure: it imports nothing of microgradnp outside ``ops``.
"""

from __future__ import annotations

import inspect

import numpy as np

from . import xp

__all__ = ["jvp_rule", "transposed_jvp", "batch_rule", "batch_aligned", "ndim_of", "transposed_vjp", "batched_key",
           "keyed_batch"]


# ---------------------------------------------------------------------------
# JVP rules
# ---------------------------------------------------------------------------


def jvp_rule(op):
    """The JVP rule of ``op`` as a function: its own, or the one its kind (or its absence) stands for."""
    kind = op.jvp
    if callable(kind):
        return kind
    if kind is None:
        return transposed_jvp(op)
    return _JVP_KINDS[kind](op)


def _elementwise_jvp(op):
    """A diagonal Jacobian: the VJP applied to the tangent, summed over the inputs."""
    def rule(ns, tangents, out, *inputs, **attrs):
        res = None
        for vjp, t in zip(op.vjps, tangents):
            if t is not None:
                d = vjp(ns, t, out, *inputs, **attrs)
                res = d if res is None else res + d
        return res

    return rule


def _linear_jvp(op):
    """Linear in its data inputs together: the forward applied to the tangents (zeros for a constant).

    Index and mask inputs (``op.indices``) are passed as they are.
    """
    def rule(ns, tangents, out, *inputs, **attrs):
        args = [t if t is not None else (x if i in op.indices else _zeros_of(ns, x))
                for i, (t, x) in enumerate(zip(tangents, inputs))]
        return ns.call(op, *args, **attrs)

    return rule


def _multilinear_jvp(op):
    """Linear in each input apart (``matmul``, ``einsum``): one forward per tangent, the others as they are."""
    def rule(ns, tangents, out, *inputs, **attrs):
        res = None
        for i, t in enumerate(tangents):
            if t is not None:
                d = ns.call(op, *inputs[:i], t, *inputs[i + 1:], **attrs)
                res = d if res is None else res + d
        return res

    return rule


def _reduction_jvp(op):
    """Each output element reduces its own slice: the VJP of ones are the weights of the tangent's sum."""
    def rule(ns, tangents, out, *inputs, **attrs):
        weights = op.vjps[0](ns, ns.zeros_like(out) + 1, out, *inputs, **attrs)  # ones of out's library
        product = weights * tangents[0]
        if getattr(weights.dtype, "kind", None) == "c" and getattr(out.dtype, "kind", None) != "c":
            # a real reduction of complex values (var): its VJP gives the gradient in PyTorch's convention,
            # w = dL/dx + i dL/dy, so the change along t is Re(conj(w) t)
            product = ns.real(ns.conj(weights) * tangents[0])
        return ns.sum(product, axis=attrs.get("axis"), keepdims=attrs.get("keepdims", False))

    return rule


def transposed_vjp(ns, op, cotangent, out, inputs, attrs, needs):
    """The gradients ``op``'s VJP rules give for ``cotangent``, one per input (``None`` where not needed)."""
    if op.vjps is None:
        return op.vjp_all(ns, cotangent, out, inputs, attrs, needs)
    return [vjp(ns, cotangent, out, *inputs, **attrs) if need else None for vjp, need in zip(op.vjps, needs)]


def transposed_jvp(op):
    """The JVP by transposing the VJP (the "double VJP"): always right, one recorded VJP and one backward pass.

    The VJP is linear in its upstream gradient ``u``, ``u -> J^T u``, so
    ``s(u) = sum_i <J_i^T u, t_i>`` is linear in ``u`` and its gradient is ``J t``.
    On complex values the VJP gives ``J^H u`` (PyTorch's convention, ops/complex.py), and with the real inner
    product ``s(u) = sum_i Re(conj(J_i^H u) t_i) = Re <u, J t>``, whose gradient in that convention is
    ``J t`` again.
    """
    def rule(ns, tangents, out, *inputs, **attrs):
        u = ns.leaf(ns.zeros_like(out))
        needs = tuple(t is not None for t in tangents)
        total = None
        for gi, t, x in zip(transposed_vjp(ns, op, u, out, inputs, attrs, needs), tangents, inputs):
            if t is None or gi is None:
                continue
            gi = ns.sum_to(gi, x.shape)
            term = ns.sum(ns.real(ns.conj(gi) * t) if getattr(gi.dtype, "kind", None) == "c" else gi * t)
            total = term if total is None else total + term
        if total is None or not total.requires_grad:
            return None
        (jv,) = ns.grad(total, u, create_graph=True, allow_unused=True)
        return jv

    return rule


def _zeros_of(ns, x):
    return ns.zeros_like(x) if hasattr(x, "shape") else 0.0


_JVP_KINDS = {
    "elementwise": _elementwise_jvp,
    "linear": _linear_jvp,
    "multilinear": _multilinear_jvp,
    "reduction": _reduction_jvp,
}


# ---------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------


def batch_rule(op):
    """The batching rule of ``op`` as a function, or ``None`` (once per example)."""
    kind = op.batch
    if kind is None or callable(kind):
        return kind
    return _BATCH_KINDS[kind](op)


def ndim_of(a) -> int:
    return a.ndim if hasattr(a, "ndim") else np.ndim(a)


def batch_aligned(ns, a, ndim: int):
    """A batched value with size-1 axes after the batch axis, so that each example has ``ndim`` axes."""
    extra = ndim - (a.ndim - 1)
    return ns.reshape(a, a.shape[:1] + (1,) * extra + a.shape[1:]) if extra else a


def _is_advanced(k) -> bool:
    return isinstance(k, (list, np.ndarray)) and np.ndim(k) > 0


def batched_key(key):
    """An index key of one example, for the batch: the batch axis kept whole in front, or ``None``.

    ``None`` where advanced indices apart from each other (``x[[0, 1], :, [1, 2]]``) would
    put their axes first, in front of the batch axis: such a key runs once per example.
    """
    parts = key if isinstance(key, tuple) else (key,)
    advanced = [i for i, k in enumerate(parts)
                if _is_advanced(k) or isinstance(k, (int, np.integer)) and any(map(_is_advanced, parts))]
    if advanced and advanced[-1] - advanced[0] + 1 != len(advanced):
        return None
    if not any(k is Ellipsis for k in parts):
        parts = parts + (Ellipsis,)  # NumPy's implicit trailing axes, spelled out as the Array API asks
    return (slice(None),) + parts


def keyed_batch(ns, args, batched, size, key, flat_shape=None, **_):
    """The batching rule of the ops that index one input with a key attribute (``a[key]``, ``take``, ``repeat``)."""
    if not batched[0] or (key := batched_key(key)) is None:
        return None
    a = args[0] if flat_shape is None else ns.reshape(args[0], (size,) + tuple(flat_shape))
    return a[key]


def _elementwise_batch(op):
    """Broadcasting, with the batch axis of each batched input kept in front."""
    def rule(ns, args, batched, size, **attrs):
        ndim = max(ndim_of(a) - b for a, b in zip(args, batched))
        return ns.call(op, *(batch_aligned(ns, a, ndim) if b else a for a, b in zip(args, batched)), **attrs)

    return rule


def _reshape_batch(op):
    """An op that only reshapes (row-major order kept): the batch reshaped to the size and the example's shape."""
    def rule(ns, args, batched, size, **attrs):
        a = args[0]
        example = np.broadcast_to(np.zeros(()), a.shape[1:])  # a shape, no values (nor dtype: any library)
        return ns.reshape(a, (size,) + np.shape(op.bind(xp)(example, **attrs)))

    return rule


def _shifted(axis, ndim: int, flattens: bool):
    """An ``axis`` attribute of the example, for the batch (batch axis in front)."""
    if axis is None:
        return None if flattens else tuple(range(1, ndim + 1))
    if isinstance(axis, tuple):
        return tuple(ax + 1 if ax >= 0 else ax for ax in axis)
    return axis + 1 if axis >= 0 else axis


def _axis_batch(op, flattens: bool):
    """The ``axis`` attribute shifted past the batch axis (``None``: every axis of the example)."""
    forward = getattr(xp, op.forward) if isinstance(op.forward, str) else op.forward
    axis = inspect.signature(forward).parameters.get("axis")
    default = None if axis is None else axis.default

    def rule(ns, args, batched, size, **attrs):
        if not batched[0] or any(batched[1:]):
            return None  # only the reduced input is batched here
        axis = _shifted(attrs.get("axis", default), args[0].ndim - 1, flattens)
        if axis is None:
            return None  # a flattening reduction: once per example
        return ns.call(op, *args, **{**attrs, "axis": axis})

    return rule


def _trailing_batch(op):
    """The forward already treats leading axes as a stack (``inv``, ``tril``): the batch runs through as it is."""
    def rule(ns, args, batched, size, **attrs):
        if not all(b for a, b in zip(args, batched) if hasattr(a, "shape")):
            return None  # a stack beside an unbatched operand would not line up: once per example
        return ns.call(op, *args, **attrs)

    return rule


_BATCH_KINDS = {
    "elementwise": _elementwise_batch,
    "reshape": _reshape_batch,
    "reduce": lambda op: _axis_batch(op, flattens=False),
    "axis": lambda op: _axis_batch(op, flattens=True),
    "trailing": _trailing_batch,
}
