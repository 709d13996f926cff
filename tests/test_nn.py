"""microgradnp.nn: modules, layers, initialisers, state, functional losses."""

import os
import warnings

import numpy as np
import pytest
from hypothesis import given

import microgradnp as mg
from microgradnp.nn import functional as F
from microgradnp.testing import gradcheck
from microgradnp.testing import strategies as mst

# ---------------------------------------------------------------------------
# Module, Parameter, layers
# ---------------------------------------------------------------------------


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


def test_linear_and_mlp_shapes_and_dtype():
    layer = mg.nn.Linear(3, 2, rng=0, dtype=np.float32)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,) and layer.weight.dtype == np.float32
    assert layer(mg.ones(3, dtype=np.float32)).shape == (2,)
    assert layer(mg.ones(4, 5, 3, dtype=np.float32)).shape == (4, 5, 2)
    net = mg.nn.MLP([2, 2, 2], bias=False, rng=0)
    assert [n for n, _ in net.named_parameters()] == ["layers.0.weight", "layers.2.weight"]


def test_mlp_gradients_match_finite_differences():
    net = mg.nn.MLP([3, 4, 2], activation="tanh", rng=0)
    x = mg.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    params = list(net.parameters())

    def loss(*ps):
        for p, q in zip(params, ps):
            p.data = q.data
        return F.cross_entropy(mg.linear(mg.tanh(mg.linear(x, ps[0], ps[1])), ps[2], ps[3]), np.array([0, 1, 1, 0, 1]))

    assert gradcheck(loss, [mg.tensor(p.data, requires_grad=True) for p in params])


# ---------------------------------------------------------------------------
# Initialisers and randomness
# ---------------------------------------------------------------------------


def test_initialisers_follow_the_seeds():
    rs = np.random.RandomState(104729)
    w = mg.nn.init.normal_fan_in((2, 2), rng=rs)
    np.testing.assert_array_equal(w, np.random.RandomState(104729).normal(0.0, 1 / np.sqrt(2), (2, 2)))
    u = mg.nn.init.uniform(0.12)((25, 401), rng=np.random.RandomState(1))
    np.testing.assert_array_equal(u, np.random.RandomState(1).rand(25, 401) * (2 * 0.12) - 0.12)
    g = mg.nn.init.glorot_uniform((5, 2), rng=0)
    assert np.all(np.abs(g) <= np.sqrt(6) / np.sqrt(7))
    with pytest.raises(ValueError, match="unknown initialiser"):
        mg.nn.init.get("orthogonal")


def test_randomness_never_touches_numpys_global_state():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    mg.nn.MLP([4, 3, 2], rng=None)
    mg.nn.MLP([4, 3, 2], rng=5)
    mg.data.make_moons(50, rng=1)
    mg.randn(3)
    assert np.random.random() == expected


def test_same_seed_same_weights_and_replayed_notebook_draw():
    a = mg.nn.MLP([3, 4, 2], rng=7).state_dict()
    b = mg.nn.MLP([3, 4, 2], rng=np.random.default_rng(7)).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    rs = np.random.RandomState(104729)
    mg.data.gaussian_blobs(rng=rs)
    net = mg.nn.MLP([2, 2, 2], bias=False, init="normal", rng=rs)
    ref = np.random.RandomState(104729)
    ref.multivariate_normal([0, 0], [[1, .75], [.75, 1]], 500)
    ref.multivariate_normal([5, 5], [[1, .75], [.75, 1]], 500)
    np.testing.assert_array_equal(net.layers[0].weight.data, ref.normal(0, 1 / np.sqrt(2), (2, 2)))
    np.testing.assert_array_equal(net.layers[2].weight.data, ref.normal(0, 1 / np.sqrt(2), (2, 2)))


# ---------------------------------------------------------------------------
# State: state_dict, save/load, Ng-style matrices
# ---------------------------------------------------------------------------


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


def test_ng_style_matrices_drive_an_mlp():
    rng = np.random.default_rng(0)
    theta1, theta2 = rng.standard_normal((25, 401)), rng.standard_normal((10, 26))
    net = mg.nn.MLP.from_thetas([theta1, theta2])
    X = rng.standard_normal((7, 400))
    # Ng's forward: add the bias column, multiply by Theta^T, sigmoid.
    a2 = 1 / (1 + np.exp(-(np.c_[np.ones(7), X] @ theta1.T)))
    h = 1 / (1 + np.exp(-(np.c_[np.ones(7), a2] @ theta2.T)))
    np.testing.assert_allclose(net(mg.tensor(X)).data, h, rtol=1e-12)
    back = net.to_thetas()
    np.testing.assert_array_equal(back[0], theta1)
    np.testing.assert_array_equal(back[1], theta2)
    with pytest.raises(ValueError, match="do not chain"):
        mg.nn.MLP.from_thetas([theta1, np.zeros((10, 30))])


