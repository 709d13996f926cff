"""Layers and functionals check their parameters and state against their contract, as PyTorch does:
a wrong shape is refused by name, never broadcast into a number.

Every public layer and functional is listed below, so a new one fails
``test_every_public_layer_and_functional_is_listed`` until its contract is
written down here.
"""

import inspect

import numpy as np
import pytest

import microgradnp as mg

F = mg.nn.functional


def _t(*shape):
    return mg.tensor(np.ones(shape))


#: Layers whose contract is "any shape in, the same shape out": checked by shape, not by refusal.
ELEMENTWISE = {"Sigmoid": mg.nn.Sigmoid, "Tanh": mg.nn.Tanh, "ReLU": mg.nn.ReLU, "Identity": mg.nn.Identity,
               "Dropout": lambda: mg.nn.Dropout(0.5).eval()}

#: layer or functional -> [(what is wrong, the call, the exception, what the error must say)]
WRONG = {
    "Linear": [("features", lambda: mg.nn.Linear(3, 2, rng=0)(_t(2, 4)), ValueError, r"has 4 features .* takes 3"),
               ("0-d input", lambda: mg.nn.Linear(3, 2, rng=0)(mg.tensor(1.0)), ValueError, r"takes 3")],
    "MLP": [("features", lambda: mg.nn.MLP([3, 2], rng=0)(_t(2, 4)), ValueError, r"layers.0 \(Linear 3 -> 2\)")],
    "Sequential": [("features", lambda: mg.nn.Sequential(mg.nn.Linear(3, 2, rng=0))(_t(2, 4)), ValueError,
                    r"^0 \(Linear 3 -> 2\)")],
    "Flatten": [("start_dim", lambda: mg.nn.Flatten(start_dim=3)(_t(2, 3)), ValueError, r"start_dim=3")],
    "LayerNorm": [("last axes", lambda: mg.nn.LayerNorm(3)(_t(2, 4)), ValueError,
                   r"expected the input's last axes to be \(3,\)"),
                  ("two axes", lambda: mg.nn.LayerNorm((3, 4))(_t(2, 4, 3)), ValueError, r"\(3, 4\), got shape")],
    "Embedding": [("float indices", lambda: mg.nn.Embedding(5, 2, rng=0)(np.array([1.5])), TypeError, r"indices"),
                  ("index past the table", lambda: mg.nn.Embedding(5, 2, rng=0)(np.array([5])), IndexError,
                   r"indices")],
    "BatchNorm1d": [("channels", lambda: mg.nn.BatchNorm1d(3)(_t(4, 2)), ValueError, r"3 channels on axis 1"),
                    ("momentum", lambda: mg.nn.BatchNorm1d(3, momentum=2.0), ValueError, r"momentum")],
    "BatchNorm2d": [("dimensions", lambda: mg.nn.BatchNorm2d(3)(_t(3, 4, 4)), ValueError, r"4 dimensions")],
    "RNNCell": [("h batch", lambda: mg.nn.RNNCell(3, 4, rng=0)(_t(2, 3), _t(1, 4)), ValueError,
                 r"hidden state h must have shape \(2, 4\) .* got \(1, 4\)"),
                ("input", lambda: mg.nn.RNNCell(3, 4, rng=0)(_t(2, 5)), ValueError, r"takes 3")],
    "GRUCell": [("h width", lambda: mg.nn.GRUCell(3, 4, rng=0)(_t(2, 3), _t(2, 5)), ValueError,
                 r"hidden state h must have shape \(2, 4\)"),
                ("input", lambda: mg.nn.GRUCell(3, 4, rng=0)(_t(2, 5)), ValueError, r"takes 3")],
    "Conv1d": [("channels", lambda: mg.nn.Conv1d(3, 4, 3, rng=0)(_t(1, 2, 5)), ValueError,
                r"conv1d: the input has 2 channels and the weight \(4, 3, 3\)")],
    "Conv2d": [("channels", lambda: mg.nn.Conv2d(3, 4, 3, rng=0)(_t(1, 2, 5, 5)), ValueError,
                r"conv2d: the input has 2 channels"),
               ("unbatched", lambda: mg.nn.Conv2d(3, 4, 3, rng=0)(_t(3, 5, 5)), ValueError, r"\(N, C, H, W\)")],
    "MaxPool2d": [("unbatched", lambda: mg.nn.MaxPool2d(2)(_t(3, 4, 4)), ValueError, r"\(N, C, H, W\)")],
    "AvgPool2d": [("padding", lambda: mg.nn.AvgPool2d(2, padding=2)(_t(1, 1, 4, 4)), ValueError,
                   r"at most half the kernel")],
    "MSELoss": [("shapes", lambda: mg.nn.MSELoss()(_t(2, 1), np.ones(2)), ValueError, r"must match exactly")],
    "BCELoss": [("shapes", lambda: mg.nn.BCELoss()(_t(2, 1) * 0.5, np.ones(2)), ValueError, r"must match exactly")],
    "BCEWithLogitsLoss": [("shapes", lambda: mg.nn.BCEWithLogitsLoss()(_t(2, 1), np.ones((1, 2))), ValueError,
                           r"must match exactly")],
    "CrossEntropyLoss": [("labels", lambda: mg.nn.CrossEntropyLoss()(_t(2, 3), np.array([0, 1, 2])), ValueError,
                          r"2 examples of logits but labels of shape \(3,\)")],
    "NLLLoss": [("labels", lambda: mg.nn.NLLLoss()(_t(2, 3), np.array([0, 3])), ValueError, r"labels must lie in")],
    "conv2d": [("bias", lambda: F.conv2d(_t(1, 2, 4, 4), _t(3, 2, 3, 3), _t(1)), ValueError,
                r"bias must have shape \(3,\)"),
               ("weight", lambda: F.conv2d(_t(1, 2, 4, 4), _t(3, 2, 3)), ValueError, r"weight of shape"),
               ("groups", lambda: F.conv2d(_t(1, 4, 4, 4), _t(3, 2, 3, 3), groups=2), ValueError, r"groups=2"),
               ("kernel past the padded input", lambda: F.conv2d(_t(1, 1, 2, 2), _t(1, 1, 3, 3)), ValueError,
                r"smaller than the kernel"),
               ("stride", lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 2, 2), stride=(1, 2, 3)), ValueError,
                r"stride must be an int >= 1 or a pair")],
    "conv1d": [("bias", lambda: F.conv1d(_t(1, 2, 5), _t(3, 2, 3), _t(2)), ValueError,
                r"conv1d: bias must have shape \(3,\)"),
               ("kernel past the input", lambda: F.conv1d(_t(1, 1, 2), _t(1, 1, 3)), ValueError,
                r"conv1d: the input of shape \(1, 1, 2\) is shorter than the kernel 3"),
               ("stride", lambda: F.conv1d(_t(1, 1, 5), _t(1, 1, 2), stride=(1, 2)), ValueError,
                r"conv1d: stride must be an int >= 1")],
    "max_pool2d": [("padding", lambda: F.max_pool2d(_t(1, 1, 4, 4), 2, padding=2), ValueError,
                    r"padding .* at most half the kernel")],
    "avg_pool2d": [("padding", lambda: F.avg_pool2d(_t(1, 1, 4, 4), 3, padding=2), ValueError,
                    r"padding .* at most half the kernel"),
                   ("kernel past the input", lambda: F.avg_pool2d(_t(1, 1, 2, 2), 3), ValueError,
                    r"smaller than the kernel")],
    "linear": [("bias", lambda: mg.linear(_t(2, 3), _t(4, 3), _t(1)), ValueError, r"bias must have shape \(4,\)"),
               ("weight", lambda: F.linear(_t(2, 3), _t(4, 2)), ValueError, r"in_features = the input's last axis"),
               ("1-D weight", lambda: F.linear(_t(2, 3), _t(3)), ValueError, r"weight must be \(out_features")],
    "embedding": [("1-D weight", lambda: F.embedding(np.array([1]), _t(5)), ValueError,
                   r"weight must be a matrix")],
    "mse_loss": [("shapes", lambda: F.mse_loss(_t(3), _t(3, 1)), ValueError, r"must match exactly")],
    "squared_loss": [("shapes", lambda: F.squared_loss(_t(3), _t(1)), ValueError, r"must match exactly")],
    "binary_cross_entropy": [("not a probability", lambda: F.binary_cross_entropy(_t(2) * 2, np.ones(2)),
                              ValueError, r"must be a probability")],
    "binary_cross_entropy_with_logits": [("shapes", lambda: F.binary_cross_entropy_with_logits(_t(2), _t(2, 1)),
                                          ValueError, r"must match exactly")],
    "cross_entropy": [("integer probabilities", lambda: F.cross_entropy(_t(2, 3), np.ones((2, 3), dtype=int)),
                       TypeError, r"must be floating point")],
    "nll_loss": [("logits shape", lambda: F.nll_loss(_t(2, 3, 1), np.array([0, 1])), ValueError, r"\(N, C\)")],
    "l2_penalty": [("m", lambda: F.l2_penalty([_t(2)], 0.1, 0), ValueError, r"number of training examples")],
    "one_hot": [("label past the classes", lambda: F.one_hot(np.array([3]), 3), ValueError, r"\[0, 2\]")],
    "softmax": [("axis", lambda: F.softmax(_t(2, 3), axis=2), np.exceptions.AxisError, r"softmax: axis 2")],
    "log_softmax": [("axis", lambda: F.log_softmax(_t(2, 3), axis=-3), np.exceptions.AxisError, r"axis -3")],
}

