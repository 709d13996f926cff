"""The op registry: every differentiable operation as one entry, grouped by kind.

Importing this package fills :data:`REGISTRY`; it imports nothing else of
microgradnp (the registry is pure data).  ``microgradnp.api`` turns the entries
into the public functions and the Tensor's methods and operators.
"""

from __future__ import annotations

from . import arithmetic, complex, contract, elementwise, fft, linalg, loss, matrix, reduce, scan, shape, trig  # noqa: F401  (each fills the registry)
from . import xp
from .registry import REGISTRY, Op, OpTest, defop

__all__ = ["REGISTRY", "Op", "OpTest", "defop", "xp"]
