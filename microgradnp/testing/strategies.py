"""Hypothesis strategies for property-testing differentiable functions.

Built on :mod:`hypothesis.extra.numpy`.  Use them in your own ``@given``
tests::

    from hypothesis import given
    import microgradnp as mg
    from microgradnp.testing import gradcheck, strategies as mst

    @given(mst.tensors(elements=mst.positive()))
    def test_my_log_derivative(x):
        assert gradcheck(lambda x: mg.log(x) * x, x)

Domains (``interval``, ``positive``, ``away_from``, ``distinct``) keep drawn
values where a function is differentiable *by construction*: values are
mapped into the allowed set rather than filtered with ``assume``, so no draw
is wasted and shrinking stays effective.

:func:`op_inputs` draws valid inputs for any op of the registry from its test
metadata; the project's own op tests are built on it.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .._tensor import Tensor
from ..ops.reduce import count as _count
from ..ops.registry import REGISTRY, Op

__all__ = [
    "Domain", "interval", "positive", "away_from", "distinct", "apart_pair",
    "shapes", "broadcastable_shapes", "matmul_shapes", "arrays", "tensors", "op_inputs",
]


# ---------------------------------------------------------------------------
# Domains
# ---------------------------------------------------------------------------


class Domain:
    """A set of allowed element values; ``domain.arrays(shape, dtype)`` draws arrays from it.

    Examples
    --------
    >>> from hypothesis import given
    >>> from microgradnp.testing import strategies as mst
    >>> @given(mst.positive(1.0, 2.0).arrays((3,)))
    ... def test(a):
    ...     assert ((a >= 1.0) & (a <= 2.0)).all()
    >>> test()
    """

    def elements(self, dtype) -> st.SearchStrategy:  # pragma: no cover - overridden
        raise NotImplementedError

    def arrays(self, shape, dtype=np.float64) -> st.SearchStrategy:
        """A strategy of arrays of ``shape`` (a tuple or a strategy of tuples) with values in the domain."""
        return hnp.arrays(np.dtype(dtype), shape, elements=self.elements(np.dtype(dtype)))


def _floats(lo, hi, dtype):
    width = 32 if np.dtype(dtype) == np.float32 else (16 if np.dtype(dtype) == np.float16 else 64)
    if width < 64:
        lo = float(np.nextafter(np.asarray(lo, dtype), np.asarray(np.inf, dtype)))
        hi = float(np.nextafter(np.asarray(hi, dtype), np.asarray(-np.inf, dtype)))
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width)


class _Interval(Domain):
    def __init__(self, lo, hi):
        if not lo < hi:
            raise ValueError(f"interval needs lo < hi, got {lo}, {hi}")
        self.lo, self.hi = float(lo), float(hi)

    def elements(self, dtype):
        return _floats(self.lo, self.hi, dtype)

    def __repr__(self):
        return f"interval({self.lo}, {self.hi})"


class _AwayFrom(Domain):
    """The union of the sub-intervals of [lo, hi] that keep ``margin`` from every point."""

    def __init__(self, points, margin, lo, hi):
        self.points = tuple(sorted(float(p) for p in points))
        self.margin, self.lo, self.hi = float(margin), float(lo), float(hi)
        edges = [self.lo] + [e for p in self.points for e in (p - self.margin, p + self.margin)] + [self.hi]
        self.pieces = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a > 2 * self.margin]
        if not self.pieces:
            raise ValueError(f"away_from{self.points}: nothing of [{lo}, {hi}] is {margin} away from the points")

    def elements(self, dtype):
        return st.one_of(*[_floats(a, b, dtype) for a, b in self.pieces])

    def __repr__(self):
        return f"away_from({list(self.points)}, margin={self.margin}, lo={self.lo}, hi={self.hi})"


class _Distinct(Domain):
    """Arrays whose elements differ pairwise by at least ``margin`` (no ties for max/min)."""

    def __init__(self, margin, lo, hi):
        self.margin, self.lo, self.hi = float(margin), float(lo), float(hi)

    def elements(self, dtype):
        return _floats(self.lo, self.hi, dtype)

    def arrays(self, shape, dtype=np.float64):
        dtype = np.dtype(dtype)
        shapes_ = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))

        @st.composite
        def draw(draw_):
            shp = draw_(shapes_)
            n = math.prod(shp)
            if n == 0:
                return np.zeros(shp, dtype=dtype)
            # Sorted values built from gaps >= margin, then shuffled: distinct by construction.
            span = (self.hi - self.lo) / n
            gap = st.floats(self.margin, max(self.margin, span), allow_nan=False, allow_infinity=False)
            gaps = draw_(st.lists(gap, min_size=n, max_size=n))
            values = self.lo + np.cumsum(gaps) - gaps[0] * 0.5
            order = draw_(st.permutations(range(n)))
            return np.asarray(values[list(order)], dtype=dtype).reshape(shp)

        return draw()

    def __repr__(self):
        return f"distinct(margin={self.margin}, lo={self.lo}, hi={self.hi})"


def interval(lo: float = -3.0, hi: float = 3.0) -> Domain:
    """Finite values in ``[lo, hi]``.

    Examples
    --------
    >>> from microgradnp.testing import strategies as mst
    >>> mst.interval(-1, 1)
    interval(-1.0, 1.0)
    """
    return _Interval(lo, hi)


def positive(lo: float = 0.1, hi: float = 10.0) -> Domain:
    """Values in ``[lo, hi]`` with ``lo > 0`` (for log, sqrt, division).

    Examples
    --------
    >>> from microgradnp.testing import strategies as mst
    >>> mst.positive()
    interval(0.1, 10.0)
    """
    if lo <= 0:
        raise ValueError("positive() needs lo > 0")
    return _Interval(lo, hi)


def away_from(points, margin: float = 1e-3, lo: float = -3.0, hi: float = 3.0) -> Domain:
    """Values in ``[lo, hi]`` at least ``margin`` away from each of ``points`` (kinks).

    Examples
    --------
    >>> from microgradnp.testing import strategies as mst
    >>> mst.away_from([0.0])  # for relu and abs
    away_from([0.0], margin=0.001, lo=-3.0, hi=3.0)
    """
    return _AwayFrom(points, margin, lo, hi)


def distinct(margin: float = 1e-3, lo: float = -3.0, hi: float = 3.0) -> Domain:
    """Arrays whose elements are pairwise at least ``margin`` apart (no ties for max/min).

    Examples
    --------
    >>> from microgradnp.testing import strategies as mst
    >>> mst.distinct()
    distinct(margin=0.001, lo=-3.0, hi=3.0)
    """
    return _Distinct(margin, lo, hi)


def _as_domain(elements, default=(-3.0, 3.0)) -> Domain | st.SearchStrategy:
    if elements is None:
        return _Interval(*default)
    if isinstance(elements, tuple):
        return _Interval(*elements)
    return elements


# ---------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes (tuples), 0-d included by default.

    Examples
    --------
    >>> from hypothesis import given
    >>> from microgradnp.testing import strategies as mst
    >>> @given(mst.shapes(min_dims=1, max_dims=2))
    ... def test(shape):
    ...     assert 1 <= len(shape) <= 2
    >>> test()
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(
    n: int = 2, *, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy:
    """Tuples of ``n`` shapes that broadcast together (some axes of size 1, some missing).

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given
    >>> from microgradnp.testing import strategies as mst
    >>> @given(mst.broadcastable_shapes(3))
    ... def test(shapes):
    ...     np.broadcast_shapes(*shapes)
    >>> test()
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda r: r.input_shapes)


