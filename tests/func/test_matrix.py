"""The composition matrix: every transform alone, every ordered pair and four triples, over every differentiable
registry op and the other kinds of function users write; each equals its reference or raises its documented error.

The matrix itself (transforms, references, documented errors) is ``microgradnp.testing.compositions``; the docs
render the same data (docs/func.md, "What composes").
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.engine import apply
from microgradnp.func import custom_jvp, custom_vjp, functional_call
from microgradnp.ops import REGISTRY
from microgradnp.testing import compositions
from microgradnp.testing import strategies as mst

DIFFERENTIABLE = sorted(n for n, op in REGISTRY.items() if op.differentiable)

def _packed(op, inputs, attrs):
    """The op as a function of one flat vector holding its differentiable inputs (the others held fixed)."""
    where = [i for i, x in enumerate(inputs) if x.requires_grad]
    shapes = [inputs[i].shape for i in where]
    sizes = [int(np.prod(s)) for s in shapes]
    x0 = np.concatenate([inputs[i].data.reshape(-1) for i in where])
    gauge = None
    if op.test.gauge is not None:  # results fixed up to sign: the sign chosen once, at x0 (constant nearby)
        gauge = op.test.gauge(apply(op, inputs, attrs).data, **attrs).astype(np.float64)

    def g(x):
        args, start = list(inputs), 0
        for i, shape, size in zip(where, shapes, sizes):
            args[i] = x[start:start + size].reshape(shape)
            start += size
        out = apply(op, tuple(args), attrs)
        return (out if gauge is None else out * gauge).reshape(-1)

    return g, x0


def _run_all(g, x0, subject=None):
    outcome = {}
    for chain in compositions.COMPOSITIONS:
        try:
            outcome[chain] = compositions.check(g, x0, chain, subject=subject)
        except Exception as err:
            raise AssertionError(f"{subject or 'subject'}: {' o '.join(chain)} failed: {err!r}") from err
    return outcome


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=1, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_every_composition_over_a_registry_op(name, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    g, x0 = _packed(op, inputs, attrs)
    subject = f"op {name}"
    try:
        g(mg.tensor(x0))
    except (np.linalg.LinAlgError, ValueError):
        return  # nothing to compare
    outcome = _run_all(g, x0, subject)
    assert outcome[("vmap",)] == "ok" and outcome[("grad",)] == "ok"


def _softplus_custom_vjp():
    @custom_vjp
    def softplus(x):
        return mg.log(1.0 + mg.exp(x))

    softplus.defvjp(lambda x: (softplus(x), x), lambda x, g: (g * mg.sigmoid(x),))
    return softplus


def _softplus_custom_jvp():
    @custom_jvp
    def softplus(x):
        return mg.log(1.0 + mg.exp(x))

    softplus.defjvp(lambda p, t: (softplus(p[0]), t[0] * mg.sigmoid(p[0])))
    return softplus


class _Cube(mg.Function):
    """x ** 3 with a backward on NumPy arrays and no jvp: first order only."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return 3 * x ** 2 * g


def _module_subject():
    model = mg.nn.Sequential(mg.nn.Linear(2, 2, rng=0), mg.nn.Tanh(), mg.nn.Linear(2, 1, rng=1))
    names = [k for k, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    X = np.array([[0.5, -1.0], [1.5, 0.25]])

    def g(x):
        params, start = {}, 0
        for k, shape in zip(names, shapes):
            size = int(np.prod(shape))
            params[k] = x[start:start + size].reshape(shape)
            start += size
        return functional_call(model, params, (X,)).reshape(-1)

    return g, np.concatenate([p.detach().numpy().reshape(-1) for p in model.parameters()])


def _numpy_code(x):
    """Ordinary NumPy code: ufuncs and array functions dispatched to microgradnp by the Tensor."""
    return np.tanh(x) * np.einsum("i,i->", x, x) + np.sum(np.exp(-x)) - np.concatenate([x[1:], x[:1]]) ** 2


SUBJECTS = {
    "custom_vjp": (_softplus_custom_vjp(), np.array([0.3, -1.2, 2.0])),
    "custom_jvp": (_softplus_custom_jvp(), np.array([0.3, -1.2, 2.0])),
    "Function (NumPy backward)": (_Cube.apply, np.array([0.3, -1.2, 2.0])),
    "nn.Module (functional_call)": _module_subject(),
    "NumPy code on Tensors": (_numpy_code, np.array([0.3, -1.2, 0.7])),
}


@pytest.mark.parametrize("subject", list(SUBJECTS))
def test_every_composition_over_the_kinds_of_function_users_write(subject):
    g, x0 = SUBJECTS[subject]
    outcome = _run_all(g, x0, subject)
    documented = [c for c, r in outcome.items() if r != "ok"]
    if subject != "Function (NumPy backward)":
        assert all(c[0] in compositions.TRANSFORMS[:4] for c in documented), documented  # only PyTorch's rule
    else:
        assert ("grad", "grad") in documented and ("vmap", "grad") in documented and ("grad",) not in documented


def test_the_matrix_is_every_pair_and_the_triples():
    assert len(compositions.COMPOSITIONS) == 11 + 11 * 11 + 4
    assert ("grad", "vmap") in compositions.COMPOSITIONS and ("jvp", "grad") in compositions.COMPOSITIONS


def test_a_wrong_number_is_caught_by_the_matrix():
    # The matrix would see a transform that gave a wrong answer: here a function whose "gradient" rule is off.
    wrong = custom_vjp(lambda x: x * x)
    wrong.defvjp(lambda x: (x * x, x), lambda x, g: (g * x,))  # half the true derivative
    with pytest.raises(compositions.CompositionMismatch, match="grad"):
        compositions.check(wrong, np.array([1.0, 2.0]), ("grad",))



def test_a_batching_rule_that_copies_row_0_is_caught_by_the_matrix(monkeypatch):
    # The defect vmap had: every example given the first one's result.  The matrix sees it alone and composed.
    op = REGISTRY["sin"]
    honest = op.batch_rule
    monkeypatch.setattr(op, "batch_rule", lambda ns, args, batched, size: ns.broadcast_to(
        honest(ns, [a[:1] for a in args], batched, 1, )[0], (size,) + args[0].shape[1:]))
    x = np.array([0.3, -1.2])
    for chain in (("vmap",), ("vmap", "vmap")):  # (a composition's reference runs its inner part eagerly:
        # a defect there is caught by the inner part's own row)
        with pytest.raises(compositions.CompositionMismatch):
            compositions.check(mg.sin, x, chain)
    monkeypatch.setattr(op, "batch_rule", honest)
    assert compositions.check(mg.sin, x, ("vmap", "grad")) == "ok"
