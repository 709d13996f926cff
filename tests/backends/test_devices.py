"""Tensors on a device that is not the library's default: every op, forward and backward, stays there.

A GPU is where this matters (an array made on the default device, the CPU, beside one on ``cuda:0``
is an error, or a silent copy), and the machines the tests run on have none. array-api-strict has
devices of its own that refuse to be mixed, as CUDA's do, so a rule that makes an array without
saying where (``arange``, ``zeros``, ``tri``, an index array an adapter made with NumPy) fails here
on the CPU. Every registry op runs on ``Device("device1")``; the values must equal NumPy's.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp import backends, func
from microgradnp.engine import apply
from microgradnp.ops import REGISTRY
from microgradnp.testing import strategies as mst

from ..ops.test_properties import of_differentiable
from .test_registry_on_libraries import gap_errors as _listed
from .test_tensors_on_libraries import _gauged, _run

strict = pytest.importorskip("array_api_strict")
pytest.importorskip("array_api_compat")

ELSEWHERE = strict.Device("device1")
FEW = settings(max_examples=max(5, settings().max_examples // 4))


def gap_errors(library, name):
    """A gap listed for ``name``, or one of the ops its derivatives run (sort's second derivative is a
    scatter): raised by name, the subject of the other tests; here only the device is."""
    return _listed(library, name) + (backends.UnsupportedOnBackend,)


def _there(x: mg.Tensor) -> mg.Tensor:
    integral = x.dtype.kind in "biu"
    return mg.tensor(backends.from_numpy(x.numpy(), "array_api_strict", device=ELSEWHERE),
                     requires_grad=x.requires_grad, dtype=x.dtype if integral else None)


def _device(a):
    import array_api_compat

    return array_api_compat.device(a._data if isinstance(a, mg.Tensor) else a)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@FEW
@given(data=st.data())
def test_every_op_forward_and_backward_stays_on_its_device(name, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    theirs = [_there(x) for x in inputs]
    g = data.draw(mst.arrays(shape=apply(op, tuple(inputs), attrs).shape), label="upstream")
    try:
        got, got_grads = _run(op, theirs, attrs, backends.from_numpy(g, "array_api_strict", device=ELSEWHERE))
    except gap_errors("array_api_strict", name):
        return
    want, want_grads = _run(op, inputs, attrs, g)
    assert _device(got) == ELSEWHERE, f"{name}: the result left {ELSEWHERE}"
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=max(op.test.rtol, 1e-10), atol=1e-12)
    for i, (a, b) in enumerate(zip(got_grads, want_grads)):
        if b is not None:
            assert _device(a) == ELSEWHERE, f"{name}: the gradient of input {i} left {ELSEWHERE}"
            np.testing.assert_allclose(backends.to_numpy(a), b, rtol=max(op.test.rtol, 1e-10), atol=1e-12)


@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items() if op.differentiable and op.test.smooth))
@settings(max_examples=max(3, settings().max_examples // 10))
@given(data=st.data())
def test_every_second_derivative_stays_on_its_device(name, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    theirs = [_there(x) for x in inputs]
    which = [i for i, x in enumerate(theirs) if x.requires_grad]
    try:
        out = _gauged(op, apply(op, tuple(theirs), attrs), attrs)
        grads = mg.grad((out * out).sum(), [theirs[i] for i in which], create_graph=True)
        second = mg.grad(sum(gi.sum() for gi in grads), [theirs[i] for i in which], allow_unused=True)
    except gap_errors("array_api_strict", name):
        return
    for s in second:
        if s is not None:
            assert _device(s) == ELSEWHERE, f"{name}: a second derivative left {ELSEWHERE}"


@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items() if op.differentiable))
@FEW
@given(data=st.data())
def test_every_jvp_and_per_example_gradient_stays_on_its_device(name, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    which = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not which:
        return
    f, primals = of_differentiable(lambda *ds: apply(op, ds, attrs), [_there(x) for x in inputs], which)
    try:  # (gauged for jvp; under vmap no gauge, which reads values: each example's signs come out the same)
        _, tangent = func.jvp(lambda *ds: _gauged(op, f(*ds), attrs), primals, tuple(mg.ones_like(p) for p in primals))
        batch = tuple(mg.stack([p, p], axis=0) for p in primals)
        per_example = func.vmap(func.grad(lambda *ds: f(*ds).sum(), argnums=tuple(range(len(which)))))(*batch)
    except gap_errors("array_api_strict", name):
        return
    assert _device(tangent) == ELSEWHERE, f"{name}: the tangent left {ELSEWHERE}"
    for g in per_example:
        assert _device(g) == ELSEWHERE, f"{name}: a per-example gradient left {ELSEWHERE}"


def test_a_classifier_trains_on_its_device_and_its_optimizer_state_loads_there(tmp_path):
    from microgradnp.nn import functional as F

    model = mg.nn.MLP([2, 5, 2], activation="tanh", rng=np.random.default_rng(0)).to("array_api_strict",
                                                                                      device=ELSEWHERE)
    X = mg.tensor(strict.asarray(np.random.default_rng(1).standard_normal((8, 2)), device=ELSEWHERE))
    y = strict.asarray([0, 1, 1, 0, 1, 0, 0, 1], device=ELSEWHERE)
    opt = mg.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
    assert all(_device(p) == ELSEWHERE for p in model.parameters())
    assert _device(loss) == ELSEWHERE
    for state in (opt.state_dict(), mg.load(_saved(opt.state_dict(), tmp_path))):  # as it is, and from a file
        again = mg.optim.Adam(model.parameters(), lr=0.05)
        again.load_state_dict(state)
        again.zero_grad()
        F.cross_entropy(model(X), y).backward()
        again.step()
        assert all(_device(p) == ELSEWHERE for p in model.parameters())


def _saved(obj, tmp_path):
    path = tmp_path / "state.npz"
    mg.save(obj, path)
    return path