def matmul_shapes(max_dims: int = 4, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Pairs of shapes valid for ``a @ b``: 1-D, 2-D and batched operands with broadcast batch axes.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given
    >>> from microgradnp.testing import strategies as mst
    >>> @given(mst.matmul_shapes())
    ... def test(pair):
    ...     a, b = pair
    ...     np.matmul(np.ones(a), np.ones(b))
    >>> test()
    """
    return hnp.mutually_broadcastable_shapes(
        signature="(m?,n),(n,p?)->(m?,p?)", max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda r: r.input_shapes)


# ---------------------------------------------------------------------------
# Arrays and tensors
# ---------------------------------------------------------------------------


def arrays(shape=None, dtype=np.float64, elements=None) -> st.SearchStrategy:
    """NumPy arrays of ``shape`` (a tuple or strategy; default :func:`shapes`) with values from ``elements``.

    ``elements`` is a :class:`Domain`, a ``(lo, hi)`` pair, or a Hypothesis
    strategy of floats; the default is ``interval(-3, 3)``.  A complex
    ``dtype`` (``np.complex128``) draws the real and the imaginary parts
    apart, each from ``elements``.

    Examples
    --------
    >>> from hypothesis import given
    >>> from microgradnp.testing import strategies as mst
    >>> @given(mst.arrays((2, 3), elements=mst.positive()))
    ... def test(a):
    ...     assert a.shape == (2, 3) and (a > 0).all()
    >>> test()
    """
    shape = shapes() if shape is None else shape
    if np.dtype(dtype).kind == "c":  # complex: real and imaginary parts drawn apart, each from ``elements``
        part = _real_dtype(dtype)
        shape = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))
        return shape.flatmap(lambda shp: st.tuples(arrays(shp, part, elements), arrays(shp, part, elements))).map(
            lambda parts: (parts[0] + 1j * parts[1]).astype(dtype))
    dom = _as_domain(elements)
    if isinstance(dom, Domain):
        return dom.arrays(shape, dtype)
    return hnp.arrays(np.dtype(dtype), shape, elements=dom)


def _real_dtype(dtype) -> np.dtype:
    """The dtype of the real and imaginary parts of a complex ``dtype`` (``dtype`` itself when real)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "c":
        return dtype
    return np.dtype(np.float32) if dtype == np.complex64 else np.dtype(np.float64)


def tensors(shape=None, dtype=np.float64, elements=None, requires_grad: bool = True) -> st.SearchStrategy:
    """Tensors of ``shape`` and ``dtype`` with values from ``elements`` (see :func:`arrays`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> from hypothesis import given
    >>> from microgradnp.testing import gradcheck, strategies as mst
    >>> @given(mst.tensors(shape=(3,), elements=mst.away_from([0.0])))
    ... def test_abs(x):
    ...     assert gradcheck(mg.abs, x)
    >>> test_abs()
    """
    return arrays(shape, dtype, elements).map(lambda a: Tensor(a, requires_grad=requires_grad, dtype=a.dtype))


def apart_pair(shapes_pair, margin: float = 1e-3, lo: float = -3.0, hi: float = 3.0, dtype=np.float64):
    """Two arrays (of two broadcastable shapes) whose elements differ by at least ``margin`` wherever they meet.

    ``a`` takes values in the cells ``[4km, 4km + m)`` and ``b`` in
    ``[4km + 2m, 4km + 3m)`` (``m = margin``), so every ``a - b`` is at least
    ``m`` away from 0 by construction: no ties for ``maximum``/``minimum``.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given
    >>> from microgradnp.testing import strategies as mst
    >>> @given(mst.apart_pair(((3,), (2, 1)), margin=0.01))
    ... def test(pair):
    ...     a, b = pair
    ...     assert np.all(np.abs(a - b) >= 0.01 * (1 - 1e-9))
    >>> test()
    """
    m = float(margin)

    @st.composite
    def draw(draw_):
        sa, sb = shapes_pair
        ra = draw_(arrays(sa, np.float64, (lo, hi)))
        rb = draw_(arrays(sb, np.float64, (lo, hi)))
        cell = 4.0 * m
        a = cell * np.floor(ra / cell) + np.mod(ra, cell) / 4.0
        b = cell * np.floor(rb / cell) + 2.0 * m + np.mod(rb, cell) / 4.0
        return a.astype(dtype), b.astype(dtype)

    return draw()


# ---------------------------------------------------------------------------
# Inputs for registry ops
# ---------------------------------------------------------------------------


def _domains(meta, n):
    d = meta.domain
    if isinstance(d[0], (tuple, list)):
        return list(d)
    return [d] * n


def _elements(meta, lo, hi):
    if meta.kinks:
        return away_from(meta.kinks, meta.margin, lo, hi)
    return interval(lo, hi)


def _axis_choice(draw, ndim, allow_none=True, allow_tuple=True):
    options = []
    if allow_none:
        options.append("none")
    if ndim:
        options.append("int")
        if allow_tuple:
            options.append("tuple")
    kind = draw(st.sampled_from(options))
    if kind == "none":
        return None
    if kind == "int":
        ax = draw(st.integers(0, ndim - 1))
        return ax - ndim if draw(st.booleans()) else ax
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


def _index_key(draw, shape):
    kind = draw(st.sampled_from(["basic", "int_array", "bool_mask"] if shape else ["basic"]))
    if kind == "basic":
        return draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    if kind == "int_array":
        # Integer arrays with repeated indices: their gradients must accumulate.
        key = draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=5)))
        return key if len(key) > 1 else key[0]
    return draw(hnp.arrays(np.bool_, shape))


