"""Indexing and shape ops beyond the property tests: repeated indices, masks, index_put, transpose axes."""

import numpy as np
import pytest

import microgradnp as mg


def test_repeated_integer_indices_accumulate():
    x = mg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x[np.array([0, 0, 3, 0])] * mg.tensor([1.0, 2.0, 3.0, 4.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [7.0, 0.0, 0.0, 3.0])


def test_boolean_mask_and_slices():
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (x[x.data > 2].sum() + x[:, 1:].sum() * 10).backward()
    np.testing.assert_array_equal(x.grad, [[0, 10, 10], [1, 11, 11]])


def test_index_tensors_must_be_integer():
    x = mg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match="dtype=int"):
        x[mg.tensor([0, 1])]
    np.testing.assert_array_equal(x[mg.tensor([0, 2], dtype=int)].data, [1.0, 3.0])
    np.testing.assert_array_equal(x[[2, 0]].data, [3.0, 1.0])


def test_index_put_is_the_adjoint_of_getitem():
    # <x[key], v> == <x, index_put(v, key, x.shape)> for every x and v.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    key = (np.array([0, 2, 2, 3]), np.array([1, 1, 1, 0]))
    v = rng.standard_normal(4)
    lhs = np.sum(x[key] * v)
    rhs = np.sum(x * mg.index_put(mg.tensor(v), key, x.shape).data)
    assert np.isclose(lhs, rhs)


def test_transpose_with_negative_axes_has_the_right_gradient():
    x = mg.tensor(np.arange(27.0).reshape(3, 3, 3), requires_grad=True)
    y = mg.transpose(x, (-1, 0, 1))
    np.testing.assert_array_equal(y.data, np.transpose(x.data, (2, 0, 1)))
    g = np.arange(27.0).reshape(3, 3, 3)
    y.backward(g)
    np.testing.assert_array_equal(x.grad, np.transpose(g, np.argsort((2, 0, 1))))


def test_numpys_other_permutations_and_ravel():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = mg.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(mg.swapaxes(t, 0, -1).data, np.swapaxes(a, 0, -1))
    np.testing.assert_array_equal(mg.moveaxis(t, [0, 1], [-1, 0]).data, np.moveaxis(a, [0, 1], [-1, 0]))
    np.testing.assert_array_equal(t.ravel().data, a.ravel())
    y = mg.moveaxis(t, 0, 2)
    assert y.op == "moveaxis"
    (y * mg.tensor(np.moveaxis(a, 0, 2))).sum().backward()
    np.testing.assert_array_equal(t.grad, a)
    with pytest.raises(ValueError, match="repeated axes"):
        mg.moveaxis(t, [0, 0], [1, 2])


def test_tile_roll_rot90_follow_numpy_and_send_gradients_back():
    a = np.arange(6.0).reshape(2, 3)
    t = mg.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(mg.tile(t, (2, 1, 2)).data, np.tile(a, (2, 1, 2)))
    mg.tile(t, 3).sum().backward()
    np.testing.assert_array_equal(t.grad, np.full((2, 3), 3.0))
    np.testing.assert_array_equal(mg.roll(t, 2).data, np.roll(a, 2))
    np.testing.assert_array_equal(t.roll((1, -1), axis=(0, 1)).data, np.roll(a, (1, -1), axis=(0, 1)))
    np.testing.assert_array_equal(mg.rot90(t, 3, axes=(1, 0)).data, np.rot90(a, 3, axes=(1, 0)))
    t.grad = None
    (mg.roll(t, 1, axis=1) * mg.tensor([1.0, 0.0, 0.0])).sum().backward()
    np.testing.assert_array_equal(t.grad, [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
def test_pad_matches_numpy_and_every_copy_passes_its_gradient_back(mode):
    a = np.arange(6.0).reshape(2, 3)
    t = mg.tensor(a, requires_grad=True)
    widths = ((1, 2), (2, 1))
    y = mg.pad(t, widths, mode=mode, **({"constant_values": 7.0} if mode == "constant" else {}))
    np.testing.assert_array_equal(y.data, np.pad(a, widths, mode=mode, **(
        {"constant_values": 7.0} if mode == "constant" else {})))
    y.sum().backward()
    counts = np.zeros_like(a)  # how many output elements each input element became
    positions = np.arange(6).reshape(2, 3)
    sources = np.pad(positions, widths, constant_values=-1) if mode == "constant" else \
        np.pad(positions, widths, mode=mode)
    for s in sources.ravel():
        if s >= 0:
            counts.flat[s] += 1
    np.testing.assert_array_equal(t.grad, counts)


def test_pad_errors_name_the_problem():
    t = mg.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="mode must be one of"):
        mg.pad(t, 1, mode="circular")
    with pytest.raises(ValueError, match="non-negative"):
        mg.pad(t, -1)
    with pytest.raises(ValueError, match="does not fit an input of shape"):
        mg.pad(t, ((1, 1), (1, 1), (1, 1)))


def test_take_repeat_and_select_follow_numpy():
    a = np.arange(6.0).reshape(2, 3)
    t = mg.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(mg.take(t, [[5, -1], [0, 0]]).data, np.take(a, [[5, -1], [0, 0]]))
    np.testing.assert_array_equal(mg.take(t, [2, 0], axis=1).data, np.take(a, [2, 0], axis=1))
    np.testing.assert_array_equal(mg.repeat(t, 2, axis=0).data, np.repeat(a, 2, axis=0))
    np.testing.assert_array_equal(mg.repeat(t, [1, 0, 2], axis=1).data, np.repeat(a, [1, 0, 2], axis=1))
    mg.repeat(t, [1, 0, 2], axis=1).sum().backward()
    np.testing.assert_array_equal(t.grad, [[1.0, 0.0, 2.0], [1.0, 0.0, 2.0]])
    with pytest.raises(IndexError, match="index 6 is out of bounds for size 6"):
        mg.take(t, [6])
    with pytest.raises(ValueError, match="2 counts for 3 elements"):
        mg.repeat(t, [1, 2], axis=1)
    x = mg.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    d = mg.tensor(1.0, requires_grad=True)
    y = mg.select([x.data < 0, x.data < 1], [-x, x * 10], default=d)
    np.testing.assert_array_equal(y.data, np.select([x.data < 0, x.data < 1], [-x.data, x.data * 10], 1.0))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 10.0, 0.0])
    assert d.grad == 1.0
    with pytest.raises(ValueError, match="2 conditions but 1 choices"):
        mg.select([x.data < 0, x.data < 1], [x])
