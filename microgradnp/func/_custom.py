"""Custom rules that compose: :func:`custom_vjp` and :func:`custom_jvp`, with JAX's names and semantics.

A function decorated with one of them becomes an op of its own (a
:class:`~microgradnp.ops.registry.Op` made for it, not registered): its
forward is the function, and its rules are the user's, written with
microgradnp operations.  Because it is an op like any other, every
interpreter handles it by its generic machinery:

* reverse mode (``backward``, ``mg.grad``, ``func.grad``) calls ``bwd``
  (custom_vjp) or the user's JVP rule transposed (custom_jvp); recorded,
  for higher derivatives, since the rules are microgradnp operations;
* forward mode (``jvp``) calls the user's JVP rule (custom_jvp) or ``bwd``
  transposed (custom_vjp: ``bwd`` is linear in its cotangent);
* ``vmap`` runs the function and its rules batched (``vmap`` of each), so
  the user's rules hold for every example.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import _mode as _modes
from .._mode import enable_grad, is_grad_enabled, no_grad
from .._tensor import Tensor, _make, foreign_library, shape_of, user_array, zeros_for
from ..engine import TENSOR_NS, apply
from ..engine import grad as _grad
from ..ops.registry import Op
from ._batching import vmap

__all__ = ["custom_vjp", "custom_jvp"]


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else _make(user_array(x))


def _output(out, name: str, what: str) -> Tensor:
    if not isinstance(out, (Tensor, np.ndarray, np.generic, float)) and foreign_library(out) is None:
        raise TypeError(f"{name}: {what} returned a {type(out).__name__}; return one Tensor (stack several outputs "
                        "into one, or write one custom function per output)")
    return _as_tensor(out)


class _Custom:
    """What custom_vjp and custom_jvp share: the op, and the call that splits static arguments from inputs."""

    kind = "custom"

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.op = None

    def _make_op(self, **rules) -> None:
        name = getattr(self.fun, "__name__", "f")
        self.op = Op(f"{self.kind}({name})", _forward, formula=f"{name} with {self.kind} rules", **rules)

    def __call__(self, *args):
        if self.op is None:
            raise TypeError(f"{self.kind} {self.__name__}: give its rules first "
                            f"({'f.defvjp(fwd, bwd)' if self.kind == 'custom_vjp' else 'f.defjvp(jvp)'})")
        static = tuple((i, a) for i, a in enumerate(args) if i in self.nondiff_argnums)
        inputs = tuple(a for i, a in enumerate(args) if i not in self.nondiff_argnums)
        for i, x in enumerate(inputs):
            if not isinstance(x, (Tensor, np.ndarray, np.generic, float, int)) and foreign_library(x) is None:
                raise TypeError(f"{self.kind} {self.__name__}: argument {i} is a {type(x).__name__}; pass Tensors, "
                                "arrays or numbers, and name any other argument in nondiff_argnums")
        if not any(isinstance(x, Tensor) and (x.requires_grad and is_grad_enabled() or x._trace is not None)
                   or _modes.tracing for x in inputs):
            # Nothing differentiates or traces the call: the function itself, as JAX evaluates it
            # (so fwd may call the function it belongs to).
            return _output(self.fun(*args), self.__name__, "the function")
        return apply(self.op, inputs, {"custom": self, "static": static})

    def arguments(self, inputs, static) -> list:
        """The user's function's arguments: the inputs (as Tensors) with the static ones back in place."""
        args = [_as_tensor(x) for x in inputs]
        for position, value in static:
            args.insert(position, value)
        return args

    def batched(self, static, size):  # pragma: no cover - each kind defines it
        raise NotImplementedError


def _forward(xp, *arrays, custom, static):
    """The function itself, on arrays: the op's forward (the rules run when a derivative is asked for)."""
    with no_grad():
        out = custom.fun(*custom.arguments([_make(a) for a in arrays], static))
    return _output(out, custom.__name__, "the function")._data