def op_inputs(op, dtype=np.float64) -> st.SearchStrategy:
    """Valid ``(inputs, attrs)`` for a registry op, drawn from its :class:`~microgradnp.ops.OpTest` metadata.

    ``inputs`` is a tuple of Tensors with ``requires_grad=True`` (boolean
    inputs, the condition of ``where``, and integer ones, the labels of
    ``pick`` and the indices of ``embedding``, are Tensors without grad);
    ``attrs`` is the keyword arguments the op takes.  Kinks, ties and domain edges are
    avoided by construction.  With a complex ``dtype`` each floating input gets
    an imaginary part drawn from its own domain.

    Examples
    --------
    >>> from hypothesis import given
    >>> from microgradnp.engine import apply
    >>> from microgradnp.ops import REGISTRY
    >>> from microgradnp.testing import gradcheck, strategies as mst
    >>> op = REGISTRY["sigmoid"]
    >>> @given(mst.op_inputs(op))
    ... def test_sigmoid(case):
    ...     inputs, attrs = case
    ...     assert gradcheck(lambda *xs: apply(op, xs, attrs), inputs)
    >>> test_sigmoid()
    """
    if isinstance(op, str):
        op = REGISTRY[op]
    if not isinstance(op, Op) or op.test is None:
        raise ValueError(f"op_inputs: {op!r} has no test metadata")
    meta = op.test
    builder = _SIGNATURES.get(meta.sig)
    if builder is None:
        raise ValueError(f"op_inputs: op {op.name!r} has an unknown signature {meta.sig!r}")
    dtype = np.dtype(dtype)
    part = _real_dtype(dtype)

    @st.composite
    def draw(draw_):
        arrays_, attrs = builder(draw_, meta, part)
        if dtype.kind == "c":  # each floating input given an imaginary part from its own domain
            domains = _domains(meta, len(arrays_))
            arrays_ = [a if a.dtype.kind in "biu" else
                       a + 1j * draw_(arrays(a.shape, part, _elements(meta, *domains[min(i, len(domains) - 1)])))
                       for i, a in enumerate(arrays_)]
        return tuple(Tensor(a, dtype=a.dtype) if a.dtype.kind in "biu" else Tensor(a, requires_grad=True, dtype=dtype)
                     for a in arrays_), attrs

    return draw()


def _sig_unary(draw, meta, dtype):
    (lo, hi), = _domains(meta, 1)
    return [draw(_elements(meta, lo, hi).arrays(shapes(), dtype))], {}


def _sig_binary(draw, meta, dtype):
    sa, sb = draw(broadcastable_shapes(2))
    if meta.apart:
        (lo, hi), _ = _domains(meta, 2)
        return list(draw(apart_pair((sa, sb), meta.margin, lo, hi, dtype))), {}
    (la, ha), (lb, hb) = _domains(meta, 2)
    return [draw(_elements(meta, la, ha).arrays(sa, dtype)), draw(_elements(meta, lb, hb).arrays(sb, dtype))], {}


def _reduce_input(draw, meta, dtype, shape):
    (lo, hi), = _domains(meta, 1)
    dom = distinct(meta.margin, lo, hi) if meta.distinct else _elements(meta, lo, hi)
    return draw(dom.arrays(shape, dtype))


def _sig_reduce(draw, meta, dtype):
    shape = draw(shapes())
    axis = _axis_choice(draw, len(shape))
    return [_reduce_input(draw, meta, dtype, shape)], {"axis": axis, "keepdims": draw(st.booleans())}


