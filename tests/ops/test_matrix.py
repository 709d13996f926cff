"""Diagonals and triangles beyond the property tests: NumPy's layouts and the errors."""

import numpy as np
import pytest

import microgradnp as mg


def test_diagonal_of_a_stack_is_the_last_axis_and_a_new_array():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = mg.tensor(a, requires_grad=True)
    d = mg.diagonal(t, offset=1, axis1=1, axis2=2)
    np.testing.assert_array_equal(d.data, np.diagonal(a, 1, 1, 2))
    assert d.data.flags.writeable
    d.sum().backward()
    expected = np.zeros_like(a)
    for i in range(3):
        if i + 1 < 4:
            expected[:, i, i + 1] = 1.0
    np.testing.assert_array_equal(t.grad, expected)


def test_trace_diag_tril_triu_follow_numpy():
    a = np.arange(12.0).reshape(3, 4)
    t = mg.tensor(a)
    assert mg.trace(t, offset=-1).item() == np.trace(a, offset=-1)
    np.testing.assert_array_equal(mg.diag(t, k=2).data, np.diag(a, k=2))
    np.testing.assert_array_equal(mg.diag(mg.tensor([1.0, 2.0]), k=-1).data, np.diag([1.0, 2.0], k=-1))
    np.testing.assert_array_equal(mg.tril(t, k=1).data, np.tril(a, k=1))
    np.testing.assert_array_equal(t.triu(k=-1).data, np.triu(a, k=-1))


def test_matrix_ops_refuse_inputs_without_two_axes():
    v = mg.tensor([1.0, 2.0])
    for f in (mg.diagonal, mg.trace, mg.tril, mg.triu):
        with pytest.raises(ValueError, match="at least two dimensions"):
            f(v)
    with pytest.raises(ValueError, match="axis1 and axis2 must differ"):
        mg.diagonal(mg.tensor(np.ones((2, 2))), axis1=0, axis2=-2)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        mg.diag(mg.tensor(np.ones((2, 2, 2))))