def _batch(ns, args, batched, size, custom, static):
    """Every input batched (an unbatched one repeated, so its gradient sums), then the batched twin of ``custom``."""
    full = [a if b else ns.broadcast_to(_as_tensor(a), (size,) + shape_of(a)) for a, b in zip(args, batched)]
    twin = custom.batched(static)
    return apply(twin.op, tuple(full), {"custom": twin, "static": ()})


class custom_vjp(_Custom):
    """A function with a reverse-mode rule of its own, as JAX's ``jax.custom_vjp``.

    ``f = custom_vjp(fun)`` then ``f.defvjp(fwd, bwd)``: ``fwd(*args)``
    returns ``(output, residuals)`` and ``bwd(*nondiff_args, residuals, g)``
    returns one gradient per differentiable argument (``None`` for none).
    Write them with microgradnp operations: the rule is then differentiable
    again (``grad(grad(f))``), batched by ``vmap``, and forward mode uses it
    transposed (``bwd`` is linear in ``g``), so every transform composes
    with it.  Arguments at ``nondiff_argnums`` are passed as they are
    (Python values, no gradient).

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import custom_vjp, grad
    >>> @custom_vjp
    ... def clip_gradient(x):          # the identity, with its gradient clipped to [-1, 1]
    ...     return x * 1.0
    >>> clip_gradient.defvjp(lambda x: (x * 1.0, None), lambda res, g: (mg.clip(g, -1.0, 1.0),))
    >>> grad(lambda x: (3.0 * clip_gradient(x)).sum())(mg.tensor([1.0, 2.0]))
    tensor([1., 1.])
    """

    kind = "custom_vjp"

    def __init__(self, fun, nondiff_argnums=()):
        super().__init__(fun, nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd) -> None:
        """Give the rule: ``fwd(*args) -> (output, residuals)``, ``bwd(*nondiff_args, residuals, g) -> grads``."""
        self.fwd, self.bwd = fwd, bwd
        self._make_op(vjp_all=_vjp_of_custom_vjp, jvp=None, batch=_batch)  # jvp None: bwd transposed

    def batched(self, static):
        twin = custom_vjp(vmap(lambda *a: self.fun(*self.arguments(a, static))))
        nondiff = [v for _, v in static]

        def bwd(residuals, g):
            return vmap(lambda r, gg: tuple(self.bwd(*nondiff, r, gg)))(residuals, g)

        twin.defvjp(vmap(lambda *a: self.fwd(*self.arguments(a, static))), bwd)
        return twin


def _vjp_of_custom_vjp(ns, g, out, inputs, attrs, needs):
    # fwd runs here, when the gradient is asked for (the forward ran the function alone, so that fwd may
    # call it).  Recorded (a second derivative, inside a transform): on the inputs themselves, so the
    # rule's result depends on them; otherwise on their arrays, recording nothing.
    custom, static = attrs["custom"], attrs["static"]
    nondiff = [v for _, v in static]
    record = ns is TENSOR_NS
    with enable_grad() if record else no_grad():
        _, residuals = custom.fwd(*custom.arguments(inputs, static))
        grads = custom.bwd(*nondiff, residuals, g if record else _make(g))
    return _checked_gradients(custom, grads, inputs, needs, record)


def _checked_gradients(custom, grads, inputs, needs, record: bool) -> list:
    if not isinstance(grads, (tuple, list)):
        raise TypeError(f"custom_vjp {custom.__name__}: bwd must return a tuple with one gradient per "
                        f"differentiable argument, got a {type(grads).__name__}")
    if len(grads) != len(inputs):
        raise ValueError(f"custom_vjp {custom.__name__}: bwd returned {len(grads)} gradient(s) for {len(inputs)} "
                         "differentiable argument(s); return one per argument (None where there is none)")
    out = []
    for need, gi in zip(needs, grads):
        if not need or gi is None:
            out.append(None)
        elif record:
            out.append(_as_tensor(gi))
        else:
            out.append(gi._data if isinstance(gi, Tensor) else user_array(gi))
    return out


