"""Array namespaces: the functions the op registry's forwards and VJPs call, per array library.

The registry's rules never call ``np.``: the engine hands them a namespace.  NumPy's is
:mod:`microgradnp.ops.xp` (the fast path, unchanged); any other library that follows the
Python Array API standard gets an :class:`~microgradnp.backends.array_api.ArrayAPINamespace`,
written once on top of ``array-api-compat`` and completed per library with the few names
the standard lacks (``einsum``, a scatter-add that accumulates repeated indices, ``lstsq``).

>>> import numpy as np
>>> from microgradnp import backends
>>> backends.namespace_of(np.zeros(2)).__name__
'microgradnp.ops.xp'
"""

from __future__ import annotations

import numpy as np

from ..ops import xp as numpy_namespace

__all__ = ["namespace_of", "library_of", "namespace", "from_numpy", "to_numpy", "UnsupportedOnBackend", "KNOWN_GAPS"]


class UnsupportedOnBackend(NotImplementedError):
    """An operation the array library at hand cannot do (the standard lacks it and so does the library)."""


def library_of(array) -> str:
    """The name of the array library ``array`` belongs to (``"numpy"``, ``"torch"``, ``"cupy"``,
    ``"array_api_strict"``, ...), read from its type without importing any library."""
    if isinstance(array, (np.ndarray, np.generic)):  # subclasses too (a Tensor's .data view), NumPy scalars
        return "numpy"
    module = type(array).__module__.split(".")[0]
    return "numpy" if module == "builtins" else module


_NAMESPACES: dict = {}


def namespace(library: str):
    """The namespace the rules run on for ``library`` (a name as :func:`library_of` gives it)."""
    if library == "numpy":
        return numpy_namespace
    ns = _NAMESPACES.get(library)
    if ns is None:
        from .array_api import ArrayAPINamespace

        ns = _NAMESPACES[library] = ArrayAPINamespace(library)
    return ns


def namespace_of(array):
    """The namespace for ``array``'s library (NumPy's fast path for a NumPy array or scalar)."""
    return namespace(library_of(array))


def from_numpy(array, library: str, device=None):
    """A copy of the NumPy array ``array`` as an array of ``library`` (on ``device``: the
    library's default when ``None``)."""
    import numpy as np

    if library == "numpy":
        return np.array(array)
    ns = namespace(library)
    return ns._cx.asarray(np.array(array, order="C"), device=device)  # a copy: NumPy's views may have negative strides


def to_numpy(array):
    """``array``'s values as a NumPy array, from any library and device (a copy where it lives
    elsewhere: a GPU's memory)."""
    import numpy as np

    if isinstance(array, (np.ndarray, np.generic)):
        return np.asarray(array)
    library = library_of(array)
    if library == "torch":
        return array.detach().cpu().numpy()
    if library == "cupy":
        return array.get()
    try:
        return np.from_dlpack(array)
    except (BufferError, RuntimeError, TypeError, ValueError):  # on a device NumPy cannot read: to the host first
        import array_api_compat

        info = array_api_compat.array_namespace(array).__array_namespace_info__()
        return np.from_dlpack(array_api_compat.to_device(array, info.default_device()))


#: What the registry's rules cannot do on a library, by op, with the reason and the
#: exception each raises instead (never a wrong number).  The registry's tests run every
#: op on each library and hold this table to it: an op listed here may only fail with
#: its exception; any other op must agree with NumPy.
KNOWN_GAPS: dict = {
    "array_api_strict": {
        **dict.fromkeys(
            ("getitem", "index_put", "take", "take_along_axis", "repeat", "diag", "diagonal", "trace", "pad"),
            ("the standard has no scatter-add, which a gradient through integer indices needs; "
             "its indexing takes integer arrays only with every axis indexed",
             (UnsupportedOnBackend, IndexError))),
        "embedding": ("the standard indexes with an integer array only when every axis is indexed", IndexError),
        "eig": ("the standard has no eig (general eigenvalues), and its results are complex, which stay on NumPy "
                "so far", (UnsupportedOnBackend, TypeError)),
        **dict.fromkeys(("fftn", "ifftn", "rfftn", "irfftn"), (
            "the standard's fft takes complex input only (and rfftn makes complex output), and complex tensors "
            "are supported on NumPy only so far", TypeError)),
    },
    "torch": {
        **dict.fromkeys(("fftn", "ifftn", "rfftn", "irfftn", "eig"), (
            "their results (irfftn's: its gradient's) are complex, and complex tensors are supported on NumPy "
            "only so far", TypeError)),
        **dict.fromkeys(("getitem", "index_put"), (
            "torch tensors have no negative-step slices (x[::-1]); mg.flip does the same", ValueError)),
    },
}
