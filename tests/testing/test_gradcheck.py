"""gradcheck and gradgradcheck: calibrated on a battery, catch wrong VJPs, report clearly."""

import math
import warnings

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import engine
from microgradnp.engine import apply
from microgradnp.ops.registry import Op
from microgradnp.testing import GradcheckError, NondifferentiableError, gradcheck, gradgradcheck


def test_float32_inputs_are_checked_in_float64_with_a_warning():
    x = mg.tensor([0.3, -0.2, 1.5], dtype=np.float32, requires_grad=True)
    with pytest.warns(UserWarning, match="input 'x' is float32"):
        assert gradcheck(lambda x: mg.tanh(x) * mg.exp(x), x)


def test_warnings_from_gradcheck_on_float64_are_absent():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(mg.log, x)


RNG_SEED = 20261122


def _mlp(x, W):
    return mg.log_softmax(mg.tanh(x @ W), axis=-1).sum()


# (name, function, input shapes, domain of the inputs)
BATTERY = [
    ("sin_exp", lambda x: mg.sin(x) * mg.exp(x), [(3,)], (-2, 2)),
    ("tanh_sq", lambda x: mg.tanh(x) * x ** 2, [(2, 2)], (-2, 2)),
    ("log1p_sq", lambda x: mg.log1p(x ** 2), [(4,)], (-3, 3)),
    ("sigmoid_linear", lambda W, x: mg.sigmoid(W @ x), [(2, 3), (3,)], (-2, 2)),
    ("logsumexp", lambda x: mg.logsumexp(x, axis=-1), [(2, 3)], (-3, 3)),
    ("softmax_weighted", lambda x: mg.softmax(x) * mg.tensor([1.0, -2.0, 0.5]), [(3,)], (-3, 3)),
    ("cubic_mean", lambda x: (x ** 3).sum() * x.mean(), [(3,)], (-2, 2)),
    ("soft_norm", lambda x: mg.sqrt(x * x + 1.0), [(3,)], (-3, 3)),
    ("rational", lambda x, y: x / (1.0 + y * y), [(3,), (3,)], (-2, 2)),
    ("least_squares", lambda A, x: ((A @ x - 1.0) ** 2).mean(), [(3, 2), (2,)], (-2, 2)),
    ("mlp_log_softmax", _mlp, [(2, 3), (3, 4)], (-1.5, 1.5)),
    ("trig_product", lambda x: mg.cos(x) * mg.sin(2.0 * x) + mg.log_sigmoid(x), [(2, 2)], (-3, 3)),
]


POINTS = 100


def _points(shapes, domain, rng):
    lo, hi = domain
    return [rng.uniform(lo, hi, size=s) for s in shapes]


def _wrong(f, eps, k, j):
    """``f`` with a VJP that is off by ``eps`` (relative to the gradient's norm) in one element.

    The error sits in element ``j`` of input ``k`` and is ``eps * ||J^T v||``:
    a VJP that is wrong by ``eps`` in the 2-norm sense, in the place where it
    is hardest to see.
    """

    class Wrong(mg.Function):
        @staticmethod
        def forward(ctx, *arrays):
            ctx.save_for_backward(*arrays)
            with mg.no_grad():
                return f(*[mg.tensor(a) for a in arrays]).data

        @staticmethod
        def backward(ctx, grad):
            xs = [mg.tensor(a, requires_grad=True) for a in ctx.saved_arrays]
            grads = [g.data.copy() for g in mg.grad(f(*xs), xs, grad_outputs=grad)]
            norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
            grads[k].flat[j] += eps * norm
            return tuple(grads)

    return lambda *xs: Wrong.apply(*xs)


def test_calibration_no_false_failures_on_correct_gradients():
    rng = np.random.default_rng(RNG_SEED)
    failures = []
    for name, f, shapes, domain in BATTERY:
        for _ in range(POINTS):
            xs = [mg.tensor(a, requires_grad=True) for a in _points(shapes, domain, rng)]
            if not gradcheck(f, xs, raise_exception=False):
                failures.append((name, [x.data for x in xs]))
    assert len(BATTERY) >= 10
    assert failures == []


