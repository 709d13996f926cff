"""The process group: which backend, this process's rank, and the collectives on flat arrays.

A backend is a thin adapter over an existing engine with four methods
(``all_reduce_``, ``broadcast_``, ``barrier``, ``close``) and ``rank`` and
``world_size``; the network, the launch and the fault handling are the
engine's.  One group per process, made by :func:`init_process_group`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DistributedError", "set_group", "destroy_process_group", "is_initialized", "get_rank",
           "get_world_size", "all_reduce_", "broadcast_", "barrier", "group"]



class DistributedError(RuntimeError):
    """A collective could not complete: another process died or raised, or nothing answered in time."""


_GROUP: Any = None  # a LocalGroup or an MPIGroup


def set_group(new) -> None:
    """Make ``new`` this process's group (``init_process_group`` in ``_setup.py``)."""
    global _GROUP
    if _GROUP is not None:
        raise RuntimeError(f"init_process_group: this process already belongs to a {_GROUP.name!r} group; "
                           "call destroy_process_group() first")
    _GROUP = new


def destroy_process_group() -> None:
    """Leave the group (the other processes are not waited for)."""
    global _GROUP
    if _GROUP is not None:
        _GROUP.close()
        _GROUP = None


def is_initialized() -> bool:
    return _GROUP is not None


def group():
    """The group of this process, or an error saying how to make one."""
    if _GROUP is None:
        raise RuntimeError("no process group: call mg.distributed.init_process_group() first")
    return _GROUP


def get_rank() -> int:
    """This process's number in the group, 0 to ``get_world_size() - 1``."""
    return group().rank


def get_world_size() -> int:
    return group().world_size


def _flat(buffer) -> np.ndarray:
    if not isinstance(buffer, np.ndarray) or not buffer.flags.c_contiguous:
        raise TypeError("distributed collectives work on one contiguous NumPy array (pack the parameters "
                        f"into one flat buffer), got {type(buffer).__name__}")
    return buffer


def all_reduce_(buffer: np.ndarray) -> np.ndarray:
    """Sum ``buffer`` over every process, in place; every process gets the same sum."""
    return group().all_reduce_(_flat(buffer))


def broadcast_(buffer: np.ndarray, src: int = 0) -> np.ndarray:
    """Overwrite ``buffer`` with process ``src``'s, in place."""
    return group().broadcast_(_flat(buffer), int(src))


def barrier() -> None:
    """Wait until every process of the group reaches this call."""
    group().barrier()
