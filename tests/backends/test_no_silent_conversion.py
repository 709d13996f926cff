"""No array of another library is ever turned into NumPy silently.

Every public entry point fed a torch tensor (or an array-api-strict array) returns data of that
library, or raises a TypeError that names the library and the way out; it never returns NumPy data
computed from it.
"""

import inspect

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import backends
from microgradnp.engine import function
from microgradnp.ops import REGISTRY

torch = pytest.importorskip("torch")


def _on_torch(x: mg.Tensor) -> mg.Tensor:
    return mg.tensor(torch.asarray(x.numpy()), dtype=x.dtype)


# Public functions whose arguments after the data are not arrays: called as a user would.
_CALLS = {
    "einsum": lambda f, t, other: f("ij,jk->ik", t, other),
    "expand_dims": lambda f, t, other: f(t, 0),
    "getitem": lambda f, t, other: f(t, 0),
    "index_put": lambda f, t, other: f(t, (0,), (3, 2)),
    "moveaxis": lambda f, t, other: f(t, 0, 1),
    "swapaxes": lambda f, t, other: f(t, 0, 1),
    "roll": lambda f, t, other: f(t, 1),
    "tile": lambda f, t, other: f(t, 2),
    "repeat": lambda f, t, other: f(t, 2),
    "take": lambda f, t, other: f(t, mg.tensor([0, 1], dtype=np.int64)),
    "take_along_axis": lambda f, t, other: f(t, mg.tensor([[0], [1]], dtype=np.int64), axis=1),
    "select": lambda f, t, other: f([t > 1.5], [t]),
    "outer": lambda f, t, other: f(t, other),
    "vdot": lambda f, t, other: f(t, other),
}