#: functionals with no parameter or state beyond their input, elementwise on any shape
ELEMENTWISE_FUNCTIONALS = {"sigmoid", "relu", "tanh", "log_sigmoid"}

CASES = [(name, what, call, error, message) for name, cases in WRONG.items() for what, call, error, message in cases]


def test_every_public_layer_and_functional_is_listed():
    layers = {n for n in mg.nn.__all__ if isinstance(getattr(mg.nn, n), type)
              and issubclass(getattr(mg.nn, n), mg.nn.Module) and n != "Module"}
    assert not layers - set(WRONG) - set(ELEMENTWISE), "add the new layer's contract to WRONG or ELEMENTWISE"
    functionals = set(F.__all__)
    assert not functionals - set(WRONG) - ELEMENTWISE_FUNCTIONALS, "add the new functional's contract to WRONG"


@pytest.mark.parametrize("name,what,call,error,message", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_a_wrong_argument_is_refused_by_name(name, what, call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_layers_take_any_shape_and_keep_it(name):
    layer = ELEMENTWISE[name]()
    for shape in [(), (3,), (2, 3), (2, 1, 4)]:
        assert layer(mg.tensor(np.full(shape, 0.5))).shape == shape


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_FUNCTIONALS))
def test_elementwise_functionals_take_any_shape_and_keep_it(name):
    for shape in [(), (3,), (2, 1, 4)]:
        assert getattr(F, name)(mg.tensor(np.full(shape, 0.5))).shape == shape


