"""Reductions beyond the property tests: ties at max/min, the softmax family at extreme logits, axes, empty inputs."""

import warnings

import numpy as np
import pytest

import microgradnp as mg


def test_ties_at_max_and_min_share_the_gradient_as_pytorch_does():
    t = mg.tensor([2.0, 5.0, 5.0, 1.0], requires_grad=True)
    t.max().backward()
    np.testing.assert_array_equal(t.grad, [0, 0.5, 0.5, 0])
    t.grad = None
    t.min().backward()
    np.testing.assert_array_equal(t.grad, [0, 0, 0, 1])


def test_softmax_family_is_stable_at_extreme_logits():
    logits = mg.tensor([[1000.0, -1000.0], [-1000.0, -1000.0]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(mg.log_softmax(logits, axis=1).data, [[0.0, -2000.0], [-np.log(2), -np.log(2)]])
        np.testing.assert_allclose(mg.logsumexp(logits, axis=1).data, [1000.0, -1000.0 + np.log(2)], rtol=1e-15)
        mg.log_softmax(logits, axis=1)[:, 0].sum().backward()
        np.testing.assert_allclose(logits.grad, [[0.0, 0.0], [0.5, -0.5]], atol=1e-300)


REDUCTIONS = ["sum", "mean", "max", "min", "logsumexp", "var", "softmax", "log_softmax"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", [0, -1, (0,)])
def test_a_0d_tensor_reduces_over_axis_0_or_minus_1_as_in_pytorch(name, axis):
    # A scalar counts as one dimension: the forward and the backward both work.
    x = mg.tensor(2.0, requires_grad=True)
    y = getattr(mg, name)(x, axis=axis)
    y.backward()
    expected = {"var": 0.0, "softmax": 1.0, "log_softmax": 0.0}.get(name, 2.0)
    assert y.shape == () and y.item() == expected
    assert x.grad.shape == () and x.grad == (0.0 if name in ("var", "softmax", "log_softmax") else 1.0)


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("shape, axis", [((2, 3), 2), ((2, 3), -3), ((2, 3), (0, 5)), ((), 1)])
def test_an_axis_out_of_range_raises_numpys_axis_error_naming_the_op(name, shape, axis):
    x = mg.tensor(np.ones(shape), requires_grad=True)
    with pytest.raises(np.exceptions.AxisError, match=rf"{name}: axis -?\d is out of bounds .* dimension {len(shape)}"):
        getattr(mg, name)(x, axis=axis)


def test_shape_ops_raise_axis_error_too():
    x = mg.tensor(np.ones((2, 3)))
    with pytest.raises(np.exceptions.AxisError, match="squeeze"):
        mg.squeeze(x, axis=4)
    with pytest.raises(np.exceptions.AxisError, match="concatenate"):
        mg.concatenate([x, x], axis=2)


def test_a_non_integer_axis_is_refused():
    with pytest.raises(TypeError, match="sum: axis must be an int"):
        mg.sum(mg.tensor(np.ones(3)), axis=1.0)


@pytest.mark.parametrize("shape, axis, ddof", [((1,), None, 1), ((3,), 0, 3), ((4, 1), 1, 1), ((0, 2), 0, 0)])
def test_var_without_degrees_of_freedom_raises_instead_of_nan_or_inf(shape, axis, ddof):
    with pytest.raises(ValueError, match=rf"var: ddof={ddof} leaves no degrees of freedom.*{shape}"):
        mg.var(mg.tensor(np.ones(shape)), axis=axis, ddof=ddof)


def test_var_with_one_degree_of_freedom_is_fine():
    x = mg.tensor([1.0, 3.0], requires_grad=True)
    y = x.var(ddof=1)
    y.backward()
    assert y.item() == 2.0
    np.testing.assert_array_equal(x.grad, [-2.0, 2.0])


@pytest.mark.parametrize("shape, axis", [((0, 3), None), ((0, 3), 0), ((3, 0), 1)])
def test_the_mean_of_nothing_is_nan_as_in_numpy_and_its_gradient_is_empty(shape, axis):
    x = mg.tensor(np.zeros(shape), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = x.mean(axis=axis)
        assert np.all(np.isnan(y.data))
        y.sum().backward()
    assert x.grad.shape == shape