def _call(op, first, other):
    f = function(op)
    if op.name in _CALLS:
        return _CALLS[op.name](f, first, other)
    params = [p for p in inspect.signature(op.adapter).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    return f(first, *[other for _ in params[1:]])


def _results(out):
    return [r for o in (out if isinstance(out, tuple) else (out,)) for r in (o if isinstance(o, tuple) else (o,))]


def _torch_or_loud(call):
    """``call()`` returns only torch data, or raises a TypeError/ValueError/IndexError naming the problem."""
    try:
        out = call()
    except backends.UnsupportedOnBackend as e:
        assert "torch" in str(e)
        return None
    except (TypeError, ValueError, IndexError) as e:
        assert "torch" in str(e) or "numpy" in str(e).lower(), f"an error that does not say why: {e}"
        return None
    for r in _results(out):
        if isinstance(r, bool):  # a verdict (gradcheck), not data
            continue
        if isinstance(r, mg.Tensor):
            assert r.library == "torch", f"returned a tensor on {r.library}"
        else:
            assert backends.library_of(r) == "torch", f"returned {type(r)}"
    return out


@pytest.mark.parametrize("op", [pytest.param(op, id=name) for name, op in sorted(REGISTRY.items()) if op.public])
def test_every_public_function_fed_a_raw_torch_tensor_returns_torch_data_or_refuses(op):
    _torch_or_loud(lambda: _call(op, torch.eye(2, dtype=torch.float64) + 1.0, mg.tensor(np.eye(2) + 1.0)))


@pytest.mark.parametrize("op", [pytest.param(op, id=name) for name, op in sorted(REGISTRY.items()) if op.public])
def test_every_public_function_on_torch_tensors_returns_torch_data_or_refuses(op):
    t = _on_torch(mg.tensor(np.eye(2) + 1.0))
    _torch_or_loud(lambda: _call(op, t, _on_torch(mg.tensor(np.eye(2) + 2.0))))


def test_mixing_numpy_and_torch_in_one_op_names_both():
    with pytest.raises(TypeError, match=r"add: inputs from numpy and torch in one operation.*t\.to\(library\)"):
        mg.ones(3) + mg.tensor(torch.ones(3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"numpy and torch"):
        mg.ones(3) + torch.ones(3, dtype=torch.float64)


@mg.func.custom_vjp
def _custom_square(x):
    return x * x


_custom_square.defvjp(lambda x: (x * x, x), lambda x, g: (2 * x * g,))


def _grad_after(step, t):
    x = mg.tensor(t, requires_grad=True)
    step(x)
    return x.grad


FOREIGN_ENTRY_POINTS = {
    "mg.tensor": lambda t: mg.tensor(t),
    "mg.as_tensor": lambda t: mg.as_tensor(t),
    "Tensor(...)": lambda t: mg.Tensor(t),
    "torch tensor + raw torch": lambda t: mg.tensor(t) + t,
    "raw torch + torch tensor": lambda t: t + mg.tensor(t),
    "numpy tensor + raw torch": lambda t: mg.ones(3) + t,
    "numpy tensor @ raw torch": lambda t: mg.ones(3) @ t,
    "mg.where condition": lambda t: mg.where(t > 0, mg.tensor(t), 0.0),
    "mg.zeros_like": lambda t: mg.zeros_like(t),
    "mg.ones_like": lambda t: mg.ones_like(t),
    "Tensor.data = on a numpy tensor": lambda t: setattr(m := mg.ones(3), "data", t) or m,
    "Tensor.grad = on a numpy tensor": lambda t: setattr(mg.ones(3, requires_grad=True), "grad", t),
    "indexing key": lambda t: mg.ones(3)[t.long()],
    "nn.Linear on numpy weights": lambda t: mg.nn.Linear(3, 2)(mg.tensor(t)),
    "nn.Linear moved to torch": lambda t: mg.nn.Linear(3, 2).to("torch")(mg.tensor(t)),
    "nn.MSELoss target": lambda t: mg.nn.MSELoss()(mg.tensor(t), t),
    "backward(gradient) of a numpy output": lambda t: (mg.ones(3, requires_grad=True) * 2).backward(t),
    "data.TensorDataset": lambda t: mg.data.TensorDataset(t),
    "testing.gradcheck": lambda t: mg.testing.gradcheck(lambda x: x * 2, mg.tensor(t, requires_grad=True)),
    "func.grad": lambda t: mg.func.grad(lambda x: (x * x).sum())(mg.tensor(t)),
    "func.vmap": lambda t: mg.func.vmap(lambda x: x * 2)(mg.tensor(t)),
    "func.grad of a raw torch tensor": lambda t: mg.func.grad(lambda x: (x * x).sum())(t),
    "func.vmap of a raw torch tensor": lambda t: mg.func.vmap(lambda x: x * 2)(t),
    "func.vmap returning a raw torch tensor": lambda t: mg.func.vmap(lambda x: t, in_axes=0)(mg.tensor(t)),
    "func.jvp": lambda t: mg.func.jvp(lambda x: x.sin(), (t,), (t,))[1],
    "func.jvp with a numpy tangent": lambda t: mg.func.jvp(lambda x: x.sin(), (t,), (np.ones(3),))[1],
    "func.vjp cotangent": lambda t: mg.func.vjp(lambda x: x.sin(), mg.tensor(t))[1](t)[0],
    "func.jacrev": lambda t: mg.func.jacrev(lambda x: x.sin())(t),
    "func.jacfwd": lambda t: mg.func.jacfwd(lambda x: x.sin())(t),
    "func.hessian": lambda t: mg.func.hessian(lambda x: (x.sin() * x).sum())(t),
    "func.custom_vjp": lambda t: mg.func.grad(lambda x: _custom_square(x).sum())(t),
    "func.fixed_point": lambda t: mg.func.fixed_point(lambda z, p: p * z.cos(), t, t),
    "func.odeint": lambda t: mg.func.odeint(lambda y, s, p: -p * y, t, np.linspace(0, 1, 3), t),
    "mg.compile": lambda t: mg.compile(lambda x: (x * 2).sum())(mg.tensor(t)),
    "mg.compile of a raw torch tensor": lambda t: mg.compile(lambda x: (x * 2).sum())(t),
    "mg.compile, replayed": lambda t: _twice(mg.compile(lambda x: (x.exp() * 2).sum()), t),
    "mg.compile of a training step": lambda t: _compiled_training_step(t),
    "mg.compile(backend='numba')": lambda t: mg.compile(lambda x: (x * 2).sum(), backend="numba")(mg.tensor(t)),
    "backward(create_graph=True)": lambda t: _grad_after(lambda x: (x ** 2).sum().backward(create_graph=True), t),
    "np.asarray of a torch tensor": lambda t: np.asarray(mg.tensor(t)),
}


def _twice(step, t):
    step(t)
    return step(t * 2)  # the replay


def _compiled_training_step(t):
    w = mg.tensor(t, requires_grad=True)
    opt = mg.optim.Adam([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = ((x * w).sin() ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    compiled = mg.compile(step)
    losses = [compiled(t * (1 + 0.1 * k)) for k in range(3)]
    assert compiled.stats["replays"] == 2 and w.library == "torch" and w.grad.__class__ is torch.Tensor
    return losses[-1]


@pytest.mark.parametrize("entry", sorted(FOREIGN_ENTRY_POINTS))
def test_other_entry_points_return_torch_data_or_refuse(entry):
    _torch_or_loud(lambda: FOREIGN_ENTRY_POINTS[entry](torch.ones(3, dtype=torch.float64)))


def test_the_refusals_say_the_way_out():
    t = torch.ones(3, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"root.*on torch.*solver on NumPy.*t\.to\('numpy'\).*\.to\('torch'\)"):
        mg.func.root(lambda x, p: x - p, mg.tensor(t), mg.tensor(t))
    with pytest.raises(TypeError, match=r"tangent 0 is a numpy array but its primal is on torch.*\.to\('torch'\)"):
        mg.func.jvp(lambda x: x.sin(), (t,), (np.ones(3),))
    with pytest.raises(TypeError, match=r"to\('numpy'\) inside mg.compile.*move the tensors"):
        mg.compile(lambda x: (x.to("numpy") * 2).sum())(mg.tensor(t))
    with pytest.raises(TypeError, match=r"not converted to NumPy silently.*t\.numpy\(\)"):
        np.asarray(mg.tensor(t))


def test_an_array_api_strict_array_stays_strict():
    strict = pytest.importorskip("array_api_strict")
    x = mg.tensor(strict.asarray([1.0, 2.0]), requires_grad=True)
    y = (mg.exp(x) * 3.0).sum()
    y.backward()
    assert x.library == "array_api_strict" and backends.library_of(x.grad) == "array_api_strict"
    np.testing.assert_allclose(backends.to_numpy(x.grad), 3.0 * np.exp([1.0, 2.0]), rtol=1e-15)
    with pytest.raises(TypeError, match=r"array_api_strict and numpy|numpy and array_api_strict"):
        mg.ones(2) + x


def test_explicit_conversions_work_both_ways():
    t = torch.arange(3, dtype=torch.float64)
    x = mg.tensor(t, requires_grad=True)
    assert x.to("numpy").library == "numpy" and x.to("numpy").requires_grad
    np.testing.assert_array_equal(x.numpy(), [0.0, 1.0, 2.0])
    back = mg.tensor([0.0, 1.0, 2.0]).to("torch")
    assert back.library == "torch" and str(back.device) == "cpu"
    (x * 2).to("numpy").sum().backward()  # differentiable, as in PyTorch: the gradient goes back to torch
    assert isinstance(x.grad, torch.Tensor) and x.grad.tolist() == [2.0, 2.0, 2.0]