@pytest.mark.parametrize("eps", [1e-3, 1e-4], ids=["0.1%", "0.01%"])
def test_calibration_wrong_vjps_are_caught(eps):
    rng = np.random.default_rng(RNG_SEED + 1)
    caught = total = 0
    for _, f, shapes, domain in BATTERY:
        for _ in range(POINTS):
            arrays = _points(shapes, domain, rng)
            k = int(rng.integers(len(arrays)))
            j = int(rng.integers(arrays[k].size))
            xs = [mg.tensor(a, requires_grad=True) for a in arrays]
            total += 1
            caught += not gradcheck(_wrong(f, eps, k, j), xs, raise_exception=False)
    assert caught / total >= 0.99, f"caught {caught} of {total}"


def test_calibration_float32_functions_do_not_fail():
    rng = np.random.default_rng(RNG_SEED + 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _, f, shapes, domain in BATTERY:
            for _ in range(10):
                xs = [mg.tensor(a, dtype=np.float32, requires_grad=True) for a in _points(shapes, domain, rng)]
                assert gradcheck(f, xs)


class _Scaled(mg.Function):
    """3 x^2 whose backward is wrong for element 1 (a classic copy-paste slip)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 3 * x ** 2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        g = 6 * x * grad
        g.flat[1] *= 1.01
        return g


def my_wrong_fn(x):
    return _Scaled.apply(x)


def test_failure_report_names_everything():
    x = mg.tensor([[0.5, -1.5], [2.0, 0.25]], requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(my_wrong_fn, x)
    msg = str(info.value)
    for part in ["my_wrong_fn", "input 'x'", "element 1", "index (0, 1)", "x = -1.5", "analytic", "numeric",
                 "abs err", "rel err", "step h", "Worst entries", "random upstream gradient"]:
        assert part in msg, f"{part!r} missing from:\n{msg}"
    assert not isinstance(info.value, NondifferentiableError)
    assert gradcheck(my_wrong_fn, x, raise_exception=False) is False


def test_tolerances_are_the_callers():
    x = mg.tensor([0.5, -1.5, 2.0], requires_grad=True)
    # a 1% error in one element passes a 2% relative tolerance
    assert gradcheck(my_wrong_fn, x, rtol=0.02)
    assert not gradcheck(my_wrong_fn, x, rtol=1e-3, raise_exception=False)


def test_fast_mode_uses_projections_and_still_locates_the_element():
    # Random projections see an error in one element of 400 when it matters
    # against the whole projection: here element 1 carries a typical share
    # (x = 1.5, upstream v[1] = 0.82 with seed 1) and is 1% off.
    rng = np.random.default_rng(7)
    big = mg.tensor(np.linspace(1.0, 2.0, 400), requires_grad=True)
    assert gradcheck(lambda x: mg.tanh(x) * x, big, mode="fast", seed=1)
    with pytest.raises(GradcheckError, match=r"element 1 \(index \(1,\)\)"):
        gradcheck(my_wrong_fn, big, mode="fast", seed=1)
    huge = mg.tensor(rng.uniform(1.0, 2.0, 3000), requires_grad=True)
    with pytest.raises(GradcheckError, match="random direction"):
        gradcheck(lambda x: _AllScaled.apply(x), huge)  # auto: fast, and too big to locate an element


class _AllScaled(mg.Function):
    """x^2 with a gradient 1% too large everywhere."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        return 2.02 * x * grad


def test_a_kink_is_reported_as_nondifferentiable():
    x = mg.tensor([1.0, 0.0, -2.0], requires_grad=True)
    with pytest.raises(NondifferentiableError, match=r"input \'x\', element 1 \(index \(1,\)\), x = 0.0") as info:
        gradcheck(mg.relu, x)
    assert "left" in str(info.value) and "right" in str(info.value)


def test_a_point_within_one_step_of_a_kink_is_nondifferentiable_too():
    x = mg.tensor([1e-7, 1.0], requires_grad=True)
    with pytest.raises(NondifferentiableError):
        gradcheck(mg.relu, x)


def test_check_kinks_false_gives_an_ordinary_mismatch():
    x = mg.tensor([0.0], requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(mg.relu, x, check_kinks=False)
    assert not isinstance(info.value, NondifferentiableError)


def test_smooth_functions_with_large_curvature_are_not_called_kinks():
    x = mg.tensor([0.3, 2.0], requires_grad=True)
    assert gradcheck(lambda x: mg.exp(5.0 * x) + mg.sin(20.0 * x), x)


def _function(forward, backward):
    """A custom Function from two plain functions of arrays (``ctx`` first)."""
    return type("Buggy", (mg.Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward)})


def _mutates_input(ctx, x):
    x *= 2.0
    return x.copy()


def _mutates_upstream(ctx, grad):
    grad *= 2.0
    return grad / 2.0 * 2.0


_noise = np.random.default_rng(0)


def _square_sum(ctx, x):
    ctx.save_for_backward(x)
    return (x ** 2).sum()


def _ignores_upstream(ctx, grad):
    (x,) = ctx.saved_arrays
    return 2.0 * x  # forgot "* grad"


# One buggy custom Function per row, and what gradcheck must say about it.
_BUGS = {
    "forward mutates its input": (_mutates_input, lambda ctx, g: 2.0 * g, "modified in place"),
    "backward mutates the upstream gradient": (lambda ctx, x: 2.0 * x, _mutates_upstream, "upstream gradient .* modified"),
    "backward is not deterministic": (
        lambda ctx, x: 2.0 * x, lambda ctx, g: 2.0 * g + _noise.standard_normal(g.shape) * 1e-14, "not deterministic"),
    "VJP ignores its upstream gradient": (_square_sum, _ignores_upstream, "rule ignores the upstream gradient"),
}


@pytest.mark.parametrize("bug", sorted(_BUGS))
def test_buggy_custom_functions_are_diagnosed(bug):
    forward, backward, message = _BUGS[bug]
    fn = _function(forward, backward)
    with pytest.raises(GradcheckError, match=message):
        gradcheck(lambda x: fn.apply(x), mg.tensor([1.0, 2.0], requires_grad=True))


def test_aliasing_gradients_are_caught(monkeypatch):
    # The engine never lets two .grad share memory; break that on purpose and
    # check that gradcheck notices.
    def no_copy(g, given):
        return g if g.__class__ is np.ndarray else np.array(g)

    monkeypatch.setattr(engine, "_owned", no_copy)
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(GradcheckError, match="share memory|aliases"):
        gradcheck(lambda a, b: a + b, (a, b))


def test_gradient_ignoring_the_graph_is_caught():
    # Using .data silently cuts the graph: the gradient is zero, the function is not.
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(GradcheckError, match="analytic"):
        gradcheck(lambda x: x * mg.tensor(x.data), x)


def test_bad_arguments():
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(mg.exp, mg.tensor([1.0]))
    with pytest.raises(ValueError, match="mode"):
        gradcheck(mg.exp, mg.tensor([1.0], requires_grad=True), mode="sometimes")
    with pytest.raises(GradcheckError, match="must return a Tensor"):
        gradcheck(lambda x: x.data, mg.tensor([1.0], requires_grad=True))


def test_constants_and_several_outputs():
    a = mg.tensor([0.5, 1.5], requires_grad=True)
    assert gradcheck(lambda a, k, b: (mg.exp(a) * k, b * a), (a, 3.0, np.array([2.0, -1.0])))


# An op whose first derivative is right but whose VJP is not differentiable
# correctly: it treats sigmoid(a) as a constant (ns.value), so the recorded
# backward pass gives a wrong second derivative.
_BAD_SECOND = Op(
    "bad_second_order_sigmoid",
    lambda xp, a: 1.0 / (1.0 + xp.exp(-a)),
    vjps=(lambda ns, g, out, a: g * ns.value(out) * (1 - ns.value(out)),),
    formula="sigmoid with a VJP that hides its dependence on a",
)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = mg.tensor([0.3, -0.8], requires_grad=True)
    assert gradcheck(lambda x: apply(_BAD_SECOND, (x,)), x)  # first order is fine
    with pytest.raises(GradcheckError, match="the gradient of"):
        gradgradcheck(lambda x: apply(_BAD_SECOND, (x,)), x)
    assert gradgradcheck(mg.sigmoid, x)


def test_gradgradcheck_with_several_inputs_and_an_unused_one():
    a = mg.tensor([[0.2, -0.4], [0.7, 0.1]], requires_grad=True)
    b = mg.tensor([0.5, -1.0], requires_grad=True)
    c = mg.tensor([1.0], requires_grad=True)
    assert gradgradcheck(lambda a, b, c: mg.tanh(a @ b) * mg.exp(b), (a, b, c))


# Functions whose values are huge next to their derivatives: the rounding error of
# a difference quotient at the default step exceeds the derivative itself, so a
# tolerance that scaled with |f| would let any gradient pass.
_OFFSET = {
    "sin(x) + 1e8": (lambda x: np.sin(x) + 1e8, lambda x: np.cos(x)),
    "exp(x) * 1e12": (lambda x: np.exp(x) * 1e12, lambda x: np.exp(x) * 1e12),
    "x**2 + 1e10": (lambda x: x ** 2 + 1e10, lambda x: 2 * x),
    "cos(x) + 1e8": (lambda x: np.cos(x) + 1e8, lambda x: -np.sin(x)),
}


def _custom(forward, derivative, factor=1.0):
    return _function(lambda ctx, x: (ctx.save_for_backward(x), forward(x))[1],
                     lambda ctx, g: factor * derivative(ctx.saved_arrays[0]) * g)


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize("case", sorted(_OFFSET))
def test_large_values_right_gradients_pass_and_wrong_ones_fail(case, mode):
    forward, derivative = _OFFSET[case]
    x = mg.tensor([0.3, 1.7, -2.2], requires_grad=True)
    assert gradcheck(lambda x: _custom(forward, derivative).apply(x), x, mode=mode, max_full=0 if mode == "fast" else 256)
    with pytest.raises(GradcheckError, match="does not match"):  # 0.1% off: caught although |f| is 1e8 or more
        gradcheck(lambda x: _custom(forward, derivative, 1.001).apply(x), x, mode=mode, max_full=0)


def test_a_doubled_gradient_under_a_huge_offset_never_passes():
    # x + 1e15: float64 holds 1e15 only to 0.125, so near x = 1 no step short of
    # x's own scale measures the derivative to 1%.  A wrong gradient must not pass,
    # and the report says why the point cannot be checked.
    x = mg.tensor([0.3, 0.7], requires_grad=True)
    doubled = _custom(lambda x: x + 1e15, lambda x: 2.0 + 0 * x)
    for mode in ("full", "fast"):
        with pytest.raises(GradcheckError):
            gradcheck(lambda x: doubled.apply(x), x, mode=mode, max_full=0 if mode == "fast" else 256)
    right = _custom(lambda x: x + 1e15, lambda x: 1.0 + 0 * x)
    with pytest.raises(GradcheckError, match=r"cannot be measured precisely enough.*too large.*subtract"):
        gradcheck(lambda x: right.apply(x), x)
    # Far from 0 the step may grow with x, and the derivative is measurable again.
    far = mg.tensor([3e5, -4e5], requires_grad=True)
    assert gradcheck(lambda x: right.apply(x), far)
    with pytest.raises(GradcheckError, match="does not match"):
        gradcheck(lambda x: doubled.apply(x), far)


@pytest.mark.parametrize("eps", [0.0, -1e-6, 10.0, 0.5, float("nan"), float("inf"), 1e-17])
def test_eps_outside_its_range_is_refused(eps):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"gradcheck: eps .* must lie in \[1e-15, 0.1\]"):
        gradcheck(mg.sin, x, eps=eps)
    with pytest.raises(ValueError, match=r"gradgradcheck: eps"):
        gradgradcheck(mg.sin, x, eps=eps)


