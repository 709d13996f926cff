"""``vmap``: the batching interpreter.

Inside ``vmap(f)(X)``, ``f`` runs once, on *batch tracers*: each stands for
one example (its shape is the example's) and carries the whole batch as a
tensor of the level below, the batch axis first.  Every op ``f`` applies to a
tracer reaches :meth:`BatchTrace.process_primitive`, which runs the op's
batching rule (``op.batch_rule``, see :mod:`microgradnp.ops.rules`) on the
batches: one vectorised op instead of a loop.  An op without a rule runs
once per example (with a one-time warning).

The rules compute with ops of the level below, so a batched computation is
recorded there like any other: ``grad(vmap(f))`` differentiates it, and
``vmap(vmap(f))`` batches it again.  Tracers are nodes of the graph too, so
``mg.grad`` inside ``vmap`` walks their ops with the same rules
(per-example gradients, each example's own).
"""

from __future__ import annotations

import functools
import os
import sys
import warnings

import numpy as np

from .._mode import Trace, TransformError, is_grad_enabled, new_trace
from .._tensor import Tensor, Tracer, _init_leaf, _make, _new, foreign_library, kind_of, shape_of, user_array
from ..backends import namespace_of
from ..engine import TENSOR_NS, AnomalyError, apply, on_library_of, record
from ._tree import broadcast_prefix, flatten, unflatten

