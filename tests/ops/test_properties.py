"""Registry-driven property tests: every op, forward and derivatives, on Hypothesis-drawn inputs.

Adding an op to the registry adds it to every test here; the completeness
test fails if its metadata is missing.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp import func
from microgradnp.engine import apply
from microgradnp.func._batching import BatchTrace
from microgradnp.ops import REGISTRY, rules
from microgradnp.testing import gradcheck, gradgradcheck
from microgradnp.testing import strategies as mst

OPS = sorted(REGISTRY)


DIFFERENTIABLE = sorted(name for name, op in REGISTRY.items() if op.differentiable)


SMOOTH = sorted(name for name in DIFFERENTIABLE if REGISTRY[name].test.smooth)


def _call(op, attrs):
    gauge = op.test.gauge
    if gauge is None:
        return lambda *xs: apply(op, xs, attrs)

    def gauged(*xs):  # results fixed only up to sign: differentiate a continuous choice of it
        out = apply(op, xs, attrs)
        return out * gauge(out.data, **attrs).astype(out.dtype)

    return gauged


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


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=max(10, settings().max_examples // 4))  # a structural check: fewer draws find it
@given(data=st.data())
def test_low_precision_in_low_precision_out(name, dtype, data):
    # float16 included: SciPy's expit has no float16 loop and once made sigmoid return float64.
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op, dtype=dtype), label="inputs")
    with np.errstate(over="ignore", under="ignore"):  # float16 overflows at 65504
        out = apply(op, inputs, attrs)
        # The Fourier transforms make complex values of real ones: complex64, the lowest complex precision.
        expected = np.result_type(dtype, np.complex64) if op.makes_complex else dtype
        if name != "astype":
            assert out.dtype == expected, f"{name} turned {np.dtype(dtype)} into {out.dtype}"
        if out.size:
            out.backward(np.ones(out.shape, dtype=out.dtype))
            for x in (x for x in inputs if x.requires_grad):
                assert x.grad is not None and x.grad.dtype == dtype and x.grad.shape == x.shape


@pytest.mark.parametrize("name", SMOOTH)
@given(data=st.data())
def test_second_derivatives_match_finite_differences(name, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    assert gradgradcheck(_call(op, attrs), inputs, name=name)


def of_differentiable(call, inputs, which=None):
    """``call`` as a function of ``inputs[i]`` for ``i`` in ``which`` (by default those that require grad; the
    others, masks and indices, held fixed), and those inputs: ``(f, primals)``.  Shared by the registry tests
    here, on complex numbers and on other array libraries."""
    which = [i for i, x in enumerate(inputs) if x.requires_grad] if which is None else which

    def f(*xs):
        args = list(inputs)
        for i, x in zip(which, xs):
            args[i] = x
        return call(*args)

    return f, tuple(inputs[i] for i in which)


def _of_differentiable(op, inputs, attrs):
    """The op (gauged) as a function of its inputs that require grad, and those inputs."""
    return of_differentiable(_call(op, attrs), inputs)


def _dot_product_sides(op, inputs, attrs, rng):
    """``<J v, u>`` by forward mode and ``<v, J^T u>`` by reverse mode, for random ``v`` and ``u``."""
    f, inputs = _of_differentiable(op, inputs, attrs)
    vs = tuple(rng.standard_normal(x.shape) for x in inputs)
    out, jv = func.jvp(f, tuple(inputs), vs)
    u = rng.standard_normal(out.shape)
    _, pull = func.vjp(f, *inputs)
    jtu = pull(u)
    # (a complex output: the cotangent u pulls back the gradient of Re(sum(conj(u) * out)), u real here)
    forward = float(np.real(np.sum(jv.data * u)))
    reverse = float(sum(np.sum(v * g.data) for v, g in zip(vs, jtu)))
    return forward, reverse, jv.data


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=max(10, settings().max_examples // 2))  # exact identity: half the draws suffice
@given(data=st.data())
def test_jvp_is_the_transpose_of_the_vjp(name, data):
    # The dot-product test: for every op, its JVP rule agrees with its VJP
    # rule (which the test above checks against finite differences).
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    forward, reverse, _ = _dot_product_sides(op, inputs, attrs, rng)
    scale = 1.0 + abs(forward) + abs(reverse)
    assert abs(forward - reverse) <= 1e-9 * scale, f"{name}: <Jv, u> = {forward!r} but <v, J^T u> = {reverse!r}"


@pytest.mark.parametrize("name", sorted(n for n in DIFFERENTIABLE if REGISTRY[n].jvp is not None))
@settings(max_examples=max(10, settings().max_examples // 4))
@given(data=st.data())
def test_native_jvp_rules_agree_with_the_transposed_vjp(name, data):
    # Every op without a JVP rule of its own gets one by transposing its VJP
    # (the double-VJP method); on the ops that have one, the two must agree.
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    f, inputs = _of_differentiable(op, inputs, attrs)
    vs = tuple(np.random.default_rng(0).standard_normal(x.shape) for x in inputs)
    _, native = func.jvp(f, tuple(inputs), vs)
    rule = op.jvp_rule
    try:
        op.jvp_rule = rules.transposed_jvp(op)
        _, transposed = func.jvp(f, tuple(inputs), vs)
    finally:
        op.jvp_rule = rule
    np.testing.assert_allclose(native.data, transposed.data, rtol=1e-9, atol=1e-12)


def _real_part(t):
    return mg.real(t) if t.dtype.kind == "c" else t  # a loss of a complex output (the Fourier transforms)


def _batch_case(name, data):
    """An op, drawn inputs, and a batch of ``n`` examples of them (each scaled a little more), and the op as a function.

    The function has no gauge: a gauge reads values, and vmap and the loop
    agree on the signs anyway.
    """
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    n = data.draw(st.integers(1, 3), label="batch")
    batch = [np.stack([x.data * (1.0 + 0.05 * k) if x.requires_grad else x.data for k in range(n)]) for x in inputs]
    return op, inputs, attrs, n, batch, lambda *xs: apply(op, xs, attrs)


@pytest.mark.parametrize("name", OPS)
@settings(max_examples=max(10, settings().max_examples // 2))
@given(data=st.data())
def test_vmap_equals_the_loop_over_examples(name, data):
    op, inputs, attrs, n, batch, f = _batch_case(name, data)
    try:
        loop = np.stack([f(*[b[k] for b in batch]).data for k in range(n)])
    except (np.linalg.LinAlgError, ValueError):
        return  # a scaled input left the op's domain (not positive definite, ...): nothing to compare
    fallback = BatchTrace._one_by_one
    flattens = op.batch == "axis" and attrs.get("axis", -1) is None  # axis=None flattens: loops by design

    def no_fallback(*args, **kwargs):
        raise AssertionError(f"{name} has a batching rule but fell back to the loop")

    try:
        if op.batch is not None and not flattens:
            BatchTrace._one_by_one = no_fallback
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            batched = func.vmap(f)(*batch)
    finally:
        BatchTrace._one_by_one = fallback
    np.testing.assert_allclose(batched.data, loop, rtol=1e-12, atol=1e-14)
    assert batched.dtype == loop.dtype


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=max(10, settings().max_examples // 4))
@given(data=st.data())
def test_vmap_of_the_gradient_equals_the_loop(name, data):
    # Per-example gradients: the backward pass is recorded, then batched too, masks computed from
    # values included (det's and sort's decisions from values taken per example, see their VJPs).
    op, inputs, attrs, n, batch, f = _batch_case(name, data)
    u = np.random.default_rng(0).standard_normal(f(*inputs).shape)
    argnums = tuple(i for i, x in enumerate(inputs) if x.requires_grad)
    g = func.grad(lambda *xs: _real_part((f(*xs) * u).sum()), argnums=argnums)
    try:
        loop = [g(*[b[k] for b in batch]) for k in range(n)]
    except (np.linalg.LinAlgError, ValueError):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ops without a batching rule loop
        batched = func.vmap(g)(*batch)
    for i in argnums:
        np.testing.assert_allclose(batched[i].data, np.stack([r[i].data for r in loop]), rtol=1e-10, atol=1e-12)