def test_ex4_mat_files_load_into_an_mlp(tmp_path):
    import scipy.io

    rng = np.random.default_rng(1)
    theta1, theta2 = rng.standard_normal((25, 401)) * 0.1, rng.standard_normal((10, 26)) * 0.1
    scipy.io.savemat(tmp_path / "ex4weights.mat", {"Theta1": theta1, "Theta2": theta2})
    scipy.io.savemat(tmp_path / "ex4data1.mat", {"X": rng.random((20, 400)), "y": np.arange(1, 21).reshape(-1, 1) % 10 + 1})
    w = mg.data.load_mat(str(tmp_path / "ex4weights.mat"))
    d = mg.data.load_mat(str(tmp_path / "ex4data1.mat"))
    net = mg.nn.MLP.from_thetas([w["Theta1"], w["Theta2"]])
    assert net(mg.tensor(d["X"])).shape == (20, 10)
    assert d["y"].min() == 0 and d["y"].max() == 9  # 10 means the digit 0


# ---------------------------------------------------------------------------
# Functional losses
# ---------------------------------------------------------------------------


def test_losses_refuse_silent_broadcasting():
    a = mg.tensor(np.ones((3, 1)), requires_grad=True)
    for fn in (F.mse_loss, F.squared_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match=r"\(3, 1\).*\(3,\)"):
            fn(a * 0.5, np.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(a, np.ones((3, 1)), reduction="avg")


def test_mse_and_squared_loss_values_and_reductions():
    x, t = mg.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True), np.array([[0.0, 2.0], [1.0, 1.0]])
    assert F.mse_loss(x, t).item() == (1 + 0 + 4 + 16) / 4
    assert F.mse_loss(x, t, reduction="sum").item() == 21
    assert F.mse_loss(x, t, reduction="batchmean").item() == 21 / 2
    assert F.mse_loss(x, t, reduction="none").shape == (2, 2)
    loss = F.squared_loss(x, t)
    assert loss.item() == 10.5
    loss.backward()
    np.testing.assert_array_equal(x.grad, x.data - t)  # the 1/2 convention: gradient is the error


def test_binary_cross_entropy_clamps_and_matches_the_logits_version():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = mg.tensor([0.0, 1.0, 0.3], requires_grad=True)
        loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]), reduction="sum")
        assert np.isfinite(loss.item()) and np.isclose(loss.item(), 200 - np.log(0.3))
        loss.backward()
        assert np.all(np.isfinite(p.grad))
        z = mg.tensor([1000.0, -1000.0, 0.5, -3.0], requires_grad=True)
        t = np.array([0.0, 1.0, 1.0, 0.0])
        lz = F.binary_cross_entropy_with_logits(z, t, reduction="none")
        np.testing.assert_allclose(lz.data[:2], [1000.0, 1000.0])
        np.testing.assert_allclose(lz.data[2:], F.binary_cross_entropy(mg.sigmoid(z[2:]), t[2:], reduction="none").data)
        lz.sum().backward()
        np.testing.assert_allclose(z.grad, mg.sigmoid(z.data).data - t)


def test_cross_entropy_labels_and_probabilities():
    rng = np.random.default_rng(0)
    logits = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    labels = np.array([2, 0, 1, 2])
    ref = -np.mean(np.log(np.exp(logits.data) / np.exp(logits.data).sum(1, keepdims=True))[np.arange(4), labels])
    assert np.isclose(F.cross_entropy(logits, labels).item(), ref)
    assert np.isclose(F.cross_entropy(logits, F.one_hot(labels, 3)).item(), ref)
    assert np.isclose(F.cross_entropy(logits, mg.tensor(labels)).item(), ref)  # whole floats accepted
    assert np.isclose(F.cross_entropy(logits[0], 2).item(), -np.log(np.exp(logits.data[0, 2]) / np.exp(logits.data[0]).sum()))
    assert gradcheck(lambda z: F.cross_entropy(z, labels), logits)
    big = mg.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert F.cross_entropy(big, [0]).item() == 0.0
        assert F.cross_entropy(big, [1]).item() == 2000.0


def test_cross_entropy_errors_are_clear():
    logits = mg.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"\[0, 3\].*\[4\]"):
        F.cross_entropy(logits, [0, 4, 1])
    with pytest.raises(ValueError, match=r"\[-1\]"):
        F.cross_entropy(logits, [0, -1, 1])
    with pytest.raises(ValueError, match="3 examples.*\\(2,\\)"):
        F.cross_entropy(logits, [0, 1])
    with pytest.raises(ValueError, match="whole numbers"):
        F.cross_entropy(logits, [0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 5\)"):
        F.cross_entropy(logits, np.zeros((3, 5)))


def test_l2_penalty_skips_biases():
    net = mg.nn.MLP([2, 3, 1], rng=0)
    expected = 0.5 / (2 * 10) * sum(np.sum(p.data ** 2) for n, p in net.named_parameters() if "weight" in n)
    assert np.isclose(F.l2_penalty(net, 0.5, 10).item(), expected)
    assert np.isclose(F.l2_penalty([net.layers[0].weight], 1.0, 1).item(), 0.5 * np.sum(net.layers[0].weight.data ** 2))


@given(mst.tensors(shape=(3, 2), elements=mst.interval(-30, 30)))
def test_bce_with_logits_gradient(z):
    t = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    assert gradcheck(lambda z: F.binary_cross_entropy_with_logits(z, t, reduction="batchmean"), z)


def test_activation_functions_are_exported():
    x = mg.tensor([-1.0, 2.0])
    for name in ("sigmoid", "relu", "tanh", "softmax", "log_softmax", "log_sigmoid"):
        assert isinstance(getattr(F, name)(x), mg.Tensor)