def _sig_var(draw, meta, dtype):
    shape = draw(shapes())
    axis = _axis_choice(draw, len(shape))
    ddof = draw(st.sampled_from([0, 1])) if _count(shape, axis) >= 2 else 0
    return [_reduce_input(draw, meta, dtype, shape)], {"axis": axis, "ddof": ddof, "keepdims": draw(st.booleans())}


def _sig_axis(draw, meta, dtype):
    shape = draw(shapes(min_dims=1))
    ax = draw(st.integers(-len(shape), len(shape) - 1))
    return [_reduce_input(draw, meta, dtype, shape)], {"axis": ax}


def _sig_clip(draw, meta, dtype):
    lo = draw(st.one_of(st.none(), st.floats(-2.0, 0.0)))
    hi = draw(st.one_of(st.none(), st.floats(0.5, 2.0)))
    points = [p for p in (lo, hi) if p is not None]
    dom = away_from(points, meta.margin) if points else interval()
    return [draw(dom.arrays(shapes(), dtype))], {"lo": lo, "hi": hi}


def _sig_matmul(draw, meta, dtype):
    sa, sb = draw(matmul_shapes())
    dom = interval(*meta.domain)
    return [draw(dom.arrays(sa, dtype)), draw(dom.arrays(sb, dtype))], {}


def _plain(draw, meta, dtype, shape):
    return draw(interval(*meta.domain).arrays(shape, dtype))


def _sig_reshape(draw, meta, dtype):
    shape = draw(shapes())
    n = math.prod(shape)
    options = [(n,), tuple(reversed(shape)), shape + (1,), (1,) + shape, (-1,)]
    if len(shape) >= 2:
        options.append((shape[0], -1))
    return [_plain(draw, meta, dtype, shape)], {"shape": draw(st.sampled_from(options))}


def _sig_transpose(draw, meta, dtype):
    shape = draw(shapes())
    axes = draw(st.one_of(st.none(), st.permutations(range(len(shape))).map(tuple)))
    return [_plain(draw, meta, dtype, shape)], {"axes": axes}


def _sig_squeeze(draw, meta, dtype):
    base = draw(shapes(max_dims=2))
    ones_at = draw(st.lists(st.integers(0, len(base)), max_size=2))
    shape = list(base)
    for pos in sorted(ones_at, reverse=True):
        shape.insert(pos, 1)
    shape = tuple(shape)
    ones = [i for i, s in enumerate(shape) if s == 1]
    axis = draw(st.one_of(st.none(), st.lists(st.sampled_from(ones), min_size=1, unique=True).map(tuple))) if ones else None
    return [_plain(draw, meta, dtype, shape)], {"axis": axis}


def _sig_expand_dims(draw, meta, dtype):
    shape = draw(shapes())
    axis = draw(st.integers(-(len(shape) + 1), len(shape)))
    return [_plain(draw, meta, dtype, shape)], {"axis": axis}


def _sig_flatten(draw, meta, dtype):
    shape = draw(shapes(min_dims=1))
    nd = len(shape)
    s = draw(st.integers(0, nd - 1))
    e = draw(st.integers(s, nd - 1))
    return [_plain(draw, meta, dtype, shape)], {"start_dim": s - nd if draw(st.booleans()) else s, "end_dim": e - nd if draw(st.booleans()) else e}


def _sig_broadcast_to(draw, meta, dtype):
    target = draw(shapes(max_dims=3))
    drop = draw(st.integers(0, len(target)))
    shape = tuple(1 if draw(st.booleans()) else s for s in target[drop:])
    return [_plain(draw, meta, dtype, shape)], {"shape": target}


def _sig_getitem(draw, meta, dtype):
    shape = draw(shapes())
    return [_plain(draw, meta, dtype, shape)], {"key": _index_key(draw, shape)}


def _sig_index_put(draw, meta, dtype):
    shape = draw(shapes())
    key = _index_key(draw, shape)
    vshape = np.zeros(shape)[key].shape
    return [_plain(draw, meta, dtype, vshape)], {"key": key, "shape": shape}


def _sig_concatenate(draw, meta, dtype):
    base = draw(shapes(min_dims=1))
    ax = draw(st.integers(0, len(base) - 1))
    k = draw(st.integers(1, 3))
    arrays_ = []
    for _ in range(k):
        shape = base[:ax] + (draw(st.integers(1, 3)),) + base[ax + 1 :]
        arrays_.append(_plain(draw, meta, dtype, shape))
    return arrays_, {"axis": ax - len(base) if draw(st.booleans()) else ax}


def _sig_stack(draw, meta, dtype):
    shape = draw(shapes())
    k = draw(st.integers(1, 3))
    ax = draw(st.integers(-(len(shape) + 1), len(shape)))
    return [_plain(draw, meta, dtype, shape) for _ in range(k)], {"axis": ax}


def _sig_remainder(draw, meta, dtype):
    # a = (q + f) * b with an integer q and a fraction f kept 0.05 from 0 and 1, so
    # a / b stays away from the integers, where the remainder jumps.
    shape = draw(shapes())
    drop = draw(st.integers(0, len(shape)))
    bshape = tuple(1 if draw(st.booleans()) else s for s in shape[drop:])
    b = draw(interval(0.5, 3.0).arrays(bshape)) * draw(st.sampled_from([1.0, -1.0]))
    q = draw(hnp.arrays(np.int64, shape, elements=st.integers(-3, 3)))
    f = draw(interval(0.05, 0.95).arrays(shape))
    a = (q + f) * b
    return [a.astype(dtype), b.astype(dtype)], {}


