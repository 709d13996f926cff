"""What api installs from the registry: reflected operators, in-place operators, aliases, NumPy ufunc dispatch."""

import numpy as np
import pytest

import microgradnp as mg


def test_constants_and_arrays_on_either_side():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    arr = np.array([[10.0], [20.0]])
    y = 2.0 - x + arr * x / 4.0 + x ** 2 + 2.0 ** x
    assert isinstance(y, mg.Tensor) and y.shape == (2, 2)
    y.sum().backward()
    expected = -2 + (10 + 20) / 4.0 + 2 * 2 * x.data + 2 * np.log(2.0) * 2.0 ** x.data
    np.testing.assert_allclose(x.grad, expected)


def test_numpy_ufuncs_dispatch_or_refuse():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = np.exp(x)
    assert isinstance(y, mg.Tensor) and y.requires_grad
    with pytest.raises(TypeError, match="not differentiable"):
        np.cbrt(x)


def test_pytorch_style_aliases():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(dim=1, keepdim=True).data, x.sum(axis=1, keepdims=True).data)
    np.testing.assert_array_equal(x.softmax(dim=0).data, x.softmax(axis=0).data)
    assert x.unsqueeze(0).shape == (1, 2, 3)
    assert x.view(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.transpose(1, 0).shape == (3, 2) and x.transpose((1, 0)).shape == (3, 2)
    with pytest.raises(TypeError, match="not both"):
        x.sum(axis=0, dim=1)


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


def test_dim_is_accepted_wherever_axis_is():
    import inspect

    from microgradnp.ops import REGISTRY

    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    for f, args in [(mg.average, ()), (mg.take, ([0, 2],)), (mg.repeat, (2,)), (mg.linalg.vector_norm, ()),
                    (mg.linalg.norm, ()), (mg.sum, ()), (mg.softmax, ()), (mg.cumsum, ())]:
        np.testing.assert_array_equal(f(x, *args, dim=1).data, f(x, *args, axis=1).data)
    assert [t.shape for t in mg.split(x, 3, dim=1)] == [(2, 1)] * 3
    # every public op with an axis takes dim too (flip and roll take PyTorch's dims)
    for name, op in REGISTRY.items():
        params = inspect.signature(op.adapter).parameters
        if op.public and "axis" in params:
            assert "dim" in params or "dims" in params, name