__all__ = ["vmap", "BatchTracer", "BatchTrace"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Ops that ran once per example already (the warning is given once per op).
WARNED: set = set()


class BatchTracer(Tracer):
    """One example of a batch, inside ``vmap``; ``_val`` is the whole batch (level below, batch axis first)."""

    __slots__ = ("_val",)


class BatchTrace(Trace):
    """The interpreter of one ``vmap`` call: ``size`` examples."""

    name = "vmap"

    def __init__(self, size: int):
        self.size = size

    # -- tracers -----------------------------------------------------------

    def tracer(self, val: Tensor, requires_grad: bool = False) -> BatchTracer:
        """The tracer standing for each example of ``val`` (batch axis first)."""
        t = _new(BatchTracer)
        d = val._data
        # The first example: the shape and dtype of each (spelled [0, ...] for the Array API's flat indexing rule).
        _init_leaf(t, d[0] if d.__class__ is np.ndarray else d[0, ...], requires_grad)
        t._trace = self
        t._val = val
        return t

    def logical_leaf(self, t: BatchTracer, requires_grad: bool = False) -> BatchTracer:
        """The same batch as a new tracer with no graph at this level (the level below keeps its own)."""
        return self.tracer(t._val, requires_grad)

    def detach(self, t: BatchTracer) -> BatchTracer:
        return self.tracer(t._val.detach())

    # -- the protocol --------------------------------------------------------

    def process_primitive(self, op, inputs, attrs):
        args, batched = [], []
        batch = None
        for x in inputs:
            mine = getattr(x, "_trace", None) is self
            args.append(x._val if mine else x)
            batched.append(mine)
            if mine:
                batch = x._val
        out = None
        try:
            if op.batch_rule is not None:
                out = on_library_of(batch._data, op.batch_rule, TENSOR_NS, args, batched, self.size, **(attrs or {}))
            if out is None:
                out = self._one_by_one(op, args, batched, attrs)
        except AnomalyError as err:
            raise self._name_the_example(err) from None
        if not isinstance(out, Tensor):
            out = _make(user_array(out))
        return record(self.tracer(out), op, inputs, attrs)

    def read(self, tracer, what: str, implicit: bool = False):
        raise TransformError(
            f"vmap: the function reads the value of a tensor computed from a mapped input ({what}): vmap runs the "
            "function once for the whole batch, so a Python decision, number or array taken from one example's "
            "values cannot hold for the others. Write it with tensor operations (mg.where for a choice, one-hot "
            "rows or F.embedding instead of an integer index), or loop over the examples")

    def on_unreplayable(self, what: str, why: str) -> None:
        raise TransformError(f"vmap: {what} {why}; inside vmap one draw would serve every example, so it is refused "
                             "(torch.func's randomness='error'). Draw outside vmap and pass the draws in mapped, or "
                             "loop over the examples")

    # -- helpers -------------------------------------------------------------

    def _one_by_one(self, op, args, batched, attrs):
        """The fallback of an op without a batching rule: once per example, then stacked."""
        if op.name not in WARNED:
            WARNED.add(op.name)
            warnings.warn(f"vmap: {op.name} has no batching rule here, so it runs once per example (a Python "
                          "loop); the result is the same, only slower", RuntimeWarning, stacklevel=_outside())
        results = [apply(op, tuple(a[i, ...] if b else a for a, b in zip(args, batched)), attrs)
                   for i in range(self.size)]
        return TENSOR_NS.stack(results, axis=0)

    def _name_the_example(self, err: AnomalyError) -> AnomalyError:
        values = err.tensor._data if isinstance(err.tensor, Tensor) else None
        if values is None or values.ndim == 0 or values.shape[0] != self.size:
            return err
        from ..backends import to_numpy

        bad = np.flatnonzero(~np.isfinite(to_numpy(values).reshape(self.size, -1)).all(axis=1))
        which = ", ".join(map(str, bad[:5].tolist())) + (" and more" if bad.size > 5 else "")
        return AnomalyError(f"{err} (inside vmap: in example {which} of {self.size})", err.op, err.phase,
                            err.where, err.tensor)

    def enter(self, x, axis: int, i: int) -> BatchTracer:
        """The tracer for a mapped argument ``x``, batched along ``axis``."""
        if isinstance(x, Tensor):
            if not -x.ndim <= axis < x.ndim:
                raise ValueError(f"vmap: in_axes {axis} is out of range for argument {i} of shape {x.shape}")
            axis %= x.ndim
            val = x if axis == 0 else TENSOR_NS.moveaxis(x, axis, 0)
        else:
            arr = user_array(x)
            if not -arr.ndim <= axis < arr.ndim:
                raise ValueError(f"vmap: in_axes {axis} is out of range for argument {i} of shape {shape_of(arr)}")
            if kind_of(arr) not in "fiub":
                raise TypeError(f"vmap: argument {i} is a {type(x).__name__} of dtype {arr.dtype}; "
                                "mapped arguments must be arrays or Tensors of numbers")
            val = _make(namespace_of(arr).moveaxis(arr, axis, 0))
        return self.tracer(val, requires_grad=val.requires_grad and is_grad_enabled())

    def leave(self, out, axis) -> Tensor:
        """An output of the function, as the batch of the level below with its batch axis at ``axis``."""
        if isinstance(out, Tensor) and out._trace is self:
            val = out._val
        elif isinstance(out, (Tensor, np.ndarray, np.generic, float, int, bool)) or foreign_library(out) is not None:
            # The same for every example: repeated (a broadcast, so a gradient reaching it is summed).
            t = out if isinstance(out, Tensor) else _make(user_array(out))
            val = TENSOR_NS.broadcast_to(t, (self.size,) + t.shape)
        else:
            raise TypeError(f"vmap: the function returned a {type(out).__name__}; its outputs must be Tensors or "
                            "arrays (in tuples, lists or dicts)")
        if axis is None:
            raise ValueError("vmap: out_axes None is for outputs that do not depend on the batch; use an int")
        if not -val.ndim <= axis < val.ndim:
            raise ValueError(f"vmap: out_axes {axis} is out of range for an output of {val.ndim - 1} dimension(s)")
        return val if axis % val.ndim == 0 else TENSOR_NS.moveaxis(val, 0, axis)


def _outside() -> int:
    """The stack level of the innermost frame outside microgradnp (where a warning should point)."""
    level, f = 1, sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE):
        f = f.f_back
        level += 1
    return level


def _per_argument(axes, n: int, who: str) -> tuple:
    if axes is None or isinstance(axes, int):
        return (axes,) * n
    if not isinstance(axes, (tuple, list)):
        raise TypeError(f"vmap: {who} must be an int, None, or a tuple with one entry per positional argument, "
                        f"got {type(axes).__name__}")
    if len(axes) != n:
        raise ValueError(f"vmap: {who} has {len(axes)} entries for {n} positional argument(s)")
    return tuple(axes)


def _check_axis(ax, who: str):
    if ax is not None and (isinstance(ax, bool) or not isinstance(ax, (int, np.integer))):
        raise TypeError(f"vmap: each entry of {who} must be an int or None, got {ax!r}")
    return None if ax is None else int(ax)


