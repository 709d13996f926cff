"""Complex tensors: every op that takes complex input, its gradient in PyTorch's convention checked against
finite differences over the real and imaginary parts, agreement with PyTorch's complex autograd, and the ops
without a complex meaning refused by name (see microgradnp/ops/complex.py)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.engine import apply
from microgradnp.ops import REGISTRY
from microgradnp.ops.complex import HOLOMORPHIC, ORDERED, OWN_RULES
from microgradnp.testing import GradcheckError, gradcheck, gradgradcheck
from microgradnp.testing import strategies as mst

from .ops.test_properties import of_differentiable

#: Ops whose results are fixed only up to a phase (complex eigenvectors, singular vectors) or a sign chosen by
#: LAPACK (QR): tested apart, with losses that do not depend on the phase, at generic points.
PHASED = {"eigh", "svd", "qr", "eig"}
COMPLEX_OPS = sorted((set(HOLOMORPHIC) | {"abs", "vdot", "sign", "nan_to_num"} | set(OWN_RULES)) - PHASED
                     - {"astype"})  # (astype: tested apart)
FEW = settings(max_examples=max(5, settings().max_examples // 4), deadline=None)


#: Where an op's principal branch jumps (a branch cut) or its derivative blows up: drawn points near one are
#: left out, since finite differences there would see the jump or lose their digits (the rule holds nearby).
def _near_zero(z):
    """Near 0, where the derivatives of angle, abs and sign (1 / |z|, z / |z|) change too fast for finite
    differences."""
    return np.abs(z) < 0.1


def _near_the_cuts_from_plus_minus_i(z):
    """On or near i [1, inf) and -i [1, inf), or near the branch points +-i themselves (where the derivative
    has a pole and finite differences lose their digits)."""
    return ((np.abs(z.real) < 1e-3) & (np.abs(z.imag) > 1 - 1e-3)) | (np.abs(z - 1j) < 0.2) | (np.abs(z + 1j) < 0.2)


def _near_a_pole_of_tanh(z):
    """Within 0.1 of i (pi/2 + k pi), where tanh (and, turned a quarter, tan) has its poles."""
    turned = (z.imag - np.pi / 2) / np.pi
    return (np.abs(z.real) < 0.1) & (np.abs(turned - np.round(turned)) * np.pi < 0.1)


def _two_near_zero(z):
    """Two elements near 0 in a product: its derivative there is 0 (or tiny), while finite differences see
    h^2 times the product of the rest, which can be large."""
    return np.full(z.shape, np.count_nonzero(np.abs(z) < 0.1) >= 2)


BRANCH_CUTS = {"arctan": _near_the_cuts_from_plus_minus_i, "arcsinh": _near_the_cuts_from_plus_minus_i,
               **dict.fromkeys(("angle", "abs", "sign", "vector_norm"), _near_zero),
               "tanh": _near_a_pole_of_tanh, "tan": lambda z: _near_a_pole_of_tanh(z * 1j),
               **dict.fromkeys(("prod", "cumprod"), _two_near_zero)}


def _off_branch_cuts(name, inputs):
    near = BRANCH_CUTS.get(name)
    if near is not None:
        assume(not any(np.any(near(x.data)) for x in inputs if x.dtype.kind == "c"))


def _on_complex(op, inputs, attrs):
    def f(*xs):
        return apply(op, xs, attrs)
    return f


def _complex_case(name, data):
    """Op ``name`` on drawn complex inputs, as a function of those that require grad (the others, masks and
    indices, held): ``(op, f, primals, out)``, or ``None`` where the draw left the op's domain."""
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op, dtype=np.complex128), label="inputs")
    _off_branch_cuts(name, inputs)
    f, primals = of_differentiable(lambda *xs: apply(op, xs, attrs), inputs)
    try:
        return op, f, primals, f(*primals)
    except (np.linalg.LinAlgError, ValueError):
        return None


@pytest.mark.parametrize("name", COMPLEX_OPS)
@FEW
@given(data=st.data())
def test_every_complex_op_passes_gradcheck_on_real_and_imaginary_parts(name, data):
    case = _complex_case(name, data)
    if case is None:
        return
    op, f, inputs, out = case
    assert out.dtype.kind == ("f" if name in ("abs", "real", "imag", "angle", "irfftn", "var", "std", "vector_norm")
                              else "c") \
        or name == "where"
    assert gradcheck(f, inputs)
    if op.test.smooth:
        assert gradgradcheck(f, inputs)


@FEW
@given(re=mst.tensors((3,)), im=mst.tensors((3,)))
def test_complex_of_real_parts_passes_gradcheck(re, im):
    z = mg.complex(re, im)
    assert z.dtype == np.complex128 and np.array_equal(z.data, re.data + 1j * im.data)
    assert gradcheck(lambda re, im: mg.exp(mg.complex(re, im)), (re, im))
    assert mg.complex(mg.tensor(np.ones(2, np.float32)), mg.tensor(np.ones(2, np.float32))).dtype == np.complex64
    with pytest.raises(TypeError, match=r"complex: real must be a real floating-point tensor"):
        mg.complex(mg.tensor(np.array([1j])), im)


