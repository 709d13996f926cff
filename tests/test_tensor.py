"""The Tensor data model: construction, dtypes, attributes, tracked .data, checked .grad, repr and pickling."""

import numpy as np
import pytest

import microgradnp as mg


@pytest.mark.parametrize("data", [3, 2.5, [1, 2], [[1.0, 2.0]], np.arange(3), np.array([True, False])])
def test_numbers_lists_and_integer_arrays_become_float64(data):
    assert mg.Tensor(data).dtype == np.float64
    assert mg.tensor(data).dtype == np.float64


def test_float32_stays_float32_and_dtype_is_honoured():
    assert mg.tensor(np.ones(2, np.float32)).dtype == np.float32
    assert mg.tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert mg.tensor([1, 2], dtype="int64").dtype == np.int64


def test_integer_dtype_with_requires_grad_is_a_type_error():
    with pytest.raises(TypeError, match="floating"):
        mg.Tensor([1, 2], dtype=np.int64, requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        mg.tensor([1, 2], dtype=np.int32).requires_grad_()
    with pytest.raises(TypeError, match="complex64 or complex128"):
        mg.tensor(np.ones(2, dtype=np.clongdouble))


def test_data_is_copied_from_the_caller():
    a = np.ones(3)
    t = mg.tensor(a)
    a[0] = 5.0
    assert t.data[0] == 1.0


def test_attributes():
    t = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.dtype == np.float64
    assert t.T.shape == (3, 2) and len(t) == 2
    assert t.requires_grad and t.is_leaf and t.grad is None
    assert type(t.numpy()) is np.ndarray and np.shares_memory(t.numpy(), t.data)
    assert mg.tensor([[4.0]]).item() == 4.0
    assert t.tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="one element"):
        t.item()
    with pytest.raises(TypeError, match="0-d"):
        len(mg.tensor(1.0))


def test_data_can_be_updated_in_place_by_an_optimizer():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    memory_before = w.numpy()
    w.data -= 0.1 * w.grad
    assert w.numpy() is memory_before
    np.testing.assert_allclose(w.data, [0.8, 1.6])
    assert w.grad.shape == w.shape and w.grad.dtype == w.dtype


def test_repr_is_readable():
    assert repr(mg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(mg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    y = mg.tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], op=mul)"
    assert "dtype=float32" in repr(mg.tensor([1.0], dtype=np.float32))
    assert "name='w'" in repr(mg.tensor([1.0], name="w"))


def test_detach_and_requires_grad_():
    x = mg.tensor([1.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.numpy() is y.numpy()
    z = mg.tensor([1.0]).requires_grad_()
    assert z.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_iteration_and_truth_value():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    rows = list(x)
    assert len(rows) == 2 and rows[1].shape == (2,)
    assert bool(mg.tensor([1.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)


def test_item_assignment_is_refused_with_advice():
    with pytest.raises(TypeError, match="mg.where"):
        mg.tensor([1.0])[0] = 2.0


def _graph():
    w = mg.tensor([[0.5, -1.0], [2.0, 0.3]], requires_grad=True, name="w")
    x = mg.tensor([1.0, 2.0])
    return w, x, mg.sigmoid(w @ x).sum()


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


def test_as_tensor_and_from_numpy_share_memory():
    X = np.ones((500, 40))
    t = mg.as_tensor(X)
    assert np.shares_memory(t.numpy(), X) and t.dtype == np.float64
    assert mg.as_tensor(t) is t
    x32 = np.ones(3, dtype=np.float32)
    assert np.shares_memory(mg.as_tensor(x32).numpy(), x32)
    assert not np.shares_memory(mg.as_tensor(x32, dtype=np.float64).numpy(), x32)
    ints = np.arange(3)
    assert mg.as_tensor(ints).dtype == np.float64  # integers become float64 (a copy), as Tensor does
    f = mg.from_numpy(ints)
    assert f.dtype == ints.dtype and np.shares_memory(f.numpy(), ints)
    with pytest.raises(TypeError, match="NumPy array"):
        mg.from_numpy([1.0, 2.0])
    w = mg.as_tensor(np.zeros(2), requires_grad=True)
    (w * 2.0).sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, 2.0])


@pytest.mark.parametrize("flag", ["yes", "False", [1], 2, None, 0.5])
def test_requires_grad_must_be_a_bool_not_any_truthy_value(flag):
    # bool("False") is True: a string would silently switch recording on.
    with pytest.raises(TypeError, match=r"requires_grad must be True or False"):
        mg.tensor([1.0], requires_grad=flag)
    with pytest.raises(TypeError, match=r"requires_grad must be True or False"):
        mg.tensor([1.0]).requires_grad_(flag)


def test_requires_grad_accepts_numpy_bools_and_0_1():
    assert mg.tensor([1.0], requires_grad=np.True_).requires_grad
    assert not mg.tensor([1.0], requires_grad=0).requires_grad


def test_tensor_hooks_see_and_may_replace_the_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.copy()))
    handle = y.register_hook(lambda g: g * 10)  # runs second, on what the first passed on
    (y * y).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(seen[0], 2 * y.data)
    np.testing.assert_array_equal(x.grad, 10 * 3 * 2 * y.data)
    assert y.grad is None  # a hook does not keep the gradient: retain_grad() does
    handle.remove()
    x.grad = None
    (y * y).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, 3 * 2 * y.data)


def test_leaf_hooks_run_once_on_the_complete_gradient_before_it_is_stored():
    w = mg.tensor([1.0, -1.0], requires_grad=True)
    calls = []
    w.register_hook(lambda g: calls.append(g.copy()) or g * 0.5)
    (w * 2 + w * 4).sum().backward()  # two paths into w: one call with their sum
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], [6.0, 6.0])
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])
    (g,) = mg.grad((w * w).sum(), w)  # mg.grad runs them too
    np.testing.assert_array_equal(g.data, w.data)


def test_hooks_in_second_order_and_with_retain_grad():
    x = mg.tensor(2.0, requires_grad=True)
    y = x ** 3
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    (dx,) = mg.grad(y, x, create_graph=True)  # 2 * 3x^2
    assert dx.item() == 24.0
    (d2,) = mg.grad(dx, x)
    assert d2.item() == 24.0  # 2 * 6x
    z = x * 1.0
    z.retain_grad()
    z.register_hook(lambda g: g + 1)
    z.backward()
    assert z.grad.item() == 2.0  # the kept gradient is the hooked one


def test_hook_misuse_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).register_hook(lambda g: g)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(3)
    x.register_hook(lambda g: g[:1])
    with pytest.raises(ValueError, match="same shape"):
        (x * 2).sum().backward()


def test_module_forward_hooks_record_and_replace():
    model = mg.nn.Sequential(mg.nn.Linear(2, 3, rng=0), mg.nn.ReLU(), mg.nn.Linear(3, 1, rng=1))
    acts = {}
    h1 = model[1].register_forward_hook(lambda m, args, out: acts.update(relu=out.data.copy()))
    h2 = model[0].register_forward_pre_hook(lambda m, args: (args[0] * 0.0,))
    out = model(mg.tensor(np.ones((4, 2))))
    np.testing.assert_array_equal(acts["relu"], np.maximum(model[0].bias.data, 0) * np.ones((4, 1)))
    h2.remove()
    h1.remove()
    model[2].register_forward_hook(lambda m, args, out: out * 2)
    x = mg.tensor(np.ones((4, 2)))
    np.testing.assert_allclose(model(x).data, 2 * model[2].forward(model[1](model[0](x))).data)
    assert out.shape == (4, 1)
