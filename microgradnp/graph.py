"""Reading a recorded graph: the public interface that drawings, layers and tools build on.

A Tensor shows its place in the graph through read-only properties:
``t.op`` (the registry name, ``None`` for a leaf), ``t.op_attrs``,
``t.parents`` (the op's inputs, Tensors and constants, in order),
``t.is_leaf``, ``t.released`` (the saved arrays were freed by a backward
pass) and ``t.module_call`` (which ``nn.Module`` call returned it).  This
module walks graphs with them, iteratively (a graph of a million nodes is
fine) and in a deterministic order.
"""

from __future__ import annotations

from collections import deque
from typing import Iterator

from ._tensor import Tensor

__all__ = ["walk", "count", "tensor_parents"]


def tensor_parents(t: Tensor) -> tuple:
    """The inputs of ``t``'s op that are Tensors, in order.

    Examples
    --------
    >>> import microgradnp as mg
    >>> a = mg.tensor(1.0, requires_grad=True)
    >>> [p is a for p in mg.graph.tensor_parents(a * 2.0)]
    [True]
    """
    return tuple(p for p in t.parents if isinstance(p, Tensor))


def walk(root: Tensor) -> Iterator[Tensor]:
    """Every tensor ``root`` was computed from, ``root`` first, breadth-first, each once.

    Examples
    --------
    >>> import microgradnp as mg
    >>> a = mg.tensor(2.0, requires_grad=True, name="a")
    >>> y = a * a + 1.0
    >>> [t.op or t.name for t in mg.graph.walk(y)]
    ['add', 'mul', 'a']
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"walk: expected a Tensor, got {type(root).__name__}")
    seen = {id(root)}
    queue = deque([root])
    while queue:
        t = queue.popleft()
        yield t
        for p in t.parents:
            if isinstance(p, Tensor) and id(p) not in seen:
                seen.add(id(p))
                queue.append(p)


def count(root: Tensor) -> int:
    """How many tensors :func:`walk` visits.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.graph.count(mg.tensor(1.0, requires_grad=True) * 3.0)
    2
    """
    return sum(1 for _ in walk(root))
