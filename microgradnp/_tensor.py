"""The Tensor: a NumPy array that remembers how it was computed.

This module is the data model only.  A Tensor holds its array, its gradient,
``requires_grad`` and, when an operation made it, the record the engine
reads: the op, its inputs, the arrays the op saw and its attributes.  The
operations (``x.sum()``, ``a @ b``, ``x.exp()``), ``backward`` and the NumPy
ufunc table are installed on the class by ``microgradnp.api`` from the op
registry; this module imports nothing else of microgradnp but the grad mode.

In-place safety.  Every write into a tensor's memory (``t.data[...] = v``,
``t.data -= lr * g``, ``t -= lr * g`` under ``no_grad``, ``t.data = new``)
stamps the tensor with the next number of the same clock that numbers tensor
creation.  A recorded op is created after its inputs were last written, so
when the backward pass finds an input whose stamp is larger than the op's own
creation number, the arrays the op saved are stale and it raises instead of
returning a wrong gradient (PyTorch's version counter, in one comparison).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import operator
from typing import TYPE_CHECKING, Any
from weakref import ref as _weakref

import numpy as np

from . import _mode as _modes

if TYPE_CHECKING:  # the methods the op registry installs (microgradnp/api.py), typed in _methods.pyi
    from ._methods import TensorMethods as _RegistryMethods
else:
    _RegistryMethods = object

__all__ = ["Tensor", "tensor", "as_tensor", "from_numpy"]

_new = object.__new__
_ndarray = np.ndarray

#: The clock of creation numbers and write stamps: every tensor gets the next
#: number when it is made, every write into a tensor's memory stamps it with
#: the next one.  Inputs always have smaller numbers than the tensors
#: computed from them (the engine orders the backward pass by it).
next_seq = itertools.count(1).__next__


def _make(data: np.ndarray, requires_grad: bool = False) -> "Tensor":
    """Wrap an array as a Tensor without copying or checking."""
    t = _new(Tensor)
    _init_leaf(t, data, requires_grad)
    return t


def _init_leaf(t: "Tensor", data: np.ndarray, requires_grad: bool) -> None:
    """Set every slot of a new leaf (``engine.apply`` writes the same, inlined, for op results)."""
    t._data = data
    t._grad = None
    t.requires_grad = requires_grad
    t._op = None
    t._parents = ()
    t._saved = None
    t._attrs = None
    t._retain = False
    t._seq = next_seq()
    t._written = 0


#: id(tensor) -> (a weak reference to it, the norm of the gradient that reached it in the last
#: ``backward(record_grad_norms=True)``): read by :attr:`Tensor.grad_norm` (and graph drawings).
GRAD_NORMS: dict = {}


def note_grad_norm(t: "Tensor", g) -> None:
    key = id(t)
    g = g._data if isinstance(g, Tensor) else g
    GRAD_NORMS[key] = (_weakref(t, lambda _, key=key: GRAD_NORMS.pop(key, None)), float(np.linalg.norm(g)))


def mark_written(t: "Tensor") -> None:
    """Note that ``t``'s memory was just written (see the module docstring)."""
    t._written = next_seq()


def _foreign_item(d):
    """A one-element array of another library as a Python number (``.item()`` is not in the standard)."""
    if hasattr(d, "item"):
        return d.item()
    from .backends import namespace_of

    kind = namespace_of(d).kind(d.dtype)
    return bool(d) if kind == "b" else int(d) if kind in "iu" else float(d)


def foreign_library(data) -> str | None:
    """The name of the array library ``data`` belongs to when it is not NumPy's (torch, CuPy,
    JAX, array-api-strict: anything with ``__dlpack__``), else ``None``."""
    kind = type(data)
    if hasattr(kind, "__dlpack__") and not issubclass(kind, (np.ndarray, np.generic)) and not isinstance(data, Tensor):
        return kind.__module__.split(".")[0]
    return None


def refuse_foreign(data, where: str) -> None:
    """Raise where an array of another library would be turned into NumPy without being asked.

    NumPy would convert a CPU torch tensor or an array-api-strict array without a word (and
    copy a GPU array to the host, or fail deep inside); a user who built a torch tensor expects
    torch back.  Until Tensors hold other libraries' arrays, they are refused by name.
    """
    library = foreign_library(data)
    if library is not None:
        how = {"torch": "x.numpy()", "cupy": "x.get()"}.get(library, "np.asarray(x)")
        raise TypeError(
            f"{where}: got a {library} array ({type(data).__name__}); microgradnp computes on NumPy arrays and "
            f"never converts another library's array silently: convert it explicitly ({how}) and pass that")


def as_array(data, where: str, dtype=None) -> np.ndarray:
    """``np.asarray(data)`` for user data, refusing another library's array by name (see :func:`refuse_foreign`)."""
    if data.__class__ is not _ndarray:
        refuse_foreign(data, where)
    return np.asarray(data, dtype=dtype)


