"""Structures of inputs and outputs: tuples, lists, dicts (and named tuples) of tensors, as pytrees.

A transform takes and returns such structures (a parameter dict, a tuple of
outputs): :func:`flatten` lists the leaves in a fixed order with a spec to
rebuild the structure (:func:`unflatten`); :func:`broadcast_prefix` spreads a
per-argument setting (``vmap``'s ``in_axes``) over the leaves below it.
"""

from __future__ import annotations

from .._tensor import foreign_library

__all__ = ["flatten", "unflatten", "count", "broadcast_prefix", "numpy_only"]

LEAF = None
NONE = ("none",)  # the spec of None, no leaves (JAX rule: fwd may return None residuals); compared by ==, specs are copied


def _is_node(x) -> bool:
    return isinstance(x, (tuple, list, dict))


def flatten(tree) -> tuple[list, object]:
    """The leaves of a tuple/list/dict structure, in order, and the spec to rebuild it (``None`` has none)."""
    if tree is None:
        return [], NONE
    if isinstance(tree, (tuple, list)):
        parts = [flatten(x) for x in tree]
        return [leaf for leaves, _ in parts for leaf in leaves], (type(tree), None, [spec for _, spec in parts])
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [flatten(tree[k]) for k in keys]
        return [leaf for leaves, _ in parts for leaf in leaves], (type(tree), keys, [spec for _, spec in parts])
    return [tree], LEAF


def count(spec) -> int:
    """How many leaves the structure ``spec`` has."""
    if spec == NONE:
        return 0
    return 1 if spec is LEAF else sum(count(s) for s in spec[2])


def unflatten(spec, leaves):
    """Rebuild the structure ``spec`` with ``leaves`` in order."""
    it = iter(leaves)

    def build(s):
        if s is LEAF:
            return next(it)
        if s == NONE:
            return None
        kind, keys, children = s
        items = [build(c) for c in children]
        if keys is not None:
            return kind(zip(keys, items))
        if hasattr(kind, "_fields"):  # a named tuple
            return kind(*items)
        return kind(items)

    return build(spec)


def broadcast_prefix(prefix, tree, who: str, what: str) -> list:
    """One setting per leaf of ``tree``, from ``prefix``: a structure that is a prefix of ``tree``.

    A leaf of ``prefix`` (an int or ``None``) holds for every leaf of
    ``tree`` below it, as JAX's ``in_axes`` does: ``(0, {"w": None, "b": 0})``
    for arguments ``(x, params)``.
    """
    out: list = []

    def walk(p, t, path):
        if not _is_node(p):
            out.extend([p] * len(flatten(t)[0]))
            return
        if isinstance(p, dict):
            if not isinstance(t, dict) or set(p) != set(t):
                raise ValueError(f"{who}: {what} {_show(p)} at {path or 'the top'} does not match the argument "
                                 f"{_show(t)}: give one entry per key, or one value for the whole argument")
            for k in t:  # the argument's order: the order its leaves are flattened in
                walk(p[k], t[k], f"{path}[{k!r}]")
            return
        if not isinstance(t, (tuple, list)) or len(p) != len(t):
            raise ValueError(f"{who}: {what} {_show(p)} at {path or 'the top'} does not match the argument "
                             f"{_show(t)}: give one entry per element, or one value for the whole argument")
        for i, (pi, ti) in enumerate(zip(p, t)):
            walk(pi, ti, f"{path}[{i}]")

    walk(prefix, tree, "")
    return out


def _show(x) -> str:
    if isinstance(x, dict):
        return "a dict with keys " + repr(sorted(map(str, x)))
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {len(x)}"
    return repr(x) if x is None or isinstance(x, int) else f"a {type(x).__name__}"


def numpy_only(who: str, *trees) -> None:
    """Refuse by name a tensor of another array library given to ``who``, which runs on NumPy only
    (SciPy's solvers and integrators compute on NumPy arrays)."""
    for tree in trees:
        for leaf in flatten(tree)[0]:
            library = foreign_library(getattr(leaf, "_data", leaf))
            if library is not None:
                raise TypeError(
                    f"{who}: got a tensor on {library}; {who} runs its solver on NumPy arrays (SciPy's), and "
                    f"microgradnp never converts silently: pass t.to('numpy') and move the result back with "
                    f".to({library!r})")