class custom_jvp(_Custom):
    """A function with a forward-mode rule of its own, as JAX's ``jax.custom_jvp``.

    ``f = custom_jvp(fun)`` then ``f.defjvp(rule)``: ``rule(primals,
    tangents)`` gets two tuples (one entry per differentiable argument) and
    returns ``(output, tangent)``.  Written with microgradnp operations and
    linear in the tangents, it serves reverse mode too, transposed (as JAX
    does), so ``grad``, ``jvp``, ``vmap`` and their compositions all use it.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import custom_jvp, grad, jvp
    >>> @custom_jvp
    ... def straight_through(x):                 # sign(x) forward, the identity's derivative backward
    ...     return mg.sign(x)
    >>> straight_through.defjvp(lambda p, t: (mg.sign(p[0]), t[0]))
    >>> jvp(straight_through, (mg.tensor([-2.0, 3.0]),), (mg.tensor([1.0, 1.0]),))[1]
    tensor([1., 1.])
    >>> grad(lambda x: (straight_through(x) * mg.tensor([2.0, 5.0])).sum())(mg.tensor([-2.0, 3.0]))
    tensor([2., 5.])
    """

    kind = "custom_jvp"

    def __init__(self, fun, nondiff_argnums=()):
        super().__init__(fun, nondiff_argnums)
        self.rule = None

    def defjvp(self, rule) -> None:
        """Give the rule: ``rule(primals, tangents) -> (output, tangent)``."""
        self.rule = rule
        self._make_op(vjp_all=_vjp_of_custom_jvp, jvp=_jvp_of_custom_jvp, batch=_batch)

    def tangent(self, inputs, tangents, static):
        nondiff = [v for _, v in static]
        primals = tuple(_as_tensor(x) for x in inputs)
        res = self.rule(*nondiff, primals, tuple(tangents))
        if not isinstance(res, (tuple, list)) or len(res) != 2:
            raise TypeError(f"custom_jvp {self.__name__}: the rule must return a pair (output, tangent)")
        return _output(res[1], self.__name__, "the JVP rule")

    def batched(self, static):
        twin = custom_jvp(vmap(lambda *a: self.fun(*self.arguments(a, static))))
        nondiff = [v for _, v in static]
        twin.defjvp(lambda p, t: (None, vmap(lambda pp, tt: self.rule(*nondiff, pp, tt)[1])(p, t)))
        return twin


def _jvp_of_custom_jvp(ns, tangents, out, *inputs, custom, static):
    filled = [t if t is not None else _make(zeros_for(out._data, shape_of(x))) for t, x in zip(tangents, inputs)]
    return custom.tangent(inputs, filled, static)


def _vjp_of_custom_jvp(ns, g, out, inputs, attrs, needs):
    # The JVP rule transposed: it is linear in the tangents, so the gradient of <rule(t), g>
    # with respect to the tangents t is the VJP (recorded when the pass is).
    custom, static = attrs["custom"], attrs["static"]
    record = ns is TENSOR_NS
    primals = inputs if record else [_make(x) for x in inputs]
    like = getattr(out, "_data", out)
    tangents = [_make(zeros_for(like, shape_of(x)), requires_grad=True) for x in inputs]
    with enable_grad():
        t_out = custom.tangent(primals, tangents, static)
        total = (t_out * (g if record else _make(g))).sum()
        wanted = [t for t, need in zip(tangents, needs) if need]
        found = iter(_grad(total, wanted, create_graph=record, allow_unused=True) if total.requires_grad and wanted
                     else [None] * len(wanted))
    grads = [next(found) if need else None for need in needs]
    if not record:
        grads = [None if gi is None else gi._data for gi in grads]
    return grads