def test_a_tiny_eps_grows_until_the_derivative_is_measurable():
    assert gradcheck(mg.sin, mg.tensor([1.0, 2.0], requires_grad=True), eps=1e-13)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_refused_not_misdiagnosed(bad):
    x = mg.tensor([1.0, bad, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=rf"input \'x\' \(shape \(3,\)\) is {bad} at element 1 .*finite"):
        gradcheck(mg.sin, x)


def test_a_non_finite_output_or_gradient_is_named():
    with np.errstate(all="ignore"):
        with pytest.raises(GradcheckError, match=r"output is nan at element 1 .*domain"):
            gradcheck(mg.log, mg.tensor([1.0, -2.0], requires_grad=True))
        with pytest.raises(GradcheckError, match=r"analytic gradient is -?inf at element 1 .*infinite"):
            gradcheck(mg.sqrt, mg.tensor([1.0, 0.0], requires_grad=True))


class _FastTanh(mg.Function):
    """tanh whose backward takes a "fast path" in float32: 1 - x^2 instead of 1 - tanh(x)^2 (right only near 0)."""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_arrays
        return grad * ((1 - x * x) if x.dtype == np.float32 else (1 - y * y))


def test_a_vjp_wrong_only_in_float32_is_caught_and_named():
    x64 = mg.tensor([0.8, -0.1, 1.2], requires_grad=True, name="h")
    assert gradcheck(_FastTanh.apply, x64)  # float64: right, and the float64 check alone cannot see the bug
    x32 = mg.tensor([0.8, -0.1, 1.2], dtype=np.float32, requires_grad=True, name="h")
    with pytest.warns(UserWarning, match=r"input 'x' \(tensor 'h'\) is float32"):
        with pytest.raises(GradcheckError, match=r"wrong in float32 only.\nDiagnosis: right in float64 and wrong in float32: for input 'x' \(tensor 'h'\) \(shape \(3,\)\), "
                                                 r"element 2 .* float32 gives \S+ where in float64 it gives"):
            gradcheck(_FastTanh.apply, x32)
    near_zero = mg.tensor([1e-3, -2e-3], dtype=np.float32, requires_grad=True)  # where the fast path is right
    with pytest.warns(UserWarning):
        assert gradcheck(_FastTanh.apply, near_zero)


def test_a_float32_overflow_in_a_vjp_is_named_with_the_input_and_its_dtype():
    class Softplus(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.logaddexp(0, x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_arrays
            return grad * np.exp(x) / (1 + np.exp(x))  # overflows to inf / inf = nan past exp's range

    x = mg.tensor([1.0, 100.0], dtype=np.float32, requires_grad=True, name="logits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(GradcheckError, match=r"input 'x' \(tensor 'logits'\) \(float32\): the analytic gradient is nan at "
                                                 r"element 1"):
            gradcheck(Softplus.apply, x)


def test_a_nan_input_is_named():
    w = mg.tensor([1.0, np.nan], requires_grad=True, name="W")
    with pytest.raises(ValueError, match=r"gradcheck: input 'b' \(tensor 'W'\) \(shape \(2,\)\) is nan at element 1"):
        gradcheck(lambda a, b: a * b, [mg.tensor([1.0, 2.0], requires_grad=True), w])
