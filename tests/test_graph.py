"""The public graph interface: op, parents, is_leaf, released, and the walk helpers."""

import numpy as np
import pytest

import microgradnp as mg


def test_a_diamond_is_walked_once_per_tensor_root_first():
    a = mg.tensor(2.0, requires_grad=True, name="a")
    b, c = mg.exp(a), mg.sin(a)
    y = b * c
    seen = list(mg.graph.walk(y))
    assert seen[0] is y and [t.op or t.name for t in seen] == ["mul", "exp", "sin", "a"]
    assert mg.graph.count(y) == 4


def test_parents_keep_constants_in_order_and_tensor_parents_drops_them():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = 3.0 - x
    assert y.op == "sub" and len(y.parents) == 2 and y.parents[1] is x
    assert mg.graph.tensor_parents(y) == (x,)
    assert x.is_leaf and x.op is None and x.parents == ()


def test_released_says_when_a_backward_freed_the_saved_arrays():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.exp(x).sum()
    assert not y.released
    y.backward(retain_graph=True)
    assert not y.released
    y.backward()
    assert y.released and mg.graph.count(y) == 3  # the structure stays walkable


def test_a_long_chain_is_walked_without_recursion():
    x = mg.tensor(np.zeros(1), requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y + 1.0
    assert mg.graph.count(y) == 20_001


def test_walk_refuses_what_is_not_a_tensor():
    with pytest.raises(TypeError, match="walk: expected a Tensor, got ndarray"):
        list(mg.graph.walk(np.zeros(2)))
