"""Custom differentiable functions written with NumPy: :class:`Function`, as in PyTorch.

A subclass gives ``forward(ctx, *arrays)`` and ``backward(ctx, grad)`` on
NumPy arrays; ``F.apply(*tensors)`` records the call as a node the engine
walks like any registry op (its VJP is the subclass's ``backward``).
"""

from __future__ import annotations

import numpy as np

from . import _mode as _modes
from ._mode import _mode
from ._tensor import Tensor, _make, foreign_library
from .engine import TENSOR_NS, apply
from .ops.registry import Op

__all__ = ["Function", "FunctionCtx"]

_ndarray = np.ndarray


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


def _not_differentiable(ns, g, out, inputs, attrs, needs):
    raise RuntimeError(
        f"{attrs['function']}.backward runs on NumPy arrays, so its result cannot be differentiated "
        "again; for higher-order derivatives write the function with microgradnp operations"
    )


def _function_gradient(xp, g, *inputs, ctx, cls, function, index):
    """Gradient ``index`` of a Function's backward, computed again (what ``mg.compile`` replays)."""
    result = cls.backward(ctx, xp.asarray(g).copy())
    return xp.asarray((result if isinstance(result, (tuple, list)) else (result,))[index]).copy()


_NOT_DIFFERENTIABLE = Op(
    "not_differentiable", _function_gradient, vjp_all=_not_differentiable,
    formula="result of a custom Function's backward: no derivative",
)  # not in the registry: the engine needs no more than the Op itself


def _refuse_traced(fn: str, what: str, x) -> None:
    """A Function's rules run on NumPy arrays: a tracer (vmap, jvp) has no single array to give them."""
    if isinstance(x, Tensor) and x._trace is not None:
        x._trace.unsupported(
            f"the {what} of the custom Function {fn}, which runs on NumPy arrays",
            "write the function with microgradnp operations, or give it rules of microgradnp operations with "
            "microgradnp.func.custom_vjp (or custom_jvp), which every transform can follow")


def _function_forward(xp, *arrays, ctx, cls, function, static):
    args = list(arrays)
    for position, value in static:  # the arguments that are not arrays, back at their places
        args.insert(position, value)
    out = cls.forward(ctx, *args)
    if isinstance(out, Tensor):
        raise TypeError(f"{function}.forward must return a NumPy array, not a Tensor")
    out = np.asarray(out)
    if any(out is a for a in arrays):
        out = out.copy()  # an identity forward must not alias its input
    if any(ctx.needs_input_grad) and (_modes.disabled_threads == 0 or _mode.enabled) and out.dtype.kind not in "fc":
        raise TypeError(f"{function}.forward returned a {out.dtype} array; an output that requires grad must be "
                        "floating point or complex")
    return out


def _function_vjp_all(ns, g, out, inputs, attrs, needs):
    ctx = attrs["ctx"]
    fn = attrs["function"]
    cls = attrs["cls"]
    record = ns is TENSOR_NS
    for x in (out, g, *inputs):
        _refuse_traced(fn, "backward", x)
    garr = g._data if record else g
    if garr.__class__ is not _ndarray or not garr.flags.writeable:
        # The engine may pass a shared read-only array (the seed of a scalar
        # output); user code gets its own writable copy.
        garr = np.array(garr)
    result = cls.backward(ctx, garr)
    if not isinstance(result, (tuple, list)):
        result = (result,)
    total = len(inputs) + len(attrs["static"])
    if len(result) != total:
        raise ValueError(
            f"{fn}.backward returned {len(result)} gradient(s) for {total} forward input(s); "
            "return one per input (None where there is none)"
        )
    static = dict(attrs["static"])
    positions = [i for i in range(total) if i not in static]
    result = [result[i] for i in positions]  # one per op input (the arrays)
    saved = ctx.saved_arrays
    grads = []
    for need, r, index in zip(needs, result, positions):
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
                t._attrs = {"ctx": ctx, "cls": cls, "function": fn, "index": index}
            r = t
        grads.append(r)
    return grads


