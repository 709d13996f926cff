"""Registry-driven property tests: every op, forward and derivatives, on Hypothesis-drawn inputs.

Adding an op to the registry adds it to every test here; the completeness
test fails if its metadata is missing.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.engine import apply
from microgradnp.ops import REGISTRY
from microgradnp.testing import gradcheck, gradgradcheck
from microgradnp.testing import strategies as mst

OPS = sorted(REGISTRY)
DIFFERENTIABLE = sorted(name for name, op in REGISTRY.items() if op.differentiable)
SMOOTH = sorted(name for name in DIFFERENTIABLE if REGISTRY[name].test.smooth)


def _call(op, attrs):
    return lambda *xs: apply(op, xs, attrs)


def test_every_op_has_complete_metadata():
    assert len(OPS) >= 40
    for name, op in REGISTRY.items():
        assert op.name == name
        assert op.test is not None, f"{name} has no test metadata"
        assert op.test.sig in mst.SIGNATURES, f"{name}: unknown signature {op.test.sig!r}"
        assert op.formula and ";" in op.formula, f"{name}: the formula line must give forward and VJP"
        if op.differentiable:
            assert (op.vjps is None) != (op.vjp_all is None)
        else:
            assert op.vjps is None and op.vjp_all is None
        if op.name != "index_put":  # index_put is checked against getitem's adjoint instead
            assert callable(op.test.ref), f"{name} has no NumPy reference"


@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_forward_matches_reference_and_vjp_matches_finite_differences(name, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    out = apply(op, inputs, attrs)
    assert isinstance(out.data, np.ndarray)
    if op.test.ref is not None:
        expected = op.test.ref(*[x.data for x in inputs], **attrs)
        np.testing.assert_allclose(out.data, expected, rtol=op.test.rtol, atol=1e-12)
        assert out.shape == np.shape(expected)
    if not op.differentiable:
        assert not out.requires_grad and out.is_leaf
        return
    # VJP against float64 central differences, with a random upstream gradient,
    # plus the structural checks: gradient shape and dtype, inputs and upstream
    # unchanged, no aliasing, determinism, zero upstream -> zero gradient.
    assert gradcheck(_call(op, attrs), inputs, name=name)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@given(data=st.data())
def test_float32_in_float32_out(name, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op, dtype=np.float32), label="inputs")
    out = apply(op, inputs, attrs)
    if name != "astype":
        assert out.dtype == np.float32, f"{name} upcast float32 to {out.dtype}"
    if out.size:
        out.backward(np.ones(out.shape, dtype=out.dtype))
        for x in inputs:
            assert x.grad is not None and x.grad.dtype == np.float32 and x.grad.shape == x.shape


@pytest.mark.parametrize("name", SMOOTH)
@given(data=st.data())
def test_second_derivatives_match_finite_differences(name, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    assert gradgradcheck(_call(op, attrs), inputs, name=name)


def test_float32_inputs_are_checked_in_float64_with_a_warning():
    x = mg.tensor([0.3, -0.2, 1.5], dtype=np.float32, requires_grad=True)
    with pytest.warns(UserWarning, match="input 0 is float32"):
        assert gradcheck(lambda x: mg.tanh(x) * mg.exp(x), x)


def test_index_put_is_the_adjoint_of_getitem():
    # <x[key], v> == <x, index_put(v, key, x.shape)> for every x and v.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    key = (np.array([0, 2, 2, 3]), np.array([1, 1, 1, 0]))
    v = rng.standard_normal(4)
    lhs = np.sum(x[key] * v)
    rhs = np.sum(x * mg.index_put(mg.tensor(v), key, x.shape).data)
    assert np.isclose(lhs, rhs)


def test_pow_with_integer_exponent_on_negative_base():
    x = mg.tensor([-2.0, -0.5, 1.5], requires_grad=True)
    assert gradcheck(lambda x: x ** 3, x)
    assert gradgradcheck(lambda x: x ** 3, x)


@pytest.mark.parametrize(
    "a_shape,b_shape",
    [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((3,), (5, 3, 4)),
     ((5, 2, 3), (3,)), ((1, 2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2))],
)
def test_matmul_shapes_like_numpy(a_shape, b_shape):
    rng = np.random.default_rng(1)
    a = mg.tensor(rng.standard_normal(a_shape), requires_grad=True)
    b = mg.tensor(rng.standard_normal(b_shape), requires_grad=True)
    assert (a @ b).shape == np.matmul(a.data, b.data).shape
    np.testing.assert_allclose((a @ b).data, np.matmul(a.data, b.data))
    assert gradcheck(mg.matmul, (a, b))


def test_warnings_from_gradcheck_on_float64_are_absent():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(mg.log, x)


@pytest.mark.parametrize("x_shape", [(3,), (5, 3), (2, 5, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_fused_linear_matches_its_composed_twin(x_shape, with_bias):
    rng = np.random.default_rng(2)
    x1 = mg.tensor(rng.standard_normal(x_shape), requires_grad=True)
    W1 = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b1 = mg.tensor(rng.standard_normal(4), requires_grad=True)
    x2, W2, b2 = (mg.tensor(t.data, requires_grad=True) for t in (x1, W1, b1))
    fused = mg.linear(x1, W1, b1 if with_bias else None)
    composed = x2 @ W2.T + b2 if with_bias else x2 @ W2.T
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-14)
    upstream = rng.standard_normal(fused.shape)
    fused.backward(upstream)
    composed.backward(upstream)
    for a, b in [(x1, x2), (W1, W2)] + ([(b1, b2)] if with_bias else []):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-13)


@pytest.mark.parametrize("reduction", ["sum", "mean", "batchmean", "none"])
def test_fused_losses_match_their_composed_twins(reduction):
    from microgradnp.nn import functional as F

    rng = np.random.default_rng(3)
    a0, b0 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))

    def reduce(x):
        return {"sum": x.sum(), "mean": x.mean(), "batchmean": x.sum() / 4, "none": x}[reduction]

    cases = [
        (lambda a, b: F.mse_loss(a, b, reduction), lambda a, b: reduce((a - b) * (a - b))),
        (lambda a, b: F.squared_loss(a, b, reduction), lambda a, b: reduce((a - b) ** 2) * 0.5),
        (lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction), lambda a, b: reduce(mg.softplus(a) - b * a)),
    ]
    for fused, composed in cases:
        a1, b1 = mg.tensor(a0, requires_grad=True), mg.tensor(b0, requires_grad=True)
        a2, b2 = mg.tensor(a0, requires_grad=True), mg.tensor(b0, requires_grad=True)
        y1, y2 = fused(a1, b1), composed(a2, b2)
        assert len(y1._parents) == 2 and y1.op in ("squared_error", "bce_with_logits")  # one node
        np.testing.assert_allclose(y1.data, y2.data, rtol=1e-13)
        up = rng.standard_normal(y1.shape)
        y1.backward(up)
        y2.backward(up)
        np.testing.assert_allclose(a1.grad, a2.grad, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b1.grad, b2.grad, rtol=1e-12, atol=1e-15)


def test_transpose_with_negative_axes_has_the_right_gradient():
    x = mg.tensor(np.arange(27.0).reshape(3, 3, 3), requires_grad=True)
    y = mg.transpose(x, (-1, 0, 1))
    np.testing.assert_array_equal(y.data, np.transpose(x.data, (2, 0, 1)))
    g = np.arange(27.0).reshape(3, 3, 3)
    y.backward(g)
    np.testing.assert_array_equal(x.grad, np.transpose(g, np.argsort((2, 0, 1))))