def _sig_std(draw, meta, dtype):
    # Every slice has at least two elements, pairwise distinct: the deviation is never 0,
    # where the square root has no derivative.
    shape = draw(shapes(min_dims=1, min_side=2))
    axis = _axis_choice(draw, len(shape))
    ddof = draw(st.sampled_from([0, 1]))
    return [_reduce_input(draw, meta, dtype, shape)], {"axis": axis, "ddof": ddof, "keepdims": draw(st.booleans())}


def _sig_average(draw, meta, dtype):
    shape = draw(shapes())
    x = _plain(draw, meta, dtype, shape)
    kind = draw(st.sampled_from(["none", "same", "along"] if shape else ["none", "same"]))
    if kind == "none":
        return [x], {"axis": _axis_choice(draw, len(shape))}
    if kind == "same":  # positive weights: their sums are never 0
        return [x, draw(positive(0.5, 2.0).arrays(shape, dtype))], {"axis": _axis_choice(draw, len(shape)),
                                                                     "wshape": None}
    axis = draw(st.integers(0, len(shape) - 1))
    wshape = tuple(n if i == axis else 1 for i, n in enumerate(shape))
    return [x, draw(positive(0.5, 2.0).arrays((shape[axis],), dtype))], {"axis": axis, "wshape": wshape}


def _sig_argreduce(draw, meta, dtype):
    shape = draw(shapes())
    axis = _axis_choice(draw, len(shape), allow_tuple=False)
    return [_reduce_input(draw, meta, dtype, shape)], {"axis": axis, "keepdims": draw(st.booleans())}


def _sig_scan(draw, meta, dtype):
    shape = draw(shapes())
    axis = _axis_choice(draw, len(shape), allow_tuple=False)
    return [_reduce_input(draw, meta, dtype, shape)], {"axis": axis}


def _sig_sort(draw, meta, dtype):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    return [_reduce_input(draw, meta, dtype, shape)], {"axis": axis}


def _sig_diff(draw, meta, dtype):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return [_plain(draw, meta, dtype, shape)], {"n": draw(st.integers(0, 3)), "axis": axis}


def _sig_flip(draw, meta, dtype):
    shape = draw(shapes())
    return [_plain(draw, meta, dtype, shape)], {"axis": _axis_choice(draw, len(shape))}


def _sig_take_along_axis(draw, meta, dtype):
    shape = draw(shapes(min_dims=1))
    x = _plain(draw, meta, dtype, shape)
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    n = math.prod(shape) if axis is None else shape[axis]
    ishape = (draw(st.integers(1, 5)),) if axis is None else \
        tuple(draw(st.integers(1, 4)) if i == axis % len(shape) else s for i, s in enumerate(shape))
    indices = draw(hnp.arrays(np.int64, ishape, elements=st.integers(-n, n - 1)))  # repeats must accumulate
    return [x], REGISTRY["take_along_axis"].adapter(x, indices, axis)[1]


def _sig_diagonal(draw, meta, dtype):
    shape = draw(shapes(min_dims=2))
    x = _plain(draw, meta, dtype, shape)
    axis1, axis2 = draw(st.permutations(range(len(shape))))[:2]
    offset = draw(st.integers(-2, 2))
    return [x], REGISTRY["diagonal"].adapter(x, offset, axis1 - len(shape) * draw(st.integers(0, 1)), axis2)[1]


def _sig_diag(draw, meta, dtype):
    x = _plain(draw, meta, dtype, draw(shapes(min_dims=1, max_dims=2)))
    return [x], REGISTRY["diag"].adapter(x, draw(st.integers(-2, 2)))[1]


def _sig_triangle(draw, meta, dtype):
    return [_plain(draw, meta, dtype, draw(shapes(min_dims=2)))], {"k": draw(st.integers(-2, 2))}


def _sig_einsum(draw, meta, dtype):
    # Random subscripts over the letters a-d: one to three operands, repeated letters
    # (diagonals), letters summed in one operand only, and sometimes a broadcast "...".
    size = {c: draw(st.integers(1, 3)) for c in "abcd"}
    k = draw(st.integers(1, 3))
    subs = [draw(st.lists(st.sampled_from("abcd"), max_size=3)) for _ in range(k)]
    used = sorted(set().union(*subs))
    out = draw(st.permutations(used).flatmap(lambda p: st.integers(0, len(p)).map(lambda n: p[:n])))
    batch = draw(broadcastable_shapes(k, max_dims=2, max_side=3)) if draw(st.booleans()) else None
    arrays_ = []
    for i, sub in enumerate(subs):
        shape = (batch[i] if batch else ()) + tuple(size[c] for c in sub)
        arrays_.append(_plain(draw, meta, dtype, shape))
    dots = "..." if batch else ""
    explicit = draw(st.booleans())
    subscripts = ",".join(dots + "".join(sub) for sub in subs) + ("->" + dots + "".join(out) if explicit else "")
    return arrays_, REGISTRY["einsum"].adapter(subscripts, *arrays_)[1]


def _product_pair(draw, meta, dtype, name, sa, sb, *args):
    a, b = _plain(draw, meta, dtype, sa), _plain(draw, meta, dtype, sb)
    return [a, b], REGISTRY[name].adapter(a, b, *args)[1]


def _sig_dot(draw, meta, dtype):
    na, nb = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    n = draw(st.integers(1, 3))
    sa = () if na == 0 else draw(shapes(na - 1, na - 1)) + (n,)
    sb = () if nb == 0 else (n,) if nb == 1 else draw(shapes(nb - 2, nb - 2)) + (n, draw(st.integers(1, 3)))
    return _product_pair(draw, meta, dtype, "dot", sa, sb)