def _foreign_array(data, dtype, requires_grad: bool, copy: bool | None):
    """An array of another library kept in it (on its device), with the dtype rules of :class:`Tensor`."""
    from .backends import namespace_of

    ns = namespace_of(data)
    if getattr(data, "requires_grad", False) is True and hasattr(data, "detach"):
        data = data.detach()  # a torch tensor tracked by torch's autograd: the gradient is ours to record
    if dtype is not None:
        data = ns.astype(data, dtype)
        copy = False if copy is None else copy
    kind = ns.kind(data.dtype)
    if dtype is None and kind in "biu":
        data, copy = ns.astype(data, ns.float64), False  # integer and bool data become float64, as from NumPy
        kind = "f"
    if kind == "c":
        raise TypeError("complex tensors on another array library are not supported yet (complex tensors are, on "
                        "NumPy); keep the real and imaginary parts apart, or convert with .numpy()")
    if requires_grad and kind != "f":
        raise TypeError(f"only floating-point tensors can require gradients, got dtype {data.dtype}")
    _modes.note_foreign()  # from now on every op looks at its inputs' library (engine.apply)
    return ns.copy(data) if copy else data


def kind_of(data) -> str:
    """NumPy's one-letter dtype kind (``"f"``, ``"i"``, ``"u"``, ``"b"``, ``"c"``) of an array of any library."""
    if data.__class__ is _ndarray or isinstance(data, (np.ndarray, np.generic)):
        return data.dtype.kind
    from .backends import namespace_of

    return namespace_of(data).kind(data.dtype)


def user_array(data):
    """User data (not a Tensor) as an array, as it is: another library's array stays in it, anything
    else goes through ``np.asarray`` (no dtype rule: what the function transforms take and return)."""
    if data.__class__ is not _ndarray and foreign_library(data) is not None:
        if getattr(data, "requires_grad", False) is True and hasattr(data, "detach"):
            data = data.detach()  # torch's autograd does not follow it through ours
        _modes.note_foreign()
        return data
    return np.asarray(data)


def library_of_data(data) -> str:
    """The array library of ``data`` (``"numpy"`` for NumPy arrays and anything that is not another library's)."""
    return "numpy" if data.__class__ is _ndarray else (foreign_library(data) or "numpy")


def shape_of(x) -> tuple:
    """The shape of a Tensor, an array of any library, or nested Python numbers."""
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else np.shape(x)


def zeros_for(data, shape=None):
    """Zeros of ``shape`` (``data``'s by default) with ``data``'s dtype, array library and device."""
    shape = data.shape if shape is None else shape
    if data.__class__ is _ndarray or foreign_library(data) is None:  # NumPy's arrays and scalars
        return np.zeros(shape, dtype=data.dtype)
    from .backends import namespace_of

    return namespace_of(data).zeros(shape, dtype=data.dtype, like=data)


def _to_array(data, dtype=None, requires_grad: bool = False, copy: bool | None = True) -> np.ndarray:
    """Convert user data to an array following the dtype rules of :class:`Tensor`.

    ``copy=None`` keeps the caller's array when it already fits (zero copy).
    An array of another library (torch, CuPy, array-api-strict) stays in it.
    """
    if isinstance(data, Tensor):
        if data._trace is not None:
            data._trace.unsupported(
                "copying a traced tensor into a new one (mg.tensor(x), Tensor(x))",
                "use x itself, x.detach() to stop its gradient, or mg.as_tensor(x)")
        data = data._data
    if data.__class__ is not _ndarray and foreign_library(data) is not None:
        return _foreign_array(data, dtype, requires_grad, copy)
    try:
        if dtype is not None:
            arr = np.array(data, dtype=np.dtype(dtype), copy=copy)
        else:
            arr = np.array(data, copy=copy)
            if arr.dtype.kind in "biu":
                arr = arr.astype(np.float64)  # Python numbers, integer and bool data become float64
    except (TypeError, ValueError) as exc:
        what = f"of dtype {dtype!r} " if dtype is not None else ""
        raise TypeError(f"cannot make a Tensor {what}from {type(data).__name__}: {exc}") from exc
    _check_dtype(arr.dtype, requires_grad, type(data).__name__)
    return arr


