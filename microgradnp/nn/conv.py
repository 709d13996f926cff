"""Convolution and pooling (PyTorch's ``conv2d``, ``max_pool2d``, ...), made of registry ops.

The image ``x`` of shape ``(N, C, H, W)`` is padded (``mg.pad``), then every
patch the kernel visits is gathered at once by indexing with two index
arrays (im2col: ``mg.getitem``, whose VJP adds the gradient of overlapping
patches back together).  A convolution is then one matrix product of the
patches with the flattened kernel (BLAS), a pooling one reduction over the
patch axes.  No hand-written backward: every derivative comes from the ops'
VJPs, so second derivatives and forward mode work too.
"""

from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ..api import concatenate, matmul, pad, reshape, transpose
from ..creation import as_rng
from .module import Module, Parameter

__all__ = ["conv2d", "conv1d", "max_pool2d", "avg_pool2d", "Conv2d", "Conv1d", "MaxPool2d", "AvgPool2d"]


def _pair(value, name: str, who: str, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) == 1:  # (2,) means 2 on both axes, as PyTorch takes it
        pair = pair * 2
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum for v in pair):
        raise ValueError(f"{who}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _single(value, name: str, minimum: int) -> int:
    """conv1d's int arguments (a 1-tuple too, as PyTorch takes it)."""
    v = value[0] if isinstance(value, tuple) and len(value) == 1 else value
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"conv1d: {name} must be an int >= {minimum} (or a 1-tuple of one), got {value!r}")
    return int(v)


def _image(x, who: str):
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim != 4:
        raise ValueError(f"{who}: expected an input of shape (N, C, H, W), got {x.shape}")
    return x