@pytest.mark.parametrize("name", ["add", "mul", "div", "matmul", "sub", "pow", "where"])
@FEW
@given(data=st.data())
def test_a_real_input_beside_a_complex_one_gets_a_real_gradient(name, data):
    # x * z with x real: dL/dx = Re(grad_x); the real input keeps its dtype, as in PyTorch.
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op, dtype=np.complex128), label="inputs")
    mixed = [mg.tensor(x.data.real.copy(), requires_grad=True) if i == 0 else x for i, x in enumerate(inputs)]
    f = _on_complex(op, mixed, attrs)
    mg.real(f(*mixed) * (0.3 - 0.7j)).sum().backward()  # (a loss without abs: no division at subnormal values)
    assert mixed[0].grad.dtype == np.float64
    assert gradcheck(f, mixed)


def test_promotion_follows_numpy():
    z64 = mg.tensor(np.array([1 + 1j], dtype=np.complex64))
    assert (z64 * mg.tensor(np.array([2.0], dtype=np.float32))).dtype == np.complex64
    assert (z64 * mg.tensor([2.0])).dtype == np.complex128  # float64 and complex64: complex128
    assert (mg.tensor(np.array([1.0], dtype=np.float32)) * 1j).dtype == np.complex64  # a Python complex is weak
    assert (mg.tensor([1.0]) + np.array([1j])).dtype == np.complex128


def test_a_missing_conjugate_is_caught():
    C = np.array([1 - 2j, 0.5 + 1j])

    class Scale(mg.Function):
        @staticmethod
        def forward(ctx, z):
            return z * C

        @staticmethod
        def backward(ctx, g):
            return g * C  # right for real numbers; the complex rule is g * conj(C)

    class Right(Scale):
        @staticmethod
        def backward(ctx, g):
            return g * np.conj(C)

    z = mg.tensor(np.array([0.3 + 0.1j, -1 + 2j]), requires_grad=True)
    assert gradcheck(Right.apply, z)
    with pytest.raises(GradcheckError, match=r"(?s)Scale.*real and imaginary parts.*Scale\.backward"):
        gradcheck(Scale.apply, z)


def test_a_check_of_the_real_part_alone_would_pass_the_missing_conjugate():
    # Why both parts are perturbed: the wrong rule's real part is right wherever the constant's is.
    C = np.array([2.0 - 1j])
    z = mg.tensor(np.array([0.5 + 0.5j]), requires_grad=True)
    (mg.real(z * C)).sum().backward()
    right = z.grad.copy()
    assert right == np.conj(C)  # d Re(C z)/dx + i d Re(C z)/dy = Re C - i Im C