def test_one_element_tuples_mean_both_axes_as_in_pytorch():
    x, w = _t(1, 1, 5, 5), _t(1, 1, 2, 2)
    assert F.conv2d(x, w, stride=(2,)).shape == F.conv2d(x, w, stride=2).shape == (1, 1, 2, 2)
    assert F.conv2d(x, w, padding=(1,), dilation=(2,)).shape == F.conv2d(x, w, padding=1, dilation=2).shape
    assert F.max_pool2d(x, (2,)).shape == (1, 1, 2, 2)
    assert F.conv1d(_t(1, 1, 5), _t(1, 1, 2), stride=(2,)).shape == F.conv1d(_t(1, 1, 5), _t(1, 1, 2), stride=2).shape


def test_right_shapes_still_work_and_batch_one_states_too():
    cell = mg.nn.GRUCell(3, 4, rng=0)
    assert cell(_t(1, 3), _t(1, 4)).shape == (1, 4)
    assert cell(_t(3), _t(4)).shape == (4,)
    assert F.conv2d(_t(1, 2, 4, 4), _t(3, 2, 3, 3), _t(3)).shape == (1, 3, 2, 2)
    assert F.conv1d(_t(2, 2, 5), _t(3, 2, 3), _t(3), padding=1).shape == (2, 3, 5)
    assert F.max_pool2d(_t(1, 1, 4, 4), 3, padding=1).shape == (1, 1, 2, 2)
    assert F.l2_penalty([_t(2)], 1.0, np.int64(2)).item() == 0.5


