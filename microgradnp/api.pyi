"""Type stub of microgradnp.api: the public functions the op registry generates.

Written by .ci/make_stubs.py from the registry; do not edit (tests/test_stubs.py checks it).
"""

from typing import Any

from ._tensor import Tensor

FUNCTIONS: dict[str, Any]
NAMESPACES: dict[str, dict[str, Any]]

def implements(numpy_function: Any) -> Any:
    """Route ``numpy_function`` called on Tensors to the decorated function."""

__all__ = [
    'add',
    'sub',
    'subtract',
    'mul',
    'multiply',
    'div',
    'divide',
    'pow',
    'power',
    'neg',
    'negative',
    'positive',
    'remainder',
    'mod',
    'less',
    'less_equal',
    'greater',
    'greater_equal',
    'equal',
    'not_equal',
    'logical_and',
    'logical_or',
    'logical_not',
    'real',
    'imag',
    'conj',
    'conjugate',
    'angle',
    'einsum',
    'dot',
    'inner',
    'outer',
    'vdot',
    'tensordot',
    'kron',
    'exp',
    'log',
    'log1p',
    'expm1',
    'exp2',
    'log2',
    'log10',
    'square',
    'reciprocal',
    'sqrt',
    'abs',
    'sigmoid',
    'log_sigmoid',
    'softplus',
    'tanh',
    'relu',
    'sin',
    'cos',
    'clip',
    'maximum',
    'minimum',
    'where',
    'astype',
    'sign',
    'hypot',
    'logaddexp',
    'logaddexp2',
    'fmax',
    'fmin',
    'nan_to_num',
    'sum',
    'mean',
    'max',
    'min',
    'var',
    'logsumexp',
    'softmax',
    'log_softmax',
    'prod',
    'std',
    'ptp',
    'average',
    'nansum',
    'nanmean',
    'argmax',
    'argmin',
    'all',
    'any',
    'matmul',
    'linear',
    'diagonal',
    'trace',
    'diag',
    'tril',
    'triu',
    'cumsum',
    'cumprod',
    'diff',
    'sort',
    'argsort',
    'flip',
    'take_along_axis',
    'take',
    'repeat',
    'select',
    'reshape',
    'transpose',
    'squeeze',
    'expand_dims',
    'unsqueeze',
    'flatten',
    'broadcast_to',
    'getitem',
    'index_put',
    'concatenate',
    'cat',
    'stack',
    'swapaxes',
    'moveaxis',
    'ravel',
    'tile',
    'roll',
    'rot90',
    'pad',
    'tan',
    'arcsin',
    'arccos',
    'arctan',
    'sinh',
    'cosh',
    'arcsinh',
    'arccosh',
    'arctanh',
    'arctan2',
    'deg2rad',
    'radians',
    'rad2deg',
    'degrees',
    'sinc',
]

def add(a, b) -> Tensor:
    """Elementwise ``a + b`` with broadcasting; either side may be a constant."""

def sub(a, b) -> Tensor:
    """Elementwise ``a - b`` with broadcasting (NumPy's name: ``subtract``)."""

def subtract(a, b) -> Tensor:
    """Elementwise ``a - b`` with broadcasting (NumPy's name: ``subtract``)."""

def mul(a, b) -> Tensor:
    """Elementwise ``a * b`` with broadcasting (NumPy's name: ``multiply``)."""

def multiply(a, b) -> Tensor:
    """Elementwise ``a * b`` with broadcasting (NumPy's name: ``multiply``)."""

def div(a, b) -> Tensor:
    """Elementwise true division ``a / b`` with broadcasting (NumPy's name: ``divide``)."""

def divide(a, b) -> Tensor:
    """Elementwise true division ``a / b`` with broadcasting (NumPy's name: ``divide``)."""

def pow(a, b) -> Tensor:
    """Elementwise power ``a ** b`` (NumPy's name: ``power``)."""

def power(a, b) -> Tensor:
    """Elementwise power ``a ** b`` (NumPy's name: ``power``)."""

def neg(a) -> Tensor:
    """Elementwise ``-a`` (NumPy's name: ``negative``)."""

def negative(a) -> Tensor:
    """Elementwise ``-a`` (NumPy's name: ``negative``)."""

def positive(a) -> Tensor:
    """Elementwise ``+a``: a new tensor with the same values, recorded as a step of its own."""

