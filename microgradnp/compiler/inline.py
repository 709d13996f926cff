"""Inlining: an op's forward written into the generated code as one expression, instead of a call.

Used by the ``inline`` pass (``passes.py``).  The forward's source is parsed
once per function (``ast``); its parameters are replaced by the generated
code's operands, the names it reads by constants of the generated code's
namespace, and a conditional on the operands' dtype, shape or ndim is decided
from the traced values (the guards keep them the same).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap

import numpy as np

from ..ops import xp

__all__ = ["Inliner"]


class Inliner:
    """A function's one ``return`` expression, with its parameters replaced by the generated code's operands.

    Forwards written as ``lambda xp, a: xp.maximum(a, 0.0)`` and namespace
    functions of one line (``xp.sum``, ``xp.reshape``) then cost no Python
    call of their own at replay: about 0.15 us each, a third of what a small
    NumPy call costs.  A conditional on the operands' dtype, shape or ndim
    (``expit(x) if x.dtype is not _HALF else ...``) is decided here, from the
    traced values, which the guards keep the same.  Functions of more than
    one statement, or with ``*args``, stay calls.
    """

    _cache: dict = {}

    def __init__(self, writer):  # an ir.Namespace
        self.w = writer

    @classmethod
    def _tree(cls, fn):
        """``(parameter names, defaults, return expression)`` of ``fn``, or None."""
        code = getattr(fn, "__code__", None)
        if code is None or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
            return None
        if code in cls._cache:
            return cls._cache[code]
        found = None
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError):
            tree = None
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.Lambda) and fn.__name__ == "<lambda>":
                if _same_code(node, code, fn):
                    found = (node.args, node.body)
                    break
            elif isinstance(node, ast.FunctionDef) and node.name == fn.__name__:
                body = node.body[1:] if ast.get_docstring(node) is not None else node.body
                if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
                    found = (node.args, body[0].value)
                break
        if found is not None:
            args, body = found
            if args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg or any(
                    isinstance(n, (ast.Lambda, ast.NamedExpr, ast.comprehension, ast.Yield, ast.Await))
                    for n in ast.walk(body)):
                found = None
            else:
                found = ([a.arg for a in args.args], dict(zip([a.arg for a in args.args][::-1], fn.__defaults__[::-1]
                                                               if fn.__defaults__ else ())), body)
        cls._cache[code] = found
        return found

    def expression(self, fn, operands: list, values: list, depth: int = 0) -> str | None:
        """Source of ``fn(*operands)``; ``operands`` are source strings (names or literals), ``values`` the traced values."""
        tree = self._tree(fn)
        if tree is None:
            return None
        names, defaults, body = tree
        bound = self._bind(names, defaults, operands, values)
        if bound is None:
            return None
        closure = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__ or ())))
        free = self._free(body, fn, closure, bound[0])
        if free is None:
            return None
        new = _Substitute(self, fn, bound[0], bound[1], free, closure, depth).visit(ast.parse(ast.unparse(body), mode="eval").body)
        return f"({ast.unparse(new)})"

    def _bind(self, names: list, defaults: dict, operands: list, values: list) -> tuple[dict, dict] | None:
        """``(source, value)`` of each parameter by name, as two dicts; None where one has neither."""
        if len(operands) > len(names):
            return None
        bound, known = {}, {}
        for i, name in enumerate(names):
            if i < len(operands):
                bound[name], known[name] = operands[i], values[i]
            elif name in defaults:
                bound[name], known[name] = self.w.constant(defaults[name], name), defaults[name]
            else:
                return None
        return bound, known

    def _free(self, body, fn, closure: dict, bound: dict):
        """The generated code's name of each free name of ``body`` (a cell or a global); None for an unknown one."""
        free = {}
        for node in ast.walk(body):
            if isinstance(node, ast.Name) and node.id not in bound and node.id not in free:
                if node.id in closure:
                    free[node.id] = self.w.constant(closure[node.id], node.id)
                elif node.id in fn.__globals__:
                    free[node.id] = self.w.constant(fn.__globals__[node.id], node.id)
                elif not hasattr(builtins, node.id):
                    return None
        return free


