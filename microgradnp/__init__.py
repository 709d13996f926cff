"""microgradnp: small, fast, correct reverse-mode automatic differentiation on NumPy.

The layers, each importing only those before it:
registry (``ops``, pure data) <- ``tensor`` (data model; ``serialization``: archives of
arrays and state dicts, ``mg.save``/``mg.load``) <- ``engine`` (recording,
backward) <- ``function`` (custom Functions) and ``api`` (public functions and
Tensor methods, made from the registry) <- ``linalg``, ``fft``, ``func`` (function
transforms) and ``compiler`` (``mg.compile``) <- ``nn``, ``optim``, ``viz``,
``testing``, ``data`` <- this package <- ``workloads`` (written against the
public interface, as a user's program is) <- ``cli``.

>>> import microgradnp as mg
>>> w = mg.tensor([0.5, -1.0], requires_grad=True)
>>> x = mg.tensor([2.0, 3.0])
>>> loss = (mg.sigmoid(w @ x) - 1.0) ** 2
>>> loss.backward()
>>> w.grad.shape
(2,)
"""

from __future__ import annotations

from ._mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ._tensor import Tensor, as_tensor, from_numpy, tensor
from .engine import AnomalyError, backward, grad
from .function import Function, FunctionCtx
from . import api
from .api import *  # noqa: F403  (one public function per registry op; api.__all__ lists them)
from .creation import arange, as_rng, complex, full, manual_seed, ones, ones_like, randn, zeros, zeros_like
from .split import array_split, column_stack, dsplit, dstack, hsplit, hstack, split, vsplit, vstack
from .serialization import load, save
from . import fft, func, linalg
from .compiler import CompileError, compile  # noqa: A004  (torch.compile's name)
from . import graph
from .checkpoint import checkpoint, checkpoint_sequential

from . import data, nn, optim, testing, viz  # noqa: E402  (they build on everything above)

__version__ = "0.1.0"

__all__ = [
    "nn", "optim", "testing", "data", "viz", "graph", "linalg", "fft", "func", "compile", "CompileError",
    "Tensor", "tensor", "as_tensor", "from_numpy", "Function", "FunctionCtx", "backward", "grad",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly", "AnomalyError",
    "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "randn", "as_rng", "manual_seed", "complex",
    "split", "array_split", "hsplit", "vsplit", "dsplit", "vstack", "hstack", "dstack", "column_stack",
    "save", "load", "checkpoint", "checkpoint_sequential", *api.__all__,
]


def __getattr__(name: str):
    """``mg.distributed``, imported when first used (it loads ``multiprocessing``'s sockets)."""
    if name == "distributed":
        import importlib

        return importlib.import_module(".distributed", __name__)
    raise AttributeError(f"module 'microgradnp' has no attribute {name!r}")