def test_gradient_descent_on_a_complex_parameter_converges():
    # Fit z so that z * a matches b: the gradient is the direction of steepest ascent of the real loss.
    a, b = np.array([1 + 2j, -0.5j, 3.0]), np.array([2 - 1j, 0.5 + 0.25j, 4 + 1j])
    z = mg.tensor(np.array([0j]), requires_grad=True)
    opt = mg.optim.SGD([z], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        (mg.abs(z * a - b) ** 2).sum().backward()
        opt.step()
    best = np.vdot(a, b) / np.vdot(a, a)  # least squares: (a^H b) / (a^H a)
    np.testing.assert_allclose(z.data, [best], rtol=1e-10)


_ORDERED_CALLS = {
    "max": lambda z: z.max(), "min": lambda z: z.min(), "maximum": lambda z: mg.maximum(z, z),
    "minimum": lambda z: mg.minimum(z, z), "fmax": lambda z: mg.fmax(z, z), "fmin": lambda z: mg.fmin(z, z),
    "sort": lambda z: mg.sort(z), "argsort": lambda z: mg.argsort(z), "argmax": lambda z: mg.argmax(z),
    "argmin": lambda z: mg.argmin(z), "clip": lambda z: mg.clip(z, -1.0, 1.0), "relu": lambda z: mg.relu(z),
    "greater": lambda z: z > z, "greater_equal": lambda z: z >= z, "less": lambda z: z < z,
    "less_equal": lambda z: z <= z, "ptp": lambda z: mg.ptp(z),
    "remainder": lambda z: z % 2.0,
}


def test_every_op_that_orders_is_tested():
    assert set(_ORDERED_CALLS) == set(ORDERED)


@pytest.mark.parametrize("name", sorted(_ORDERED_CALLS))
def test_ops_that_order_refuse_complex_input_by_name(name):
    z = mg.tensor(np.array([1 + 1j, 2 - 1j]), requires_grad=True)
    with pytest.raises(TypeError, match=rf"{name}: complex numbers are not ordered"):
        _ORDERED_CALLS[name](z)


def test_the_rest_refuse_complex_input_as_not_supported_yet():
    z = mg.tensor(np.array([1 + 1j, 2 - 1j]), requires_grad=True)
    with pytest.raises(TypeError, match=r"sigmoid: not supported for complex input yet"):
        mg.sigmoid(z)
    with pytest.raises(TypeError, match=r"rfftn: the input is complex; rfftn transforms real values; use fftn"):
        mg.fft.rfft(z)
    with pytest.raises(TypeError, match=r"rfftn: the input is complex"):
        apply(REGISTRY["rfftn"], (z,), {"axes": (-1,), "norm": "backward"})
    with pytest.raises(TypeError, match=r"sigmoid: not supported for complex input yet"):
        mg.func.vmap(lambda x: mg.sigmoid(x * z))(mg.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"real scalar output.*complex128"):
        (z * z).sum().backward()


def test_a_complex_constant_entering_a_real_computation_is_differentiated_right():
    # The first complex value may come as a constant: the op is recorded with its complex rule even then.
    x = mg.tensor([0.5, -1.0], requires_grad=True)
    (mg.abs(mg.exp(x * 1j) + x) ** 2).sum().backward()
    # d/dx |e^{ix} + x|^2 = 2 (cos x + x)(1 - sin x) + 2 sin x cos x
    xs = np.array([0.5, -1.0])
    np.testing.assert_allclose(x.grad, 2 * (np.cos(xs) + xs) * (1 - np.sin(xs)) + 2 * np.sin(xs) * np.cos(xs),
                               rtol=1e-12)


def test_a_compiled_step_replays_complex_ops_as_eager():
    x = np.array([1 + 2j, 3 - 1j])

    def training(w0):
        w = mg.tensor(w0.copy(), requires_grad=True)
        opt = mg.optim.SGD([w], lr=0.01, momentum=0.5)

        def step(x):
            loss = (mg.abs(w * x - 1.0) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return step, w

    w0 = np.array([0.5 + 0.5j, -1j])
    step, w = training(w0)
    compiled = mg.compile(step, fullgraph=True)
    got = [compiled(x * (1 + 0.1 * k)).item() for k in range(3)]
    eager, w_eager = training(w0)
    want = [eager(x * (1 + 0.1 * k)).item() for k in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(w.data, w_eager.data, rtol=1e-12)
    assert compiled.stats["replays"] == 2 and w.dtype == np.complex128


_PROGRAM_OPS = {
    "exp": (mg.exp, "exp"), "sin": (mg.sin, "sin"), "tanh": (mg.tanh, "tanh"), "square": (lambda z: z * z, None),
    "conj": (mg.conj, "conj"), "scale": (lambda z: (0.5 - 1j) * z, None), "recip": (lambda z: 1.0 / (z + 3.0), None),
    "matmul": (lambda z: z @ _M, None), "log": (lambda z: mg.log(z * z + 2.0), None), "flip": (lambda z: z[::-1], None),
}
_M = np.array([[1 - 1j, 0.5], [2j, -1 + 0.5j]])


def _torch_equivalent(name, z):
    import torch

    M = torch.asarray(_M)
    return {
        "exp": torch.exp, "sin": torch.sin, "tanh": torch.tanh, "square": lambda z: z * z, "conj": torch.conj,
        "scale": lambda z: (0.5 - 1j) * z, "recip": lambda z: 1.0 / (z + 3.0), "matmul": lambda z: z @ M,
        "log": lambda z: torch.log(z * z + 2.0), "flip": lambda z: torch.flip(z, (0,)),
    }[name](z)


@settings(max_examples=max(10, settings().max_examples // 2), deadline=None)
@given(program=st.lists(st.sampled_from(sorted(_PROGRAM_OPS)), min_size=1, max_size=5),
       values=mst.arrays((2,), dtype=np.complex128, elements=(-1.0, 1.0)),
       loss=st.sampled_from(["abs2", "real", "imag", "angle"]))
def test_random_programs_agree_with_pytorchs_complex_autograd(program, values, loss):
    torch = pytest.importorskip("torch")
    z = mg.tensor(values, requires_grad=True)
    zt = torch.asarray(values.copy()).requires_grad_()
    h, ht = z, zt
    with np.errstate(all="ignore"):  # (a chain of exp and squares overflows: such programs are left out below)
        for name in program:
            h, ht = _PROGRAM_OPS[name][0](h), _torch_equivalent(name, ht)
            size = np.abs(h.data)
            if not np.all(np.isfinite(size)) or size.max() > 1e6 or size.min() < 1e-6:
                # left the region where the program is tame (a pole of 1 / (z + 3), exp of exp): there the
                # two libraries' roundings differ more than their rules do (PyTorch's angle gradient,
                # i z / |z|^2, overflows or underflows where ours, i / conj(z), is finite)
                return
    ours = {"abs2": lambda h: (mg.abs(h) ** 2).sum(), "real": lambda h: mg.real(h).sum(),
            "imag": lambda h: mg.imag(h).sum(), "angle": lambda h: mg.angle(h).sum()}[loss](h)
    theirs = {"abs2": lambda h: (h.abs() ** 2).sum(), "real": lambda h: h.real.sum(),
              "imag": lambda h: h.imag.sum(), "angle": lambda h: h.angle().sum()}[loss](ht)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(z.grad, zt.grad.resolve_conj().numpy(), rtol=1e-8, atol=1e-10)


def test_scipys_optimizers_refuse_complex_parameters():
    z = mg.tensor(np.array([1j]), requires_grad=True)
    with pytest.raises(TypeError, match=r"minimize: parameter 0 is complex.*real and imaginary parts"):
        mg.optim.minimize(lambda: (mg.abs(z) ** 2).sum(), [z])


def _optimizer_run(name, kw, z0, a, b, compiled=False):
    z = mg.tensor(z0.copy(), requires_grad=True)
    opt = getattr(mg.optim, name)([z], lr=0.01, **kw)

    def step():
        opt.zero_grad()
        loss = (mg.abs(mg.sin(z) * a - b) ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    step = mg.compile(step, fullgraph=True) if compiled else step
    for _ in range(10):
        step()
    return z.data


@pytest.mark.parametrize("name, kw", [
    ("Adam", {}), ("Adam", {"weight_decay": 0.1}), ("AdamW", {"weight_decay": 0.1}), ("RMSprop", {}),
    ("RMSprop", {"centered": True, "momentum": 0.9}), ("Adagrad", {}),
    ("Adagrad", {"lr_decay": 0.1, "initial_accumulator_value": 0.1}), ("SGD", {"momentum": 0.9, "nesterov": True}),
])
def test_optimizers_on_a_complex_parameter_equal_pytorchs(name, kw):
    # PyTorch's Adam (RMSprop, Adagrad) on a complex parameter is Adam on its real and imaginary parts
    # (view_as_real): the averages of squared gradients are taken per part. Eager (and, for the optimizers that
    # compile, compiled) steps give PyTorch's parameters.
    rng = np.random.default_rng(1)
    a, b, z0 = (rng.standard_normal(4) + 1j * rng.standard_normal(4) for _ in range(3))
    eager = _optimizer_run(name, kw, z0, a, b)
    if name in ("Adam", "AdamW", "SGD"):
        np.testing.assert_allclose(_optimizer_run(name, kw, z0, a, b, compiled=True), eager, rtol=1e-12)
    torch = pytest.importorskip("torch")
    zt = torch.tensor(z0.copy(), requires_grad=True)
    opt = getattr(torch.optim, name)([zt], lr=0.01, **kw)
    for _ in range(10):
        opt.zero_grad()
        ((torch.sin(zt) * torch.tensor(a) - torch.tensor(b)).abs() ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(eager, zt.detach().numpy(), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------
# The function transforms on complex numbers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", COMPLEX_OPS)
@FEW
@given(data=st.data())
def test_every_complex_op_under_jvp_vmap_and_grad(name, data):
    # jvp along random directions of the real and imaginary parts against central differences (jvpcheck),
    # vmap == the loop over examples, func.grad == backward().
    case = _complex_case(name, data)
    if case is None:
        return
    _, f, primals, out = case
    try:
        assert mg.testing.jvpcheck(f, primals, n_directions=2, atol=1e-7)  # (prod of values near 0: tangents ~1e-8)
    except np.linalg.LinAlgError:
        return  # a step of the finite differences left the op's domain (a matrix at the edge of definiteness)
    batch = [np.stack([x.data * (1.0 + 0.05 * k) for k in range(2)]) for x in primals]
    try:
        loop = np.stack([f(*[mg.tensor(b[k]) for b in batch]).data for k in range(2)])
    except (np.linalg.LinAlgError, ValueError):
        return
    np.testing.assert_allclose(mg.func.vmap(f)(*[mg.tensor(b) for b in batch]).data, loop, rtol=1e-12, atol=1e-13)
    u = np.random.default_rng(0).standard_normal(out.shape)
    grads = mg.func.grad(lambda *xs: mg.real(f(*xs) * u).sum(), argnums=tuple(range(len(primals))))(*primals)
    leaves = [mg.tensor(x.data, requires_grad=True) for x in primals]
    mg.real(f(*leaves) * u).sum().backward()
    for g, x in zip(grads, leaves):
        np.testing.assert_allclose(g.data, x.grad, rtol=1e-12, atol=1e-14)


_HOLOMORPHIC_PROGRAMS = {
    "exp": lambda z: mg.exp(z), "sin": lambda z: mg.sin(z), "cube": lambda z: z ** 3,
    "recip": lambda z: 1.0 / (z + 3.0), "matmul": lambda z: z @ _M, "log": lambda z: mg.log(z * z + 2.0),
    "cumprod": lambda z: mg.cumprod(z), "tanh": lambda z: mg.tanh(z),
}


@FEW
@given(program=st.lists(st.sampled_from(sorted(_HOLOMORPHIC_PROGRAMS)), min_size=1, max_size=4),
       values=mst.arrays((2,), dtype=np.complex128, elements=(-1.0, 1.0)))
def test_holomorphic_derivatives_are_the_complex_jacobian(program, values):
    # jacrev and jacfwd with holomorphic=True give df/dz (JAX's convention); checked against the complex
    # difference quotient (f(z + h e_j) - f(z - h e_j)) / 2h, which for a holomorphic f is df/dz_j.
    def f(z):
        for name in program:
            z = _HOLOMORPHIC_PROGRAMS[name](z)
        return z

    z = mg.tensor(values)
    out = f(z).data
    if not np.all(np.isfinite(out)) or np.abs(out).max() > 1e6:
        return
    h = 1e-6
    numeric = np.stack([(f(mg.tensor(values + h * e)).data - f(mg.tensor(values - h * e)).data) / (2 * h)
                        for e in np.eye(2)], axis=-1)
    rev = mg.func.jacrev(f, holomorphic=True)(z).data
    fwd = mg.func.jacfwd(f, holomorphic=True)(z).data
    np.testing.assert_allclose(rev, fwd, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rev, numeric, rtol=1e-5, atol=1e-6 * (1 + np.abs(numeric).max()))
    g = mg.func.grad(lambda z: f(z).sum(), holomorphic=True)(z).data
    np.testing.assert_allclose(g, rev.sum(axis=0), rtol=1e-10, atol=1e-12)


def test_second_holomorphic_derivative():
    z0 = np.array([0.3 + 0.7j, -1.2 + 0.1j])
    dsin = mg.func.grad(lambda z: mg.sin(z).sum(), holomorphic=True)
    np.testing.assert_allclose(dsin(mg.tensor(z0)).data, np.cos(z0), rtol=1e-14)
    d2 = mg.func.grad(lambda z: dsin(z).sum(), holomorphic=True)(mg.tensor(z0))
    np.testing.assert_allclose(d2.data, -np.sin(z0), rtol=1e-14)
    value, g = mg.func.value_and_grad(lambda z: (z ** 2).sum(), holomorphic=True)(mg.tensor(z0))
    np.testing.assert_allclose(g.data, 2 * z0, rtol=1e-14)
    assert value.dtype == np.complex128


def test_grad_of_a_real_loss_of_a_complex_input_is_pytorchs():
    # func.grad of a real loss equals backward()'s z.grad (dL/dx + i dL/dy), and torch.func.grad where it exists.
    z0 = np.array([0.3 + 0.7j, -1.2 + 0.1j])
    loss = lambda z: (mg.abs(mg.exp(z) - 1.0) ** 2).sum()  # noqa: E731
    z = mg.tensor(z0, requires_grad=True)
    loss(z).backward()
    np.testing.assert_allclose(mg.func.grad(loss)(mg.tensor(z0)).data, z.grad, rtol=1e-14)
    x, y = z0.real, z0.imag  # |e^z - 1|^2 = e^{2x} - 2 e^x cos y + 1
    np.testing.assert_allclose(z.grad, (2 * np.exp(2 * x) - 2 * np.exp(x) * np.cos(y)) + 1j * (2 * np.exp(x) * np.sin(y)),
                               rtol=1e-12)
    torch = pytest.importorskip("torch")
    theirs = torch.func.grad(lambda z: ((z.exp() - 1.0).abs() ** 2).sum())(torch.asarray(z0))
    np.testing.assert_allclose(z.grad, theirs.resolve_conj().numpy(), rtol=1e-12)


def test_jvp_and_vmap_agree_with_torch_func():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    z0, v0 = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    ours = mg.func.jvp(lambda z: mg.exp(z) * mg.conj(z) + mg.abs(z), (mg.tensor(z0),), (mg.tensor(v0),))[1]
    theirs = torch.func.jvp(lambda z: z.exp() * z.conj() + z.abs(), (torch.asarray(z0),), (torch.asarray(v0),))[1]
    np.testing.assert_allclose(ours.data, theirs.resolve_conj().numpy(), rtol=1e-12)
    Z = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    per_example = mg.func.vmap(mg.func.grad(lambda z: (mg.abs(mg.sin(z)) ** 2).sum()))(mg.tensor(Z))
    theirs = torch.func.vmap(torch.func.grad(lambda z: (z.sin().abs() ** 2).sum()))(torch.asarray(Z))
    np.testing.assert_allclose(per_example.data, theirs.resolve_conj().numpy(), rtol=1e-12)


def test_what_the_transforms_refuse_on_complex_numbers():
    z = mg.tensor(np.array([1 + 1j, 2 - 1j]))
    x = mg.tensor(np.array([1.0, 2.0]))
    refused = [
        (lambda: mg.func.grad(lambda z: mg.sin(z).sum())(z), r"grad: the function returned complex128 values.*holomorphic=True"),
        (lambda: mg.func.grad(lambda x: mg.sin(x).sum(), holomorphic=True)(x), r"grad: holomorphic=True needs complex inputs"),
        (lambda: mg.func.grad(lambda z: mg.abs(z).sum(), holomorphic=True)(z), r"grad: with holomorphic=True.*complex values"),
        (lambda: mg.func.jacrev(mg.exp)(z), r"jacrev: the function returned complex128 values.*holomorphic=True"),
        (lambda: mg.func.jacrev(mg.abs, holomorphic=True)(z), r"jacrev: with holomorphic=True.*complex values"),
        (lambda: mg.func.jacfwd(mg.exp)(z), r"jacfwd: a complex input .*holomorphic=True"),
        (lambda: mg.func.jacfwd(mg.abs, holomorphic=True)(z), r"jacfwd: with holomorphic=True.*complex values"),
        (lambda: mg.func.hessian(lambda z: mg.abs(z).sum())(z), r"jacfwd: a complex input"),
        (lambda: mg.func.jvp(mg.exp, (x,), (z,)), r"jvp: tangent 0 is complex but its primal is float64"),
    ]
    for call, message in refused:
        with pytest.raises(TypeError, match=message):
            call()
    # A real input may have complex outputs under forward mode, and a complex input a real output under reverse.
    assert mg.func.jacfwd(lambda x: mg.exp(x * 1j))(x).dtype == np.complex128
    np.testing.assert_allclose(mg.func.jacrev(lambda z: mg.abs(z) ** 2)(z).data, np.diag(2 * z.data))


def test_jvpcheck_catches_a_conjugated_forward_rule():
    class WrongJVP(mg.Function):  # exp, with the backward right and the jvp conjugated
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return np.exp(z)

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_arrays
            return g * np.conj(np.exp(z))

        @staticmethod
        def jvp(ctx, t):
            (z,) = ctx.saved_arrays
            return t * np.conj(np.exp(z))

    z = mg.tensor(np.array([1 + 2j, 0.3 - 1j]), requires_grad=True)
    assert gradcheck(lambda z: WrongJVP.apply(z), z)
    with pytest.raises(GradcheckError, match=r"real and imaginary parts.*Jacobian-vector product"):
        mg.testing.jvpcheck(lambda z: WrongJVP.apply(z), z)


# ---------------------------------------------------------------------------
# Hermitian matrices: cholesky and eigh
# ---------------------------------------------------------------------------


def _hermitian(rng, n, definite=True):
    """A Hermitian matrix with eigenvalues at least 0.5 apart (positive ones if ``definite``): close ones make
    the eigenvectors' derivatives large and finite differences lose their digits."""
    U = np.linalg.qr(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))[0]
    w = (1.0 if definite else -1.0) + np.cumsum(rng.uniform(0.5, 1.0, n))
    return (U * w) @ U.conj().T


def _with_unread_garbage(rng, A, upper):
    """``A`` with numbers in the triangle LAPACK does not read and an imaginary part on its diagonal (ignored)."""
    n = A.shape[-1]
    junk = np.triu(rng.standard_normal((n, n)), 1) + 0.3j * np.diag(rng.standard_normal(n))
    return (A.conj().T + junk.T if upper else A + junk)


@FEW
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4), upper=st.booleans())
def test_hermitian_decompositions_pass_gradcheck(seed, n, upper):
    rng = np.random.default_rng(seed)
    A = mg.tensor(_with_unread_garbage(rng, _hermitian(rng, n), upper), requires_grad=True)
    c = rng.standard_normal(n)
    uplo = "U" if upper else "L"
    checks = [
        lambda a: mg.linalg.cholesky(a, upper=upper),
        lambda a: mg.linalg.eigh(a, uplo)[0],
        lambda a: mg.abs(mg.linalg.eigh(a, uplo)[1]) ** 2,  # |v|^2 and v v^H do not depend on the phase of v
        lambda a: (lambda w, V: (V * c) @ V.conj().T)(*mg.linalg.eigh(a, uplo)),
    ]
    for f in checks:
        assert gradcheck(f, A) and gradgradcheck(f, A) and mg.testing.jvpcheck(f, A, n_directions=2)
    np.testing.assert_allclose(mg.linalg.eigh(A, uplo)[0].data, np.linalg.eigvalsh(A.data, uplo), rtol=1e-10)
    assert mg.linalg.eigh(A, uplo)[0].dtype == np.float64  # real eigenvalues, as NumPy's


@FEW
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4))
def test_hermitian_decompositions_agree_with_pytorch(seed, n):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    M0 = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    W, c = rng.standard_normal((n, n)), rng.standard_normal(n)

    def loss(M, lib):
        A = M @ (M.conj().T if lib is mg else M.mH) + n * (np.eye(n) if lib is mg else torch.eye(n))
        L = lib.linalg.cholesky(A)
        w, V = lib.linalg.eigh(A)
        W_, c_ = (W, c) if lib is mg else (torch.asarray(W), torch.asarray(c))
        return (lib.abs(L) ** 2 * W_).sum() + (L.real * W_).sum() + (w * c_).sum() + (lib.abs(V) ** 2 * W_).sum()

    M = mg.tensor(M0, requires_grad=True)
    loss(M, mg).backward()
    Mt = torch.asarray(M0.copy()).requires_grad_()
    loss(Mt, torch).backward()
    np.testing.assert_allclose(M.grad, Mt.grad.resolve_conj().numpy(), rtol=1e-8, atol=1e-9)


def test_a_loss_that_depends_on_an_eigenvectors_phase_is_refused():
    A = mg.tensor(_hermitian(np.random.default_rng(0), 3, definite=False), requires_grad=True)
    w, V = mg.linalg.eigh(A)
    with pytest.raises(ValueError, match=r"eigh: the loss depends on the phases of complex eigenvectors"):
        mg.real(V).sum().backward()


@FEW
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 4), n=st.integers(1, 4), full=st.booleans())
def test_complex_svd_passes_gradcheck_on_phase_free_losses(seed, m, n, full):
    rng = np.random.default_rng(seed)
    A = mg.tensor(rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n)), requires_grad=True)
    k = min(m, n)
    c = rng.standard_normal(k)
    U, s, Vh = mg.linalg.svd(A, full_matrices=full)
    assert s.dtype == np.float64
    np.testing.assert_allclose(s.data, np.linalg.svd(A.data, compute_uv=False), rtol=1e-10, atol=1e-12)
    checks = [
        lambda a: mg.linalg.svd(a, full_matrices=full)[1],
        lambda a: mg.linalg.svd(a, compute_uv=False),
        lambda a: (lambda U, s, Vh: (U[..., :k] * c) @ Vh[..., :k, :])(*mg.linalg.svd(a, full_matrices=full)),
        lambda a: mg.abs(mg.linalg.svd(a, full_matrices=False)[0]) ** 2,
        lambda a: mg.abs(mg.linalg.svd(a, full_matrices=False)[2]) ** 2,
    ]
    for f in checks:
        assert gradcheck(f, A) and gradgradcheck(f, A) and mg.testing.jvpcheck(f, A, n_directions=2)


