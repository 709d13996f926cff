"""Checkpointing: the same gradients as without it, in less memory, with the same random draws."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.nn import functional as F
from microgradnp.viz import backward_memory


def _loss(net, x, segments):
    out = mg.checkpoint_sequential(list(net.layers), segments, x) if segments else net(x)
    return F.squared_loss(out, np.zeros(out.shape))


@settings(max_examples=max(10, settings().max_examples), deadline=None)
@given(depth=st.integers(1, 6), width=st.integers(1, 5), batch=st.integers(1, 4), data=st.data())
def test_checkpointed_gradients_equal_the_plain_ones_bit_for_bit(depth, width, batch, data):
    segments = data.draw(st.integers(1, depth), label="segments")
    seed = data.draw(st.integers(0, 2 ** 16), label="seed")
    x0 = np.random.default_rng(seed).standard_normal((batch, 3))
    results = []
    for s in (0, segments):
        net = mg.nn.MLP([3] + [width] * depth + [2], activation="tanh", rng=seed)
        x = mg.tensor(x0, requires_grad=True)
        loss = _loss(net, x, s)
        loss.backward()
        results.append([x.grad] + [p.grad for p in net.parameters()])
    for plain, ckpt in zip(*results):
        np.testing.assert_array_equal(ckpt, plain)


def test_mg_grad_through_a_checkpoint_leaves_every_grad_alone():
    net = mg.nn.MLP([3, 4, 4, 2], activation="sigmoid", rng=1)
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    params = list(net.parameters())
    plain = mg.grad(_loss(net, x, 0), [x, *params])
    ckpt = mg.grad(_loss(net, x, 2), [x, *params])
    for a, b in zip(plain, ckpt):
        np.testing.assert_array_equal(a.data, b.data)
    assert x.grad is None and all(p.grad is None for p in params)


def test_second_derivatives_through_a_checkpoint():
    w = mg.tensor([0.3, -0.7, 1.1], requires_grad=True)
    x = mg.tensor([0.5, 1.5, -1.0], requires_grad=True)

    def segment(h):
        return mg.tanh(h * w) ** 3

    results = []
    for use in (False, True):
        y = (mg.checkpoint(segment, x) if use else segment(x)).sum()
        (g,) = mg.grad(y, x, create_graph=True)
        results.append(mg.grad((g * g).sum(), [x, w]))
    for a, b in zip(*results):
        np.testing.assert_allclose(b.data, a.data, rtol=1e-14)


def test_dropout_inside_a_segment_draws_the_same_mask_again():
    x0 = np.random.default_rng(0).standard_normal((6, 4))
    results = []
    for use in (False, True):
        drop = mg.nn.Dropout(0.5, rng=3)
        net = mg.nn.Sequential(mg.nn.Linear(4, 8, rng=0), mg.nn.Tanh(), drop, mg.nn.Linear(8, 1, rng=1))
        x = mg.tensor(x0, requires_grad=True)
        out = mg.checkpoint(net, x) if use else net(x)
        (out ** 2).sum().backward()
        results.append((out.data.copy(), x.grad, drop._rng.random(3)))  # the generator, as the forward left it
    (out0, g0, next0), (out1, g1, next1) = results
    np.testing.assert_array_equal(out1, out0)
    np.testing.assert_array_equal(g1, g0)  # the recomputation dropped the same units
    np.testing.assert_array_equal(next1, next0)  # and the program's random stream goes on unchanged


def test_a_deep_network_keeps_far_less_for_backward():
    net = mg.nn.MLP([64] + [64] * 24 + [1], activation="tanh", rng=0)
    x = mg.tensor(np.random.default_rng(0).standard_normal((256, 64)))
    plain = backward_memory(_loss(net, x, 0))["total"]
    ckpt = backward_memory(_loss(net, x, 7))["total"]
    assert ckpt < 0.3 * plain, (ckpt, plain)


def test_inside_transforms_and_compile_the_segment_runs_as_written():
    w = mg.tensor([0.5, -1.0], requires_grad=True)

    def loss(x):
        return mg.checkpoint(lambda h: mg.sin(h * w), x).sum()

    expected = mg.func.grad(lambda x: mg.sin(x * w).sum())(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(mg.func.grad(loss)(np.array([1.0, 2.0])).data, expected.data)
    per_example = mg.func.vmap(mg.func.grad(loss))(np.array([[1.0, 2.0], [0.5, 0.0]]))
    assert per_example.shape == (2, 2)
    step = mg.compile(lambda x: loss(x))
    step(np.array([1.0, 2.0]))
    assert step(np.array([1.0, 2.0])).item() == pytest.approx(np.sin(np.array([0.5, -2.0])).sum())


def test_what_is_refused_is_named():
    with pytest.raises(TypeError, match="must return one Tensor"):
        mg.checkpoint(lambda x: (x, x), mg.tensor([1.0], requires_grad=True))
    with pytest.raises(ValueError, match="segments must be an int from 1 to 3"):
        mg.checkpoint_sequential([mg.nn.Tanh()] * 3, 4, mg.tensor([1.0]))


def test_a_drawing_shows_each_segment_as_one_node_with_the_memory_it_saves():
    import re

    net = mg.nn.MLP([64] + [64] * 8 + [1], activation="tanh", rng=0)
    x = mg.tensor(np.random.default_rng(0).standard_normal((256, 64)))
    plain = backward_memory(_loss(net, x, 0))["total"]
    loss = _loss(net, x, 3)
    saves = re.findall(r"saves='([\d.]+) KiB'", mg.viz.to_dot(loss))
    assert len(saves) == 2  # the last of the 3 parts is not checkpointed
    assert sum(float(s) for s in saves) * 1024 == plain - backward_memory(loss)["total"]
