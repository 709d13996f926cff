"""Linear and MLP: shapes, dtypes, gradients, Ng-style weight matrices."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.nn import functional as F
from microgradnp.testing import gradcheck


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


@pytest.mark.parametrize("args, error, match", [
    ((2.5, 3), TypeError, r"Linear: in_features must be an integer, got 2\.5"),
    ((2, "3"), TypeError, "Linear: out_features must be an integer"),
    ((True, 3), TypeError, "in_features must be an integer, got True"),
    ((-1, 3), ValueError, "Linear: in_features must be 0 or more, got -1"),
])
def test_linear_sizes_are_checked_never_truncated(args, error, match):
    with pytest.raises(error, match=match):
        mg.nn.Linear(*args)


def test_mlp_sizes_are_checked():
    with pytest.raises(TypeError, match=r"MLP: sizes\[1\] must be an integer, got 3\.5"):
        mg.nn.MLP([2, 3.5, 1])
    assert mg.nn.MLP(np.array([2, 3, 1])).sizes == [2, 3, 1]  # NumPy integers are integers


@pytest.mark.parametrize("init", ["glorot", "normal", "uniform"])
@pytest.mark.parametrize("n_in, n_out", [(0, 0), (0, 3), (3, 0)])
def test_zero_sized_linear_layers_work_as_in_pytorch(init, n_in, n_out):
    layer = mg.nn.Linear(n_in, n_out, init=init, rng=0)
    x = mg.tensor(np.ones((2, n_in)), requires_grad=True)
    y = layer(x)
    assert y.shape == (2, n_out)
    np.testing.assert_array_equal(y.data, 0.0)  # the bias starts at zero; the weight is empty
    y.sum().backward()
    assert x.grad.shape == (2, n_in) and layer.bias.grad.shape == (n_out,)


def test_flatten_keeps_the_batch_axis():
    x = mg.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert mg.nn.Flatten()(x).shape == (2, 12)
    assert mg.nn.Flatten(0, 1)(x).shape == (6, 4)
    assert gradcheck(lambda x: mg.nn.Flatten()(x) * 2.0, x)


def test_dropout_scales_what_it_keeps_and_is_the_identity_in_eval_mode():
    drop = mg.nn.Dropout(0.25, rng=0)
    x = mg.tensor(np.ones(20000), requires_grad=True)
    y = drop(x)
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.75)  # the gradient goes through the kept elements only
    assert mg.nn.Dropout(0.25, rng=0)(x).data.tolist() == y.data.tolist()  # the seed fixes the masks
    model = mg.nn.Sequential(mg.nn.Linear(3, 3, rng=0), mg.nn.Dropout(0.5, rng=1))
    z = mg.tensor(np.ones((2, 3)))
    assert model.eval()(z).data.tolist() == model[0](z).data.tolist()
    assert not mg.nn.Dropout(1.0)(x).data.any() and mg.nn.Dropout(0.0)(x) is x
    with pytest.raises(ValueError, match="p must lie"):
        mg.nn.Dropout(1.5)


def test_layer_norm_normalises_the_last_axes_and_passes_gradcheck():
    rng = np.random.default_rng(0)
    ln = mg.nn.LayerNorm((3, 4))
    ln.weight.data[...] = rng.standard_normal((3, 4))
    ln.bias.data[...] = rng.standard_normal((3, 4))
    x = rng.standard_normal((2, 3, 4))
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5) * ln.weight.data + ln.bias.data
    np.testing.assert_allclose(ln(mg.tensor(x)).data, expected, rtol=1e-12)
    xt = mg.tensor(x, requires_grad=True)
    assert gradcheck(lambda x, w, b: mg.nn.functional.mse_loss(
        ((x - x.mean(axis=(1, 2), keepdims=True)) / mg.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-5)) * w + b,
        np.zeros((2, 3, 4))), (xt, ln.weight, ln.bias))
    assert gradcheck(lambda x: ln(x), xt)
    bare = mg.nn.LayerNorm(4, elementwise_affine=False)
    assert bare.weight is None and list(bare.parameters()) == []
    with pytest.raises(ValueError, match="last axes"):
        bare(mg.tensor(np.ones((2, 3))))


def test_embedding_looks_up_rows_and_accumulates_their_gradients():
    emb = mg.nn.Embedding(5, 2, rng=0)
    idx = np.array([[1, 3], [1, 1]])
    out = emb(idx)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [0.0, 3.0, 0.0, 1.0, 0.0])  # row 1 used three times
    assert gradcheck(lambda w: (mg.tensor(np.arange(2.0)) * w[idx]).sum(), emb.weight)
    with pytest.raises(IndexError, match="must lie in"):
        emb(np.array([5]))
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([1.0]))


def test_a_linear_layer_names_itself_when_refusing_an_input():
    model = mg.nn.Sequential(mg.nn.Linear(3, 4, rng=0), mg.nn.Tanh(), mg.nn.Linear(4, 2, rng=1))
    with pytest.raises(ValueError, match=r"^0 \(Linear 3 -> 4\): input of shape \(5, 7\) has 7 features"):
        model(mg.tensor(np.ones((5, 7))))
    mlp = mg.nn.MLP([4, 3, 2])
    with pytest.raises(ValueError, match=r"^layers\.0 \(Linear 4 -> 3\)"):
        mlp(np.ones(5))
    with pytest.raises(TypeError, match="expected a Tensor or an array"):
        mg.nn.Linear(2, 1)([1.0, 2.0])


def test_a_float32_layer_refuses_float64_input_as_pytorch_does():
    layer = mg.nn.Linear(3, 2, dtype=np.float32, rng=0)
    with pytest.raises(TypeError, match=r"input is float64 but the layer's weights are float32"):
        layer(mg.tensor(np.ones((2, 3))))  # NumPy would promote silently to float64
    out = layer(mg.tensor(np.ones((2, 3)), dtype=np.float32))
    assert out.dtype == np.float32


@pytest.mark.parametrize("cls,shape", [(mg.nn.BatchNorm1d, (6, 3)), (mg.nn.BatchNorm1d, (4, 3, 5)),
                                       (mg.nn.BatchNorm2d, (2, 3, 4, 5))])
def test_batch_norm_trains_on_batch_statistics_and_evaluates_on_running_ones(cls, shape):
    rng = np.random.default_rng(0)
    bn = cls(3, momentum=0.2)
    bn.weight.data[...] = rng.standard_normal(3)
    bn.bias.data[...] = rng.standard_normal(3)
    axes = (0,) + tuple(range(2, len(shape)))
    expand = (1, 3) + (1,) * (len(shape) - 2)
    running_mean, running_var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        n = x.size // 3
        y = bn(mg.tensor(x))
        expected = (x - mean.reshape(expand)) / np.sqrt(var.reshape(expand) + 1e-5)
        np.testing.assert_allclose(y.data, expected * bn.weight.data.reshape(expand) + bn.bias.data.reshape(expand),
                                   rtol=1e-12, atol=1e-12)
        running_mean = 0.8 * running_mean + 0.2 * mean
        running_var = 0.8 * running_var + 0.2 * var * n / (n - 1)  # the unbiased variance, as PyTorch keeps
    np.testing.assert_allclose(bn.running_mean, running_mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, running_var, rtol=1e-12)
    x = rng.standard_normal(shape)
    bn.eval()
    y = bn(mg.tensor(x)).data
    expected = (x - running_mean.reshape(expand)) / np.sqrt(running_var.reshape(expand) + 1e-5)
    np.testing.assert_allclose(y, expected * bn.weight.data.reshape(expand) + bn.bias.data.reshape(expand), rtol=1e-12)
    bn.train()
    xt = mg.tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda x: bn(x) ** 3, xt)


def test_batch_norm_buffers_travel_with_the_state_dict(tmp_path):
    bn = mg.nn.BatchNorm1d(2)
    bn(mg.tensor(np.array([[1.0, 2.0], [3.0, 6.0]])))
    state = bn.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]  # PyTorch's keys
    fresh = mg.nn.BatchNorm1d(2)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.running_mean, bn.running_mean)
    model = mg.nn.Sequential(mg.nn.Linear(2, 2, rng=0), mg.nn.BatchNorm1d(2))
    model(mg.tensor(np.ones((3, 2)) * np.arange(3)[:, None]))
    model.save(tmp_path / "m.npz")
    other = mg.nn.Sequential(mg.nn.Linear(2, 2, rng=1), mg.nn.BatchNorm1d(2))
    other.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(other[1].running_var, model[1].running_var)
    assert [n for n, _ in other.named_buffers()] == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert len(list(model.parameters())) == 4  # buffers are not parameters


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than one value per channel"):
        mg.nn.BatchNorm1d(3)(mg.tensor(np.ones((1, 3))))
    with pytest.raises(ValueError, match="with 3 channels on axis 1"):
        mg.nn.BatchNorm2d(3)(mg.tensor(np.ones((2, 4, 2, 2))))
    with pytest.raises(TypeError, match="is a buffer"):
        mg.nn.BatchNorm1d(3).running_mean = 1.0


def test_any_layer_that_refuses_its_input_is_named_by_its_path_once():
    model = mg.nn.Sequential(mg.nn.Conv2d(1, 2, 3, rng=0), mg.nn.ReLU(), mg.nn.Conv2d(3, 4, 3, rng=0))
    with pytest.raises(ValueError, match=r"^2 \(Conv2d\): conv2d: the input has 2 channels") as info:
        model(mg.zeros(1, 1, 8, 8))
    assert "(Sequential)" not in str(info.value)
    with pytest.raises(ValueError, match=r"^\(BatchNorm1d 3\)"):
        mg.nn.BatchNorm1d(3)(mg.zeros(4, 2))


def test_dropout_passes_gradcheck_with_its_mask_held_fixed():
    x = mg.tensor(np.linspace(-1.0, 1.0, 12), requires_grad=True)
    assert gradcheck(lambda x: mg.nn.Dropout(0.4, rng=3)(x) ** 2, x)  # the same seed: the same mask at every call


def test_batch_norm_momentum_none_is_the_cumulative_average_as_in_pytorch():
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((5, 3)) * (i + 1) + i for i in range(4)]
    bn = mg.nn.BatchNorm1d(3, momentum=None)
    for x in batches:
        bn(mg.tensor(x))
    assert int(bn.num_batches_tracked) == 4
    np.testing.assert_allclose(bn.running_mean, np.mean([x.mean(0) for x in batches], axis=0), rtol=1e-12)
    # the first update replaces the initial (0, 1) entirely: 1/1 of the first batch
    np.testing.assert_allclose(bn.running_var, np.mean([x.var(0, ddof=1) for x in batches], axis=0), rtol=1e-12)
    assert "momentum=None" in repr(bn)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\] or be None"):
        mg.nn.BatchNorm1d(3, momentum=1.5)
    torch = pytest.importorskip("torch")
    tbn = torch.nn.BatchNorm1d(3, momentum=None, dtype=torch.float64)
    for x in batches:
        tbn(torch.tensor(x))
    np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=1e-12)
    assert int(tbn.num_batches_tracked) == int(bn.num_batches_tracked)


def test_a_batch_norm_state_saved_before_num_batches_tracked_still_loads():
    bn = mg.nn.BatchNorm1d(2)
    bn(mg.tensor(np.array([[1.0, 2.0], [3.0, 6.0]])))
    old = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    model = mg.nn.Sequential(mg.nn.BatchNorm1d(2))
    model.load_state_dict({f"0.{k}": v for k, v in old.items()})  # strict: the count alone may be missing
    np.testing.assert_array_equal(model[0].running_mean, bn.running_mean)
    assert int(model[0].num_batches_tracked) == 0
    with pytest.raises(KeyError, match="running_var"):
        mg.nn.BatchNorm1d(2).load_state_dict({k: v for k, v in old.items() if k != "running_var"})
