"""The op registry: every differentiable operation, its forward and its VJP side by side.

An :class:`Op` holds

* ``forward(*arrays, **attrs)``: plain NumPy, returns an array;
* ``vjps``: one vector-Jacobian product per input,
  ``vjp(ns, g, out, *inputs, **attrs)``, returning the gradient with respect to
  that input given the upstream gradient ``g``;
* ``formula``: one line with the forward and the VJP in math;
* ``test``: an :class:`OpTest` with what the registry-driven property test
  needs (input signature, domain, kinks, a NumPy reference).

The VJPs are written once, in a *namespace-generic* style: they use only
arithmetic operators, ``@``, ``.T``, ``.sum(axis, keepdims)``, ``.reshape``,
``[...]`` and the functions of ``ns``.  The engine passes :data:`NUMPY_NS` and
NumPy arrays for an ordinary backward pass (the fast path), or
:data:`TENSOR_NS` and Tensors when ``create_graph=True``, in which case the
backward pass is itself recorded and can be differentiated again.

Adding an op is one call to :func:`defop` plus a public function of one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import numpy as np
from scipy.special import expit as _expit

__all__ = ["Op", "OpTest", "REGISTRY", "defop", "NUMPY_NS", "TENSOR_NS"]

#: Every registered op, by name.  The name is the graph label and the test id.
REGISTRY: dict[str, "Op"] = {}


@dataclass(frozen=True)
class OpTest:
    """Test metadata of an op, read by :func:`microgradnp.testing.strategies.op_inputs`.

    Parameters
    ----------
    sig
        Input signature: how inputs and attributes are drawn.  One of
        ``"unary"``, ``"binary"``, ``"reduce"``, ``"axis"``, ``"var"``,
        ``"clip"``, ``"matmul"``, ``"reshape"``, ``"transpose"``,
        ``"squeeze"``, ``"expand_dims"``, ``"flatten"``, ``"broadcast_to"``,
        ``"getitem"``, ``"index_put"``, ``"concatenate"``, ``"stack"``,
        ``"where"``, ``"astype"``, ``"linear"``, ``"loss"``, ``"scaled_loss"``.
    ref
        An independent NumPy reference for the forward, called like the
        forward (``ref(*arrays, **attrs)``).
    domain
        ``(lo, hi)`` for every input, or one ``(lo, hi)`` per input.
    kinks
        Points where the op is not differentiable; drawn elements stay at
        least ``margin`` away from them (by construction, not by rejection).
    margin
        Distance kept from kinks, ties and between the inputs of
        ``maximum``/``minimum``.
    distinct
        Elements along a reduction must differ by ``margin`` (``max``/``min``
        ties are kinks).
    apart
        The two inputs must differ elementwise by ``margin``
        (``maximum``/``minimum``).
    smooth
        Second derivatives are checked (``gradgradcheck``).  Piecewise-linear
        ops are included: their second derivative is zero away from kinks.
    rtol
        Relative tolerance of the forward against ``ref``.
    """

    sig: str
    ref: Callable | None = None
    domain: tuple = (-3.0, 3.0)
    kinks: tuple = ()
    margin: float = 1e-3
    distinct: bool = False
    apart: bool = False
    smooth: bool = True
    rtol: float = 1e-12


class Op:
    """One registered operation.  Calling it records the op on its inputs.

    ``op(*inputs, **attrs)`` is the same as the public function of the op;
    prefer the public functions (``mg.exp``, ``x.sum(axis=0)``), which have
    real signatures and docstrings.
    """

    __slots__ = ("name", "forward", "vjps", "vjp_all", "formula", "test")

    def __init__(self, name, forward, vjps=None, vjp_all=None, formula="", test=None):
        self.name = name
        self.forward = forward
        # Either one VJP per input (``vjps``), or a single ``vjp_all(ns, g, out,
        # inputs, attrs, needs)`` for ops with a variable number of inputs.
        self.vjps = vjps
        self.vjp_all = vjp_all
        self.formula = formula
        self.test = test

    def __call__(self, *inputs, **attrs):
        from ..engine import _apply

        return _apply(self, *inputs, **attrs)

    def __repr__(self):
        return f"<op {self.name}: {self.formula}>"


def defop(name: str, forward, *vjps, vjp_all=None, formula: str = "", test: OpTest | None = None) -> Op:
    """Register an op and return it.

    Parameters
    ----------
    name
        Registry name: the graph label and the property-test id.
    forward
        ``forward(*arrays, **attrs) -> ndarray``.
    *vjps
        One ``vjp(ns, g, out, *inputs, **attrs)`` per input, in input order.
    vjp_all
        Alternative to ``vjps`` for variadic ops:
        ``vjp_all(ns, g, out, inputs, attrs, needs) -> sequence`` with one
        gradient (or ``None``) per input; ``needs[i]`` says whether input ``i``
        wants one.
    formula
        One line: the forward and the VJP, in math.
    test
        Test metadata; every op must have it (a completeness test enforces it).
    """
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is registered twice")
    if (not vjps) == (vjp_all is None):
        raise ValueError(f"op {name!r}: give either one VJP per input or vjp_all, not both")
    op = Op(name, forward, tuple(vjps) if vjps else None, vjp_all, formula, test)
    REGISTRY[name] = op
    return op


# ---------------------------------------------------------------------------
# Namespaces handed to the VJPs.
# ---------------------------------------------------------------------------


def index_put_numpy(values, key, shape):
    """Zeros of ``shape`` with ``values`` added at ``key`` (repeated indices accumulate)."""
    out = np.zeros(shape, dtype=values.dtype)
    if _has_int_array(key):
        np.add.at(out, key, values)
    else:
        # Slices, integers and boolean masks never select an element twice,
        # so plain assignment is exact and much faster than ufunc.at.
        out[key] = values
    return out


def broadcast_numpy(g, shape):
    """``g`` broadcast to ``shape`` as a fresh, writable array.

    ``np.broadcast_to`` builds a read-only view through a Python-level
    iterator, which costs a few microseconds per call; filling an empty
    array is ten times faster on the small arrays of per-example training.
    """
    out = np.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


def _has_int_array(key) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    for k in parts:
        if isinstance(k, np.ndarray) and k.dtype != np.bool_:
            return True
    return False


#: The fast path: VJPs run on NumPy arrays.
NUMPY_NS = SimpleNamespace(
    value=lambda x: x,
    exp=np.exp,
    log=np.log,
    sin=np.sin,
    cos=np.cos,
    sigmoid=_expit,
    sign=np.sign,
    where=np.where,
    expand_dims=np.expand_dims,
    broadcast_to=broadcast_numpy,
    index_put=index_put_numpy,
)

#: The recorded path (``create_graph=True``); filled in by ``microgradnp.ops``
#: once the differentiable functions exist.
TENSOR_NS = SimpleNamespace()
