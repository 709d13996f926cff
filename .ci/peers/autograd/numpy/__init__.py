"""autograd.numpy on microgradnp: NumPy itself (a Tensor routes NumPy's functions to microgradnp's), but array()."""

import numpy as _np

import microgradnp as _mg

from . import random  # noqa: F401


def _has_tensor(x) -> bool:
    if isinstance(x, _mg.Tensor):
        return True
    return isinstance(x, (list, tuple)) and any(_has_tensor(v) for v in x)


def array(x, *args, **kwargs):
    """``np.array`` of nested lists that hold Tensors: stacked by microgradnp (autograd's boxes do the same)."""
    if not _has_tensor(x):
        return _np.array(x, *args, **kwargs)
    if isinstance(x, _mg.Tensor):
        return x
    return _mg.stack([array(v) if isinstance(v, (list, tuple)) else (v if isinstance(v, _mg.Tensor) else _mg.tensor(v))
                      for v in x])


def __getattr__(name):
    return getattr(_np, name)