def remainder(a, b) -> Tensor:
    """Elementwise remainder of ``a / b`` with the sign of ``b`` (Python's ``%``, ``np.mod``, ``torch.remainder``)."""

def mod(a, b) -> Tensor:
    """Elementwise remainder of ``a / b`` with the sign of ``b`` (Python's ``%``, ``np.mod``, ``torch.remainder``)."""

def less(a, b) -> Tensor:
    """Elementwise ``a < b`` as a boolean Tensor without gradient (``np.less``)."""

def less_equal(a, b) -> Tensor:
    """Elementwise ``a <= b`` as a boolean Tensor without gradient (``np.less_equal``)."""

def greater(a, b) -> Tensor:
    """Elementwise ``a > b`` as a boolean Tensor without gradient (``np.greater``)."""

def greater_equal(a, b) -> Tensor:
    """Elementwise ``a >= b`` as a boolean Tensor without gradient (``np.greater_equal``)."""

def equal(a, b) -> Tensor:
    """Elementwise ``a == b`` as a boolean Tensor without gradient (``np.equal``)."""

def not_equal(a, b) -> Tensor:
    """Elementwise ``a != b`` as a boolean Tensor without gradient (``np.not_equal``)."""

def logical_and(a, b) -> Tensor:
    """Elementwise logical and (``a & b`` on boolean tensors), without gradient."""

def logical_or(a, b) -> Tensor:
    """Elementwise logical or (``a | b`` on boolean tensors), without gradient."""

def logical_not(a) -> Tensor:
    """Elementwise logical not (``~a`` on a boolean tensor), without gradient."""

def real(x) -> Tensor:
    """The real part of each element (a real tensor; ``x`` itself, copied, for a real ``x``)."""

def imag(x) -> Tensor:
    """The imaginary part of each element (a real tensor; zeros for a real ``x``)."""

def conj(x) -> Tensor:
    """The complex conjugate of each element (``x`` itself, copied, for a real ``x``)."""

def conjugate(x) -> Tensor:
    """The complex conjugate of each element (``x`` itself, copied, for a real ``x``)."""

def angle(x) -> Tensor:
    """The argument of each element, in ``(-pi, pi]`` (``0`` or ``pi`` for a real ``x``)."""

def einsum(subscripts, *operands) -> Tensor:
    """Einstein summation, as ``np.einsum(subscripts, *operands)``: any number of operands,"""

def dot(a, b) -> Tensor:
    """NumPy's ``dot``: products for scalars, the inner product of vectors, the matrix product of"""

def inner(a, b) -> Tensor:
    """Inner product over the last axes (a product when either is a scalar), as NumPy's ``inner``."""

def outer(a, b) -> Tensor:
    """Outer product of the flattened inputs: ``out[i, j] = a[i] * b[j]``."""

def vdot(a, b) -> Tensor:
    """Dot product of the flattened inputs (which must have the same size), as NumPy's ``vdot``."""

def tensordot(a, b, axes=...) -> Tensor:
    """Sum of products over paired axes, as NumPy's ``tensordot``: ``axes=N`` pairs the last ``N``"""

def kron(a, b) -> Tensor:
    """Kronecker product: ``b`` scaled by each element of ``a``, laid out in blocks (NumPy's ``kron``)."""

def exp(x) -> Tensor:
    """Elementwise exponential, ``e ** x``.  VJP: ``g * exp(x)``."""

def log(x) -> Tensor:
    """Elementwise natural logarithm.  VJP: ``g / x``."""

def log1p(x) -> Tensor:
    """Elementwise ``log(1 + x)``, accurate for small ``x``.  VJP: ``g / (1 + x)``."""

def expm1(x) -> Tensor:
    """Elementwise ``exp(x) - 1``, accurate for small ``x``.  VJP: ``g * exp(x)``."""

def exp2(x) -> Tensor:
    """Elementwise ``2 ** x``.  VJP: ``g * 2^x * log(2)``."""

def log2(x) -> Tensor:
    """Elementwise base-2 logarithm.  VJP: ``g / (x log 2)``."""

def log10(x) -> Tensor:
    """Elementwise base-10 logarithm.  VJP: ``g / (x log 10)``."""

def square(x) -> Tensor:
    """Elementwise square.  VJP: ``2 g x``."""

def reciprocal(x) -> Tensor:
    """Elementwise ``1 / x``.  VJP: ``-g / x^2`` (a pole at 0)."""