@FEW
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 4), n=st.integers(1, 4))
def test_complex_svd_agrees_with_pytorch(seed, m, n):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    A0 = rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))
    k = min(m, n)
    c, W = rng.standard_normal(k), rng.standard_normal((m, k))

    def loss(U, s, Vh, lib):
        c_, W_ = (c, W) if lib is mg else (torch.asarray(c), torch.asarray(W))
        return (s * c_).sum() + (lib.abs(U) ** 2 * W_).sum() + lib.real((U * c_) @ Vh).sum()

    A = mg.tensor(A0, requires_grad=True)
    loss(*mg.linalg.svd(A, full_matrices=False), mg).backward()
    At = torch.asarray(A0.copy()).requires_grad_()
    loss(*torch.linalg.svd(At, full_matrices=False), torch).backward()
    np.testing.assert_allclose(A.grad, At.grad.resolve_conj().numpy(), rtol=1e-8, atol=1e-9)


def test_a_loss_that_depends_on_a_singular_vectors_phase_is_refused():
    A = mg.tensor(np.array([[1 + 2j, 0.5], [-1j, 3.0]]), requires_grad=True)
    U, s, Vh = mg.linalg.svd(A)
    with pytest.raises(ValueError, match=r"svd: the loss depends on the phases of complex singular vectors"):
        mg.real(U).sum().backward()