@pytest.mark.parametrize("call", [
    lambda torch: torch.nn.functional.conv2d(torch.ones(1, 2, 4, 4), torch.ones(3, 2, 3, 3), torch.ones(1)),
    lambda torch: torch.nn.GRUCell(3, 4)(torch.ones(2, 3), torch.ones(1, 4)),
    lambda torch: torch.nn.functional.max_pool2d(torch.ones(1, 1, 4, 4), 2, padding=2),
    lambda torch: torch.nn.functional.conv1d(torch.ones(1, 2, 5), torch.ones(3, 2, 3), torch.ones(2)),
], ids=["conv2d bias", "GRUCell h", "max_pool2d padding", "conv1d bias"])
def test_pytorch_refuses_the_same(call):
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        call(torch)


#: every layer with parameters (or running statistics), built in float32, and an input shape it takes
FLOAT32_LAYERS = {
    "Linear": (lambda: mg.nn.Linear(3, 2, rng=0, dtype=np.float32), (2, 3)),
    "MLP": (lambda: mg.nn.MLP([3, 2], rng=0, dtype=np.float32), (2, 3)),
    "Conv1d": (lambda: mg.nn.Conv1d(1, 2, 2, rng=0, dtype=np.float32), (1, 1, 4)),
    "Conv2d": (lambda: mg.nn.Conv2d(1, 2, 2, rng=0, dtype=np.float32), (1, 1, 4, 4)),
    "BatchNorm1d": (lambda: mg.nn.BatchNorm1d(3, dtype=np.float32), (4, 3)),
    "BatchNorm2d": (lambda: mg.nn.BatchNorm2d(3, affine=False, dtype=np.float32), (4, 3, 2, 2)),
    "LayerNorm": (lambda: mg.nn.LayerNorm(3, dtype=np.float32), (4, 3)),
    "RNNCell": (lambda: mg.nn.RNNCell(3, 2, rng=0, dtype=np.float32), (4, 3)),
    "GRUCell": (lambda: mg.nn.GRUCell(3, 2, rng=0, dtype=np.float32), (4, 3)),
}


def test_every_layer_with_parameters_is_in_the_dtype_list():
    with_parameters = {n for n in mg.nn.__all__ if isinstance(getattr(mg.nn, n), type)
                       and issubclass(getattr(mg.nn, n), mg.nn.Module)
                       and n not in ("Module", "Sequential", "Embedding")  # Embedding's input is indices
                       and "dtype" in inspect.signature(getattr(mg.nn, n)).parameters}
    assert with_parameters == set(FLOAT32_LAYERS)


@pytest.mark.parametrize("name", sorted(FLOAT32_LAYERS))
def test_a_float32_layer_fed_float64_refuses_it_as_linear_does(name):
    make, shape = FLOAT32_LAYERS[name]
    layer = make()
    assert layer(mg.tensor(np.ones(shape, dtype=np.float32))).dtype == np.float32
    with pytest.raises(TypeError, match=r"the input is float64 but the layer's weights are float32; convert"):
        layer(mg.tensor(np.ones(shape)))


def test_a_cells_hidden_state_of_another_dtype_is_refused():
    cell = mg.nn.GRUCell(3, 2, rng=0, dtype=np.float32)
    with pytest.raises(TypeError, match=r"\(GRUCell\): the hidden state h is float64"):
        cell(mg.tensor(np.ones((4, 3), dtype=np.float32)), mg.tensor(np.zeros((4, 2))))
