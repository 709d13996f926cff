"""``mg.fft``: NumPy's transforms on Tensors, forward equal to NumPy's, gradients equal to PyTorch's and to
finite differences (the four registry ops behind them are in the registry's property tests too)."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.testing import gradcheck, gradgradcheck, jvpcheck

FEW = settings(max_examples=max(5, settings().max_examples // 3), deadline=None)

NORMS = [None, "backward", "ortho", "forward"]


@st.composite
def cases(draw, kind):
    """``(name, array, kwargs)`` for one public transform: shapes, axes, n/s cropping or padding, norms."""
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim)))
    norm = draw(st.sampled_from(NORMS))
    if kind == "1d":
        name = draw(st.sampled_from(["fft", "ifft", "rfft", "irfft"]))
        kw = {"n": draw(st.one_of(st.none(), st.integers(1, 7))), "axis": draw(st.integers(-ndim, ndim - 1))}
    else:
        name = draw(st.sampled_from(["fftn", "ifftn", "rfftn", "irfftn"] + (["fft2", "ifft2", "rfft2", "irfft2"]
                                                                          if ndim >= 2 else [])))
        if name.endswith("2"):
            axes = (-2, -1)
        else:
            axes = tuple(draw(st.permutations(range(ndim)))[: draw(st.integers(1, ndim))])
            axes = tuple(ax - ndim if draw(st.booleans()) else ax for ax in axes)
        s = draw(st.one_of(st.none(), st.lists(st.integers(1, 6), min_size=len(axes), max_size=len(axes))))
        kw = {"s": s, "axes": axes}
    if name.startswith("irfft") and kw.get("n", kw.get("s")) is None:
        # the default output length 2 (m - 1) needs m >= 2 bins on the last transformed axis
        last = kw["axis"] if "axis" in kw else kw["axes"][-1]
        shape = tuple(max(k, 2) if i == last % ndim else k for i, k in enumerate(shape))
    real = name.startswith("rfft") or draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.standard_normal(shape) + (0 if real else 1j * rng.standard_normal(shape))
    return name, a, {**kw, "norm": norm}


@FEW
@given(case=st.one_of(cases("1d"), cases("nd")))
def test_forward_equals_numpy(case):
    name, a, kw = case
    ours = getattr(mg.fft, name)(mg.tensor(a), **kw)
    theirs = getattr(np.fft, name)(a, **kw)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours.data, theirs, rtol=1e-12, atol=1e-12)
    via_numpy = getattr(np.fft, name)(mg.tensor(a), **kw)  # np.fft on a Tensor comes here
    assert isinstance(via_numpy, mg.Tensor)


def _torch_call(torch, name, a, kw):
    kw = dict(kw)
    if "axis" in kw:
        kw["dim"] = kw.pop("axis")
    if "axes" in kw:
        kw["dim"] = kw.pop("axes")
    return getattr(torch.fft, name)(a, **kw)


@FEW
@given(case=st.one_of(cases("1d"), cases("nd")))
def test_gradients_equal_pytorchs(case):
    torch = pytest.importorskip("torch")
    name, a, kw = case
    rng = np.random.default_rng(0)
    x = mg.tensor(a, requires_grad=True)
    out = getattr(mg.fft, name)(x, **kw)
    weights = rng.standard_normal(out.shape)
    loss = (mg.abs(out) ** 2 * weights).sum() + (mg.real(out) * weights).sum()  # both parts of the output count
    loss.backward()
    xt = torch.asarray(a.copy()).requires_grad_()
    outt = _torch_call(torch, name, xt, kw)
    wt = torch.asarray(weights)
    losst = (outt.abs() ** 2 * wt).sum() + (outt.real * wt).sum()
    losst.backward()
    np.testing.assert_allclose(loss.item(), losst.item(), rtol=1e-10)
    np.testing.assert_allclose(x.grad, xt.grad.resolve_conj().numpy(), rtol=1e-9, atol=1e-10)


@FEW
@given(case=st.one_of(cases("1d"), cases("nd")))
def test_gradcheck_through_the_public_forms(case):
    # Cropping and padding (n, s) are ops of their own: the whole public function is checked.
    name, a, kw = case
    f = lambda x: getattr(mg.fft, name)(x, **kw)  # noqa: E731
    x = mg.tensor(a, requires_grad=True)
    assert gradcheck(f, x)
    assert gradgradcheck(f, x)
    assert jvpcheck(f, x, n_directions=2)


def test_parseval_and_the_round_trips():
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.standard_normal((4, 6)), requires_grad=True)
    X = mg.fft.fft2(x, norm="ortho")
    (mg.abs(X) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data, rtol=1e-12)  # sum |X|^2 = sum x^2 (unitary)
    np.testing.assert_allclose(mg.fft.irfft(mg.fft.rfft(x), n=6).data, x.data, atol=1e-14)
    np.testing.assert_allclose(mg.fft.irfftn(mg.fft.rfftn(x), s=(4, 6)).data, x.data, atol=1e-14)
    np.testing.assert_allclose(mg.real(mg.fft.ifftn(mg.fft.fftn(x))).data, x.data, atol=1e-14)


def test_shifts_and_frequencies():
    x = mg.tensor(np.arange(15.0).reshape(3, 5), requires_grad=True)
    for axes in (None, 0, (1,), (0, 1)):
        np.testing.assert_array_equal(mg.fft.fftshift(x, axes).data, np.fft.fftshift(x.data, axes))
        np.testing.assert_array_equal(mg.fft.ifftshift(mg.fft.fftshift(x, axes), axes).data, x.data)
    (mg.fft.fftshift(x) * np.arange(15.0).reshape(3, 5)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.fft.ifftshift(np.arange(15.0).reshape(3, 5)))
    np.testing.assert_array_equal(np.fft.fftshift(x).data, np.fft.fftshift(x.data))
    np.testing.assert_array_equal(mg.fft.fftfreq(8, 0.1).data, np.fft.fftfreq(8, 0.1))
    np.testing.assert_array_equal(mg.fft.rfftfreq(7).data, np.fft.rfftfreq(7))


def test_float32_stays_single_precision():
    x = mg.tensor(np.ones(8, np.float32), requires_grad=True)
    X = mg.fft.rfft(x)
    assert X.dtype == np.complex64 and mg.fft.irfft(X).dtype == np.float32
    (mg.abs(X) ** 2).sum().backward()
    assert x.grad.dtype == np.float32


def test_under_vmap_jvp_and_compile():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 4, 6))
    f = lambda x: mg.abs(mg.fft.rfft2(x, s=(4, 8))) ** 2  # noqa: E731
    np.testing.assert_allclose(mg.func.vmap(f)(mg.tensor(X)).data, np.stack([f(mg.tensor(x)).data for x in X]),
                               rtol=1e-12)
    per_example = mg.func.vmap(mg.func.grad(lambda x: f(x).sum()))(mg.tensor(X))
    loop = np.stack([mg.func.grad(lambda x: f(x).sum())(mg.tensor(x)).data for x in X])
    np.testing.assert_allclose(per_example.data, loop, rtol=1e-12)

    w = mg.tensor(rng.standard_normal(6), requires_grad=True)
    opt = mg.optim.SGD([w], lr=1e-3)

    def step(x):
        loss = (mg.abs(mg.fft.fft(x * w) - 1.0) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    compiled = mg.compile(step, fullgraph=True)
    w0 = w.data.copy()
    got = [compiled(mg.tensor(x)).item() for x in X[:, 0]]
    w_compiled = w.data.copy()
    w.data[...] = w0
    want = [step(mg.tensor(x)).item() for x in X[:, 0]]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(w_compiled, w.data, rtol=1e-12)
    assert compiled.stats["replays"] == 2


def test_bad_arguments_are_refused_by_name():
    x = mg.tensor(np.ones((3, 4)))
    refused = [
        (lambda: mg.fft.fft(x, norm="unitary"), ValueError, r"fftn: norm must be one of backward, ortho, forward"),
        (lambda: mg.fft.fftn(x, axes=(0, -2)), ValueError, r"fftn: axes \(-2, -2\) name an axis twice"),
        (lambda: mg.fft.fft(x, axis=2), ValueError, r"fftn: axis 2 is out of bounds for the 2-d input"),
        (lambda: mg.fft.rfft(x, n=0), ValueError, r"rfftn: invalid number of data points \(0\)"),
        (lambda: mg.fft.fftn(x, s=(3,), axes=(0, 1)), ValueError, r"fftn: s has 1 lengths for 2 axes"),
        (lambda: mg.fft.fft(mg.tensor(1.0)), ValueError, r"fftn: axis -1 is out of bounds for the 0-d input"),
        (lambda: mg.fft.irfft(mg.tensor(np.ones(1))), ValueError, r"irfftn: invalid number of data points \(0\)"),
        (lambda: mg.fft.fft(x, axis=0.5), TypeError, r"fftn: axes must be ints"),
    ]
    for call, error, message in refused:
        with pytest.raises(error, match=message):
            call()
    with pytest.raises(TypeError, match=r"np.fft.hfft is not differentiable in microgradnp"):
        np.fft.hfft(x)


_FRESH = """
import numpy as np, microgradnp as mg
x = mg.tensor([0.3, -1.2, 0.5, 2.0], requires_grad=True)
w = mg.fft.fft(x) if {via_fft} else x.astype(np.complex128)
(mg.real(w * w * (0.5 - 1j))).sum().backward()   # the first complex value of the process, made from a real one
z = x.data.astype(complex)
f = lambda z: (np.real((np.fft.fft(z) if {via_fft} else z) ** 2 * (0.5 - 1j))).sum()
h = 1e-6
numeric = [(f(z + h * e) - f(z - h * e)) / (2 * h) for e in np.eye(4)]
np.testing.assert_allclose(x.grad, numeric, rtol=1e-6)
"""


@pytest.mark.parametrize("via_fft", [True, False])
def test_the_first_complex_value_made_from_a_real_one_is_differentiated_right(via_fft):
    # In a fresh process no complex value has existed: the op that makes one must say so, or the ops after it
    # would be recorded with their real rules (the conjugates missing).
    run = subprocess.run([sys.executable, "-c", _FRESH.format(via_fft=via_fft)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