@FEW
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 4), n=st.integers(1, 4))
def test_complex_qr_passes_gradcheck_and_agrees_with_pytorch(seed, m, n):
    rng = np.random.default_rng(seed)
    A0 = rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))
    A = mg.tensor(A0, requires_grad=True)
    Q, R = mg.linalg.qr(A)
    np.testing.assert_allclose((Q @ R).data, A0, atol=1e-12)
    for f in (lambda a: mg.linalg.qr(a)[0], lambda a: mg.linalg.qr(a)[1], lambda a: mg.linalg.qr(a, mode="r")):
        assert gradcheck(f, A) and gradgradcheck(f, A) and mg.testing.jvpcheck(f, A, n_directions=2)
    torch = pytest.importorskip("torch")
    W = rng.standard_normal((m, min(m, n))) + 1j * rng.standard_normal((m, min(m, n)))
    V = rng.standard_normal((min(m, n), n))
    (mg.real(mg.conj(mg.tensor(W)) * Q).sum() + (mg.abs(R) ** 2 * V).sum()).backward()
    At = torch.asarray(A0.copy()).requires_grad_()
    Qt, Rt = torch.linalg.qr(At)
    ((torch.asarray(W).conj() * Qt).real.sum() + (Rt.abs() ** 2 * torch.asarray(V)).sum()).backward()
    np.testing.assert_allclose(A.grad, At.grad.resolve_conj().numpy(), rtol=1e-8, atol=1e-9)