def vmap(f, in_axes=0, out_axes=0, *, in_dims=None, out_dims=None):
    """Vectorise ``f`` over a batch axis: ``vmap(f)(X)`` equals ``stack([f(x) for x in X])``.

    ``f`` runs once, on tracers that stand for one example each; every op
    runs on the whole batch at once by its batching rule (elementwise ops
    broadcast with the batch axis in front, reductions shift their axis,
    ``matmul`` and indexing keep the batch axis apart, ...).  So
    ``vmap(grad(loss), in_axes=(None, 0, 0))`` gives per-example gradients
    as one vectorised computation.  An op without a batching rule runs once
    per example, with a one-time warning naming it.

    It composes with every transform in both orders: ``grad`` of ``vmap``
    differentiates the batched computation, ``vmap`` of ``vmap`` batches
    twice, and ``mg.grad`` or ``func.grad`` inside ``vmap`` give each
    example its own gradient.

    Parameters
    ----------
    f
        A function of Tensors (or arrays), returning a Tensor or a tuple,
        list or dict of them.
    in_axes
        The batch axis of each positional argument: an int for all, or a
        tuple with one entry per argument, each an int, ``None`` (not
        mapped: the same for every example) or, for an argument that is a
        tuple, list or dict, a structure of the same shape with one entry
        per element (JAX's prefix rule).  ``in_dims`` is torch.func's name.
    out_axes
        Where the batch axis goes in each output: an int, or a structure
        matching the output's.  ``out_dims`` is torch.func's name.

    Notes
    -----
    Keyword arguments of the call are passed to ``f`` as they are, not
    mapped (as in torch.func).

    Because ``f`` runs once for the whole batch, it must not take Python
    decisions from the mapped values: reading one (``item()``, ``bool()``,
    ``float()``, ``np.asarray``, ``.data``) raises.  Use ``mg.where`` for
    choices.  Integer class labels in ``cross_entropy`` and ``nll_loss`` are
    batched (they are an input of the ``pick`` op), as are the indices of
    ``F.embedding`` and a mapped integer tensor used as an index (``x[i]``).
    Random draws (``Dropout`` in training mode, ``mg.randn``)
    and ``backward()`` into a tensor outside ``vmap`` raise.

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
    >>> np.allclose(per_example.detach().numpy(), [grad(loss)(w, x).numpy() for x in X])
    True
    """
    if in_dims is not None:
        if in_axes != 0:
            raise TypeError("vmap: give in_axes or in_dims (torch.func's name), not both")
        in_axes = in_dims
    if out_dims is not None:
        if out_axes != 0:
            raise TypeError("vmap: give out_axes or out_dims (torch.func's name), not both")
        out_axes = out_dims

    @functools.wraps(f)
    def batched_f(*args, **kwargs):
        per_arg = _per_argument(in_axes, len(args), "in_axes")
        leaves, spec = flatten(tuple(args))
        axes = [_check_axis(ax, "in_axes") for i, arg in enumerate(args)
                for ax in broadcast_prefix(per_arg[i], arg, "vmap", "in_axes")]
        size, first = None, None
        for leaf, ax in zip(leaves, axes):
            if ax is None:
                continue
            shape = shape_of(leaf)
            if not -len(shape) <= ax < len(shape):
                raise ValueError(f"vmap: in_axes {ax} is out of range for an argument of shape {shape}")
            if size is None:
                size, first = shape[ax], shape
            elif shape[ax] != size:
                raise ValueError(f"vmap: an argument of shape {shape} has {shape[ax]} examples along axis {ax}, "
                                 f"another ({first}) has {size}; every mapped input needs the same batch size")
        if size is None:
            raise ValueError("vmap: in_axes maps no argument; at least one needs a batch axis")
        if size == 0:
            raise ValueError("vmap: the batch is empty (size 0 along the mapped axis)")
        with new_trace(BatchTrace(size)) as trace:
            traced = [leaf if ax is None else trace.enter(leaf, ax, i) for i, (leaf, ax) in enumerate(zip(leaves, axes))]
            result = f(*unflatten(spec, traced), **kwargs)
            out_leaves, out_spec = flatten(result)
            outs = out_axes if isinstance(out_axes, (tuple, list, dict)) else out_axes
            per_out = broadcast_prefix(outs, result, "vmap", "out_axes")
            values = [trace.leave(o, _check_axis(ax, "out_axes")) for o, ax in zip(out_leaves, per_out)]
        return unflatten(out_spec, values)

    return batched_f