def _windows(x: Tensor, kernel, stride, padding, dilation, fill: float, who: str, channels_last: bool):
    """Every window of ``x`` ``(N, C, H, W)`` after padding with ``fill``.

    ``channels_last``: ``(N, OH, OW, KH, KW, C)`` (rows ready for a matrix
    product with the kernel); else ``(N, C, OH, OW, KH, KW)``.
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = x.shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"{who}: the input of shape {x.shape} is smaller than the kernel {kernel} (dilation "
                         f"{dilation}, padding {padding}): no output")
    if ph or pw:
        x = pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    rows = (np.arange(oh) * sh)[:, None, None, None] + (np.arange(kh) * dh)[None, None, :, None]
    cols = (np.arange(ow) * sw)[None, :, None, None] + (np.arange(kw) * dw)[None, None, None, :]
    if channels_last:
        return transpose(x, (0, 2, 3, 1))[:, rows, cols, :]
    return x[:, :, rows, cols]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of ``x`` ``(N, C, H, W)`` with ``weight`` ``(O, C/groups, KH, KW)``.

    Output ``(N, O, OH, OW)`` with ``OH = (H + 2 padding - dilation (KH - 1) - 1) // stride + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> x = mg.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> k = mg.tensor(np.ones((1, 1, 2, 2)))
    >>> mg.nn.functional.conv2d(x, k, stride=2)        # sums of the 2 x 2 blocks
    tensor([[[[10., 18.],
              [42., 50.]]]])
    """
    who = "conv2d"
    x = _image(x, who)
    if not isinstance(weight, Tensor):
        weight = Tensor(weight)
    if weight.ndim != 4:
        raise ValueError(f"{who}: expected a weight of shape (O, C / groups, KH, KW), got {weight.shape}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    o, cg, kh, kw = weight.shape
    n, c = x.shape[:2]
    if c % groups or o % groups or cg * groups != c:
        raise ValueError(f"{who}: the input has {c} channels and the weight {weight.shape} with groups={groups}: "
                         f"need C = groups * weight.shape[1] and O divisible by groups")
    stride, padding = _pair(stride, "stride", who, 1), _pair(padding, "padding", who, 0)
    dilation = _pair(dilation, "dilation", who, 1)
    cols = _windows(x, (kh, kw), stride, padding, dilation, 0.0, who, channels_last=True)  # (N, OH, OW, KH, KW, C)
    _, oh, ow = cols.shape[:3]
    og = o // groups
    outs = []
    for g in range(groups):
        part = cols if groups == 1 else cols[..., g * cg:(g + 1) * cg]
        rows = reshape(part, (n * oh * ow, kh * kw * cg))
        w = weight if groups == 1 else weight[g * og:(g + 1) * og]
        kernel = reshape(transpose(w, (0, 2, 3, 1)), (og, kh * kw * cg))  # rows in the windows' order
        outs.append(matmul(rows, transpose(kernel)))  # (N OH OW, O / groups)
    out = outs[0] if groups == 1 else concatenate(outs, axis=1)
    if bias is not None:
        if np.shape(bias) != (o,):
            raise ValueError(f"{who}: bias must have shape ({o},), one per output channel of the weight "
                             f"{weight.shape}, got {np.shape(bias)}")
        out = out + bias
    return transpose(reshape(out, (n, oh, ow, o)), (0, 3, 1, 2))


def conv1d(x, weight, bias=None, stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1) -> Tensor:
    """1-D convolution of ``x`` ``(N, C, L)`` with ``weight`` ``(O, C/groups, K)``: ``conv2d`` on a height of 1.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> x = mg.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    >>> mg.nn.functional.conv1d(x, mg.tensor([[[1.0, -1.0]]]))    # differences
    tensor([[[-1., -1., -1.]]])
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    weight = weight if isinstance(weight, Tensor) else Tensor(weight)
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(f"conv1d: expected an input (N, C, L) and a weight (O, C / groups, K), got {x.shape} and "
                         f"{weight.shape}")
    # Checked here in one dimension, so that no error speaks of the height-1 images conv2d is given.
    stride, padding = _single(stride, "stride", 1), _single(padding, "padding", 0)
    dilation = _single(dilation, "dilation", 1)
    (o, cg, k), c, length = weight.shape, x.shape[1], x.shape[2]
    if not isinstance(groups, bool) and isinstance(groups, (int, np.integer)) and groups >= 1 and (
            cg * groups != c or o % groups):
        raise ValueError(f"conv1d: the input has {c} channels and the weight {weight.shape} with groups={groups}: "
                         f"need C = groups * weight.shape[1] and O divisible by groups")
    if bias is not None and np.shape(bias) != (o,):
        raise ValueError(f"conv1d: bias must have shape ({o},), one per output channel of the weight {weight.shape}, "
                         f"got {np.shape(bias)}")
    if length + 2 * padding - dilation * (k - 1) - 1 < 0:
        raise ValueError(f"conv1d: the input of shape {x.shape} is shorter than the kernel {k} (dilation {dilation}, "
                         f"padding {padding}): no output")
    out = conv2d(reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2])),
                 reshape(weight, weight.shape[:2] + (1, weight.shape[2])), bias,
                 stride=(1, stride), padding=(0, padding), dilation=(1, dilation), groups=groups)
    return reshape(out, (out.shape[0], out.shape[1], out.shape[3]))


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1) -> Tensor:
    """The maximum of each window (padding counts as ``-inf``); ``stride`` defaults to the kernel size.

    Where a window holds its maximum more than once the gradient is shared
    evenly between those elements (PyTorch gives it all to one of them).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> x = mg.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> mg.nn.functional.max_pool2d(x, 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    return _pool("max_pool2d", x, kernel_size, stride, padding, dilation, -np.inf).max(axis=(-2, -1))


def avg_pool2d(x, kernel_size, stride=None, padding=0) -> Tensor:
    """The mean of each window (padding counts as zeros, PyTorch's ``count_include_pad=True``).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> x = mg.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> mg.nn.functional.avg_pool2d(x, 2)
    tensor([[[[ 2.5,  4.5],
              [10.5, 12.5]]]])
    """
    return _pool("avg_pool2d", x, kernel_size, stride, padding, 1, 0.0).mean(axis=(-2, -1))


def _pool(who: str, x, kernel_size, stride, padding, dilation, fill: float) -> Tensor:
    """The windows a pooling reduces, ``(N, C, OH, OW, KH, KW)``; the stride defaults to the kernel size."""
    kernel = _pair(kernel_size, "kernel_size", who, 1)
    stride = kernel if stride is None else _pair(stride, "stride", who, 1)
    padding, dilation = _pair(padding, "padding", who, 0), _pair(dilation, "dilation", who, 1)
    for p, k, d in zip(padding, kernel, dilation):
        if p > (d * (k - 1) + 1) // 2:  # a window of padding alone: PyTorch refuses it too
            raise ValueError(f"{who}: padding {padding} must be at most half the kernel {kernel} (dilation "
                             f"{dilation}); a window would hold padding alone")
    return _windows(_image(x, who), kernel, stride, padding, dilation, fill, who, channels_last=False)


def _uniform(shape, fan_in: int, rng, dtype):
    """PyTorch's default initialisation of convolutions: uniform in +-1/sqrt(fan_in)."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
    return as_rng(rng).uniform(-bound, bound, size=shape).astype(dtype)


class Conv2d(Module):
    """2-D convolution layer: ``conv2d(x, weight, bias, stride, padding, dilation, groups)``.

    ``weight`` has shape ``(out_channels, in_channels / groups, KH, KW)``;
    weights and bias start uniform in ``+-1/sqrt(fan_in)``, as in PyTorch.

    Examples
    --------
    >>> import microgradnp as mg
    >>> conv = mg.nn.Conv2d(1, 4, kernel_size=3, padding=1, rng=0)
    >>> conv(mg.zeros(2, 1, 8, 8)).shape
    (2, 4, 8, 8)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, rng=None, dtype=np.float64):
        super().__init__()
        if in_channels < 1 or out_channels < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must be positive "
                             f"and divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride, self.padding = _pair(stride, "stride", "Conv2d", 1), _pair(padding, "padding", "Conv2d", 0)
        self.dilation = _pair(dilation, "dilation", "Conv2d", 1)
        r = as_rng(rng)
        fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        self.weight = Parameter(_uniform((out_channels, in_channels // groups) + self.kernel_size, fan_in, r, dtype))
        self.bias = Parameter(_uniform((out_channels,), fan_in, r, dtype)) if bias else None

    def forward(self, x):
        self._same_dtype(x, self.weight)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}" + (f", groups={self.groups}" if self.groups != 1 else ""))


class Conv1d(Module):
    """1-D convolution layer over ``(N, C, L)`` (see :func:`conv1d`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.Conv1d(2, 3, kernel_size=5, rng=0)(mg.zeros(4, 2, 20)).shape
    (4, 3, 16)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, groups: int = 1, bias: bool = True, rng=None, dtype=np.float64):
        super().__init__()
        if in_channels < 1 or out_channels < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: in_channels ({in_channels}) and out_channels ({out_channels}) must be positive "
                             f"and divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size, self.stride, self.padding, self.dilation = int(kernel_size), stride, padding, dilation
        r = as_rng(rng)
        fan_in = in_channels // groups * self.kernel_size
        self.weight = Parameter(_uniform((out_channels, in_channels // groups, self.kernel_size), fan_in, r, dtype))
        self.bias = Parameter(_uniform((out_channels,), fan_in, r, dtype)) if bias else None

    def forward(self, x):
        self._same_dtype(x, self.weight)
        return conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"


class MaxPool2d(Module):
    """Max pooling layer (see :func:`max_pool2d`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.MaxPool2d(2)(mg.zeros(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class AvgPool2d(Module):
    """Average pooling layer (see :func:`avg_pool2d`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.AvgPool2d(2)(mg.ones(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"
