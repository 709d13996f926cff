"""Module: parameter registration, train/eval, repr, state dicts and .npz save/load."""

import os

import numpy as np
import pytest

import microgradnp as mg


def test_module_registers_parameters_and_submodules_in_order():
    net = mg.nn.MLP([3, 4, 2], rng=0)
    names = [n for n, _ in net.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert [p.name for p in net.parameters()] == names
    assert all(isinstance(p, mg.nn.Parameter) and p.requires_grad for p in net.parameters())
    assert net.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2
    assert [type(m).__name__ for _, m in net.named_modules()] == ["MLP", "Sequential", "Linear", "Sigmoid", "Linear"]


def test_shared_parameter_is_listed_once():
    class Tied(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = mg.nn.Linear(2, 2, rng=0)
            self.b = mg.nn.Linear(2, 2, rng=1)
            self.b.weight = self.a.weight

    assert len(list(Tied().parameters())) == 3


def test_zero_grad_train_eval():
    net = mg.nn.MLP([2, 3, 1], rng=0)
    net(mg.ones(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.eval() is net and not any(m.training for _, m in net.named_modules())
    assert all(m.training for _, m in net.train().named_modules())


def test_repr():
    assert repr(mg.nn.MLP([400, 25, 10])) == "MLP(400 -> 25 -> 10, sigmoid)"
    assert repr(mg.nn.MLP([2, 5, 5, 2], activation="tanh", output_activation="sigmoid")) == (
        "MLP(2 -> 5 -> 5 -> 2, tanh, output sigmoid)"
    )
    assert "Linear(in_features=2, out_features=3, bias=True)" in repr(mg.nn.Sequential(mg.nn.Linear(2, 3)))


def test_module_needs_super_init():
    class Bad(mg.nn.Module):
        def __init__(self):
            self.w = mg.nn.Parameter([1.0])

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_save_load_round_trips_exactly(tmp_path):
    net = mg.nn.MLP([3, 4, 2], rng=0)
    path = tmp_path / "net.npz"
    net.save(path)
    other = mg.nn.MLP([3, 4, 2], rng=99)
    other.load(path)
    for (na, a), (nb, b) in zip(net.named_parameters(), other.named_parameters()):
        assert na == nb and a.data.tobytes() == b.data.tobytes() and a.dtype == b.dtype
    assert not os.path.exists(str(path) + ".tmp")


def test_load_refuses_mismatched_shapes_and_keys(tmp_path):
    path = tmp_path / "net.npz"
    mg.nn.MLP([3, 4, 2], rng=0).save(path)
    wrong = mg.nn.MLP([3, 5, 2], rng=0)
    before = wrong.state_dict()
    with pytest.raises(ValueError, match=r"'layers.0.weight'.*\(5, 3\).*\(4, 3\)"):
        wrong.load(path)
    assert all(np.array_equal(before[k], v) for k, v in wrong.state_dict().items())  # nothing half-loaded
    with pytest.raises(KeyError, match="missing"):
        mg.nn.MLP([3, 4, 4, 2], rng=0).load(path)


def test_loading_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"layers.0.weight": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="pickle"):
        mg.nn.MLP([3, 4, 2], rng=0).load(path)