def _flag(value, name: str) -> bool:
    """A yes/no argument: a bool (NumPy's too) or 0/1, never a truthy string or list."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def _check_dtype(dtype: np.dtype, requires_grad: bool, source: str = "data") -> None:
    kind = dtype.kind
    if kind == "c":
        if dtype not in (np.complex64, np.complex128):
            raise TypeError(f"cannot make a Tensor of dtype {dtype}: complex tensors are complex64 or complex128")
        _modes.note_complex()  # from now on every op looks for complex inputs (ops/complex.py)
    elif kind not in "fiub":
        raise TypeError(f"cannot make a Tensor of dtype {dtype} from {source}; need numbers")
    if requires_grad and kind not in "fc":
        raise TypeError(
            f"only floating-point and complex tensors can require gradients, got dtype {dtype}; "
            "use dtype=np.float64 (the default) or np.float32"
        )


class _DataView(np.ndarray):
    """What :attr:`Tensor.data` returns: the tensor's own memory, as a view that notes writes.

    Writing through it (item assignment, in-place operators, ``fill``) stamps
    the tensor as written, so a backward pass through an op that saved the
    old values raises.  Slices and reshapes of it share the memory and note
    writes too; arithmetic on it gives plain arrays.  ``Tensor.numpy()``
    returns the plain array instead, untracked, as in PyTorch.

    It refers to its tensor weakly (no reference cycle: a graph is still freed
    by reference counting alone), and the tensor keeps the view it handed out
    for as long as its array is the same, so ``w.data -= lr * w.grad`` makes
    no new view on each step.
    """

    _owner = None  # weak reference to the Tensor whose memory this is; None for unrelated results
    _plain = None  # the tensor's own array, on the view the tensor hands out (not on slices of it)

    def __array_finalize__(self, obj):
        # A slice or reshape of a tracked view shares the memory: it tracks the same tensor.
        if obj.__class__ is _DataView and obj._owner is not None and np.may_share_memory(self, obj):
            self._owner = obj._owner

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        return arr[()] if return_scalar else arr.view(np.ndarray)

    def _note_write(self):
        owner = self._owner
        if owner is not None:
            t = owner()
            if t is not None:
                t._written = next_seq()

    def __setitem__(self, key, value):
        self._note_write()
        np.ndarray.__setitem__(self, key, value)

    def fill(self, value):
        self._note_write()
        np.ndarray.fill(self, value)

    def __repr__(self):
        return repr(self.view(np.ndarray))

    def __str__(self):
        return str(self.view(np.ndarray))

    def __reduce__(self):
        return self.view(np.ndarray).copy().__reduce__()  # pickles as a plain array


def _tracked_inplace(name):
    plain = getattr(operator, name.strip("_"))  # operator.isub(a, b) is a -= b, cheaper to call than ndarray.__isub__

    def method(self, other):
        # _note_write, written out: ``w.data -= lr * w.grad`` runs this on every step.
        owner = self._owner
        if owner is not None and (t := owner()) is not None:
            t._written = next_seq()
        # On the plain array, NumPy skips __array_wrap__ (which would return a plain array, not self).
        arr = self._plain
        plain(self.view(np.ndarray) if arr is None else arr, other)
        return self

    method.__name__ = name
    return method


for _name in ("__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__imod__", "__ipow__",
              "__imatmul__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__"):
    setattr(_DataView, _name, _tracked_inplace(_name))


class Tensor(_RegistryMethods):
    """A NumPy array with a gradient, recorded in a dynamic graph.

    Parameters
    ----------
    data
        Anything ``np.array`` accepts.  Python numbers, lists of them and
        integer or bool arrays become float64; float32 (or float16) data keeps
        its dtype.  The data is copied (:func:`as_tensor` does not copy).
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
        "_data",  # the value (a NumPy array)
        "_grad",  # the accumulated gradient; see the grad property
        "requires_grad",
        "_op",  # the registry Op that made this tensor (None for a leaf)
        "_parents",  # the op's inputs, Tensors and constants, in order
        "_saved",  # the arrays the forward saw; None once released by backward
        "_attrs",  # the op's keyword attributes (axis, keepdims, ...)
        "_retain",  # keep .grad on this interior node (retain_grad()); a Hooks object once hooks are registered
        "_seq",  # creation number: larger means computed later
        "_written",  # stamp of the last write into the memory (0: never)
        "_module_call",  # see the module_call property; unset until a Module sets it
        "_name",  # see the name property; unset until a name is given
        "_view",  # the _DataView .data hands out (kept while the array is the same); unset until asked
        "__weakref__",
    )
    # The slots' types, for type checkers (annotations alone: no class attribute).
    _data: np.ndarray
    _grad: Any
    requires_grad: bool
    _op: Any
    _parents: tuple
    _saved: Any
    _attrs: dict | None
    _retain: Any
    _seq: int
    _written: int
    _module_call: Any
    _name: str
    _view: Any

    # NumPy must hand binary operators with a Tensor operand to us
    # (``array * tensor`` -> Tensor.__rmul__), see __array_ufunc__.
    __array_priority__ = 1000

    #: NumPy ufunc -> differentiable function; filled from the registry by microgradnp.api.
    _ufuncs: dict = {}

    #: NumPy function -> differentiable function (``np.sum``, ``np.linalg.inv``); filled by microgradnp.api.
    _functions: dict = {}

    #: ``True`` on ``nn.Parameter``: a trainable part of a module (drawings colour it).
    is_parameter = False

    #: The interpreter a :class:`Tracer` belongs to; ``None`` for every other tensor.
    _trace = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if requires_grad.__class__ is not bool:
            requires_grad = _flag(requires_grad, "requires_grad")
        if _modes.tracing and isinstance(data, Tensor):  # a copy of a tensor a trace may follow
            _init_leaf(self, _to_array(data._data, dtype, requires_grad), requires_grad)
            _modes.copied_during_trace(data, self)
        else:
            _init_leaf(self, _to_array(data, dtype, requires_grad), requires_grad)
        if name is not None:
            self._name = name

    # ------------------------------------------------------------------
    # The value and the gradient
    # ------------------------------------------------------------------

    @property
    def data(self) -> np.ndarray:
        """The value: an array view of the tensor's memory.

        Updating it in place (``w.data -= lr * w.grad``) changes the tensor
        without recording anything; a backward pass through an op that used
        the old value then raises.  Assigning a new array replaces the value.
        """
        try:
            view = self._view
            if view is not None:
                return view
        except AttributeError:  # never asked before
            pass
        if self._data.__class__ is not _ndarray and foreign_library(self._data) is not None:
            return self._data  # another library's array, as it is (writes through it are not tracked, as in PyTorch)
        view = self._data.view(_DataView)
        view._owner = _weakref(self)
        view._plain = self._data
        self._view = view
        return view

    @data.setter
    def data(self, value) -> None:
        try:
            if value is self._view:
                return  # ``t.data -= x``: the view already wrote in place and noted it
        except AttributeError:  # no view handed out yet
            pass
        if not isinstance(value, (Tensor, _ndarray)) and foreign_library(value) is not None:
            self._data = _foreign_array(value, None, self.requires_grad, copy=False)
            self._view = None
            self._written = next_seq()
            return
        arr = value._data if isinstance(value, Tensor) else np.asarray(value)
        _check_dtype(arr.dtype, self.requires_grad)
        self._data = arr.view(np.ndarray) if arr.__class__ is not _ndarray else arr
        self._view = None  # the view handed out before shows the old array
        self._written = next_seq()

    def _set_grad(self, value) -> None:
        if value is not None:
            arr = value._data if isinstance(value, Tensor) else value
            library = foreign_library(arr)
            if library is not None or foreign_library(self._data) is not None:
                if library != foreign_library(self._data):
                    raise TypeError(f"Tensor.grad = a {library or 'numpy'} array for a tensor on {self.library}; "
                                    "the gradient lives on the tensor's library (microgradnp never converts silently)")
                if tuple(arr.shape) != tuple(self._data.shape) or arr.dtype != self._data.dtype:
                    raise ValueError(f"grad of shape {tuple(arr.shape)} and dtype {arr.dtype} assigned to a tensor "
                                     f"of shape {tuple(self._data.shape)} and dtype {self._data.dtype}")
                self._grad = arr
                return
            if not isinstance(arr, _ndarray):
                raise TypeError(
                    f"grad must be None, a NumPy array or a Tensor, got {type(value).__name__}"
                )
            if arr.shape != self._data.shape:
                raise ValueError(f"grad of shape {arr.shape} assigned to a tensor of shape {self._data.shape}")
            if arr.dtype != self._data.dtype:
                raise TypeError(f"grad of dtype {arr.dtype} assigned to a tensor of dtype {self._data.dtype}")
            if arr.__class__ is _DataView:
                value = arr.view(np.ndarray)
        if _modes.tracing and _modes.records_backward():
            _modes._mode.tracer.on_grad_set(self, value)  # mg.compile replays `.grad = None`
        self._grad = value

    @property
    def grad_norm(self) -> float | None:
        """The norm of the gradient that reached this tensor in the last ``backward(record_grad_norms=True)``.

        Interior tensors keep no gradient, but with ``record_grad_norms=True``
        the backward pass notes the norm of each one it passes (one norm per
        node), so that a drawing made after a plain backward shows the whole
        gradient flow.  ``None`` when none was recorded.

        Examples
        --------
        >>> import microgradnp as mg
        >>> x = mg.tensor([3.0, 4.0], requires_grad=True)
        >>> y = x * 2.0
        >>> y.sum().backward(record_grad_norms=True)
        >>> y.grad_norm, x.grad_norm
        (1.4142135623730951, 2.8284271247461903)
        """
        entry = GRAD_NORMS.get(id(self))
        return entry[1] if entry is not None and entry[0]() is self else None

    # Read through attrgetter, a C function: 45 ns instead of 70 for a Python
    # getter (an optimizer reads every parameter's .grad on every step).
    grad = property(
        operator.attrgetter("_grad"),
        _set_grad,
        doc="""The accumulated gradient (same shape and dtype), or ``None``.

        After ``backward(create_graph=True)`` it is a Tensor, as in PyTorch.
        Assigning it accepts ``None`` or an array (or Tensor) of this tensor's
        shape and dtype.
        """,
    )
    del _set_grad

    # ------------------------------------------------------------------
    # Array-like attributes
    # ------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        """The shape of the value."""
        return self._data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the value."""
        return self._data.dtype

    @property
    def size(self) -> int:
        """The number of elements."""
        d = self._data
        return d.size if d.__class__ is _ndarray else math.prod(d.shape)

    @property
    def device(self):
        """Where the value lives: ``"cpu"`` for NumPy, else the array library's own device object
        (``torch.device("cuda:0")``)."""
        d = self._data
        if d.__class__ is _ndarray or foreign_library(d) is None:
            return "cpu"
        import array_api_compat

        return array_api_compat.device(d)

    @property
    def library(self) -> str:
        """The array library the value belongs to: ``"numpy"``, ``"torch"``, ``"cupy"``, ``"array_api_strict"``, ..."""
        return library_of_data(self._data)


    @property
    def name(self) -> str | None:
        """An optional label, shown in ``repr`` and graph drawings (a Parameter's path in its module)."""
        return getattr(self, "_name", None)  # left unset on the hot path: most tensors have no name

    @name.setter
    def name(self, value: str | None) -> None:
        self._name = value

    # ------------------------------------------------------------------
    # The graph, read-only (microgradnp.graph walks it)
    # ------------------------------------------------------------------

    @property
    def is_leaf(self) -> bool:
        """``True`` for a tensor not made by a recorded operation."""
        return self._op is None

    @property
    def op(self) -> str | None:
        """Registry name of the op that made this tensor (``None`` for a leaf)."""
        return None if self._op is None else self._op.name

    @property
    def op_attrs(self) -> dict:
        """The keyword attributes of the op that made this tensor (``{}`` for a leaf)."""
        return dict(self._attrs or {})

    @property
    def parents(self) -> tuple:
        """The inputs of the op that made this tensor, Tensors and constants, in order (``()`` for a leaf)."""
        return self._parents

    @property
    def released(self) -> bool:
        """``True`` once a backward pass freed the arrays this tensor's op saved (``retain_graph=False``)."""
        return self._op is not None and self._saved is None

    @property
    def module_call(self):
        """``(module, input_ids)`` when a ``nn.Module`` call returned this tensor, else ``None``.

        Set by ``Module.__call__``; graph drawings use it to fold a module's
        operations into one node.
        """
        return getattr(self, "_module_call", None)

    @module_call.setter
    def module_call(self, value) -> None:
        self._module_call = value

    # ------------------------------------------------------------------
    # Conversions
    # ------------------------------------------------------------------

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if _modes.tracing:
            _modes.read_during_trace(self)
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        d = self._data
        return d.item() if d.__class__ is _ndarray or foreign_library(d) is None else _foreign_item(d)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied; writes through it are not tracked, as in PyTorch).

        Unlike PyTorch, a tensor that requires grad is not refused: asking for
        the array by name says the gradient is not wanted there (see
        docs/design.md).  NumPy's own conversions of such a tensor
        (``np.asarray``, an ndarray assignment) are refused instead, since
        nothing in the code says so.
        """
        if _modes.tracing:
            _modes.read_during_trace(self)
        d = self._data
        if d.__class__ is not _ndarray and foreign_library(d) is not None:
            from .backends import to_numpy

            return to_numpy(d)  # asked for by name: the explicit conversion (a copy from a GPU)
        return d

    def _concrete(self):
        """The values, for a Python decision inside the package (``ops.registry.concrete_value``); noted as a read."""
        if _modes.tracing:
            _modes.read_during_trace(self)
        return self._data

    def tolist(self):
        """The value as (nested) Python lists."""
        if _modes.tracing:
            _modes.read_during_trace(self)
        return self.numpy().tolist()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if _modes.tracing:
            _modes.read_during_trace(self)
        if self.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.size} elements is ambiguous; "
                "use .any() or .all() on .data"
            )
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__  # identity, as in PyTorch (== is elementwise)

    def __repr__(self) -> str:
        d = self._data
        if d.__class__ is not _ndarray and foreign_library(d) is not None:
            from .backends import to_numpy

            body = np.array2string(to_numpy(d), separator=", ", prefix="tensor(")
            extra = [f"library={self.library!r}", f"device={str(self.device)!r}", f"dtype={d.dtype}"]
        else:
            body = np.array2string(d, separator=", ", prefix="tensor(")
            extra = [f"dtype={d.dtype}"] if d.dtype != np.float64 else []
        if self._op is not None:
            extra.append(f"op={self._op.name}")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.name:
            extra.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    def __array__(self, dtype=None, copy=None):
        if self._data.__class__ is not _ndarray and foreign_library(self._data) is not None:
            raise TypeError(
                f"a tensor on {self.library} is not converted to NumPy silently (np.asarray, a NumPy function); "
                "ask for it by name: t.numpy(), or t.to('numpy')")
        if self.requires_grad:
            _refuse_conversion(self, "NumPy (np.asarray, np.array, an ndarray assignment or a NumPy function)")
        elif _modes.tracing:
            _modes.read_during_trace(self)
        if dtype is not None and dtype != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # ``ndarray + Tensor`` and ``np.exp(tensor)`` land here.  Route the
        # ufuncs we differentiate to their ops; refuse the rest loudly rather
        # than silently dropping the tensor from the graph.
        fn = self._ufuncs.get(ufunc) if method == "__call__" and not kwargs else None
        if fn is None and _modes.tracing and _modes.records_backward():
            # Inside mg.compile, ``.grad`` is a Tensor: ``w.data -= lr * w.grad`` is NumPy on its values,
            # as in eager code.  The trace notes the read (so the call stays eager) and NumPy runs.
            for x in (*inputs, *kwargs.get("out", ())):
                if isinstance(x, Tensor):
                    _modes.read_during_trace(x)
            plain = [x._data if isinstance(x, Tensor) else x for x in inputs]
            return getattr(ufunc, method)(*plain, **kwargs)
        if fn is None:
            raise TypeError(
                f"np.{ufunc.__name__} ({method}) is not differentiable in microgradnp; use the "
                "microgradnp function of the same name, or apply it to tensor.data"
            )
        return fn(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        # ``np.sum(tensor)``, ``np.linalg.inv(tensor)`` (NEP 18) land here.  The
        # functions we differentiate record their op; those that only look at
        # values (``np.shape``, ``np.allclose``) see the arrays; anything else
        # is refused by name rather than silently dropping the tensor from the graph.
        if not all(issubclass(t, (Tensor, _ndarray)) for t in types):
            return NotImplemented
        f = self._functions.get(func)
        if f is not None:
            args, kwargs = _numpy_arguments(f, func, args, kwargs)
            return f(*args, **kwargs)
        if func in _SHAPE_ONLY:
            return func(*_values(args), **_values(kwargs))
        if func in _VALUE_ONLY:  # reads values: a tracer's through its trace, a traced tensor's noted
            return func(*_read(args, func), **_read(kwargs, func))
        name = _numpy_name(func)
        raise TypeError(
            f"{name} is not differentiable in microgradnp, and applying it to a Tensor would drop the "
            f"tensor from the graph; use a microgradnp function, or apply {name} to tensor.data "
            "(see the 'Porting NumPy code' page of the docs)"
        )

    def __setitem__(self, key, value):
        raise TypeError(
            "Tensors are not assigned into: the graph records values, not mutations. "
            "Build the new value with mg.where / mg.concatenate, or change a leaf's .data in place"
        )

    # ------------------------------------------------------------------
    # Leaves and gradients
    # ------------------------------------------------------------------

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's memory, cut off from the graph."""
        if _modes.tracing and self.requires_grad and _modes._mode.tracer is not None:
            return _modes._mode.tracer.detached(self)  # mg.compile: computed again at each replay
        t = _make(self._data)
        t._written = self._written
        return t

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` on a leaf in place and return it."""
        if self._op is not None and not requires_grad:
            raise RuntimeError("requires_grad can only be switched off on a leaf; use detach() instead")
        requires_grad = _flag(requires_grad, "requires_grad")
        if requires_grad and kind_of(self._data) not in "fc":
            raise TypeError(f"only floating-point and complex tensors can require gradients, got dtype "
                            f"{self._data.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this interior tensor during backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if isinstance(self._retain, Hooks):
            self._retain.retain = True
        else:
            self._retain = True
        return self

    def register_hook(self, hook) -> "HookHandle":
        """Call ``hook(grad)`` when the gradient with respect to this tensor is computed (PyTorch's hooks).

        ``grad`` is what ``.grad`` would hold (an array; a Tensor under
        ``create_graph=True``).  The hook may return a replacement of the same
        shape, which is what flows on (and what a leaf accumulates), or
        ``None`` to leave it.  Hooks run in the order registered, in
        ``backward()`` and in ``mg.grad``.  Returns a handle whose
        ``remove()`` unregisters the hook.

        Examples
        --------
        >>> import microgradnp as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> y = x * 3
        >>> handle = y.register_hook(lambda g: g * 10)     # scale the gradient flowing through y
        >>> y.sum().backward()
        >>> x.grad
        array([30., 30.])
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook() on a tensor that does not require grad: no gradient will reach it")
        if not callable(hook):
            raise TypeError(f"register_hook: expected a callable, got {type(hook).__name__}")
        if not isinstance(self._retain, Hooks):
            self._retain = Hooks(retain=self._retain is True)
        self._retain.fns.append(hook)
        _modes.bump_epoch()
        return HookHandle(self._retain, hook)


def _refuse_conversion(t: Tensor, what: str) -> None:
    """Raise where a tensor being differentiated would become a plain array, losing its gradient.

    Inside ``mg.compile``'s trace the trace decides (it runs such a step eagerly).
    """
    if _modes.tracing and _modes._mode.tracer is not None:
        _modes.read_during_trace(t)
        return
    if not _modes._mode.enabled:
        return  # under no_grad nothing is being differentiated
    shape = f"shape {t.shape}, dtype {t.dtype}"
    raise TypeError(
        f"{what} was given a Tensor that requires grad ({shape}): as an array it would carry no gradient, "
        "and every result computed from it would be silently cut from the graph. Use the microgradnp function "
        "of the same name (mg.concatenate, mg.where, mg.stack, ...), or t.detach() if you mean to stop the "
        "gradient there (see the 'Porting NumPy code' page of the docs)"
    )


class Tracer(Tensor):
    """A tensor that a function transform (an interpreter, ``microgradnp._mode.Trace``) runs its function on.

    To the function it is an ordinary Tensor of the *logical* shape (one
    example, under ``vmap``); every op on it goes to its trace's
    ``process_primitive``.  ``_data`` holds a value of that shape for the
    shape and dtype only (the first example's values, under ``vmap``):
    reading values goes through the trace, which refuses where no single
    value exists.
    """

    __slots__ = ("_trace", "_example")

    @property
    def _data(self):
        # Every use of a tracer reads this, the engine's eager path included: one kept after its
        # transform returned (in a closure, a .grad) is refused there, never computed on.
        if not self._trace.active:
            self._trace.escaped()
        return self._example

    @_data.setter
    def _data(self, value):
        self._example = value

    def _concrete(self):
        return None  # a tracer has no single value: the decision is taken another way (see concrete_value)

    def item(self):
        return self._trace.read(self, "item()").item()

    def tolist(self):
        return self._trace.read(self, "tolist()").tolist()

    def __bool__(self) -> bool:
        value = self._trace.read(self, "bool(), an if or a while on a tensor")
        if value.size != 1:
            raise ValueError(f"the truth value of a tensor with {value.size} elements is ambiguous")
        return bool(value)

    def __index__(self):
        return int(self._trace.read(self, "an index (operator.index)"))

    def numpy(self):
        value = self._trace.read(self, "Tensor.numpy()")
        if value.__class__ is not _ndarray and foreign_library(value) is not None:
            from .backends import to_numpy

            return to_numpy(value)  # a primal of another library: NumPy's copy, as Tensor.numpy() gives it
        return value

    def __array__(self, dtype=None, copy=None):
        value = self._trace.read(self, "NumPy (np.asarray, np.array, an ndarray assignment or a NumPy function)",
                                 implicit=True)
        return value if dtype is None else value.astype(dtype)

    @property
    def data(self):
        return self._trace.read(self, "Tensor.data")

    @data.setter
    def data(self, value):
        self._trace.unsupported("assigning Tensor.data", "compute a new tensor instead")

    def detach(self) -> Tensor:
        """Cut from every graph, as ``detach()`` is, but still traced: ``stop_gradient`` under the transform."""
        return self._trace.detach(self)

    def __repr__(self) -> str:
        state = "" if self._trace.active else ", its transform has returned"
        return f"<{type(self).__name__} of {self._trace.name} (level {self._trace.level}): shape " \
               f"{self._example.shape}, dtype {self._example.dtype}{', requires_grad' if self.requires_grad else ''}" \
               f"{state}>"


class Hooks:
    """The gradient hooks of one tensor, kept in its ``_retain`` slot (with whether ``retain_grad()`` was called).

    Stored there so that the backward pass finds them in the branch it
    already takes for retained gradients: no tensor without hooks pays for them.
    """

    __slots__ = ("fns", "retain")

    def __init__(self, retain: bool = False):
        self.fns: list = []
        self.retain = retain

    def __bool__(self) -> bool:
        return self.retain or bool(self.fns)

    def run(self, grad, t: "Tensor"):
        """``grad`` passed through every hook in order; a hook's non-None result replaces it."""
        for fn in list(self.fns):
            out = fn(grad)
            if out is not None:
                shape = getattr(out, "shape", None)
                if shape != grad.shape:
                    raise ValueError(f"a gradient hook of a tensor of shape {t.shape} returned shape {shape}; "
                                     "it must return None or a gradient of the same shape")
                grad = out
        return grad


class HookHandle:
    """Returned by :meth:`Tensor.register_hook` and ``Module.register_forward_hook``; ``remove()`` unregisters."""

    def __init__(self, owner, fn):
        self._owner, self._fn = owner, fn

    def remove(self) -> None:
        fns = self._owner.fns if isinstance(self._owner, Hooks) else self._owner
        if self._fn in fns:
            fns.remove(self._fn)
            _modes.bump_epoch()


def _numpy_name(func) -> str:
    module = getattr(func, "__module__", None) or "numpy"
    prefix = "np.linalg." if "linalg" in module else "np.fft." if module.startswith("numpy.fft") else "np."
    return prefix + getattr(func, "__name__", repr(func))


@functools.lru_cache(maxsize=None)
def _signature(f):
    return inspect.signature(f)


@functools.lru_cache(maxsize=None)
def _positional(f) -> tuple | None:
    """The names of ``f``'s positional parameters; None if it has none by name (``*operands``) or no signature."""
    try:
        params = _signature(f).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _numpy_arguments(f, func, args: tuple, kwargs: dict) -> tuple:
    """A NumPy call's arguments, read by NumPy's signature, for ``f`` that records it.

    Positional arguments stay positional while NumPy's parameter names and
    ``f``'s agree (``np.sum(t, 0)``); from the first that differs they are
    passed by NumPy's name (``np.sum(t, 0, None)``: ``dtype=None``, not our
    ``keepdims``).  NumPy's own arguments that ``f`` lacks (``out=``,
    ``dtype=``) are dropped when they hold NumPy's default, so
    ``np.sum(t, out=None)`` works; any other value is refused by name rather
    than ignored.
    """
    if len(args) > 1:
        theirs, ours = _positional(func), _positional(f)
        if theirs is not None and ours is not None:
            agree = 1
            while agree < len(args) and agree < min(len(theirs), len(ours)) and theirs[agree] == ours[agree]:
                agree += 1
            if agree < len(args):
                moved = dict(zip(theirs[agree:], args[agree:]))
                args, kwargs = args[:agree], {**kwargs, **moved}
    if kwargs:
        kwargs = _kwargs_for(f, func, kwargs)
    return args, kwargs


def _kwargs_for(f, func, kwargs: dict) -> dict:
    ours = _signature(f).parameters
    extra = [k for k in kwargs if k not in ours]
    if not extra:
        return kwargs
    try:
        defaults = {k: p.default for k, p in _signature(func).parameters.items()}
    except (TypeError, ValueError):
        defaults = {}
    refused = [k for k in extra if k not in defaults or not _is_default(kwargs[k], defaults[k])]
    if refused:
        raise TypeError(
            f"{_numpy_name(func)} on Tensors records microgradnp's {f.__name__}{_signature(f)}, which does not "
            f"take {', '.join(f'{k}={kwargs[k]!r}' for k in refused)}"
        )
    return {k: v for k, v in kwargs.items() if k in ours}


def _is_default(value, default) -> bool:
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except (TypeError, ValueError):
        return False


def _values(x):
    """``x`` with every Tensor replaced by its array, through lists, tuples and dicts."""
    if isinstance(x, Tensor):
        return x._data
    if x.__class__ in (list, tuple):
        return x.__class__(_values(v) for v in x)
    if isinstance(x, dict):
        return {k: _values(v) for k, v in x.items()}
    return x


def _read(x, func):
    """``x`` with every Tensor replaced by its values, as a NumPy function that reads them gets them.

    A tracer's values come through its trace (``vmap`` refuses: one example's
    values would be taken for all); inside ``mg.compile``'s trace the read is
    noted (the step runs eagerly: a replay would keep the traced values).
    """
    if isinstance(x, Tensor):
        if x._trace is not None:
            return x._trace.read(x, _numpy_name(func))
        if _modes.tracing:
            _modes.read_during_trace(x)
        return x._data
    if x.__class__ in (list, tuple):
        return x.__class__(_read(v, func) for v in x)
    if isinstance(x, dict):
        return {k: _read(v, func) for k, v in x.items()}
    return x


def _numpy_functions(*names) -> frozenset:
    return frozenset(f for f in (getattr(np, n, None) for n in names) if f is not None)


#: NumPy functions that look at shapes and dtypes only: on Tensors they run on the arrays.
_SHAPE_ONLY = _numpy_functions("shape", "ndim", "size", "result_type", "iscomplexobj", "isrealobj", "can_cast",
                               "min_scalar_type")

#: NumPy functions whose result carries no gradient but depends on values (comparisons, indices,
#: text): on Tensors they read the values (see ``_read``).
_VALUE_ONLY = _numpy_functions(
    "allclose", "isclose", "array_equal", "array_equiv", "nonzero", "flatnonzero", "argwhere", "count_nonzero",
    "searchsorted", "any", "all", "array_repr", "array_str", "array2string",
) | frozenset({np.linalg.matrix_rank})


def clear_grads(params, set_to_none: bool = True) -> None:
    """Clear the gradients of ``params``: the ``zero_grad`` of modules and optimizers.

    ``set_to_none=True`` sets each ``.grad`` to ``None``; otherwise, as in
    PyTorch, each existing gradient array is zeroed in place (references to it
    see the zeros), ``None`` stays ``None``, and a gradient that is a Tensor
    (after ``create_graph=True``) is replaced by zeros, cut from its graph.
    Inside ``mg.compile``'s trace, ``set_to_none=True`` is written into the
    code (one ``.grad = None`` each); zeroing in place is replayed as a call.
    """
    if _modes.tracing and set_to_none and _modes.traced_update() is not None:
        for p in params:
            p.grad = None  # the trace writes each into the step's code
        return
    _cleared(params, set_to_none)


@_modes.replayed
def _cleared(params, set_to_none: bool) -> None:
    """The gradients cleared, on the arrays (replayed whole by ``mg.compile``)."""
    for p in params:
        g = p._grad
        if set_to_none or g is None:
            p._grad = None
        elif isinstance(g, Tensor) or not g.flags.writeable:
            p._grad = np.zeros_like(p._data)
        else:
            g[...] = 0


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None) -> Tensor:
    """Make a Tensor (same as ``Tensor(data, ...)``, PyTorch's spelling); the data is copied.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.tensor([1, 2, 3])
    tensor([1., 2., 3.])
    >>> mg.tensor([1.0, 2.0], dtype="float32", requires_grad=True)
    tensor([1., 2.], dtype=float32, requires_grad=True)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def as_tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A Tensor over ``data`` without copying when it already is an array of a fitting dtype.

    A floating-point NumPy array (of ``dtype``, when given) is wrapped as it
    is: the Tensor and the array share memory.  A Tensor is returned as it is.
    Anything else is converted as :class:`Tensor` does (integers become
    float64, so they are copied).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> X = np.ones((5000, 400))
    >>> t = mg.as_tensor(X)
    >>> np.shares_memory(t.numpy(), X)
    True
    """
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        if requires_grad and not data.requires_grad:
            data.requires_grad_()
        return data
    t = _make(_to_array(data, dtype, requires_grad, copy=None))
    t.requires_grad = bool(requires_grad)
    return t


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap a NumPy array as a Tensor, sharing its memory and keeping its dtype (as PyTorch does).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> a = np.arange(3.0)
    >>> t = mg.from_numpy(a)
    >>> a[0] = 7.0
    >>> t
    tensor([7., 1., 2.])
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array, got {type(array).__name__}")
    _check_dtype(array.dtype, False, "a NumPy array")
    return _make(array.view(np.ndarray) if array.__class__ is not np.ndarray else array)
