"""No array of another library is ever turned into NumPy silently.

Until Tensors hold other libraries' arrays, every public entry point fed a torch tensor (or an
array-api-strict array) raises a TypeError naming the library and the explicit conversion;
it never returns NumPy data computed from it.
"""

import inspect

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.api import function
from microgradnp.ops import REGISTRY

torch = pytest.importorskip("torch")


def _public_functions():
    for name, op in sorted(REGISTRY.items()):
        if op.public:
            yield pytest.param(op, id=name)


# Public functions whose arguments after the data are not arrays: called as a user would.
_CALLS = {
    "einsum": lambda f, t: f("ij,jk->ik", t, mg.ones((2, 2))),
    "expand_dims": lambda f, t: f(t, 0),
    "getitem": lambda f, t: f(t, 0),
    "index_put": lambda f, t: f(t, (0,), (3, 2)),
    "moveaxis": lambda f, t: f(t, 0, 1),
    "swapaxes": lambda f, t: f(t, 0, 1),
    "roll": lambda f, t: f(t, 1),
    "tile": lambda f, t: f(t, 2),
    "repeat": lambda f, t: f(t, 2),
    "take": lambda f, t: f(t, mg.tensor([0, 1], dtype=np.int64)),
    "take_along_axis": lambda f, t: f(t, mg.tensor([[0], [1]], dtype=np.int64), axis=1),
    "select": lambda f, t: f([t > 1.5], [t]),
    "outer": lambda f, t: f(t, mg.ones(4)),
    "vdot": lambda f, t: f(t, mg.ones((2, 2))),
}


def _call_with_foreign_first(op, foreign):
    f = function(op)
    if op.name in _CALLS:
        return _CALLS[op.name](f, foreign)
    params = [p for p in inspect.signature(op.adapter).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    rest = [mg.tensor(np.eye(2) + 1.0) for _ in params[1:]]
    return f(foreign, *rest)


@pytest.mark.parametrize("op", _public_functions())
def test_every_public_function_refuses_a_torch_tensor_by_name(op):
    foreign = torch.eye(2, dtype=torch.float64) + 1.0
    with pytest.raises(TypeError, match=r"torch array .*never converts another library's array silently.*x\.numpy\(\)"):
        _call_with_foreign_first(op, foreign)


FOREIGN_ENTRY_POINTS = {
    "mg.tensor": lambda t: mg.tensor(t),
    "mg.as_tensor": lambda t: mg.as_tensor(t),
    "Tensor(...)": lambda t: mg.Tensor(t),
    "tensor + torch": lambda t: mg.ones(3) + t,
    "torch + tensor": lambda t: t + mg.ones(3),
    "tensor * torch": lambda t: mg.ones(3) * t,
    "tensor @ torch": lambda t: mg.ones(3) @ t,
    "mg.where condition": lambda t: mg.where(t > 0, mg.ones(3), 0.0),
    "mg.zeros_like": lambda t: mg.zeros_like(t),
    "mg.ones_like": lambda t: mg.ones_like(t),
    "Tensor.data =": lambda t: setattr(mg.ones(3), "data", t),
    "Tensor.grad =": lambda t: setattr(mg.ones(3, requires_grad=True), "grad", t),
    "indexing key": lambda t: mg.ones(3)[t.long()],
    "nn.Linear": lambda t: mg.nn.Linear(3, 2)(t),
    "nn.MSELoss target": lambda t: mg.nn.MSELoss()(mg.ones(3), t),
    "backward(gradient)": lambda t: (mg.ones(3, requires_grad=True) * 2).backward(t),
    "data.TensorDataset": lambda t: mg.data.TensorDataset(t),
    "testing.gradcheck": lambda t: mg.testing.gradcheck(lambda x: x * 2, t),
}


@pytest.mark.parametrize("entry", sorted(FOREIGN_ENTRY_POINTS))
def test_other_entry_points_refuse_a_torch_tensor(entry):
    t = torch.ones(3, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"torch"):
        FOREIGN_ENTRY_POINTS[entry](t)


def test_an_array_api_strict_array_is_refused_too():
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"array_api_strict array .*np\.asarray\(x\)"):
        mg.tensor(strict.asarray([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"array_api_strict"):
        mg.ones(2) + strict.asarray([1.0, 2.0])


def test_explicit_conversion_works():
    t = torch.arange(3, dtype=torch.float64)
    np.testing.assert_array_equal(mg.tensor(t.numpy()).numpy(), [0.0, 1.0, 2.0])
