"""The public Hypothesis strategies draw what they promise."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.ops import Op
from microgradnp.testing import strategies as mst


@given(mst.arrays(elements=mst.away_from([0.0, 1.0], margin=0.01)))
def test_away_from_keeps_the_margin(a):
    assert np.all(np.abs(a) >= 0.01) and np.all(np.abs(a - 1.0) >= 0.01)
    assert np.all((a >= -3) & (a <= 3))


@given(mst.arrays(shape=mst.shapes(min_dims=1), elements=mst.distinct(margin=1e-3)))
def test_distinct_elements_are_apart(a):
    flat = np.sort(a.ravel())
    assert np.all(np.diff(flat) >= 1e-3 * (1 - 1e-9))


@given(mst.arrays(elements=mst.positive()))
def test_positive(a):
    assert np.all(a > 0)


@given(mst.broadcastable_shapes(3), st.data())
def test_broadcastable_shapes_broadcast(shapes, data):
    np.broadcast_shapes(*shapes)
    assert len(shapes) == 3


@given(mst.matmul_shapes())
def test_matmul_shapes_are_valid(pair):
    np.matmul(np.ones(pair[0]), np.ones(pair[1]))


@given(mst.tensors(shape=(2, 3), dtype=np.float32))
def test_tensors(t):
    assert isinstance(t, mg.Tensor) and t.requires_grad and t.dtype == np.float32 and t.shape == (2, 3)


@given(mst.broadcastable_shapes(2), st.data())
def test_apart_pair_never_ties(shapes, data):
    a, b = data.draw(mst.apart_pair(shapes, margin=1e-3))
    assert np.all(np.abs(a - b) >= 1e-3 * (1 - 1e-9))


def test_op_inputs_rejects_unknown_ops():
    with pytest.raises(ValueError, match="no test metadata"):
        mst.op_inputs(Op("untested", lambda xp, a: a, vjps=(lambda ns, g, out, a: g,), formula="a; g"))
