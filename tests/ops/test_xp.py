"""The NumPy namespace's own functions: the faster forms it uses agree with NumPy's."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from microgradnp.ops import xp

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=40), elements=finite),
       axis=st.sampled_from([0, (0,), 1, (1,), None, (0, 1)]), keepdims=st.booleans(), transposed=st.booleans())
def test_sum_agrees_with_numpy(x, axis, keepdims, transposed):
    if transposed:
        x = x.T  # not C-contiguous
    got = xp.sum(x, axis=axis, keepdims=keepdims)
    want = np.sum(x, axis=axis, keepdims=keepdims)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_column_sums_give_a_fresh_array_each_call():
    x = np.arange(6.0).reshape(3, 2)
    first = xp.sum(x, axis=0)
    first += 100.0  # the result is the caller's: writing into it changes nothing shared
    np.testing.assert_array_equal(xp.sum(x, axis=0), [6.0, 9.0])
    assert first.flags.writeable


@given(dtype=st.sampled_from([np.float32, np.float16, np.int64]), data=st.data())
def test_sum_of_other_dtypes_is_numpys_pairwise_sum(dtype, data):
    x = data.draw(hnp.arrays(dtype, (data.draw(st.integers(0, 50)), 3),
                             elements=st.integers(-100, 100) if dtype is np.int64 else st.floats(-10, 10, width=16)))
    got = xp.sum(x, axis=0)
    np.testing.assert_array_equal(got, np.add.reduce(x, axis=0))
    assert got.dtype == np.add.reduce(x, axis=0).dtype


@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]))
def test_vdot_agrees_with_numpy(data, dtype):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=6))
    a = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-10, 10, width=32)))
    b = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-10, 10, width=32)))
    got, want = xp.vdot(a, b), np.vdot(a, b)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype is np.float32 else 1e-12, atol=1e-6)