def _sig_inner(draw, meta, dtype):
    na, nb = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    n = draw(st.integers(1, 3))
    sa = () if na == 0 else draw(shapes(na - 1, na - 1)) + (n,)
    sb = () if nb == 0 else draw(shapes(nb - 1, nb - 1)) + (n,)
    return _product_pair(draw, meta, dtype, "inner", sa, sb)


def _sig_outer(draw, meta, dtype):
    return _product_pair(draw, meta, dtype, "outer", draw(shapes()), draw(shapes()))


def _sig_vdot(draw, meta, dtype):
    sa = draw(shapes())
    return _product_pair(draw, meta, dtype, "vdot", sa, sa[::-1])


def _sig_tensordot(draw, meta, dtype):
    shared = draw(shapes(0, 2))
    fa, fb = draw(shapes(0, 2)), draw(shapes(0, 2))
    if draw(st.booleans()):
        return _product_pair(draw, meta, dtype, "tensordot", fa + shared, shared + fb, len(shared))
    # Named axes, in any order on either side.
    pa = draw(st.permutations(range(len(fa) + len(shared))))
    pb = draw(st.permutations(range(len(shared) + len(fb))))
    sa, sb = [0] * len(pa), [0] * len(pb)
    for dst, src in enumerate(pa):
        sa[dst] = (fa + shared)[src]
    for dst, src in enumerate(pb):
        sb[dst] = (shared + fb)[src]
    xa = [pa.index(len(fa) + i) for i in range(len(shared))]
    xb = [pb.index(i) for i in range(len(shared))]
    return _product_pair(draw, meta, dtype, "tensordot", tuple(sa), tuple(sb), (xa, xb))


def _sig_kron(draw, meta, dtype):
    return _product_pair(draw, meta, dtype, "kron", draw(shapes(0, 2, max_side=3)), draw(shapes(0, 2, max_side=3)))


def _sig_permutation(draw, meta, dtype):
    shape = draw(shapes())
    return [_plain(draw, meta, dtype, shape)], {"perm": tuple(draw(st.permutations(range(len(shape)))))}


def _sig_tile(draw, meta, dtype):
    shape = draw(shapes(max_dims=2, max_side=3))
    x = _plain(draw, meta, dtype, shape)
    reps = draw(st.one_of(st.integers(0, 3), st.lists(st.integers(1, 3), max_size=3).map(tuple)))
    return [x], REGISTRY["tile"].adapter(x, reps)[1]


def _sig_roll(draw, meta, dtype):
    shape = draw(shapes())
    x = _plain(draw, meta, dtype, shape)
    if not shape or draw(st.booleans()):
        return [x], {"shift": draw(st.integers(-5, 5)), "axis": None}
    axes = tuple(draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True)))
    shift = tuple(draw(st.integers(-5, 5)) for _ in axes)
    return [x], {"shift": shift, "axis": axes}


def _sig_rot90(draw, meta, dtype):
    shape = draw(shapes(min_dims=2))
    x = _plain(draw, meta, dtype, shape)
    axes = tuple(draw(st.permutations(range(len(shape))))[:2])
    return [x], REGISTRY["rot90"].adapter(x, draw(st.integers(-4, 4)), axes)[1]


def _sig_pad(draw, meta, dtype):
    shape = draw(shapes())
    x = _plain(draw, meta, dtype, shape)
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
    widths = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in shape)
    return [x], REGISTRY["pad"].adapter(x, widths, mode, draw(st.floats(-2.0, 2.0)))[1]


def _sig_take(draw, meta, dtype):
    shape = draw(shapes())
    x = _plain(draw, meta, dtype, shape)
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1))) if shape else None
    n = math.prod(shape) if axis is None else shape[axis]
    indices = draw(hnp.arrays(np.int64, shapes(0, 2), elements=st.integers(-n, n - 1)))
    return [x], REGISTRY["take"].adapter(x, indices, axis)[1]


def _sig_repeat(draw, meta, dtype):
    shape = draw(shapes())
    x = _plain(draw, meta, dtype, shape)
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1))) if shape else None
    n = math.prod(shape) if axis is None else shape[axis]
    repeats = draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    return [x], REGISTRY["repeat"].adapter(x, repeats, axis)[1]


def _sig_select(draw, meta, dtype):
    k = draw(st.integers(1, 3))
    all_shapes = draw(broadcastable_shapes(2 * k + 1))
    conds = tuple(draw(hnp.arrays(np.bool_, s)) for s in all_shapes[:k])
    arrays_ = [_plain(draw, meta, dtype, s) for s in all_shapes[k:]]
    return arrays_, {"conds": conds}


def _sig_where(draw, meta, dtype):
    sc, sa, sb = draw(broadcastable_shapes(3))
    cond = draw(hnp.arrays(np.bool_, sc))
    return [_plain(draw, meta, dtype, sa), _plain(draw, meta, dtype, sb), cond], {}


def _sig_pick(draw, meta, dtype):
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    labels = np.asarray(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    return [_plain(draw, meta, dtype, (n, c)), labels], {}


def _sig_embedding(draw, meta, dtype):
    rows, width = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    shape = draw(shapes(min_dims=0, max_dims=2))
    indices = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, rows - 1)))
    return [_plain(draw, meta, dtype, (rows, width)), indices], {}


def _sig_linear(draw, meta, dtype):
    batch = draw(shapes(min_dims=0, max_dims=2))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    arrays_ = [_plain(draw, meta, dtype, batch + (n_in,)), _plain(draw, meta, dtype, (n_out, n_in))]
    if draw(st.booleans()):
        arrays_.append(_plain(draw, meta, dtype, (n_out,)))
    return arrays_, {}


