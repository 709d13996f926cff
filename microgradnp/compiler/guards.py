"""Guards on the world a compiled step read: where each object came from, checked again before every replay.

A trace reads more than its arguments: tensors from the function's closure
and globals (a model's parameters), the modules it called (their
``training`` flag, their buffers, their attributes), the optimizer whose
``step()`` it replays, Python numbers (``cfg["lr"]``).  The replay holds on to
what the trace saw; if the program the user wrote would now read something
else (``g["w"] = new_tensor``, ``model.weight = Parameter(...)``,
``dropout.train()``, ``opt = SGD(...)``, ``cfg["s"] = 10.0``), replaying would
compute with a stale world.

:class:`World` finds, for each object the trace read, a *path* from the
function's roots (its closure cells, the globals and attributes its code names,
its default arguments, a bound method's ``self``) and writes the checks as
Python expressions for the generated function:

* **every call**: the identity of each object at the end of a path through
  cells, globals, dicts and lists (whose changes nothing notices), and the
  value of each Python number in the dicts and cells the function reads;
* **when the module world changed** (``_mode.epoch``, bumped by a module's
  attribute assignment, ``train()``/``eval()``, a hook registered or removed):
  the identity of each object behind a module attribute, each called module's
  ``training`` flag, numbers and arrays, and that no hook appeared.

An object the trace read but no path reaches cannot be guarded: the step then
runs eagerly, with a warning saying so (never a stale replay).
"""

from __future__ import annotations

import functools
import math
import os
import sysconfig
import types
from collections import deque

import numpy as np

from ..tensor import Hooks, Tensor

__all__ = ["World", "equal_check", "module_checks", "tensor_checks"]

#: How deep and how wide the search for paths goes.
MAX_DEPTH = 8
MAX_OBJECTS = 20000
MAX_PATHS = 4
#: A dict or an object with more numbers than this has its numbers guarded only where the trace used them.
MAX_SCALARS = 16

_SCALARS = (bool, int, float, str, type(None))


def _is_scalar(x) -> bool:
    return type(x) in _SCALARS and not (type(x) is float and not math.isfinite(x))


