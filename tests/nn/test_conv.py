"""Convolution and pooling against straightforward NumPy loops, and their gradients against finite differences."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.nn import functional as F
from microgradnp.testing import gradcheck

RNG = np.random.default_rng(0)


def _conv_loop(x, w, b, stride, padding, dilation, groups):
    """The definition, one output element at a time."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for i in range(n):
        for oc in range(o):
            g = oc // og
            for p in range(oh):
                for q in range(ow):
                    total = 0.0 if b is None else b[oc]
                    for ci in range(cg):
                        for u in range(kh):
                            for v in range(kw):
                                total += w[oc, ci, u, v] * xp[i, g * cg + ci, p * sh + u * dh, q * sw + v * dw]
                    out[i, oc, p, q] = total
    return out


def _pool_loop(x, k, s, pad, reduce, fill):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for p in range(oh):
        for q in range(ow):
            out[:, :, p, q] = reduce(xp[:, :, p * s:p * s + k, q * s:q * s + k], axis=(2, 3))
    return out


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    ((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 1), 1), ((1, 2), (1, 0), (2, 1), 2), ((2, 2), (2, 2), (2, 2), 4),
])
def test_conv2d_matches_the_loop(stride, padding, dilation, groups):
    x = RNG.standard_normal((2, 4, 7, 6))
    w = RNG.standard_normal((8, 4 // groups, 3, 2))
    b = RNG.standard_normal(8)
    got = F.conv2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride, padding, dilation, groups)
    np.testing.assert_allclose(got.data, _conv_loop(x, w, b, stride, padding, dilation, groups), rtol=1e-12, atol=1e-12)


def test_conv2d_and_conv1d_gradients():
    x = mg.tensor(RNG.standard_normal((1, 2, 4, 5)), requires_grad=True)
    w = mg.tensor(RNG.standard_normal((2, 1, 2, 3)), requires_grad=True)
    b = mg.tensor(RNG.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2), (x, w, b))
    x1 = mg.tensor(RNG.standard_normal((2, 3, 9)), requires_grad=True)
    w1 = mg.tensor(RNG.standard_normal((2, 3, 3)), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv1d(x, w, stride=2, padding=1), (x1, w1))
    ref = _conv_loop(x1.data[:, :, None, :], w1.data[:, :, None, :], None, (1, 2), (0, 1), (1, 1), 1)[:, :, 0, :]
    np.testing.assert_allclose(F.conv1d(x1, w1, stride=2, padding=1).data, ref, rtol=1e-12)


def test_pooling_matches_the_loop_and_its_gradients():
    x = RNG.standard_normal((2, 3, 7, 7))
    np.testing.assert_array_equal(F.max_pool2d(mg.tensor(x), 3, 2, 1).data, _pool_loop(x, 3, 2, 1, np.max, -np.inf))
    np.testing.assert_allclose(F.avg_pool2d(mg.tensor(x), 2).data, _pool_loop(x, 2, 2, 0, np.mean, 0.0), rtol=1e-14)
    np.testing.assert_allclose(F.avg_pool2d(mg.tensor(x), 3, 2, 1).data, _pool_loop(x, 3, 2, 1, np.mean, 0.0),
                               rtol=1e-14)
    xt = mg.tensor(RNG.standard_normal((1, 2, 5, 5)), requires_grad=True)  # distinct values: no ties
    assert gradcheck(lambda x: F.max_pool2d(x, 2, 1), xt)
    assert gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1), xt)


def test_conv_layers_and_errors():
    conv = mg.nn.Conv2d(3, 6, kernel_size=3, padding=1, groups=3, rng=0)
    assert conv.weight.shape == (6, 1, 3, 3) and np.abs(conv.weight.data).max() <= 1 / 3
    assert conv(mg.zeros(2, 3, 5, 5)).shape == (2, 6, 5, 5)
    assert "groups=3" in repr(conv)
    model = mg.nn.Sequential(mg.nn.Conv2d(1, 2, 3, rng=0), mg.nn.ReLU(), mg.nn.MaxPool2d(2), mg.nn.Flatten(),
                             mg.nn.Linear(2 * 3 * 3, 1, rng=1))
    out = model(mg.tensor(RNG.standard_normal((4, 1, 8, 8))))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        F.conv2d(mg.zeros(3, 4, 4), mg.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="groups"):
        F.conv2d(mg.zeros(1, 4, 4, 4), mg.zeros(2, 3, 2, 2))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        F.conv2d(mg.zeros(1, 1, 2, 2), mg.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="stride"):
        F.max_pool2d(mg.zeros(1, 1, 4, 4), 2, stride=0)
    with pytest.raises(ValueError, match="divisible by groups"):
        mg.nn.Conv2d(3, 4, 3, groups=3)
