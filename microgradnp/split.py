"""The split family (split, array_split, hsplit, vsplit, dsplit): one tensor in, a list out; and its inverse,
the stacking family (vstack, hstack, dstack, column_stack): a list in, one tensor out.

An op of the registry has one output, so a split is a list of slices: each
piece is recorded as ``getitem`` of the input (as PyTorch's pieces are views),
and its gradient goes back into its own part of the input.  A stack is
``concatenate`` of its inputs brought to the rank it joins them at.
"""

from __future__ import annotations

import numpy as np

from ._tensor import Tensor, as_tensor
from .api import concatenate, implements, reshape  # importing api installs Tensor.__getitem__ (each piece's op)
from .ops.reduce import checked_axis

__all__ = ["split", "array_split", "hsplit", "vsplit", "dsplit", "vstack", "hstack", "dstack", "column_stack"]


def _bounds(name: str, n: int, indices_or_sections, even: bool) -> list:
    """Start and stop of every piece of an axis of length ``n``."""
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"{name}: the number of sections must be positive, got {k}")
        if even and n % k:
            raise ValueError(f"{name}: an axis of length {n} does not split into {k} equal sections; "
                             "use array_split for unequal ones")
        size, extra = divmod(n, k)
        cuts = np.cumsum([0] + [size + 1] * extra + [size] * (k - extra))
    else:
        cuts = [0] + [min(max(int(i) + (n if int(i) < 0 else 0), 0), n) for i in indices_or_sections] + [n]
    return [(int(a), max(int(a), int(b))) for a, b in zip(cuts[:-1], cuts[1:])]


def _split(name: str, x, indices_or_sections, axis: int, even: bool) -> list:
    x = x if isinstance(x, Tensor) else as_tensor(x)
    axis = checked_axis(name, x, axis) % max(x.ndim, 1)
    head = (slice(None),) * axis
    return [x[head + (slice(a, b),)] for a, b in _bounds(name, x.shape[axis], indices_or_sections, even)]


@implements(np.split)
def split(x, indices_or_sections, axis: int = 0, *, dim: int | None = None) -> list:
    """Split into equal sections (an int) or at the given indices along ``axis``, as NumPy's ``split``.

    Unlike PyTorch's ``split``, an int is the number of sections, not their size.

    Examples
    --------
    >>> import microgradnp as mg
    >>> a, b = mg.split(mg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True), 2)
    >>> b
    tensor([3., 4.], op=getitem)
    """
    return _split("split", x, indices_or_sections, axis if dim is None else dim, even=True)


@implements(np.array_split)
def array_split(x, indices_or_sections, axis: int = 0, *, dim: int | None = None) -> list:
    """As :func:`split`, but ``k`` sections need not be equal: the first ones get one more element.

    Examples
    --------
    >>> import microgradnp as mg
    >>> [p.shape for p in mg.array_split(mg.zeros(5), 3)]
    [(2,), (2,), (1,)]
    """
    return _split("array_split", x, indices_or_sections, axis if dim is None else dim, even=False)


@implements(np.hsplit)
def hsplit(x, indices_or_sections) -> list:
    """:func:`split` along the second axis (the first for 1-D input), as NumPy's ``hsplit``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> [p.shape for p in mg.hsplit(mg.zeros((2, 4)), 2)]
    [(2, 2), (2, 2)]
    """
    return _split("hsplit", x, indices_or_sections, 1 if np.ndim(x) > 1 else 0, even=True)


@implements(np.vsplit)
def vsplit(x, indices_or_sections) -> list:
    """:func:`split` along the first axis of an input with at least two dimensions.

    Examples
    --------
    >>> import microgradnp as mg
    >>> [p.shape for p in mg.vsplit(mg.zeros((4, 2)), [1])]
    [(1, 2), (3, 2)]
    """
    if np.ndim(x) < 2:
        raise ValueError(f"vsplit needs at least two dimensions, got shape {np.shape(x)}")
    return _split("vsplit", x, indices_or_sections, 0, even=True)


@implements(np.dsplit)
def dsplit(x, indices_or_sections) -> list:
    """:func:`split` along the third axis of an input with at least three dimensions.

    Examples
    --------
    >>> import microgradnp as mg
    >>> [p.shape for p in mg.dsplit(mg.zeros((1, 1, 4)), 2)]
    [(1, 1, 2), (1, 1, 2)]
    """
    if np.ndim(x) < 3:
        raise ValueError(f"dsplit needs at least three dimensions, got shape {np.shape(x)}")
    return _split("dsplit", x, indices_or_sections, 2, even=True)


def _joined(name: str, tensors, rank: int, shape_of) -> list:
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{name} needs at least one tensor")
    out = []
    for t in tensors:
        t = t if isinstance(t, Tensor) else as_tensor(t)
        out.append(t if t.ndim >= rank else reshape(t, shape_of(t.shape)))
    return out


@implements(np.vstack)
def vstack(tensors) -> Tensor:
    """Join along the first axis, 1-D inputs taken as rows (NumPy's ``vstack``, PyTorch's ``vstack``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.vstack([mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0])])
    tensor([[1., 2.],
            [3., 4.]])
    """
    return concatenate(_joined("vstack", tensors, 2, lambda s: (1,) * (2 - len(s)) + s), axis=0)


@implements(np.hstack)
def hstack(tensors) -> Tensor:
    """Join along the second axis, or the first for 1-D inputs (NumPy's ``hstack``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.hstack([mg.tensor([1.0, 2.0]), mg.tensor([3.0])])
    tensor([1., 2., 3.])
    """
    parts = _joined("hstack", tensors, 1, lambda s: (1,))
    return concatenate(parts, axis=0 if parts[0].ndim == 1 else 1)


@implements(np.dstack)
def dstack(tensors) -> Tensor:
    """Join along the third axis, inputs of fewer dimensions taken as ``(1, n, 1)`` or ``(m, n, 1)`` (NumPy's).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.dstack([mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0])]).shape
    (1, 2, 2)
    """
    def shape(s):
        return (1,) + s + (1,) if len(s) == 1 else s + (1,) if len(s) == 2 else (1, 1, 1)

    return concatenate(_joined("dstack", tensors, 3, shape), axis=2)


@implements(np.column_stack)
def column_stack(tensors) -> Tensor:
    """1-D inputs as columns, side by side with 2-D ones (NumPy's ``column_stack``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.column_stack([mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0])])
    tensor([[1., 3.],
            [2., 4.]])
    """
    return concatenate(_joined("column_stack", tensors, 2, lambda s: s + (1,) if len(s) == 1 else (1, 1)), axis=1)