class _Substitute(ast.NodeTransformer):
    """The body of ``fn`` with its parameters, free names and decidable conditionals replaced."""

    def __init__(self, inliner: Inliner, fn, bound: dict, known: dict, free: dict, closure: dict, depth: int):
        self.inliner, self.fn, self.bound, self.known = inliner, fn, bound, known
        self.free, self.closure, self.depth = free, closure, depth

    def visit_IfExp(self, node):
        decided = _decide(node.test, self.known, self.fn, self.closure)
        if decided is None:
            return self.generic_visit(node)
        return self.visit(node.body if decided else node.orelse)

    def visit_Name(self, node):
        if node.id in self.bound:
            return ast.parse(self.bound[node.id], mode="eval").body
        if node.id in self.free:
            return ast.Name(self.free[node.id], ast.Load())
        return node

    def visit_Call(self, node):
        """A call of a one-expression namespace function (``xp.sum``) on simple operands: inlined too."""
        node = self.generic_visit(node)
        namespace = self.inliner.w.namespace
        target = _resolve(node.func, namespace) if self.depth < 2 else None
        if target is None or isinstance(target, np.ufunc) or not all(
                _simple(a) for a in [*node.args, *(k.value for k in node.keywords)]):
            return node
        tree = Inliner._tree(target)
        if tree is None or any(k.arg not in tree[0][len(node.args):] for k in node.keywords):
            return node
        given = dict(zip(tree[0], node.args)) | {k.arg: k.value for k in node.keywords}
        names = [n for n in tree[0] if n in given]
        if names != tree[0][:len(names)]:
            return node  # a parameter skipped before one given: leave the call
        inner = self.inliner.expression(target, [ast.unparse(given[n]) for n in names],
                                        [_known(given[n], self.known, self.bound, namespace) for n in names],
                                        self.depth + 1)
        return node if inner is None else ast.parse(inner, mode="eval").body


def _same_code(node: ast.Lambda, code, fn) -> bool:
    try:
        compiled = builtins.compile(ast.Expression(node), "<inline>", "eval")
    except (SyntaxError, ValueError):
        return False
    lam = next((c for c in compiled.co_consts if hasattr(c, "co_code")), None)
    return lam is not None and lam.co_code == code.co_code and lam.co_varnames == code.co_varnames


_ATTRIBUTE_TYPES = (type(None), bool, int, str, tuple)  # axis=, keepdims=, reduction=: fixed in the generated code


def _decide(test, known: dict, fn, closure: dict):
    """The value of ``test`` when it reads only the operands' dtype, shape, ndim or size, and constants
    (an op's attributes, fixed in the generated code); else None."""
    for node in ast.walk(test):
        if isinstance(node, ast.Name) and node.id in known and not isinstance(known[node.id], _ATTRIBUTE_TYPES):
            parent_ok = any(isinstance(p, ast.Attribute) and p.value is node and p.attr in ("dtype", "shape", "ndim", "size")
                            for p in ast.walk(test))
            if not parent_ok:
                return None
        if isinstance(node, ast.Call):
            return None
    try:
        scope = {**fn.__globals__, **closure, **known}
        return bool(eval(builtins.compile(ast.Expression(test), "<inline>", "eval"), scope))  # noqa: S307
    except Exception:
        return None


def _resolve(func, namespace: dict):
    """The function a call's ``xp.name`` (or a name) refers to in the generated code, or None."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        owner = namespace.get(func.value.id)
        return getattr(owner, func.attr, None) if owner is xp else None
    return None


def _simple(node) -> bool:
    """A name, a constant, or a tuple of them: safe to repeat where a parameter appears."""
    if isinstance(node, ast.Tuple):
        return all(_simple(e) for e in node.elts)
    return isinstance(node, (ast.Name, ast.Constant))


def _known(arg, known: dict, bound: dict, namespace: dict):
    if isinstance(arg, (ast.Constant, ast.Tuple)):
        try:
            return ast.literal_eval(arg)
        except ValueError:
            return None
    for name, src in bound.items():
        if src == arg.id:
            return known[name]
    return namespace.get(arg.id)