def sqrt(x) -> Tensor:
    """Elementwise square root.  VJP: ``g / (2 sqrt(x))`` (infinite at 0)."""

def abs(x) -> Tensor:
    """Elementwise absolute value.  VJP: ``g * sign(x)``; the subgradient at 0 is 0."""

def sigmoid(x) -> Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``.  VJP: ``g * s * (1 - s)``."""

def log_sigmoid(x) -> Tensor:
    """``log(sigmoid(x)) = -log(1 + exp(-x))``, stable for any ``x``.  VJP: ``g * sigmoid(-x)``."""

def softplus(x) -> Tensor:
    """``log(1 + exp(x))``, stable for any ``x``.  VJP: ``g * sigmoid(x)``."""

def tanh(x) -> Tensor:
    """Elementwise hyperbolic tangent.  VJP: ``g * (1 - tanh(x)^2)``."""

def relu(x) -> Tensor:
    """Rectified linear unit ``max(x, 0)``.  VJP: ``g * [x > 0]``; the subgradient at 0 is 0."""

def sin(x) -> Tensor:
    """Elementwise sine.  VJP: ``g * cos(x)``."""

def cos(x) -> Tensor:
    """Elementwise cosine.  VJP: ``-g * sin(x)``."""

def clip(x, a_min=..., a_max=..., *, min=..., max=...) -> Tensor:
    """Limit values to ``[a_min, a_max]`` (either bound may be ``None``; PyTorch's ``clamp``)."""

def maximum(a, b) -> Tensor:
    """Elementwise maximum of two tensors, with broadcasting."""

def minimum(a, b) -> Tensor:
    """Elementwise minimum of two tensors, with broadcasting (ties share the gradient evenly)."""

def where(condition, x, y) -> Tensor:
    """Choose elementwise: ``x`` where ``condition`` is true, else ``y`` (broadcasting all three)."""

def astype(x, dtype) -> Tensor:
    """Convert to ``dtype``.  VJP: ``g`` converted back."""

def sign(x) -> Tensor:
    """Elementwise sign: -1, 0 or 1 (NaN stays NaN)."""

def hypot(a, b) -> Tensor:
    """Elementwise ``sqrt(a^2 + b^2)`` without overflow for huge inputs."""

def logaddexp(a, b) -> Tensor:
    """Elementwise ``log(exp(a) + exp(b))`` without overflow (exact for inputs of +-1000)."""

def logaddexp2(a, b) -> Tensor:
    """Elementwise ``log2(2^a + 2^b)`` without overflow."""

def fmax(a, b) -> Tensor:
    """Elementwise maximum that ignores NaN: where one input is NaN, the other is returned."""

def fmin(a, b) -> Tensor:
    """Elementwise minimum that ignores NaN (see :func:`fmax`)."""

def nan_to_num(x, nan=..., posinf=..., neginf=...) -> Tensor:
    """Replace NaN by ``nan`` and infinities by ``posinf``/``neginf`` (default: the largest finite numbers)."""

def sum(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Sum over ``axis`` (``None``: all; int or tuple, negative allowed)."""

def mean(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Arithmetic mean over ``axis``.  VJP: ``g / n`` broadcast over the reduced axes."""

def max(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Maximum over ``axis``.  VJP: ``g`` to the maximal element; ties share it evenly."""

def min(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Minimum over ``axis``.  VJP: ``g`` to the minimal element; ties share it evenly."""

def var(x, axis=..., ddof=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0)."""

def logsumexp(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, shifted by the maximum so it is exact for huge logits."""

def softmax(x, axis=..., *, dim=...) -> Tensor:
    """Softmax along ``axis``: ``exp(x) / sum(exp(x))``, max-shifted (no overflow)."""

def log_softmax(x, axis=..., *, dim=...) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``: stable log-probabilities, exact for logits of +-1000."""

def prod(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Product over ``axis``."""

def std(x, axis=..., ddof=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Standard deviation over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0)."""

def ptp(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Range (peak to peak) over ``axis``: ``max - min``."""

def average(x, axis=..., weights=..., *, dim=...) -> Tensor:
    """Weighted mean over ``axis`` (NumPy's ``average``): ``sum(x * w) / sum(w)``."""

def nansum(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Sum over ``axis`` treating NaN as zero.  VJP: ``g`` where ``x`` is a number, 0 at NaN."""

def nanmean(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Mean over ``axis`` ignoring NaN.  VJP: ``g / m`` to each of the ``m`` numbers of a slice, 0 at NaN."""

def argmax(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Index of the maximum along ``axis`` (of the flattened input when ``axis`` is ``None``)."""

def argmin(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Index of the minimum along ``axis`` (see :func:`argmax`)."""

def all(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Whether every element along ``axis`` is true (nonzero): a boolean tensor without gradient."""

def any(x, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
    """Whether some element along ``axis`` is true (nonzero): a boolean tensor without gradient."""

def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b`` with NumPy's rules."""

def linear(x, weight, bias=...) -> Tensor:
    """Affine map ``x @ weight.T + bias``, as in a dense layer (PyTorch's ``F.linear``)."""

def diagonal(x, offset=..., axis1=..., axis2=...) -> Tensor:
    """The ``offset`` diagonal over ``axis1`` and ``axis2``, as the last axis (NumPy's ``diagonal``)."""

def trace(x, offset=..., axis1=..., axis2=...) -> Tensor:
    """Sum along the ``offset`` diagonal (over ``axis1`` and ``axis2``; other axes are kept)."""

def diag(x, k=...) -> Tensor:
    """NumPy's ``diag``: a 1-D input becomes a square matrix with it on diagonal ``k``; a 2-D"""

def tril(x, k=...) -> Tensor:
    """Lower triangle of the last two axes: entries above diagonal ``k`` become 0."""

def triu(x, k=...) -> Tensor:
    """Upper triangle of the last two axes: entries below diagonal ``k`` become 0."""

def cumsum(x, axis=..., *, dim=...) -> Tensor:
    """Cumulative sum along ``axis`` (of the flattened input when ``axis`` is ``None``, as in NumPy)."""

def cumprod(x, axis=..., *, dim=...) -> Tensor:
    """Cumulative product along ``axis`` (of the flattened input when ``axis`` is ``None``)."""

def diff(x, n=..., axis=..., *, dim=...) -> Tensor:
    """The ``n``-th discrete difference along ``axis``: ``x[k + 1] - x[k]``, repeated ``n`` times."""

def sort(x, axis=..., *, dim=...) -> Tensor:
    """Sorted copy along ``axis`` (ascending; the flattened input when ``axis`` is ``None``)."""

def argsort(x, axis=..., *, dim=...) -> Tensor:
    """Indices that sort ``x`` along ``axis`` (stable: equal elements keep their order)."""

def flip(x, axis=..., *, dims=...) -> Tensor:
    """Reverse the order of elements along ``axis`` (all axes when ``None``).  PyTorch's ``dims=`` is accepted."""

def take_along_axis(x, indices, axis=..., *, dim=...) -> Tensor:
    """Pick elements along ``axis`` at integer ``indices`` (NumPy's ``take_along_axis``, PyTorch's ``gather``)."""

def take(x, indices, axis=..., *, dim=...) -> Tensor:
    """Elements at integer ``indices`` along ``axis`` (of the flattened input when ``None``), as NumPy's ``take``."""

def repeat(x, repeats, axis=..., *, dim=...) -> Tensor:
    """Repeat each element ``repeats`` times along ``axis`` (flattened when ``None``), as NumPy's"""

def select(condlist, choicelist, default=...) -> Tensor:
    """Elementwise, the choice of the first true condition, else ``default`` (NumPy's ``select``)."""

def reshape(x, *shape) -> Tensor:
    """Give ``x`` a new shape with the same number of elements (``-1`` infers one axis)."""

def transpose(x, *dims, axes=...) -> Tensor:
    """Permute the axes (reverse them when no axes are given, like NumPy's ``.T``)."""

def squeeze(x, axis=..., *, dim=...) -> Tensor:
    """Remove axes of size 1 (all of them, or those in ``axis``)."""

def expand_dims(x, axis=..., *, dim=...) -> Tensor:
    """Insert axes of size 1 at ``axis`` (an int or a tuple); PyTorch's name is ``unsqueeze``."""

def unsqueeze(x, axis=..., *, dim=...) -> Tensor:
    """Insert axes of size 1 at ``axis`` (an int or a tuple); PyTorch's name is ``unsqueeze``."""

def flatten(x, start_dim=..., end_dim=...) -> Tensor:
    """Merge axes ``start_dim`` to ``end_dim`` into one (all of them by default, like NumPy)."""

def broadcast_to(x, *shape) -> Tensor:
    """Repeat ``x`` to ``shape`` by NumPy's broadcasting rules (PyTorch's ``expand``)."""

def getitem(x, key) -> Tensor:
    """``x[key]``: basic slices, integers, ``None``, ``...``, integer arrays and boolean masks."""

def index_put(values, key, shape) -> Tensor:
    """Zeros of ``shape`` with ``values`` added at ``key`` (repeated indices accumulate)."""

def concatenate(tensors, axis=..., *, dim=...) -> Tensor:
    """Join tensors along an existing ``axis`` (PyTorch's name: ``cat``)."""

def cat(tensors, axis=..., *, dim=...) -> Tensor:
    """Join tensors along an existing ``axis`` (PyTorch's name: ``cat``)."""

def stack(tensors, axis=..., *, dim=...) -> Tensor:
    """Join tensors of the same shape along a new ``axis``."""

def swapaxes(x, axis1, axis2) -> Tensor:
    """Exchange two axes (PyTorch also calls it ``transpose(dim0, dim1)``)."""

def moveaxis(x, source, destination) -> Tensor:
    """Move axes to new positions, keeping the order of the others (NumPy's ``moveaxis``, PyTorch's ``movedim``)."""

def ravel(x) -> Tensor:
    """``x`` flattened to one axis in row-major order."""

def tile(x, reps) -> Tensor:
    """``x`` laid out ``reps`` times along each axis (NumPy's ``tile``; PyTorch's ``repeat``)."""

def roll(x, shift, axis=..., *, dims=...) -> Tensor:
    """Shift elements cyclically by ``shift`` along ``axis`` (the flattened input when ``None``)."""

def rot90(x, k=..., axes=..., *, dims=...) -> Tensor:
    """Rotate by ``k`` quarter turns in the plane of ``axes``, from the first axis towards the second."""

def pad(x, pad_width, mode=..., constant_values=...) -> Tensor:
    """Pad with NumPy's ``pad_width`` and ``mode`` (``"constant"``, ``"edge"``, ``"reflect"``,"""

def tan(x) -> Tensor:
    """Elementwise tangent.  VJP: ``g * (1 + tan(x)^2)``."""

def arcsin(x) -> Tensor:
    """Elementwise inverse sine on ``[-1, 1]``.  VJP: ``g / sqrt(1 - x^2)`` (infinite at +-1)."""

def arccos(x) -> Tensor:
    """Elementwise inverse cosine on ``[-1, 1]``.  VJP: ``-g / sqrt(1 - x^2)`` (infinite at +-1)."""

def arctan(x) -> Tensor:
    """Elementwise inverse tangent.  VJP: ``g / (1 + x^2)``."""

def sinh(x) -> Tensor:
    """Elementwise hyperbolic sine.  VJP: ``g * cosh(x)``."""

def cosh(x) -> Tensor:
    """Elementwise hyperbolic cosine.  VJP: ``g * sinh(x)``."""

def arcsinh(x) -> Tensor:
    """Elementwise inverse hyperbolic sine.  VJP: ``g / sqrt(x^2 + 1)``."""

def arccosh(x) -> Tensor:
    """Elementwise inverse hyperbolic cosine on ``[1, inf)``.  VJP: ``g / sqrt(x^2 - 1)`` (infinite at 1)."""

def arctanh(x) -> Tensor:
    """Elementwise inverse hyperbolic tangent on ``(-1, 1)``.  VJP: ``g / (1 - x^2)``."""

def arctan2(a, b) -> Tensor:
    """Elementwise angle of the point ``(b, a)`` in ``(-pi, pi]`` (NumPy's ``arctan2(y, x)``)."""

def deg2rad(x) -> Tensor:
    """Degrees to radians (NumPy also calls it ``radians``).  VJP: ``g * pi / 180``."""

def radians(x) -> Tensor:
    """Degrees to radians (NumPy also calls it ``radians``).  VJP: ``g * pi / 180``."""

def rad2deg(x) -> Tensor:
    """Radians to degrees (NumPy also calls it ``degrees``).  VJP: ``g * 180 / pi``."""

def degrees(x) -> Tensor:
    """Radians to degrees (NumPy also calls it ``degrees``).  VJP: ``g * 180 / pi``."""

def sinc(x) -> Tensor:
    """The normalised sinc, ``sin(pi x) / (pi x)`` with ``sinc(0) = 1`` (NumPy's and PyTorch's)."""
