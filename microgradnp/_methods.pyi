"""Type stub of the Tensor methods, properties and operators the op registry installs.

Written by .ci/make_stubs.py from the registry; do not edit (tests/test_stubs.py checks it).
"""

from typing import Any

from ._tensor import Tensor

class TensorMethods:
    def __add__(self, b) -> Tensor:
        """Elementwise ``a + b`` with broadcasting; either side may be a constant."""
    def __radd__(self, b) -> Tensor:
        """Elementwise ``a + b`` with broadcasting; either side may be a constant."""
    def __iadd__(self, b) -> Tensor:
        """Elementwise ``a + b`` with broadcasting; either side may be a constant."""
    def __sub__(self, b) -> Tensor:
        """Elementwise ``a - b`` with broadcasting (NumPy's name: ``subtract``)."""
    def __rsub__(self, b) -> Tensor:
        """Elementwise ``a - b`` with broadcasting (NumPy's name: ``subtract``)."""
    def __isub__(self, b) -> Tensor:
        """Elementwise ``a - b`` with broadcasting (NumPy's name: ``subtract``)."""
    def __mul__(self, b) -> Tensor:
        """Elementwise ``a * b`` with broadcasting (NumPy's name: ``multiply``)."""
    def __rmul__(self, b) -> Tensor:
        """Elementwise ``a * b`` with broadcasting (NumPy's name: ``multiply``)."""
    def __imul__(self, b) -> Tensor:
        """Elementwise ``a * b`` with broadcasting (NumPy's name: ``multiply``)."""
    def __truediv__(self, b) -> Tensor:
        """Elementwise true division ``a / b`` with broadcasting (NumPy's name: ``divide``)."""
    def __rtruediv__(self, b) -> Tensor:
        """Elementwise true division ``a / b`` with broadcasting (NumPy's name: ``divide``)."""
    def __itruediv__(self, b) -> Tensor:
        """Elementwise true division ``a / b`` with broadcasting (NumPy's name: ``divide``)."""
    def __pow__(self, b) -> Tensor:
        """Elementwise power ``a ** b`` (NumPy's name: ``power``)."""
    def __rpow__(self, b) -> Tensor:
        """Elementwise power ``a ** b`` (NumPy's name: ``power``)."""
    def __ipow__(self, b) -> Tensor:
        """Elementwise power ``a ** b`` (NumPy's name: ``power``)."""
    def neg(self) -> Tensor:
        """Elementwise ``-a`` (NumPy's name: ``negative``)."""
    def __neg__(self) -> Tensor:
        """Elementwise ``-a`` (NumPy's name: ``negative``)."""
    def __pos__(self) -> Tensor:
        """Elementwise ``+a``: a new tensor with the same values, recorded as a step of its own."""
    def remainder(self, b) -> Tensor:
        """Elementwise remainder of ``a / b`` with the sign of ``b`` (Python's ``%``, ``np.mod``, ``torch.remainder``)."""
    def __mod__(self, b) -> Tensor:
        """Elementwise remainder of ``a / b`` with the sign of ``b`` (Python's ``%``, ``np.mod``, ``torch.remainder``)."""
    def __rmod__(self, b) -> Tensor:
        """Elementwise remainder of ``a / b`` with the sign of ``b`` (Python's ``%``, ``np.mod``, ``torch.remainder``)."""
    def __imod__(self, b) -> Tensor:
        """Elementwise remainder of ``a / b`` with the sign of ``b`` (Python's ``%``, ``np.mod``, ``torch.remainder``)."""
    def __lt__(self, b) -> Tensor:
        """Elementwise ``a < b`` as a boolean Tensor without gradient (``np.less``)."""
    def __le__(self, b) -> Tensor:
        """Elementwise ``a <= b`` as a boolean Tensor without gradient (``np.less_equal``)."""
    def __gt__(self, b) -> Tensor:
        """Elementwise ``a > b`` as a boolean Tensor without gradient (``np.greater``)."""
    def __ge__(self, b) -> Tensor:
        """Elementwise ``a >= b`` as a boolean Tensor without gradient (``np.greater_equal``)."""
    def __eq__(self, b) -> Tensor:  # type: ignore[override]
        """Elementwise ``a == b`` as a boolean Tensor without gradient (``np.equal``)."""
    def __ne__(self, b) -> Tensor:  # type: ignore[override]
        """Elementwise ``a != b`` as a boolean Tensor without gradient (``np.not_equal``)."""
    def __and__(self, b) -> Tensor:
        """Elementwise logical and (``a & b`` on boolean tensors), without gradient."""
    def __rand__(self, b) -> Tensor:
        """Elementwise logical and (``a & b`` on boolean tensors), without gradient."""
    def __or__(self, b) -> Tensor:
        """Elementwise logical or (``a | b`` on boolean tensors), without gradient."""
    def __ror__(self, b) -> Tensor:
        """Elementwise logical or (``a | b`` on boolean tensors), without gradient."""
    def __invert__(self) -> Tensor:
        """Elementwise logical not (``~a`` on a boolean tensor), without gradient."""
    @property
    def real(self) -> Tensor:
        """The real part of each element (a real tensor; ``x`` itself, copied, for a real ``x``)."""
    @property
    def imag(self) -> Tensor:
        """The imaginary part of each element (a real tensor; zeros for a real ``x``)."""
    def conj(self) -> Tensor:
        """The complex conjugate of each element (``x`` itself, copied, for a real ``x``)."""
    def conjugate(self) -> Tensor:
        """The complex conjugate of each element (``x`` itself, copied, for a real ``x``)."""
    def dot(self, b) -> Tensor:
        """NumPy's ``dot``: products for scalars, the inner product of vectors, the matrix product of"""
    def exp(self) -> Tensor:
        """Elementwise exponential, ``e ** x``.  VJP: ``g * exp(x)``."""
    def log(self) -> Tensor:
        """Elementwise natural logarithm.  VJP: ``g / x``."""
    def log1p(self) -> Tensor:
        """Elementwise ``log(1 + x)``, accurate for small ``x``.  VJP: ``g / (1 + x)``."""
    def expm1(self) -> Tensor:
        """Elementwise ``exp(x) - 1``, accurate for small ``x``.  VJP: ``g * exp(x)``."""
    def exp2(self) -> Tensor:
        """Elementwise ``2 ** x``.  VJP: ``g * 2^x * log(2)``."""
    def log2(self) -> Tensor:
        """Elementwise base-2 logarithm.  VJP: ``g / (x log 2)``."""
    def log10(self) -> Tensor:
        """Elementwise base-10 logarithm.  VJP: ``g / (x log 10)``."""
    def square(self) -> Tensor:
        """Elementwise square.  VJP: ``2 g x``."""
    def reciprocal(self) -> Tensor:
        """Elementwise ``1 / x``.  VJP: ``-g / x^2`` (a pole at 0)."""
    def sqrt(self) -> Tensor:
        """Elementwise square root.  VJP: ``g / (2 sqrt(x))`` (infinite at 0)."""
    def abs(self) -> Tensor:
        """Elementwise absolute value.  VJP: ``g * sign(x)``; the subgradient at 0 is 0."""
    def __abs__(self) -> Tensor:
        """Elementwise absolute value.  VJP: ``g * sign(x)``; the subgradient at 0 is 0."""
    def sigmoid(self) -> Tensor:
        """Logistic sigmoid ``1 / (1 + exp(-x))``.  VJP: ``g * s * (1 - s)``."""
    def log_sigmoid(self) -> Tensor:
        """``log(sigmoid(x)) = -log(1 + exp(-x))``, stable for any ``x``.  VJP: ``g * sigmoid(-x)``."""
    def softplus(self) -> Tensor:
        """``log(1 + exp(x))``, stable for any ``x``.  VJP: ``g * sigmoid(x)``."""
    def tanh(self) -> Tensor:
        """Elementwise hyperbolic tangent.  VJP: ``g * (1 - tanh(x)^2)``."""
    def relu(self) -> Tensor:
        """Rectified linear unit ``max(x, 0)``.  VJP: ``g * [x > 0]``; the subgradient at 0 is 0."""
    def sin(self) -> Tensor:
        """Elementwise sine.  VJP: ``g * cos(x)``."""
    def cos(self) -> Tensor:
        """Elementwise cosine.  VJP: ``-g * sin(x)``."""
    def clip(self, a_min=..., a_max=..., *, min=..., max=...) -> Tensor:
        """Limit values to ``[a_min, a_max]`` (either bound may be ``None``; PyTorch's ``clamp``)."""
    def clamp(self, a_min=..., a_max=..., *, min=..., max=...) -> Tensor:
        """Limit values to ``[a_min, a_max]`` (either bound may be ``None``; PyTorch's ``clamp``)."""
    def maximum(self, b) -> Tensor:
        """Elementwise maximum of two tensors, with broadcasting."""
    def minimum(self, b) -> Tensor:
        """Elementwise minimum of two tensors, with broadcasting (ties share the gradient evenly)."""
    def astype(self, dtype) -> Tensor:
        """Convert to ``dtype``.  VJP: ``g`` converted back."""
    def sign(self) -> Tensor:
        """Elementwise sign: -1, 0 or 1 (NaN stays NaN)."""
    def nan_to_num(self, nan=..., posinf=..., neginf=...) -> Tensor:
        """Replace NaN by ``nan`` and infinities by ``posinf``/``neginf`` (default: the largest finite numbers)."""
    def sum(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Sum over ``axis`` (``None``: all; int or tuple, negative allowed)."""
    def mean(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Arithmetic mean over ``axis``.  VJP: ``g / n`` broadcast over the reduced axes."""
    def max(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Maximum over ``axis``.  VJP: ``g`` to the maximal element; ties share it evenly."""
    def min(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Minimum over ``axis``.  VJP: ``g`` to the minimal element; ties share it evenly."""
    def var(self, axis=..., ddof=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0)."""
    def logsumexp(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """``log(sum(exp(x)))`` over ``axis``, shifted by the maximum so it is exact for huge logits."""
    def softmax(self, axis=..., *, dim=...) -> Tensor:
        """Softmax along ``axis``: ``exp(x) / sum(exp(x))``, max-shifted (no overflow)."""
    def log_softmax(self, axis=..., *, dim=...) -> Tensor:
        """``x - logsumexp(x)`` along ``axis``: stable log-probabilities, exact for logits of +-1000."""
    def prod(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Product over ``axis``."""
    def std(self, axis=..., ddof=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Standard deviation over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0)."""
    def ptp(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Range (peak to peak) over ``axis``: ``max - min``."""
    def nansum(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Sum over ``axis`` treating NaN as zero.  VJP: ``g`` where ``x`` is a number, 0 at NaN."""
    def nanmean(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Mean over ``axis`` ignoring NaN.  VJP: ``g / m`` to each of the ``m`` numbers of a slice, 0 at NaN."""
    def argmax(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Index of the maximum along ``axis`` (of the flattened input when ``axis`` is ``None``)."""
    def argmin(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Index of the minimum along ``axis`` (see :func:`argmax`)."""
    def all(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Whether every element along ``axis`` is true (nonzero): a boolean tensor without gradient."""
    def any(self, axis=..., keepdims=..., *, dim=..., keepdim=...) -> Tensor:
        """Whether some element along ``axis`` is true (nonzero): a boolean tensor without gradient."""
    def matmul(self, b) -> Tensor:
        """Matrix product ``a @ b`` with NumPy's rules."""
    def __matmul__(self, b) -> Tensor:
        """Matrix product ``a @ b`` with NumPy's rules."""
    def __rmatmul__(self, b) -> Tensor:
        """Matrix product ``a @ b`` with NumPy's rules."""
    def diagonal(self, offset=..., axis1=..., axis2=...) -> Tensor:
        """The ``offset`` diagonal over ``axis1`` and ``axis2``, as the last axis (NumPy's ``diagonal``)."""
    def trace(self, offset=..., axis1=..., axis2=...) -> Tensor:
        """Sum along the ``offset`` diagonal (over ``axis1`` and ``axis2``; other axes are kept)."""
    def tril(self, k=...) -> Tensor:
        """Lower triangle of the last two axes: entries above diagonal ``k`` become 0."""
    def triu(self, k=...) -> Tensor:
        """Upper triangle of the last two axes: entries below diagonal ``k`` become 0."""
    def cumsum(self, axis=..., *, dim=...) -> Tensor:
        """Cumulative sum along ``axis`` (of the flattened input when ``axis`` is ``None``, as in NumPy)."""
    def cumprod(self, axis=..., *, dim=...) -> Tensor:
        """Cumulative product along ``axis`` (of the flattened input when ``axis`` is ``None``)."""
    def sort(self, axis=..., *, dim=...) -> Tensor:
        """Sorted copy along ``axis`` (ascending; the flattened input when ``axis`` is ``None``)."""
    def argsort(self, axis=..., *, dim=...) -> Tensor:
        """Indices that sort ``x`` along ``axis`` (stable: equal elements keep their order)."""
    def flip(self, axis=..., *, dims=...) -> Tensor:
        """Reverse the order of elements along ``axis`` (all axes when ``None``).  PyTorch's ``dims=`` is accepted."""
    def reshape(self, *shape) -> Tensor:
        """Give ``x`` a new shape with the same number of elements (``-1`` infers one axis)."""
    def view(self, *shape) -> Tensor:
        """Give ``x`` a new shape with the same number of elements (``-1`` infers one axis)."""
    def transpose(self, *dims, axes=...) -> Tensor:
        """Permute the axes (reverse them when no axes are given, like NumPy's ``.T``)."""
    @property
    def T(self) -> Tensor:
        """Permute the axes (reverse them when no axes are given, like NumPy's ``.T``)."""
    def squeeze(self, axis=..., *, dim=...) -> Tensor:
        """Remove axes of size 1 (all of them, or those in ``axis``)."""
    def expand_dims(self, axis=..., *, dim=...) -> Tensor:
        """Insert axes of size 1 at ``axis`` (an int or a tuple); PyTorch's name is ``unsqueeze``."""
    def unsqueeze(self, axis=..., *, dim=...) -> Tensor:
        """Insert axes of size 1 at ``axis`` (an int or a tuple); PyTorch's name is ``unsqueeze``."""
    def flatten(self, start_dim=..., end_dim=...) -> Tensor:
        """Merge axes ``start_dim`` to ``end_dim`` into one (all of them by default, like NumPy)."""
    def broadcast_to(self, *shape) -> Tensor:
        """Repeat ``x`` to ``shape`` by NumPy's broadcasting rules (PyTorch's ``expand``)."""
    def expand(self, *shape) -> Tensor:
        """Repeat ``x`` to ``shape`` by NumPy's broadcasting rules (PyTorch's ``expand``)."""
    def __getitem__(self, key) -> Tensor:
        """``x[key]``: basic slices, integers, ``None``, ``...``, integer arrays and boolean masks."""
    def swapaxes(self, axis1, axis2) -> Tensor:
        """Exchange two axes (PyTorch also calls it ``transpose(dim0, dim1)``)."""
    def moveaxis(self, source, destination) -> Tensor:
        """Move axes to new positions, keeping the order of the others (NumPy's ``moveaxis``, PyTorch's ``movedim``)."""
    def ravel(self) -> Tensor:
        """``x`` flattened to one axis in row-major order."""
    def roll(self, shift, axis=..., *, dims=...) -> Tensor:
        """Shift elements cyclically by ``shift`` along ``axis`` (the flattened input when ``None``)."""
    def tan(self) -> Tensor:
        """Elementwise tangent.  VJP: ``g * (1 + tan(x)^2)``."""
    def arcsin(self) -> Tensor:
        """Elementwise inverse sine on ``[-1, 1]``.  VJP: ``g / sqrt(1 - x^2)`` (infinite at +-1)."""
    def arccos(self) -> Tensor:
        """Elementwise inverse cosine on ``[-1, 1]``.  VJP: ``-g / sqrt(1 - x^2)`` (infinite at +-1)."""
    def arctan(self) -> Tensor:
        """Elementwise inverse tangent.  VJP: ``g / (1 + x^2)``."""
    def sinh(self) -> Tensor:
        """Elementwise hyperbolic sine.  VJP: ``g * cosh(x)``."""
    def cosh(self) -> Tensor:
        """Elementwise hyperbolic cosine.  VJP: ``g * sinh(x)``."""
    def arcsinh(self) -> Tensor:
        """Elementwise inverse hyperbolic sine.  VJP: ``g / sqrt(x^2 + 1)``."""
    def arccosh(self) -> Tensor:
        """Elementwise inverse hyperbolic cosine on ``[1, inf)``.  VJP: ``g / sqrt(x^2 - 1)`` (infinite at 1)."""
    def arctanh(self) -> Tensor:
        """Elementwise inverse hyperbolic tangent on ``(-1, 1)``.  VJP: ``g / (1 - x^2)``."""
    def deg2rad(self) -> Tensor:
        """Degrees to radians (NumPy also calls it ``radians``).  VJP: ``g * pi / 180``."""
    def rad2deg(self) -> Tensor:
        """Radians to degrees (NumPy also calls it ``degrees``).  VJP: ``g * 180 / pi``."""
    def sinc(self) -> Tensor:
        """The normalised sinc, ``sin(pi x) / (pi x)`` with ``sinc(0) = 1`` (NumPy's and PyTorch's)."""
    def backward(self, grad=..., retain_graph=..., create_graph=..., record_grad_norms=...) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf it depends on."""
    def to(self, library, device=...) -> Tensor:
        """This tensor's value on another array library (and ``device``): ``t.to("torch")``,"""
    def draw(self, **kwargs) -> Any:
        """Draw the graph that computed this tensor; see :func:`microgradnp.viz.draw_graph`."""
