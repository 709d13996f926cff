"""Module and Parameter: containers of trainable tensors, with PyTorch's names."""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Iterator

import numpy as np

from .. import _mode as _modes
from .._tensor import HookHandle, Tensor, clear_grads
from ..serialization import read_npz, write_npz

__all__ = ["Parameter", "Module"]


class Parameter(Tensor):
    """A Tensor that is a trainable part of a :class:`Module` (``requires_grad=True`` by default).

    Its ``name`` is its path in the outermost module it belongs to, such as
    ``"layers.0.weight"``: graph drawings use it.

    Examples
    --------
    >>> import microgradnp as mg
    >>> p = mg.nn.Parameter([1.0, 2.0])
    >>> p.requires_grad
    True
    """

    __slots__ = ()
    is_parameter = True

    def __init__(self, data, requires_grad: bool = True, dtype=None, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("tensor("):]


def _prefix(module: "Module", prefix: str) -> None:
    """Rename the parameters and modules below ``module`` as if it were attached at ``prefix``."""
    for name, p in module.named_parameters():
        p.name = f"{prefix}.{name}"
    for name, m in module.named_modules():
        object.__setattr__(m, "_name", f"{prefix}.{name}" if name else prefix)



def _copy_of(array):
    """A copy of a parameter's array, on its own library."""
    if isinstance(array, np.ndarray):
        return array.copy()
    from ..backends import namespace_of

    return namespace_of(array).copy(array)


def _numpy_values(array):
    """A state's array as NumPy: from another library (a torch model's state dict) by an explicit copy,
    since files and ``load_state_dict``'s checks are NumPy's."""
    if isinstance(array, np.ndarray) or not hasattr(type(array), "__dlpack__"):
        return np.asarray(array)
    from ..backends import to_numpy

    return to_numpy(array)