def _sig_loss(draw, meta, dtype):
    shape = draw(shapes())
    (la, ha), (lb, hb) = _domains(meta, 2)  # e.g. probabilities and targets in their own ranges
    arrays_ = [draw(_elements(meta, la, ha).arrays(shape, dtype)), draw(_elements(meta, lb, hb).arrays(shape, dtype))]
    return arrays_, {"reduction": draw(st.sampled_from(["sum", "mean", "batchmean", "none"]))}


def _sig_scaled_loss(draw, meta, dtype):
    arrays_, attrs = _sig_loss(draw, meta, dtype)
    attrs["scale"] = draw(st.sampled_from([1.0, 0.5, 2.0]))
    return arrays_, attrs


def _sig_astype(draw, meta, dtype):
    return [_plain(draw, meta, dtype, draw(shapes()))], {"dtype": np.dtype(np.float64)}


# Linear algebra: matrices built to be away from where the derivative stops
# existing (singular, repeated eigenvalues or singular values), by
# construction, in float64 and then cast to the dtype under test.


def _batch(draw):
    return draw(shapes(max_dims=1, max_side=3))


def _noise(draw, shape):
    return draw(interval(-1.0, 1.0).arrays(shape, np.float64))


def _dominant(draw, batch, m, n, signs=True):
    """``(m, n)`` matrices whose leading ``min(m, n)`` block is strictly diagonally dominant:
    full rank, condition number below ``2 max(m, n) + 1``, determinant of either sign."""
    k = min(m, n)
    d = np.zeros((m, n))
    d[range(k), range(k)] = draw(st.lists(st.sampled_from([-1.0, 1.0] if signs else [1.0]), min_size=k, max_size=k))
    return _noise(draw, batch + (m, n)) + (max(m, n) + 1.0) * d


def _orthonormal(draw, batch, m, k):
    """``(m, k)`` matrices with orthonormal columns (Householder QR of a drawn matrix: any draw works)."""
    return np.linalg.qr(_noise(draw, batch + (m, k)))[0]


def _spread(draw, k, lo, gap):
    """``k`` increasing values from ``lo``, consecutive ones at least ``gap`` apart."""
    return lo + np.cumsum([0.0] + draw(st.lists(st.floats(gap, 2 * gap), min_size=k - 1, max_size=k - 1)))


def _one_triangle(draw, S, upper):
    """``S`` in the triangle an op reads, unrelated numbers in the other one (they must not matter)."""
    junk = _noise(draw, S.shape)
    return np.triu(S) + np.tril(junk, -1) if upper else np.tril(S) + np.triu(junk, 1)


def _sig_square(draw, meta, dtype):
    n = draw(st.integers(1, 4))
    return [_dominant(draw, _batch(draw), n, n).astype(dtype)], {}


def _sig_slogdet(draw, meta, dtype):
    [a], _ = _sig_square(draw, meta, dtype)
    return [a], REGISTRY["slogdet"].adapter(a)[1]


def _sig_solve(draw, meta, dtype):
    n = draw(st.integers(1, 4))
    a = _dominant(draw, _batch(draw), n, n)
    kind = draw(st.sampled_from(["vector", "matrix", "batched"]))
    bshape = (n,) if kind == "vector" else ((n, draw(st.integers(1, 3))) if kind == "matrix" else
                                             (draw(st.integers(1, 3)), n, draw(st.integers(1, 3))))
    if kind == "batched" and a.ndim == 3 and a.shape[0] != bshape[0]:
        bshape = (a.shape[0],) + bshape[1:]
    return [a.astype(dtype), _noise(draw, bshape).astype(dtype)], {}


def _sig_spd(draw, meta, dtype):
    n = draw(st.integers(1, 4))
    M = _noise(draw, _batch(draw) + (n, n))
    S = M @ np.swapaxes(M, -1, -2) + np.eye(n)  # eigenvalues >= 1
    upper = draw(st.booleans())
    return [_one_triangle(draw, S, upper).astype(dtype)], ({"upper": True} if upper else {})


def _sig_eigh(draw, meta, dtype):
    n = draw(st.integers(1, 4))
    batch = _batch(draw)
    V = _orthonormal(draw, batch, n, n)
    w = _spread(draw, n, draw(st.floats(-2.0, 0.0)), 0.5)
    S = (V * w) @ np.swapaxes(V, -1, -2)
    S = (S + np.swapaxes(S, -1, -2)) / 2
    UPLO = draw(st.sampled_from(["L", "U"]))
    a = _one_triangle(draw, S, UPLO == "U").astype(dtype)
    return [a], REGISTRY["eigh"].adapter(a, UPLO)[1]


def _sig_eig(draw, meta, dtype):
    # A = Q T Q^T (a real Schur form): distinct real eigenvalues on T's diagonal, T upper triangular so that
    # A is not normal (its eigenvectors are not orthogonal), Q orthonormal.
    n = draw(st.integers(1, 4))
    batch = _batch(draw)
    # (times a fixed generic rotation: A is never triangular, where LAPACK's order of the eigenvalues can
    # change under a perturbation, which finite differences would see as a jump)
    Q = _orthonormal(draw, batch, n, n) @ np.linalg.qr(np.sin(np.arange(1.0, 1.0 + n * n)).reshape(n, n))[0]
    w = _spread(draw, n, draw(st.floats(-2.0, 0.0)), 0.5)
    T = np.triu(draw(interval(-0.5, 0.5).arrays(batch + (n, n), np.float64)), 1) + np.eye(n) * w
    a = (Q @ T @ np.swapaxes(Q, -1, -2)).astype(dtype)
    return [a], REGISTRY["eig"].adapter(a)[1]


