"""The public functions and the Tensor's methods, operators and ufunc table, made from the op registry.

Nothing here is written per op: for every registry entry this module makes
the public function (the entry's adapter gives its name, signature and
docstring), installs it on :class:`~microgradnp._tensor.Tensor` under the
method, property and operator names the entry lists, routes the NumPy ufuncs
it names and the NumPy function of the same name (``np.sum`` on a Tensor
records ``sum``), and adds it to ``__all__`` (or to its sub-namespace,
``mg.linalg``).  Adding an op to an ``ops/*.py`` file is
therefore all it takes to get ``mg.<name>``, ``x.<name>()`` and its operator.
"""

from __future__ import annotations

import numpy as np

from . import _mode as _modes
from . import engine
from ._tensor import Tensor, mark_written
from .engine import function, is_recording
from .ops import REGISTRY

#: Public name -> function, for every op (exported or not).
FUNCTIONS: dict = {}

#: Sub-namespace -> {public name: function}, for the ops that live in one (``"linalg"``).
NAMESPACES: dict = {}

#: The in-place operator made from each arithmetic operator.
_INPLACE = {"__add__": "__iadd__", "__sub__": "__isub__", "__mul__": "__imul__", "__truediv__": "__itruediv__",
            "__pow__": "__ipow__", "__mod__": "__imod__"}


def _reflected(f):
    """``other OP self`` for a reflected operator (``__radd__``)."""
    def method(self, other):
        return f(other, self)

    method.__name__ = method.__qualname__ = f"reflected_{f.__name__}"
    return method


def _inplace(f, name: str):
    """``t OP= other``, as PyTorch does it.

    Under ``no_grad`` (or when nothing requires grad) the result is written
    into ``t``'s memory and ``t`` is stamped as written.  With grad mode on,
    a leaf that requires grad refuses (PyTorch's rule: an optimizer step
    belongs in ``no_grad``); any other tensor gets the recorded result, out
    of place, and the name is rebound to it.
    """
    def method(self, other):
        if is_recording(self, other):
            if self._op is None and self.requires_grad:
                raise RuntimeError(
                    f"a leaf tensor that requires grad is used in an in-place operation ({name}); "
                    "update parameters inside `with mg.no_grad():` (as an optimizer step does)"
                )
            return f(self, other)
        res = f(self, other)
        result = res._data
        try:
            self._data[...] = result
        except ValueError as exc:
            raise ValueError(
                f"{name}: cannot write a result of shape {result.shape} into a tensor of shape "
                f"{self._data.shape} in place ({exc})"
            ) from exc
        mark_written(self)
        if _modes.tracing and _modes.records_backward():
            _modes._mode.tracer.on_write(self, res)  # mg.compile replays the write
        return self

    method.__name__ = method.__qualname__ = name
    return method


def _backward(self, grad=None, retain_graph: bool | None = None, create_graph: bool = False,
              record_grad_norms: bool = False) -> None:
    """Accumulate the gradient of this tensor into the ``.grad`` of every leaf it depends on.

    Parameters
    ----------
    grad
        Upstream gradient, same shape as this tensor.  May be omitted for
        a one-element tensor (it is then 1).
    retain_graph
        Keep the saved arrays so the graph can be differentiated again
        (default: ``create_graph``, as in PyTorch).
    create_graph
        Record the backward pass (``.grad`` becomes a differentiable
        Tensor), for higher-order derivatives.
    record_grad_norms
        Note the norm of every gradient the pass computes, interior tensors'
        included (:attr:`Tensor.grad_norm`): a drawing made afterwards shows
        the whole gradient flow.

    Examples
    --------
    >>> import microgradnp as mg
    >>> a = mg.tensor(3.0, requires_grad=True)
    >>> (a * a + a).backward()
    >>> a.grad
    array(7.)
    """
    engine.backward(self, grad, retain_graph, create_graph, record_grad_norms)


_backward.__name__ = _backward.__qualname__ = "backward"


def _to(self, library: str, device=None) -> Tensor:
    """This tensor's value on another array library (and ``device``): ``t.to("torch")``,
    ``t.to("torch", device="cuda")``, ``t.to("numpy")``; ``self`` when it is there already.

    An explicit copy, differentiable as PyTorch's ``Tensor.to``: for a tensor that requires grad the
    result is recorded and the gradient is copied back to this tensor's library in the backward pass
    (so the result is not a leaf: make a leaf on the library with ``mg.tensor(array_of_it,
    requires_grad=True)`` or ``t.detach().to(...).requires_grad_()``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> x.to("numpy") is x
    True
    """
    if library == self.library and device is None:
        return self
    return engine.to_library(self, library, device)


_to.__name__ = _to.__qualname__ = "to"


def implements(numpy_function):
    """Route ``numpy_function`` called on Tensors to the decorated function (``Tensor.__array_function__``).

    The registry's functions are routed by :func:`_install`; the functions
    written on top of them (``mg.split``, ``mg.linalg.norm``) use this.
    """
    def register(f):
        Tensor._functions[numpy_function] = f
        return f

    return register


def _numpy_twin(name: str, namespace: str | None):
    """The NumPy function of the same name (``np.sum``, ``np.linalg.inv``), if it dispatches on Tensors."""
    home = np if namespace is None else getattr(np, namespace, None)
    f = getattr(home, name, None)
    return f if callable(f) and not isinstance(f, np.ufunc) and hasattr(f, "_implementation") else None


def _install() -> list[str]:
    exported = []
    for op in REGISTRY.values():
        f = function(op)
        for name in (f.__name__,) + op.aliases:
            FUNCTIONS[name] = f
            if op.namespace is not None:
                NAMESPACES.setdefault(op.namespace, {})[name] = f
            else:
                globals()[name] = f
                if op.public:
                    exported.append(name)
            if op.public and (twin := _numpy_twin(name, op.namespace)) is not None:
                Tensor._functions[twin] = f
        for name in op.methods:
            setattr(Tensor, name, f)
        for name in op.properties:
            setattr(Tensor, name, property(f, doc=f"``{f.__name__}(x)`` as a property."))
        for name in op.operators:
            setattr(Tensor, name, _reflected(f) if name.startswith("__r") else f)
            if name in _INPLACE:
                setattr(Tensor, _INPLACE[name], _inplace(f, _INPLACE[name]))
        for name in op.ufuncs:
            Tensor._ufuncs[getattr(np, name)] = f
    Tensor.backward = _backward
    Tensor.to = _to
    return exported


__all__ = _install()