class Module:
    """Base class of layers and models.

    Assigning a :class:`Parameter` or a ``Module`` as an attribute registers
    it, so :meth:`parameters` finds it, in the order of assignment.  Subclasses
    define ``forward(*inputs)``; calling the module calls ``forward``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> class Affine(mg.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = mg.nn.Parameter([2.0])
    ...         self.shift = mg.nn.Parameter([0.5])
    ...     def forward(self, x):
    ...         return x * self.scale + self.shift
    >>> m = Affine()
    >>> [name for name, _ in m.named_parameters()]
    ['scale', 'shift']
    >>> m(mg.tensor([1.0, 2.0]))
    tensor([2.5, 4.5], op=add)
    """

    #: buffers a state_dict may lack (added to the class after states were saved): load_state_dict leaves them
    _optional_buffers: tuple = ()

    # Set in __init__ past __setattr__ (annotations alone, for type checkers).
    _parameters: OrderedDict
    _modules: OrderedDict
    _buffers: OrderedDict
    _name: str
    _hooks: dict

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_name", "")  # path in the outermost module, e.g. "layers.0"

    @property
    def path(self) -> str:
        """This module's path in the outermost module it belongs to (``"layers.0"``; ``""`` for the root)."""
        return self._name

    # -- registration ---------------------------------------------------

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call super().__init__() in {type(self).__name__}.__init__ before assigning attributes")
        if isinstance(value, (Parameter, Module)) and ("." in name or not name):
            # Paths join names with ".": "a.b" would collide with module a's b (PyTorch refuses it too).
            raise KeyError(f'{type(self).__name__}: a parameter or module name must be non-empty and free of ".", '
                           f"got {name!r}")
        _modes.bump_epoch()  # compiled steps check what they read of modules again
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if name in self.__dict__.get("_buffers", ()):
            if not isinstance(value, np.ndarray) and not hasattr(type(value), "__dlpack__"):  # (or a torch/CuPy one)
                raise TypeError(f"{type(self).__name__}.{name} is a buffer: assign an array")
            self._buffers[name] = value
        if isinstance(value, Parameter):
            self._parameters[name] = value
            value.name = name
        elif isinstance(value, Module):
            self._modules[name] = value
            _prefix(value, name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        _modes.bump_epoch()
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array) -> None:
        """Keep an array that is part of the module's state but not a parameter (BatchNorm's running mean).

        Buffers are saved by :meth:`state_dict` (after the parameters) and
        restored by :meth:`load_state_dict`; optimizers never see them.

        Examples
        --------
        >>> import numpy as np
        >>> import microgradnp as mg
        >>> m = mg.nn.Module()
        >>> m.register_buffer("count", np.zeros(1))
        >>> list(m.state_dict())
        ['count']
        """
        if "." in name or not name:
            raise KeyError(f'{type(self).__name__}: a buffer name must be non-empty and free of ".", got {name!r}')
        arr = np.array(array, copy=True)
        self._buffers[name] = arr
        object.__setattr__(self, name, arr)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """``(path, array)`` pairs of every buffer, depth first."""
        for name, b in self._buffers.items():
            yield (f"{prefix}.{name}" if prefix else name), b
        for name, m in self._modules.items():
            yield from m.named_buffers(f"{prefix}.{name}" if prefix else name)

    def add_module(self, name: str, module: "Module") -> None:
        """Register ``module`` under ``name`` (names need not be identifiers, e.g. ``"0"``)."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        self.__setattr__(str(name), module)

    # -- traversal ------------------------------------------------------

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(path, parameter)`` pairs, depth first in registration order, each parameter once."""
        seen: set[int] = set()
        for name, p in self._named_parameters(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _named_parameters(self, prefix: str):
        for name, p in self._parameters.items():
            yield (f"{prefix}.{name}" if prefix else name), p
        for name, m in self._modules.items():
            yield from m._named_parameters(f"{prefix}.{name}" if prefix else name)

    def to(self, library: str, device=None) -> "Module":
        """Move every parameter's value to another array library (and ``device``), in place; returns ``self``.

        ``model.to("torch")``, ``model.to("torch", device="cuda")``, ``model.to("numpy")``: each
        parameter keeps its identity (an optimizer made before still holds it) and its gradient is
        cleared; floating-point buffers (BatchNorm's running statistics) move too.

        Examples
        --------
        >>> import microgradnp as mg
        >>> m = mg.nn.Linear(2, 1)
        >>> m.to("numpy") is m
        True
        """
        from .. import backends

        def moved(values):
            values = backends.to_numpy(values)
            return values.copy() if library == "numpy" else backends.from_numpy(values, library, device=device)

        for p in self.parameters():
            p.data = moved(p._data)
            p.grad = None
        for _, m in self.named_modules():
            for name, b in list(m._buffers.items()):
                if backends.to_numpy(b).dtype.kind == "f":  # running statistics; counters stay Python-side NumPy
                    m._buffers[name] = moved(b)
                    object.__setattr__(m, name, m._buffers[name])
        return self

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter, in the order of :meth:`named_parameters`."""
        for _, p in self.named_parameters():
            yield p

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """``(path, module)`` pairs, this module first (with path ``""``)."""
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self) -> Iterator["Module"]:
        """The directly registered submodules."""
        yield from self._modules.values()

    # -- training helpers -----------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradients: set every ``.grad`` to ``None`` (the default), or zero it in place.

        ``set_to_none=False`` behaves as the optimizers' ``zero_grad`` does.
        """
        clear_grads(self.parameters(), set_to_none)

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (on this module and all below it); returns ``self``."""
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        _modes.bump_epoch()
        return self

    def eval(self) -> "Module":
        """Set evaluation mode; same as ``train(False)``."""
        return self.train(False)

    def num_parameters(self) -> int:
        """The number of scalar parameters."""
        return int(sum(p.size for p in self.parameters()))

    # -- calling ----------------------------------------------------------

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if _modes.tracing:
            _modes.note_module_call(self)  # mg.compile: the module's state (training, hooks, ...) is guarded
        hooks = self.__dict__.get("_hooks")
        if hooks and hooks["pre"]:
            for fn in list(hooks["pre"]):
                new = fn(self, args)
                if new is not None:
                    args = new if isinstance(new, tuple) else (new,)
        try:
            out = self.forward(*args, **kwargs)
        except (ValueError, TypeError, IndexError) as exc:
            located = self._located(exc)
            if located is exc:
                raise
            raise located from exc
        if hooks and hooks["post"]:
            for fn in list(hooks["post"]):
                new = fn(self, args, out)
                if new is not None:
                    out = new
        if (isinstance(out, Tensor) and not out.is_leaf and out.module_call is None
                and not any(out is a for a in args)):
            # Remember which module made this tensor from which inputs, so a
            # drawing can fold the module's operations into one box
            # (viz.to_dot(collapse="modules")).  The innermost module keeps
            # the tag (a Sequential returns its last layer's tensor).  Nothing
            # refers back to the output, so the graph is still freed by
            # reference counting.
            out.module_call = (self, tuple(id(a) for a in args if isinstance(a, Tensor)))
        return out

    def _same_dtype(self, x, like, what: str = "the input") -> None:
        """PyTorch's rule for every layer: its input has its parameters' dtype (NumPy would promote float32).

        The error is named by the layer (``layers.0 (Conv2d): ...``) when
        :meth:`__call__` passes it on.
        """
        dtype = getattr(x, "dtype", None)
        if like is not None and dtype is not None and dtype != like.dtype:
            raise TypeError(f"{what} is {dtype} but the layer's weights are {like.dtype}; convert {what} "
                            f"(x.astype(np.{like.dtype})) or the layer, as PyTorch requires")

    def _located(self, exc: Exception) -> Exception:
        """``exc`` with this module named in front, as ``layers.2 (Conv2d): ...``, once (by the innermost module)."""
        msg = str(exc)
        name = type(self).__name__
        if getattr(exc, "module_located", False) or type(exc) not in (ValueError, TypeError, IndexError):
            return exc
        if f"({name}" not in msg:  # the layer did not name itself already
            where = f"{self.path} ({name})" if self.path else f"({name})"
            exc = type(exc)(f"{where}: {msg}")
        exc.module_located = True  # the modules around this one leave it as it is
        return exc

    def register_forward_pre_hook(self, hook) -> HookHandle:
        """Call ``hook(module, args)`` before each forward; a non-None result replaces the arguments.

        Examples
        --------
        >>> import microgradnp as mg
        >>> layer = mg.nn.Tanh()
        >>> handle = layer.register_forward_pre_hook(lambda m, args: (args[0] * 0.0,))
        >>> layer(mg.tensor([5.0]))
        tensor([0.])
        >>> handle.remove()
        """
        return self._add_hook("pre", hook)

    def register_forward_hook(self, hook) -> HookHandle:
        """Call ``hook(module, args, output)`` after each forward; a non-None result replaces the output.

        Useful to record activations (a feature extractor) or to check them.

        Examples
        --------
        >>> import microgradnp as mg
        >>> model = mg.nn.MLP([2, 3, 1])
        >>> seen = {}
        >>> handle = model.layers[0].register_forward_hook(lambda m, args, out: seen.update(hidden=out.shape))
        >>> _ = model(mg.ones(4, 2))
        >>> seen
        {'hidden': (4, 3)}
        """
        return self._add_hook("post", hook)

    def _add_hook(self, kind: str, hook) -> HookHandle:
        if not callable(hook):
            raise TypeError(f"expected a callable hook, got {type(hook).__name__}")
        if "_hooks" not in self.__dict__:
            object.__setattr__(self, "_hooks", {"pre": [], "post": []})
        self._hooks[kind].append(hook)
        _modes.bump_epoch()
        return HookHandle(self._hooks[kind], hook)

    # -- state ------------------------------------------------------------

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """A copy of every parameter's array, keyed by its path.

        Examples
        --------
        >>> import microgradnp as mg
        >>> list(mg.nn.Linear(2, 3, rng=0).state_dict())
        ['weight', 'bias']
        """
        state = OrderedDict((name, _copy_of(p.data)) for name, p in self.named_parameters())
        state.update((name, b.copy()) for name, b in self.named_buffers())
        return state

    def load_state_dict(self, state, strict: bool = True) -> None:
        """Copy arrays from ``state`` into the parameters of the same path.

        Every shape must match; a mismatch raises ``ValueError`` naming the
        parameter and both shapes.  With ``strict=True`` (the default) missing
        or unexpected keys raise ``KeyError`` listing them.  Nothing is
        changed unless everything fits.
        """
        params = OrderedDict(self.named_parameters())
        params.update(self.named_buffers())
        if strict:
            optional = {f"{prefix}.{b}" if prefix else b for prefix, m in self.named_modules() for b in m._optional_buffers}
            missing = [k for k in params if k not in state and k not in optional]
            unexpected = [k for k in state if k not in params]
            if missing or unexpected:
                raise KeyError(
                    f"load_state_dict: missing parameters {missing}, unexpected keys {unexpected} "
                    f"for {type(self).__name__}"
                )
        staged = []
        for name, p in params.items():
            if name not in state:
                continue
            arr = _numpy_values(state[name])
            if tuple(p.shape) != arr.shape:
                raise ValueError(
                    f"load_state_dict: parameter {name!r} has shape {p.shape} in the model but "
                    f"{arr.shape} in the state"
                )
            if arr.dtype.kind not in "fiu":
                raise TypeError(f"load_state_dict: parameter {name!r} holds {arr.dtype} data, not numbers")
            staged.append((p, arr))
        for p, arr in staged:
            if isinstance(p, Tensor) and p.library != "numpy":  # the values go to the parameter's library
                from .. import backends

                p.data = backends.from_numpy(arr.astype(backends.to_numpy(p._data).dtype), p.library, device=p.device)
                continue
            (p.data if isinstance(p, Tensor) else p)[...] = arr

    def save(self, path) -> None:
        """Write the parameters to an ``.npz`` file (plain arrays, no pickle).

        Examples
        --------
        >>> import os, tempfile
        >>> import microgradnp as mg
        >>> model = mg.nn.MLP([2, 3, 1], rng=0)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
        >>> model.save(path)
        >>> other = mg.nn.MLP([2, 3, 1], rng=1)
        >>> other.load(path)
        >>> bool((other.layers[0].weight.data == model.layers[0].weight.data).all())
        True
        """
        state = OrderedDict()
        for name, arr in [(n, _numpy_values(p.data)) for n, p in self.named_parameters()] + list(self.named_buffers()):
            if name in state:  # cannot happen with names free of "."; never drop a parameter silently
                raise ValueError(f"save: two parameters share the path {name!r}; rename one of them")
            state[name] = arr
        write_npz(os.fspath(path), state)

    def load(self, path, strict: bool = True) -> None:
        """Load parameters written by :meth:`save`.

        The file is read with ``allow_pickle=False``: loading a file can never
        run code.  Shapes are checked as in :meth:`load_state_dict`.  A file
        that is empty, truncated, a single ``.npy`` array or not NumPy data at
        all raises ``ValueError`` saying which.
        """
        shapes = {name: np.shape(p) for name, p in self.named_parameters()}
        shapes.update((name, np.shape(b)) for name, b in self.named_buffers())
        state = read_npz(os.fspath(path), shapes, "load")
        self.load_state_dict(state, strict=strict)

    # -- repr -------------------------------------------------------------

    def extra_repr(self) -> str:
        """Arguments shown in ``repr``; override in subclasses."""
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        if self._modules:
            lines[0] = lines[0]
            for name, m in self._modules.items():
                child = repr(m).replace("\n", "\n  ")
                lines.append(f"  ({name}): {child}")
            return "\n".join(lines) + "\n)"
        return lines[0] + ")"