def test_astype_between_real_and_complex():
    # To complex: differentiable (PyTorch's x.to(torch.cdouble)), x.grad the real part; to real: NumPy's
    # warning that the imaginary part is dropped, and a gradient with zero imaginary part.
    x = mg.tensor([0.5, -2.0], requires_grad=True)
    z = x.astype(np.complex128)
    (mg.abs(z * (1 - 2j)) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * 5 * x.data)
    z = mg.tensor([1 + 1j], requires_grad=True)
    mg.real(z.astype(np.complex64) * 2j).sum().backward()
    assert z.grad.dtype == np.complex128 and z.grad[0] == -2j  # L = Re(2i z) = -2y
    w = mg.tensor([1.0 + 2.0j], requires_grad=True)
    with pytest.warns(np.exceptions.ComplexWarning):
        r = w.astype(np.float64)
    (r * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0 + 0.0j])


@FEW
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4), complex_input=st.booleans())
def test_general_eigenvalues_and_vectors(seed, n, complex_input):
    # Real matrices of random (mostly complex) spectra, and complex ones; the losses do not depend on the phases.
    rng = np.random.default_rng(seed)
    A0 = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if complex_input else 0)
    w0, V0 = np.linalg.eig(A0)
    gaps = np.abs(w0[:, None] - w0[None, :]) + np.eye(n)
    # well-separated eigenvalues and a well-conditioned basis: near a double eigenvalue the derivatives are
    # large and finite differences lose their digits
    assume(gaps.min() > 0.5 and np.linalg.cond(V0) < 10)
    A = mg.tensor(A0, requires_grad=True)
    w, V = mg.linalg.eig(A)
    assert w.dtype == np.complex128 and V.dtype == np.complex128  # whatever the spectrum
    np.testing.assert_allclose(np.sort_complex(mg.linalg.eigvals(A).data), np.sort_complex(np.linalg.eigvals(A0)),
                               rtol=1e-10, atol=1e-12)
    c = rng.standard_normal(n)
    checks = [
        lambda a: mg.linalg.eigvals(a),
        lambda a: mg.abs(mg.linalg.eig(a)[1]) ** 2,
        lambda a: (lambda w, V: (V * c) @ mg.linalg.inv(V))(*mg.linalg.eig(a)),  # a matrix function of A
    ]
    for f in checks:
        assert gradcheck(f, A) and gradgradcheck(f, A) and mg.testing.jvpcheck(f, A, n_directions=2)
    torch = pytest.importorskip("torch")
    W = rng.standard_normal((n, n))
    (mg.real(w * c).sum() + mg.imag(w).sum() + (mg.abs(V) ** 2 * W).sum()).backward()
    At = torch.asarray(A0.copy()).requires_grad_()
    wt, Vt = torch.linalg.eig(At)
    ((wt * torch.asarray(c)).real.sum() + wt.imag.sum() + (Vt.abs() ** 2 * torch.asarray(W)).sum()).backward()
    np.testing.assert_allclose(A.grad, At.grad.resolve_conj().numpy(), rtol=1e-7, atol=1e-8)