def _function_jvp(ns, ts, out, *inputs, ctx, function, cls, static):
    rule = getattr(cls, "jvp", None)
    if rule is None:
        raise RuntimeError(
            f"{function} has no jvp: forward mode (microgradnp.func.jvp, jacfwd, hessian) through a custom "
            "Function needs a static method jvp(ctx, *tangents) returning the output's tangent "
            "(None stands for an input without one), as in PyTorch"
        )
    for t in (out, *ts, *inputs):
        _refuse_traced(function, "jvp", t)
        if isinstance(t, Tensor) and t.requires_grad:
            raise RuntimeError(f"{function}.jvp runs on NumPy arrays, so its tangent cannot be differentiated; "
                               "write the function with microgradnp operations (or microgradnp.func.custom_jvp)")
    tangents = [None if t is None else np.array(t._data if isinstance(t, Tensor) else t) for t in ts]
    args = list(tangents)
    for position, _ in static:
        args.insert(position, None)  # an argument that is not an array has no tangent
    result = np.asarray(rule(ctx, *args))
    # Like backward, jvp runs on arrays: its result is not differentiated again.
    return _make(result) if ns is TENSOR_NS else result


def _function_batch(ns, args, batched, size, ctx, cls, function, static):
    # One call per example, each with a context of its own: the forward and backward
    # are NumPy code the batch cannot run through.
    def example(i):
        call = [a[i] if b else a for a, b in zip(args, batched)]
        for position, value in static:
            call.insert(position, value)
        return cls.apply(*call)

    return ns.stack([example(i) for i in range(size)], axis=0)


class Function:
    """Base class for a differentiable function written with NumPy.

    Subclass it with two static methods, as in PyTorch, and call
    ``F.apply(*tensors)``:

    * ``forward(ctx, *arrays) -> ndarray``: gets the inputs' arrays (and any
      non-Tensor arguments as given);
    * ``backward(ctx, grad) -> gradient or tuple``: gets the upstream
      gradient as an array and returns one gradient per forward input
      (``None`` for inputs without one).  Broadcasting is undone for you;
    * optionally ``jvp(ctx, *tangents) -> tangent``: forward mode, one
      tangent array per forward input (``None`` for inputs without one),
      the output's tangent back; :mod:`microgradnp.func`'s ``jvp``,
      ``jacfwd`` and ``hessian`` need it.

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

    _op: Op

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._op = Op(cls.__name__, _function_forward, vjp_all=_function_vjp_all, jvp=_function_jvp,
                     batch=_function_batch, formula=f"custom Function {cls.__qualname__}")

    @staticmethod
    def forward(ctx, *args):  # pragma: no cover - abstract
        raise NotImplementedError("a Function subclass must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *inputs) -> Tensor:
        """Run ``forward`` on the inputs' arrays and record the call for ``backward`` (an op like any other)."""
        if cls is Function:
            raise TypeError("call apply() on a subclass of Function")
        arrays, static = [], []
        for i, x in enumerate(inputs):
            library = foreign_library(x._data if isinstance(x, Tensor) else x)
            if library is not None:
                raise TypeError(
                    f"{cls.__name__}.apply: a tensor on {library}; a custom Function's forward and backward receive "
                    "NumPy arrays today. Convert with t.to('numpy') (differentiable) around the call, or write the "
                    "computation with microgradnp's ops, which run on every array library")
            if isinstance(x, (Tensor, _ndarray)):
                arrays.append(x)
            else:
                static.append((i, x))  # numbers and other arguments reach forward as they are
        ctx = FunctionCtx(tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs))
        return apply(cls._op, tuple(arrays), {"ctx": ctx, "cls": cls, "function": cls.__name__,
                                             "static": tuple(static)})
