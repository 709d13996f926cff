"""In-place safety: writes between forward and backward raise; in-place operators follow PyTorch."""

import numpy as np
import pytest

import microgradnp as mg


def _graph():
    w = mg.tensor([[0.5, -1.0], [2.0, 0.3]], requires_grad=True, name="w")
    x = mg.tensor([1.0, 2.0])
    loss = mg.sigmoid(w @ x).sum()
    return w, x, loss


@pytest.mark.parametrize("write", [
    lambda t: t.data.__setitem__((0, 0), 9.0),
    lambda t: t.data.__isub__(0.1),
    lambda t: t.data[0].fill(3.0),
    lambda t: setattr(t, "data", np.zeros((2, 2))),
])
def test_writing_a_parameter_after_forward_makes_backward_raise(write):
    w, x, loss = _graph()
    write(w)
    with pytest.raises(RuntimeError, match=r"modified in place.*input 0 of matmul.*'w'.*\(2, 2\)"):
        loss.backward()


def test_writing_a_constant_input_after_forward_is_caught_too():
    w, x, loss = _graph()
    x.data[1] = 5.0  # the gradient of w is g x^T: a stale x would give a wrong one
    with pytest.raises(RuntimeError, match="input 1 of matmul"):
        loss.backward()


def test_overwriting_an_output_its_own_vjp_uses_is_caught():
    w = mg.tensor([0.5, -1.0], requires_grad=True)
    s = mg.sigmoid(w)  # sigmoid's VJP uses its output
    s.data[0] = 0.0
    with pytest.raises(RuntimeError, match="the output of sigmoid"):
        s.sum().backward()


def test_an_optimizer_step_between_forward_and_backward_raises():
    w, x, loss = _graph()
    w.grad = np.ones((2, 2))
    mg.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_writes_before_the_forward_and_after_backward_are_fine():
    w, x, _ = _graph()
    w.data[0, 0] = 1.0
    loss = mg.sigmoid(w @ x).sum()
    loss.backward()
    w.data -= 0.1 * w.grad  # after backward: the usual update
    np.testing.assert_allclose(w.numpy()[0, 0], 1.0 - 0.1 * w.grad[0, 0])


def test_reading_data_is_not_a_write():
    w, x, loss = _graph()
    _ = w.data.sum() + w.data[0, 1] + (w.data * 2).mean()
    loss.backward()
    assert w.grad.shape == (2, 2)


def test_results_computed_from_data_are_plain_untracked_arrays():
    w, x, loss = _graph()
    copy = w.data * 2.0
    assert type(copy) is np.ndarray
    copy[0, 0] = 100.0  # not the tensor's memory
    loss.backward()


def test_pytorch_training_loop_with_inplace_operators_under_no_grad():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    w = mg.tensor(np.zeros(3), requires_grad=True)
    losses = []
    for _ in range(50):
        loss = ((mg.tensor(X) @ w - y) ** 2).mean()
        loss.backward()
        with mg.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert w.is_leaf and w.requires_grad


@pytest.mark.parametrize("op", ["__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__"])
def test_inplace_operators_update_memory_under_no_grad(op):
    t = mg.tensor([1.0, 2.0], requires_grad=True)
    memory = t.numpy()
    expected = getattr(np.array([1.0, 2.0]), op)(2.0)
    with mg.no_grad():
        out = getattr(t, op)(2.0)
    assert out is t and t.numpy() is memory
    np.testing.assert_allclose(t.numpy(), expected)


def test_inplace_on_a_leaf_that_requires_grad_with_grad_mode_on_raises():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        w -= 1.0


def test_inplace_on_an_interior_tensor_records_out_of_place():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2.0
    before = h
    h += w  # recorded: the name is rebound to the new result
    assert h is not before and h.op == "add"
    h.sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])


def test_inplace_on_plain_tensors_writes_and_marks():
    acc = mg.zeros(2)
    memory = acc.numpy()
    acc += mg.tensor([1.0, 2.0])
    assert acc.numpy() is memory and acc.tolist() == [1.0, 2.0]


def test_inplace_keeps_the_dtype_and_refuses_a_new_shape():
    t = mg.tensor([1.0, 2.0], dtype=np.float32)
    t *= np.array([2.0, 2.0])  # float64 operand, float32 memory
    assert t.dtype == np.float32 and t.tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*shape \(2,\)"):
        t += np.ones((2, 2))


def test_grad_assignment_is_checked():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    w.grad = np.ones(2)
    w.grad = None
    w.grad = mg.tensor([1.0, 1.0])
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        w.grad = np.ones(3)
    with pytest.raises(TypeError, match="dtype float32.*float64"):
        w.grad = np.ones(2, dtype=np.float32)
    with pytest.raises(TypeError, match="None, a NumPy array or a Tensor"):
        w.grad = [1.0, 1.0]


def test_data_prints_and_pickles_as_a_plain_array():
    import pickle

    t = mg.tensor([1.0, 2.0])
    assert repr(t.data) == "array([1., 2.])"
    back = pickle.loads(pickle.dumps(t.data))
    assert type(back) is np.ndarray and back.tolist() == [1.0, 2.0]