def test_a_loss_that_depends_on_an_eigenvectors_phase_of_eig_is_refused():
    A = mg.tensor(np.array([[0.0, -1.0], [1.0, 0.5]]), requires_grad=True)  # complex eigenvalues
    w, V = mg.linalg.eig(A)
    with pytest.raises(ValueError, match=r"eig: the loss depends on the phases of complex eigenvectors"):
        mg.real(V).sum().backward()


@FEW
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4))
def test_complex_slogdet_agrees_with_pytorch(seed, n):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    A0 = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    w = complex(rng.standard_normal(), rng.standard_normal())
    A = mg.tensor(A0, requires_grad=True)
    sign, logabsdet = mg.linalg.slogdet(A)
    assert logabsdet.dtype == np.float64 and sign.dtype == np.complex128
    (mg.real(sign * w) + 1.3 * logabsdet).backward()
    At = torch.asarray(A0.copy()).requires_grad_()
    st_, lt = torch.linalg.slogdet(At)
    ((st_ * torch.tensor(w, dtype=torch.complex128)).real + 1.3 * lt).backward()
    np.testing.assert_allclose(A.grad, At.grad.resolve_conj().numpy(), rtol=1e-9, atol=1e-10)


def test_nan_to_num_replaces_the_parts_apart_as_numpy():
    z = mg.tensor(np.array([complex(np.nan, 1.0), complex(2.0, np.inf), 3 - 1j]), requires_grad=True)
    out = mg.nan_to_num(z, nan=0.5, posinf=9.0)
    np.testing.assert_array_equal(out.data, np.nan_to_num(z.data, nan=0.5, posinf=9.0))
    mg.real(out * np.array([1 + 2j, 3 - 1j, 2 + 2j])).sum().backward()
    # L = Re(c out) = Re(c) Re(out) - Im(c) Im(out): z.grad = conj(c), but a replaced part passes nothing back
    np.testing.assert_array_equal(z.grad, [0 - 2j, 3 + 0j, 2 - 2j])
