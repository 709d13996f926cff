"""The function transforms on tensors of another array library: every registry op's JVP, ``vmap`` equal
to the loop over examples, per-example gradients, and their compositions, on torch CPU and array-api-strict.

The registry's own property tests prove these on NumPy (JVP against the transposed VJP, vmap against the
loop); here the same computations on the library must stay on it and equal NumPy's.
"""

import warnings

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
from .test_registry_on_libraries import LIBRARIES, gap_errors
from .test_tensors_on_libraries import _gauged, _on

FEW = settings(max_examples=max(5, settings().max_examples // 4))
DIFFERENTIABLE = sorted(n for n, op in REGISTRY.items() if op.differentiable)


def _close(got: mg.Tensor, want: mg.Tensor, library: str, what: str, rtol=1e-10):
    assert got.library == library, f"{what}: the result left {library} for {got.library}"
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", DIFFERENTIABLE)
@FEW
@given(data=st.data())
def test_every_jvp_on_the_library_equals_numpy(name, library, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    which = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not which:
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    tangents = [rng.standard_normal(inputs[i].shape) for i in which]
    theirs = [_on(library, x) for x in inputs]

    def on(xs):  # signs LAPACK chose, fixed
        return of_differentiable(lambda *ds: _gauged(op, apply(op, ds, attrs), attrs), xs, which)[0]

    try:
        out, tangent = func.jvp(on(theirs), tuple(theirs[i] for i in which),
                                tuple(backends.from_numpy(v, library) for v in tangents))
    except gap_errors(library, name):
        return
    want_out, want = func.jvp(on(inputs), tuple(inputs[i] for i in which), tuple(tangents))
    _close(out, want_out, library, f"{name}: the primal", rtol=max(op.test.rtol, 1e-10))
    _close(tangent, want, library, f"{name}: the tangent", rtol=max(op.test.rtol, 1e-9))


def _batch_case(name, data):
    """An op, drawn inputs and attributes, and a batch of ``n`` examples of the inputs (NumPy arrays, each
    example scaled a little more), as the registry's vmap tests draw them."""
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    n = data.draw(st.integers(1, 3), label="batch")
    batch = [np.stack([x.numpy() * (1.0 + 0.05 * k) if x.requires_grad else x.numpy() for k in range(n)])
             for x in inputs]
    return op, inputs, attrs, n, batch


def _loop_on_numpy(f, batch, n):
    """``f`` once per example on NumPy, or ``None`` where a scaled example left the op's domain (not positive
    definite, singular): then there is nothing to compare, on any library."""
    try:
        return [f(*[mg.tensor(b[k], dtype=b.dtype) for b in batch]) for k in range(n)]
    except (np.linalg.LinAlgError, ValueError):
        return None


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", sorted(REGISTRY))
@FEW
@given(data=st.data())
def test_vmap_on_the_library_equals_the_loop_over_examples(name, library, data):
    op, inputs, attrs, n, batch = _batch_case(name, data)

    def f(*xs):
        return apply(op, xs, attrs)

    if _loop_on_numpy(f, batch, n) is None:
        return
    theirs = [_on(library, mg.tensor(b, dtype=b.dtype)) for b in batch]
    try:
        loop = [f(*[b[k, ...] for b in theirs]) for k in range(n)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # ops without a batching rule loop
            batched = func.vmap(f)(*theirs)
    except gap_errors(library, name):
        return
    assert batched.library == library
    np.testing.assert_allclose(batched.numpy(), np.stack([r.numpy() for r in loop]), rtol=1e-12, atol=1e-14)


def _real_part(t):
    return mg.real(t) if "complex" in str(t.dtype) else t  # a loss of a complex output (the Fourier transforms)


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=max(3, settings().max_examples // 10))
@given(data=st.data())
def test_per_example_gradients_on_the_library_equal_the_loop(name, library, data):
    op, inputs, attrs, n, batch = _batch_case(name, data)
    argnums = tuple(i for i, x in enumerate(inputs) if x.requires_grad)
    if not argnums:
        return
    u = np.random.default_rng(0).standard_normal(apply(op, tuple(inputs), attrs).shape)
    if _loop_on_numpy(func.grad(lambda *xs: _real_part((apply(op, xs, attrs) * u).sum()), argnums=argnums), batch,
                      n) is None:
        return
    mine = backends.from_numpy(u, library)
    g = func.grad(lambda *xs: _real_part((apply(op, xs, attrs) * mine).sum()), argnums=argnums)
    theirs = [_on(library, mg.tensor(b, dtype=b.dtype)) for b in batch]
    try:
        loop = [g(*[b[k, ...] for b in theirs]) for k in range(n)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            batched = func.vmap(g)(*theirs)
    except gap_errors(library, name):
        return
    for i in argnums:
        assert batched[i].library == library
        np.testing.assert_allclose(batched[i].numpy(), np.stack([r[i].numpy() for r in loop]), rtol=1e-10,
                                   atol=1e-12, err_msg=f"{name}: the gradient of input {i}")


def _blobs_loss(params, x, y):
    hidden = mg.sigmoid(x @ params["W1"] + params["b1"])
    out = mg.sigmoid(hidden @ params["W2"] + params["b2"])
    return ((out - y) ** 2).sum()


@pytest.mark.parametrize("library", LIBRARIES)
def test_per_example_gradients_of_the_blobs_net_on_the_library_equal_numpy(library):
    rng = np.random.default_rng(3)
    params = {"W1": rng.standard_normal((2, 2)), "b1": rng.standard_normal(2),
              "W2": rng.standard_normal((2, 2)), "b2": rng.standard_normal(2)}
    X, Y = rng.standard_normal((16, 2)), np.eye(2)[rng.integers(0, 2, 16)]
    per_example = func.vmap(func.grad(_blobs_loss), in_axes=(None, 0, 0))
    want = per_example({k: mg.tensor(v) for k, v in params.items()}, X, Y)
    got = per_example({k: mg.tensor(backends.from_numpy(v, library)) for k, v in params.items()},
                      backends.from_numpy(X, library), backends.from_numpy(Y, library))
    for k in params:
        _close(got[k], want[k], library, f"the per-example gradient of {k}", rtol=1e-12)


@pytest.mark.parametrize("library", LIBRARIES)
def test_hessians_and_jacobians_on_the_library_equal_numpy(library):
    x = np.array([0.3, -1.2, 2.0])

    def f(v):
        return (mg.tanh(v) * v.sum() + v ** 3).sum()

    def vector(v):
        return mg.sin(v) * v[0]

    mine = mg.tensor(backends.from_numpy(x, library))
    for name, transform in [("hessian", func.hessian(f)), ("jacrev of grad", func.jacrev(func.grad(f))),
                            ("jacfwd", func.jacfwd(vector)), ("jacrev", func.jacrev(vector)),
                            ("hvp", lambda v: func.hvp(f, (v,), (mg.ones_like(v),))[1][0])]:
        _close(transform(mine), transform(mg.tensor(x)), library, name, rtol=1e-12)


@pytest.mark.parametrize("library", LIBRARIES)
def test_grad_of_grad_and_jvp_of_grad_on_the_library(library):
    # d/dx (d/dx x^3 sin x), through each composition, on the library as on NumPy.
    def f(v):
        return (v ** 3 * mg.sin(v)).sum()

    x = np.array([0.7, 1.9])
    mine = mg.tensor(backends.from_numpy(x, library))
    second = func.grad(lambda v: func.grad(f)(v).sum())
    _close(second(mine), second(mg.tensor(x)), library, "grad of grad")
    forward = func.jvp(func.grad(f), (mine,), (mg.ones_like(mine),))[1]
    _close(forward, func.jvp(func.grad(f), (mg.tensor(x),), (mg.ones(2),))[1], library, "jvp of grad")


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_module_through_functional_call_and_vmap_on_the_library(library):
    model = mg.nn.MLP([3, 4, 2], rng=np.random.default_rng(0))
    X = np.random.default_rng(1).standard_normal((5, 3))
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, x):
        return (func.functional_call(model, p, (x[None, :],)) ** 2).sum()

    want = func.vmap(func.grad(loss), in_axes=(None, 0))(params, X)
    moved = {k: v.to(library) for k, v in params.items()}
    model.to(library)
    got = func.vmap(func.grad(loss), in_axes=(None, 0))(moved, backends.from_numpy(X, library))
    for k in params:
        _close(got[k], want[k], library, f"per-example gradient of {k}", rtol=1e-12)


@pytest.mark.parametrize("library", LIBRARIES)
def test_jvpcheck_passes_a_right_rule_and_catches_a_wrong_one_on_the_library(library):
    from microgradnp.func import custom_jvp
    from microgradnp.testing import GradcheckError, jvpcheck

    x = mg.tensor(backends.from_numpy(np.array([0.5, -1.0, 2.0]), library), requires_grad=True)
    assert jvpcheck(lambda v: mg.tanh(v) * v ** 2, x)

    @custom_jvp
    def sine(v):
        return mg.sin(v)

    sine.defjvp(lambda p, t: (mg.sin(p[0]), -mg.cos(p[0]) * t[0]))  # the sign wrong
    with pytest.raises(GradcheckError, match="disagrees with central differences"):
        jvpcheck(sine, x)


@pytest.mark.parametrize("library", LIBRARIES)
def test_moving_between_libraries_inside_a_transform_carries_the_tangent_and_the_batch(library):
    # Tensor.to inside jvp and vmap is an op like the others: the tangent and the batch move with the value.
    def f(v):
        return mg.sin(v.to(library)).to("numpy") * v

    x = mg.tensor([0.3, -0.7])
    _, tangent = func.jvp(f, (x,), (mg.ones(2),))
    np.testing.assert_allclose(tangent.numpy(), np.cos(x.numpy()) * x.numpy() + np.sin(x.numpy()), rtol=1e-12)
    batch = mg.tensor([[0.3, -0.7], [1.1, 0.2]])
    per_example = func.vmap(func.grad(lambda v: f(v).sum()))(batch)
    b = batch.numpy()
    np.testing.assert_allclose(per_example.numpy(), np.cos(b) * b + np.sin(b), rtol=1e-12)
    assert per_example.library == "numpy"
