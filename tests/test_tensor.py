"""The Tensor API: construction, dtypes, attributes, conversions, factories."""

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
    with pytest.raises(TypeError, match="complex"):
        mg.tensor(np.ones(2, dtype=complex))


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


def test_results_under_no_grad_are_leaves():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf


def test_comparisons_give_boolean_tensors_without_grad():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal((x == 2.0).data, [False, True, False])
    assert hash(x) == id(x) or isinstance(hash(x), int)


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


def test_pytorch_style_aliases():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(dim=1, keepdim=True).data, x.sum(axis=1, keepdims=True).data)
    np.testing.assert_array_equal(x.softmax(dim=0).data, x.softmax(axis=0).data)
    assert x.unsqueeze(0).shape == (1, 2, 3)
    assert x.view(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.transpose(1, 0).shape == (3, 2) and x.transpose((1, 0)).shape == (3, 2)
    with pytest.raises(TypeError, match="not both"):
        x.sum(axis=0, dim=1)


def test_factories():
    assert mg.zeros(2, 3).shape == (2, 3) and mg.zeros((2, 3)).shape == (2, 3)
    assert mg.ones(4).data.sum() == 4
    assert mg.zeros_like(mg.ones((2, 2), dtype=np.float32)).dtype == np.float32
    assert mg.ones_like(np.zeros(3, dtype=int)).dtype == np.float64
    np.testing.assert_array_equal(mg.arange(1, 7, 2).data, [1.0, 3.0, 5.0])
    assert mg.arange(3).dtype == np.float64
    w = mg.randn(3, 4, rng=np.random.default_rng(0), requires_grad=True)
    assert w.shape == (3, 4) and w.requires_grad
    np.testing.assert_array_equal(mg.randn((2,), rng=7).data, mg.randn(2, rng=7).data)
    legacy = mg.randn(2, rng=np.random.RandomState(3)).data
    np.testing.assert_array_equal(legacy, np.random.RandomState(3).standard_normal(2))
    assert mg.full((2,), 3.0).data.tolist() == [3.0, 3.0]


def test_index_tensors_must_be_integer():
    x = mg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match="dtype=int"):
        x[mg.tensor([0, 1])]
    np.testing.assert_array_equal(x[mg.tensor([0, 2], dtype=int)].data, [1.0, 3.0])
    np.testing.assert_array_equal(x[[2, 0]].data, [3.0, 1.0])