def _sig_svd(draw, meta, dtype):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    k = min(m, n)
    batch = _batch(draw)
    s = _spread(draw, k, 0.5, 0.4)[::-1]
    a = ((_orthonormal(draw, batch, m, k) * s) @ np.swapaxes(_orthonormal(draw, batch, n, k), -1, -2)).astype(dtype)
    compute_uv = draw(st.booleans())
    full = m == n and draw(st.booleans())  # full U and Vh of a non-square matrix have non-unique columns
    return [a], REGISTRY["svd"].adapter(a, full_matrices=full, compute_uv=compute_uv)[1]


def _sig_qr(draw, meta, dtype):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    a = _dominant(draw, _batch(draw), m, n, signs=False).astype(dtype)
    return [a], REGISTRY["qr"].adapter(a, mode=draw(st.sampled_from(["reduced", "r"])))[1]


def _sig_full_rank(draw, meta, dtype):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return [_dominant(draw, _batch(draw), m, n).astype(dtype)], {}


def _sig_lstsq(draw, meta, dtype):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    a = _dominant(draw, (), m, n).astype(dtype)
    b = _noise(draw, (m,) if draw(st.booleans()) else (m, draw(st.integers(1, 3)))).astype(dtype)
    return [a, b], REGISTRY["lstsq_solution"].adapter(a, b)[1]


def _sig_vector_norm(draw, meta, dtype):
    # Magnitudes pairwise apart (no ties for inf), none near 0 (|x|'s kink), random signs.
    shape = draw(shapes(min_dims=1))
    magnitude = draw(distinct(0.05, 0.2, 3.0).arrays(shape, np.float64))
    x = (magnitude * np.array(draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0]))))).astype(dtype)
    ord_ = draw(st.sampled_from([None, 1, 2, np.inf, -np.inf, 0, 3, 0.5, -1.5]))
    axis = _axis_choice(draw, len(shape))
    return [x], REGISTRY["vector_norm"].adapter(x, ord_, axis, draw(st.booleans()))[1]


def _fft_case(draw):
    shape = list(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    order = draw(st.permutations(range(-len(shape), 0)))
    axes = tuple(order[: draw(st.integers(1, len(shape)))])
    return shape, axes, draw(st.sampled_from(["backward", "ortho", "forward"]))


def _sig_fft(draw, meta, dtype):
    shape, axes, norm = _fft_case(draw)
    return [_plain(draw, meta, dtype, tuple(shape))], {"axes": axes, "norm": norm}


def _sig_irfft(draw, meta, dtype):
    shape, axes, norm = _fft_case(draw)
    n = draw(st.integers(1, 8))  # the output's length: odd and even, the input's last axis n // 2 + 1
    shape[axes[-1]] = n // 2 + 1
    return [_plain(draw, meta, dtype, tuple(shape))], {"axes": axes, "n": n, "norm": norm}


_SIGNATURES = {
    "unary": _sig_unary,
    "fft": _sig_fft,
    "irfft": _sig_irfft,
    "binary": _sig_binary,
    "reduce": _sig_reduce,
    "var": _sig_var,
    "axis": _sig_axis,
    "clip": _sig_clip,
    "matmul": _sig_matmul,
    "reshape": _sig_reshape,
    "transpose": _sig_transpose,
    "squeeze": _sig_squeeze,
    "expand_dims": _sig_expand_dims,
    "flatten": _sig_flatten,
    "broadcast_to": _sig_broadcast_to,
    "getitem": _sig_getitem,
    "index_put": _sig_index_put,
    "concatenate": _sig_concatenate,
    "stack": _sig_stack,
    "where": _sig_where,
    "pick": _sig_pick,
    "embedding": _sig_embedding,
    "remainder": _sig_remainder,
    "std": _sig_std,
    "average": _sig_average,
    "argreduce": _sig_argreduce,
    "scan": _sig_scan,
    "sort": _sig_sort,
    "diff": _sig_diff,
    "flip": _sig_flip,
    "take_along_axis": _sig_take_along_axis,
    "diagonal": _sig_diagonal,
    "diag": _sig_diag,
    "triangle": _sig_triangle,
    "einsum": _sig_einsum,
    "dot": _sig_dot,
    "inner": _sig_inner,
    "outer": _sig_outer,
    "vdot": _sig_vdot,
    "tensordot": _sig_tensordot,
    "kron": _sig_kron,
    "permutation": _sig_permutation,
    "tile": _sig_tile,
    "roll": _sig_roll,
    "rot90": _sig_rot90,
    "pad": _sig_pad,
    "take": _sig_take,
    "repeat": _sig_repeat,
    "select": _sig_select,
    "astype": _sig_astype,
    "linear": _sig_linear,
    "loss": _sig_loss,
    "scaled_loss": _sig_scaled_loss,
    "square": _sig_square,
    "slogdet": _sig_slogdet,
    "solve": _sig_solve,
    "spd": _sig_spd,
    "eigh": _sig_eigh,
    "eig": _sig_eig,
    "svd": _sig_svd,
    "qr": _sig_qr,
    "full_rank": _sig_full_rank,
    "lstsq": _sig_lstsq,
    "vector_norm": _sig_vector_norm,
}

#: The input signatures :func:`op_inputs` knows.
SIGNATURES = frozenset(_SIGNATURES)
