"""The Tensor: a NumPy array that remembers how it was computed.

A Tensor holds ``data`` (a NumPy array), ``grad`` (a NumPy array of the same
shape and dtype, or ``None``) and ``requires_grad``.  A Tensor made by an
operation on Tensors that require grad also remembers the op, its inputs and
the arrays the op saw; :meth:`Tensor.backward` walks that record backwards.

Every method below that computes something is one line of sugar that
dispatches into the op registry (``microgradnp.ops``).
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["Tensor", "tensor"]

_new = object.__new__
# Creation numbers: every tensor gets the next one, so inputs always have
# smaller numbers than the tensors computed from them (the engine sorts by it).
_next_seq = itertools.count().__next__


def _make(data: np.ndarray, requires_grad: bool = False) -> "Tensor":
    """Wrap an array as a Tensor without copying or checking (internal fast path)."""
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = requires_grad
    t._op = None
    t._parents = ()
    t._saved = None
    t._attrs = None
    t._retain = False
    t._seq = _next_seq()
    return t


def _to_array(data, dtype=None, requires_grad: bool = False) -> np.ndarray:
    """Convert user data to a fresh array following the dtype rules of :class:`Tensor`."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        try:
            arr = np.array(data, dtype=np.dtype(dtype), copy=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cannot make a Tensor of dtype {dtype!r} from {type(data).__name__}: {exc}") from exc
    else:
        try:
            arr = np.array(data, copy=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cannot make a Tensor from {type(data).__name__}: {exc}") from exc
        if arr.dtype.kind in "biu":
            arr = arr.astype(np.float64)  # Python numbers, integer and bool data become float64
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError("complex tensors are not supported; microgradnp differentiates real functions")
    if kind not in "fiub":
        raise TypeError(f"cannot make a Tensor of dtype {arr.dtype} from {type(data).__name__}; need numbers")
    if requires_grad and kind != "f":
        raise TypeError(
            f"only floating-point tensors can require gradients, got dtype {arr.dtype}; "
            "use dtype=np.float64 (the default) or np.float32"
        )
    return arr


def _dim(axis, dim, default=None):
    """Accept NumPy's ``axis`` or PyTorch's ``dim`` for the same argument."""
    if dim is not None:
        if axis is not None and axis is not default:
            raise TypeError("give either axis= or dim=, not both")
        return dim
    return axis


def _keep(keepdims: bool, keepdim):
    """Accept NumPy's ``keepdims`` or PyTorch's ``keepdim``."""
    return keepdims if keepdim is None else keepdim


class Tensor:
    """A NumPy array with a gradient, recorded in a dynamic graph.

    Parameters
    ----------
    data
        Anything ``np.array`` accepts.  Python numbers, lists of them and
        integer or bool arrays become float64; float32 (or float16) data keeps
        its dtype.  The data is copied.
    requires_grad
        Record operations on this tensor so gradients can flow back to it.
        Only floating-point tensors can require gradients (``TypeError``
        otherwise).
    dtype
        Convert the data to this dtype.
    name
        Optional label, shown in ``repr`` and in graph drawings.

    Attributes
    ----------
    data : numpy.ndarray
        The value.  Updating it in place (``w.data -= lr * w.grad``) is how
        optimizers change a parameter without recording the update.
    grad : numpy.ndarray or None
        The accumulated gradient, same shape and dtype as ``data``.  After
        ``backward(create_graph=True)`` it is a Tensor, as in PyTorch.
    requires_grad : bool
        Whether gradients flow to this tensor.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> loss = (x ** 2).sum()
    >>> loss.backward()
    >>> x.grad
    array([2., 4., 6.])
    """

    __slots__ = (
        "data",
        "grad",
        "requires_grad",
        "_op",  # the registry Op that made this tensor (None for a leaf)
        "_parents",  # the op's inputs, Tensors and constants, in order
        "_saved",  # the arrays the forward saw; None once released by backward
        "_attrs",  # the op's keyword attributes (axis, keepdims, ...)
        "_retain",  # keep .grad on this interior node (retain_grad())
        "_seq",  # creation number: larger means computed later
        "_module",  # (module, input ids) when a Module's forward made it; unset otherwise
        "_name",  # see the name property; unset until a name is given
        "__weakref__",
    )

    # NumPy must hand binary operators with a Tensor operand to us
    # (``array * tensor`` -> Tensor.__rmul__), see __array_ufunc__.
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        self.data = _to_array(data, dtype, requires_grad)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._op = None
        self._parents = ()
        self._saved = None
        self._attrs = None
        self._retain = False
        self._seq = _next_seq()
        if name is not None:
            self._name = name

    # ------------------------------------------------------------------
    # Array-like attributes
    # ------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        """The shape of ``data``."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The dtype of ``data``."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def T(self) -> "Tensor":
        """The transpose (axes reversed, as NumPy's ``.T``)."""
        return _ops.transpose(self)

    @property
    def name(self) -> str | None:
        """An optional label, shown in ``repr`` and graph drawings (a Parameter's path in its module)."""
        return getattr(self, "_name", None)  # left unset on the hot path: most tensors have no name

    @name.setter
    def name(self, value: str | None) -> None:
        self._name = value

    @property
    def is_leaf(self) -> bool:
        """``True`` for a tensor not made by a recorded operation."""
        return self._op is None

    @property
    def op(self) -> str | None:
        """Registry name of the op that made this tensor (``None`` for a leaf)."""
        return None if self._op is None else self._op.name

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def tolist(self):
        """The value as (nested) Python lists."""
        return self.data.tolist()

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; use .any() or .all() on .data"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__  # identity, as in PyTorch (== is elementwise)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = []
        if self.data.dtype != np.float64:
            extra.append(f"dtype={self.data.dtype}")
        if self._op is not None:
            extra.append(f"op={self._op.name}")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.name:
            extra.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # ``ndarray + Tensor`` and ``np.exp(tensor)`` land here.  Route the
        # ufuncs we differentiate to their ops; refuse the rest loudly rather
        # than silently dropping the tensor from the graph.
        fn = _UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        if fn is None:
            raise TypeError(
                f"np.{ufunc.__name__} ({method}) is not differentiable in microgradnp; use the "
                "microgradnp function of the same name, or apply it to tensor.data"
            )
        return fn(*inputs)

    # ------------------------------------------------------------------
    # Autograd
    # ------------------------------------------------------------------

    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf it depends on.

        Parameters
        ----------
        grad
            Upstream gradient, same shape as this tensor.  May be omitted for
            a one-element tensor (it is then 1).
        retain_graph
            Keep the saved arrays so the graph can be differentiated again.
        create_graph
            Record the backward pass (``.grad`` becomes a differentiable
            Tensor), for higher-order derivatives.

        Examples
        --------
        >>> import microgradnp as mg
        >>> a = mg.tensor(3.0, requires_grad=True)
        >>> (a * a + a).backward()
        >>> a.grad
        array(7.)
        """
        _engine.backward(self, grad, retain_graph, create_graph)

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return _make(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` on a leaf in place and return it."""
        if self._op is not None and not requires_grad:
            raise RuntimeError("requires_grad can only be switched off on a leaf; use detach() instead")
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def draw(self, **kwargs):
        """Draw the graph that computed this tensor; see :func:`microgradnp.viz.draw_graph`."""
        from . import viz

        return viz.draw_graph(self, **kwargs)

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this interior tensor during backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retain = True
        return self

    # ------------------------------------------------------------------
    # Operators (each dispatches into the registry)
    # ------------------------------------------------------------------

    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __getitem__(self, key):
        return _ops.getitem(self, key)

    def __setitem__(self, key, value):
        raise TypeError(
            "Tensors are not assigned into: the graph records values, not mutations. "
            "Build the new value with mg.where / mg.concatenate, or change a leaf's .data in place"
        )

    # Comparisons give boolean Tensors without gradient, as in PyTorch.
    def __lt__(self, other):
        return _make(self.data < _value(other))

    def __le__(self, other):
        return _make(self.data <= _value(other))

    def __gt__(self, other):
        return _make(self.data > _value(other))

    def __ge__(self, other):
        return _make(self.data >= _value(other))

    def __eq__(self, other):
        return _make(self.data == _value(other))

    def __ne__(self, other):
        return _make(self.data != _value(other))

    # ------------------------------------------------------------------
    # Methods (each dispatches into the registry; see the functions in
    # microgradnp.ops for the math)
    # ------------------------------------------------------------------

    def exp(self):
        """See :func:`microgradnp.exp`."""
        return _ops.exp(self)

    def log(self):
        """See :func:`microgradnp.log`."""
        return _ops.log(self)

    def log1p(self):
        """See :func:`microgradnp.log1p`."""
        return _ops.log1p(self)

    def sqrt(self):
        """See :func:`microgradnp.sqrt`."""
        return _ops.sqrt(self)

    def abs(self):
        """See :func:`microgradnp.abs`."""
        return _ops.abs(self)

    def sigmoid(self):
        """See :func:`microgradnp.sigmoid`."""
        return _ops.sigmoid(self)

    def log_sigmoid(self):
        """See :func:`microgradnp.log_sigmoid`."""
        return _ops.log_sigmoid(self)

    def softplus(self):
        """See :func:`microgradnp.softplus`."""
        return _ops.softplus(self)

    def tanh(self):
        """See :func:`microgradnp.tanh`."""
        return _ops.tanh(self)

    def relu(self):
        """See :func:`microgradnp.relu`."""
        return _ops.relu(self)

    def sin(self):
        """See :func:`microgradnp.sin`."""
        return _ops.sin(self)

    def cos(self):
        """See :func:`microgradnp.cos`."""
        return _ops.cos(self)

    def clip(self, lo=None, hi=None):
        """See :func:`microgradnp.clip`."""
        return _ops.clip(self, lo, hi)

    clamp = clip

    def maximum(self, other):
        """See :func:`microgradnp.maximum`."""
        return _ops.maximum(self, other)

    def minimum(self, other):
        """See :func:`microgradnp.minimum`."""
        return _ops.minimum(self, other)

    def matmul(self, other):
        """See :func:`microgradnp.matmul`."""
        return _ops.matmul(self, other)

    def astype(self, dtype):
        """See :func:`microgradnp.astype`."""
        return _ops.astype(self, dtype)

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """See :func:`microgradnp.sum`."""
        return _ops.sum(self, _dim(axis, dim), _keep(keepdims, keepdim))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """See :func:`microgradnp.mean`."""
        return _ops.mean(self, _dim(axis, dim), _keep(keepdims, keepdim))

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """See :func:`microgradnp.max`."""
        return _ops.max(self, _dim(axis, dim), _keep(keepdims, keepdim))

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """See :func:`microgradnp.min`."""
        return _ops.min(self, _dim(axis, dim), _keep(keepdims, keepdim))

    def var(self, axis=None, ddof=0, keepdims=False, *, dim=None, keepdim=None):
        """See :func:`microgradnp.var`."""
        return _ops.var(self, _dim(axis, dim), ddof, _keep(keepdims, keepdim))

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """See :func:`microgradnp.logsumexp`."""
        return _ops.logsumexp(self, _dim(axis, dim), _keep(keepdims, keepdim))

    def softmax(self, axis=-1, *, dim=None):
        """See :func:`microgradnp.softmax`."""
        return _ops.softmax(self, _dim(axis, dim, -1))

    def log_softmax(self, axis=-1, *, dim=None):
        """See :func:`microgradnp.log_softmax`."""
        return _ops.log_softmax(self, _dim(axis, dim, -1))

    def reshape(self, *shape):
        """See :func:`microgradnp.reshape`; accepts ``reshape(2, 3)`` or ``reshape((2, 3))``."""
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    view = reshape

    def transpose(self, *axes):
        """See :func:`microgradnp.transpose`; accepts ``transpose(1, 0)`` or ``transpose((1, 0))``."""
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = axes[0]
        return _ops.transpose(self, axes if axes else None)

    def squeeze(self, axis=None, *, dim=None):
        """See :func:`microgradnp.squeeze`."""
        return _ops.squeeze(self, _dim(axis, dim))

    def expand_dims(self, axis):
        """See :func:`microgradnp.expand_dims`."""
        return _ops.expand_dims(self, axis)

    def unsqueeze(self, dim):
        """See :func:`microgradnp.unsqueeze` (PyTorch's name for ``expand_dims``)."""
        return _ops.expand_dims(self, dim)

    def flatten(self, start_dim=0, end_dim=-1):
        """See :func:`microgradnp.flatten`."""
        return _ops.flatten(self, start_dim, end_dim)

    def broadcast_to(self, shape):
        """See :func:`microgradnp.broadcast_to`."""
        return _ops.broadcast_to(self, shape)


def _value(x):
    return x.data if isinstance(x, Tensor) else x


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None) -> Tensor:
    """Make a Tensor (same as ``Tensor(data, ...)``, PyTorch's spelling).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.tensor([1, 2, 3])
    tensor([1., 2., 3.])
    >>> mg.tensor([1.0, 2.0], dtype="float32", requires_grad=True)
    tensor([1., 2.], dtype=float32, requires_grad=True)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


# The ops and the engine need the Tensor class, so they are imported after it
# (ops first: importing them loads the engine).
# isort: off
from . import ops as _ops  # noqa: E402
from . import engine as _engine  # noqa: E402

# isort: on

_UFUNCS = {
    np.add: _ops.add,
    np.subtract: _ops.sub,
    np.multiply: _ops.mul,
    np.true_divide: _ops.div,
    np.power: _ops.pow,
    np.matmul: _ops.matmul,
    np.negative: _ops.neg,
    np.exp: _ops.exp,
    np.log: _ops.log,
    np.log1p: _ops.log1p,
    np.sqrt: _ops.sqrt,
    np.absolute: _ops.abs,
    np.tanh: _ops.tanh,
    np.sin: _ops.sin,
    np.cos: _ops.cos,
    np.maximum: _ops.maximum,
    np.minimum: _ops.minimum,
    # comparisons: boolean results, no gradient
    np.less: lambda a, b: _make(np.less(_value(a), _value(b))),
    np.less_equal: lambda a, b: _make(np.less_equal(_value(a), _value(b))),
    np.greater: lambda a, b: _make(np.greater(_value(a), _value(b))),
    np.greater_equal: lambda a, b: _make(np.greater_equal(_value(a), _value(b))),
    np.equal: lambda a, b: _make(np.equal(_value(a), _value(b))),
    np.not_equal: lambda a, b: _make(np.not_equal(_value(a), _value(b))),
}
