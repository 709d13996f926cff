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


REDUCTIONS = ["sum", "mean", "max", "min", "logsumexp", "var", "softmax", "log_softmax", "prod", "ptp", "nansum",
              "nanmean"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", [0, -1, (0,)])
def test_a_0d_tensor_reduces_over_axis_0_or_minus_1_as_in_pytorch(name, axis):
    # A scalar counts as one dimension: the forward and the backward both work.
    x = mg.tensor(2.0, requires_grad=True)
    y = getattr(mg, name)(x, axis=axis)
    y.backward()
    expected = {"var": 0.0, "softmax": 1.0, "log_softmax": 0.0, "ptp": 0.0}.get(name, 2.0)
    assert y.shape == () and y.item() == expected
    assert x.grad.shape == () and x.grad == (0.0 if name in ("var", "softmax", "log_softmax", "ptp") else 1.0)


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


def test_prod_is_exact_with_zeros_as_in_pytorch():
    # Values from PyTorch 2.13: the gradient is the product of the other elements, never out / x.
    x = mg.tensor([2.0, 0.0, 3.0], requires_grad=True)
    mg.prod(x).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 6.0, 0.0])
    x = mg.tensor([[2.0, 0.0, 0.0], [1.0, 2.0, 3.0]], requires_grad=True)
    x.prod(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0, 0.0], [6.0, 3.0, 2.0]])


def test_prod_second_derivative_at_a_zero():
    # d2/dx0 dx1 of x0 * x1 * x2 is x2, also where x0 = 0 (a rule "out / x" loses it).
    x = mg.tensor([0.0, 5.0, 3.0], requires_grad=True)
    (g,) = mg.grad(mg.prod(x), x, create_graph=True)
    np.testing.assert_array_equal(g.data, [15.0, 0.0, 0.0])
    g[1].backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 0.0])


def test_ptp_ties_share_like_max_and_min():
    # PyTorch 2.13, amax - amin: [[-1, .5, .5], [1, -.5, -.5]]
    x = mg.tensor([[1.0, 2.0, 2.0], [3.0, 1.0, 1.0]], requires_grad=True)
    mg.ptp(x, axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[-1.0, 0.5, 0.5], [1.0, -0.5, -0.5]])


def test_nansum_and_nanmean_skip_nan_in_value_and_gradient():
    x = mg.tensor([1.0, np.nan, 2.0], requires_grad=True)
    assert mg.nansum(x).item() == 3.0
    mg.nanmean(x).backward()  # PyTorch 2.13: [0.5, 0, 0.5]
    np.testing.assert_array_equal(x.grad, [0.5, 0.0, 0.5])


def test_std_matches_numpy_and_names_itself_when_ddof_is_too_large():
    x = mg.tensor([[1.0, 2.0, 4.0], [0.0, 3.0, 3.0]], requires_grad=True)
    y = mg.std(x, axis=1, ddof=1)
    np.testing.assert_allclose(y.data, np.std(x.data, axis=1, ddof=1), rtol=1e-15)
    with pytest.raises(ValueError, match="std: ddof=3 leaves no degrees of freedom"):
        mg.std(x, axis=1, ddof=3)


def test_average_with_weights_along_one_axis_and_its_errors():
    x = mg.tensor([[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]], requires_grad=True)
    w = mg.tensor([1.0, 2.0, 1.0], requires_grad=True)
    y = mg.average(x, axis=0, weights=w)
    np.testing.assert_allclose(y.data, np.average(x.data, axis=0, weights=w.data), rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.broadcast_to((w.data / 4.0)[:, None], (3, 2)))
    np.testing.assert_allclose(w.grad, ((x.data - y.data) / 4.0).sum(axis=1))  # d/dw of sum(x w) / sum(w)
    assert mg.average(x).item() == np.average(x.data)
    with pytest.raises(ValueError, match=r"weights of shape \(2,\) do not fit an input of shape \(3, 2\)"):
        mg.average(x, axis=0, weights=[1.0, 2.0])
    with pytest.raises(ZeroDivisionError, match="sum to zero"):
        mg.average(x, axis=0, weights=[1.0, -1.0, 0.0])


def test_argmax_and_argmin_give_integer_tensors_without_gradient():
    x = mg.tensor([[1.0, 5.0, 5.0], [7.0, 2.0, 0.0]], requires_grad=True)
    i = x.argmax(dim=1)
    np.testing.assert_array_equal(i.data, [1, 0])  # the first maximum wins a tie
    assert i.dtype.kind == "i" and not i.requires_grad
    assert mg.argmin(x).item() == 5
    assert mg.argmax(x, axis=0, keepdims=True).shape == (1, 3)
    with pytest.raises(TypeError, match="argmax: axis must be None or one int"):
        mg.argmax(x, axis=(0, 1))