def _code_names(fn) -> set:
    """The names a function's code (and the code nested in it) reads: globals and attributes."""
    names, stack = set(), [fn.__code__]
    while stack:
        code = stack.pop()
        names |= set(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def _library_paths() -> tuple:
    paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # microgradnp itself
    return tuple(os.path.join(p, "") for p in paths)


_LIBRARY = _library_paths()


def _user_function(fn) -> bool:
    """A function of the user's code (not of microgradnp, the standard library or an installed package)."""
    filename = getattr(fn.__code__, "co_filename", "")
    return not os.path.abspath(filename).startswith(_LIBRARY)


def _is_module_object(x) -> bool:
    """An ``nn.Module`` (by duck type: guards live below ``nn``)."""
    return hasattr(x, "_parameters") and hasattr(x, "_modules") and hasattr(x, "training")


class _Path:
    """A way from a root to an object: ``steps`` of (kind, key); ``behind_module``: goes through a module attribute."""

    __slots__ = ("root", "steps", "behind_module")

    def __init__(self, root: str, steps: tuple, behind_module: bool):
        self.root, self.steps, self.behind_module = root, steps, behind_module

    def expression(self) -> str:
        src = self.root
        for kind, key in self.steps:
            src = f"{src}[{key!r}]" if kind == "item" else f"{src}.{key}"
        return src


class World:
    """The roots of ``fn`` and the paths from them to the objects a trace read (see the module docstring)."""

    def __init__(self, fn, constant):
        """``constant(obj, stem)`` names an object in the generated code's namespace."""
        self.constant = constant
        self.roots: list[tuple[str, object]] = []  # (expression, object)
        self.names: set = set()
        self._root_of(fn, "fn")

    def _root_of(self, fn, label: str) -> None:
        if isinstance(fn, functools.partial):  # its arguments, then its function
            name = self.constant(fn, "PARTIAL")
            self.roots += [(f"{name}.args[{i}]", a) for i, a in enumerate(fn.args)]
            self.roots += [(f"{name}.keywords[{k!r}]", v) for k, v in fn.keywords.items()]
            self._root_of(fn.func, label)
            return
        target = getattr(fn, "__func__", fn)  # a bound method: its function, and self below
        self_obj = getattr(fn, "__self__", None)
        if self_obj is not None and not isinstance(self_obj, types.ModuleType):
            self.roots.append((self.constant(self_obj, "SELF"), self_obj))
        if not isinstance(target, types.FunctionType):
            if not isinstance(fn, types.BuiltinFunctionType):  # a callable object (a Module): itself
                self.roots.append((self.constant(fn, "CALLABLE"), fn))
            return
        self.names |= _code_names(target)
        for name, cell in zip(target.__code__.co_freevars, target.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            self.roots.append((f"{self.constant(cell, 'CELL_' + name)}.cell_contents", value))
        globals_ = self.constant(target.__globals__, "GLOBALS")
        for name in sorted(self.names & set(target.__globals__)):
            self.roots.append((f"{globals_}[{name!r}]", target.__globals__[name]))
        for i, value in enumerate(target.__defaults__ or ()):
            self.roots.append((f"{self.constant(target, 'FN')}.__defaults__[{i}]", value))

    def _children(self, obj):
        """``(kind, key, child, through_module)`` for what a path may go through next."""
        if isinstance(obj, dict):
            for k, v in list(obj.items())[:4096]:
                if isinstance(k, (str, int)):
                    yield "item", k, v, False
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj[:4096]):
                yield "item", i, v, False
        elif isinstance(obj, types.ModuleType):
            for name in sorted(self.names):
                if name in vars(obj):
                    yield "attr", name, vars(obj)[name], False
        elif isinstance(obj, types.FunctionType):
            return  # a helper function's cells and globals become roots of their own (see paths)
        elif hasattr(obj, "__dict__") and not isinstance(obj, (type, Tensor, np.ndarray)):
            module = _is_module_object(obj)
            for k, v in list(vars(obj).items()):
                if isinstance(k, str) and k.isidentifier() and not k.startswith("__"):
                    yield "attr", k, v, module

    def paths(self, wanted: dict) -> dict:
        """``{id(obj): [_Path, ...]}``: the ways (up to ``MAX_PATHS``, shortest first) to the objects of ``wanted``.

        Every way is guarded: the function may read an object through any of
        them (``W1`` in the forward, ``params[0]`` in the update loop).
        """
        found: dict = {}
        seen = {id(v) for _, v in self.roots}
        queue = deque((_Path(expr, (), False), v, 0) for expr, v in self.roots)
        for path, v, _ in queue:
            if id(v) in wanted:
                found.setdefault(id(v), []).append(path)
        visited = 0
        functions = [v for _, v in self.roots if isinstance(v, types.FunctionType) and _user_function(v)][::-1]
        while queue and visited < MAX_OBJECTS:
            path, obj, depth = queue.popleft()
            visited += 1
            if depth >= MAX_DEPTH or isinstance(obj, (Tensor, np.ndarray) + _SCALARS):
                continue
            for kind, key, child, module in self._children(obj):
                step = _Path(path.root, path.steps + ((kind, key),), path.behind_module or module)
                if id(child) in wanted and len(found.setdefault(id(child), [])) < MAX_PATHS:
                    found[id(child)].append(step)
                if id(child) in seen:
                    continue
                seen.add(id(child))
                if isinstance(child, types.FunctionType) and _user_function(child):
                    functions.append(child)
                queue.append((step, child, depth + 1))
            if not queue and functions:  # helper functions the step calls: their own roots, searched next
                fn = functions.pop()
                before = len(self.roots)
                self._root_of(fn, "helper")
                for expr, v in self.roots[before:]:
                    if id(v) in wanted and len(found.setdefault(id(v), [])) < MAX_PATHS:
                        found[id(v)].append(_Path(expr, (), False))
                    if id(v) not in seen:
                        seen.add(id(v))
                        queue.append((_Path(expr, (), False), v, 1))
        return {k: v for k, v in found.items() if v}

    def scalar_guards(self) -> list:
        """Checks of the Python numbers the function may read at its roots: a cell or global, a dict's entries."""
        checks = []
        for expr, v in self.roots:
            if _is_scalar(v):
                checks.append(equal_check(expr, v, self.constant))
            elif isinstance(v, dict):
                scalars = [(k, x) for k, x in v.items() if isinstance(k, (str, int)) and _is_scalar(x)]
                if len(scalars) <= MAX_SCALARS:
                    checks += [equal_check(f"{expr}[{k!r}]", x, self.constant) for k, x in scalars]
        return checks


def equal_check(expr: str, value, constant) -> str:
    """The generated test that ``expr`` no longer holds ``value`` (same type, same value)."""
    if value is None or value is True or value is False:
        return f"{expr} is not {value!r}"
    return f"{expr}.__class__ is not {constant(type(value), type(value).__name__)} or {expr} != {value!r}"


def module_checks(module, name: str, constant) -> list:
    """Checks of what a called module's forward may read besides its parameters: flags, numbers, arrays, hooks."""
    checks = [f"{name}.training is not {module.training!r}"]
    scalars = [(k, v) for k, v in vars(module).items() if k != "training" and not k.startswith("_") and _is_scalar(v)]
    if len(scalars) <= MAX_SCALARS:
        checks += [equal_check(f"{name}.{k}", v, constant) for k, v in scalars]
    for k, v in vars(module).items():
        if isinstance(v, np.ndarray) and not k.startswith("__"):  # buffers: constants of the trace
            checks.append(f"{name}.{k} is not {constant(v, k)}")
    checks.append(f"{name}.__dict__.get('_hooks') and ({name}._hooks['pre'] or {name}._hooks['post'])")
    return checks


def tensor_checks(t: Tensor, name: str) -> list:
    """A tensor the replay reads keeps no gradient hook it did not have (the trace refuses hooks)."""
    return [f"{name}._retain.__class__ is HOOKS and {name}._retain.fns"] if not isinstance(t._retain, Hooks) \
        or not t._retain.fns else []
