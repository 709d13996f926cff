"""Layers and functionals check their parameters and state against their contract, as PyTorch does:
a wrong shape is refused by name, never broadcast into a number."""

import numpy as np
import pytest

import microgradnp as mg

F = mg.nn.functional


def _t(*shape):
    return mg.tensor(np.ones(shape))


#: (name, call with a parameter or state of the wrong shape, what the error must say)
WRONG_SHAPES = [
    ("conv2d bias", lambda: F.conv2d(_t(1, 2, 4, 4), _t(3, 2, 3, 3), _t(1)), r"bias must have shape \(3,\)"),
    ("conv1d bias", lambda: F.conv1d(_t(1, 2, 5), _t(3, 2, 3), _t(2)), r"bias must have shape \(3,\)"),
    ("linear bias", lambda: mg.linear(_t(2, 3), _t(4, 3), _t(1)), r"bias must have shape \(4,\)"),
    ("linear weight", lambda: mg.linear(_t(2, 3), _t(4, 2)), r"in_features = the input's last axis"),
    ("RNNCell h", lambda: mg.nn.RNNCell(3, 4, rng=0)(_t(2, 3), _t(1, 4)), r"hidden state h must have shape \(2, 4\)"),
    ("GRUCell h", lambda: mg.nn.GRUCell(3, 4, rng=0)(_t(2, 3), _t(2, 5)), r"hidden state h must have shape \(2, 4\)"),
    ("GRUCell input", lambda: mg.nn.GRUCell(3, 4, rng=0)(_t(2, 5)), r"takes 3"),
    ("max_pool2d padding", lambda: F.max_pool2d(_t(1, 1, 4, 4), 2, padding=2), r"padding .* at most half the kernel"),
    ("avg_pool2d padding", lambda: F.avg_pool2d(_t(1, 1, 4, 4), 3, padding=2), r"padding .* at most half the kernel"),
    ("conv2d kernel larger than the input", lambda: F.conv2d(_t(1, 1, 2, 2), _t(1, 1, 3, 3)), r"smaller than the kernel"),
    ("LayerNorm input", lambda: mg.nn.LayerNorm(3)(_t(2, 4)), r"expected the input's last axes to be \(3,\)"),
    ("Linear input", lambda: mg.nn.Linear(3, 2, rng=0)(_t(2, 4)), r"3"),
]


@pytest.mark.parametrize("name,call,message", WRONG_SHAPES, ids=[w[0] for w in WRONG_SHAPES])
def test_a_wrong_shape_is_refused_by_name(name, call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_one_element_tuples_mean_both_axes_as_in_pytorch():
    x, w = _t(1, 1, 5, 5), _t(1, 1, 2, 2)
    assert F.conv2d(x, w, stride=(2,)).shape == F.conv2d(x, w, stride=2).shape == (1, 1, 2, 2)
    assert F.conv2d(x, w, padding=(1,), dilation=(2,)).shape == F.conv2d(x, w, padding=1, dilation=2).shape
    assert F.max_pool2d(x, (2,)).shape == (1, 1, 2, 2)
    with pytest.raises(ValueError, match="stride must be an int >= 1 or a pair"):
        F.conv2d(x, w, stride=(1, 2, 3))


def test_right_shapes_still_work_and_batch_one_states_too():
    cell = mg.nn.GRUCell(3, 4, rng=0)
    assert cell(_t(1, 3), _t(1, 4)).shape == (1, 4)
    assert cell(_t(3), _t(4)).shape == (4,)
    assert F.conv2d(_t(1, 2, 4, 4), _t(3, 2, 3, 3), _t(3)).shape == (1, 3, 2, 2)
    assert F.max_pool2d(_t(1, 1, 4, 4), 3, padding=1).shape == (1, 1, 2, 2)
