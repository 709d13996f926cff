"""``init_process_group``: the backend adapters are chosen here, above the group's state (``_group.py``)."""

from __future__ import annotations

import os
from typing import Any

from ._group import is_initialized, set_group

__all__ = ["init_process_group"]

BACKENDS = ("local", "mpi", "gloo", "ray")


def init_process_group(backend: str | None = None, timeout: float = 300.0):
    """Join the process group of this run (PyTorch's name).

    ``backend``: ``"local"`` (processes of one machine started by
    ``python -m microgradnp.distributed.launch`` or :func:`spawn`),
    ``"mpi"`` (``mpirun``/``srun``, through mpi4py), ``"gloo"``
    (``torchrun``, through ``torch.distributed``) or ``"ray"`` (tasks of
    ``spawn(..., backend="ray")``); ``None`` picks the one the launcher set
    up.  ``timeout``: seconds a collective waits for the
    other processes before raising :class:`DistributedError`.

    Examples
    --------
    >>> import microgradnp as mg
    >>> def work(rank):
    ...     mg.distributed.init_process_group()
    ...     return mg.distributed.get_rank(), mg.distributed.get_world_size()
    >>> mg.distributed.spawn(work, 2, start_method="fork")
    [(0, 2), (1, 2)]
    """
    if is_initialized():
        set_group(None)  # raises, naming the group this process is in
    backend = backend or _launched_backend()
    if backend == "local":
        from ._local import LocalGroup

        new: Any = LocalGroup.from_environment(timeout)
    elif backend == "mpi":
        from ._mpi import MPIGroup

        new = MPIGroup()
    elif backend == "gloo":
        from ._gloo import GlooGroup

        new = GlooGroup(timeout)
    elif backend == "ray":
        from ._ray import RayGroup

        new = RayGroup()
    else:
        raise ValueError(f"init_process_group: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    set_group(new)
    return new


def _launched_backend() -> str:
    if "MG_DIST_ADDRESS" in os.environ:
        return "local"
    if "MG_DIST_RAY_ACTOR" in os.environ:
        return "ray"
    if any(v in os.environ for v in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK")):
        return "mpi"
    if "TORCHELASTIC_RUN_ID" in os.environ or {"MASTER_ADDR", "RANK", "WORLD_SIZE"} <= set(os.environ):
        return "gloo"  # torchrun, or torch.distributed's environment
    raise RuntimeError("init_process_group: no launcher set this process up. Start the script with "
                       "`python -m microgradnp.distributed.launch -n N script.py` (this machine's cores) or "
                       "`mpirun -n N python script.py` (MPI) or `torchrun --nproc-per-node N script.py` (gloo), or "
                       "run a function with mg.distributed.spawn(fn, N); or name the backend: "
                       "init_process_group('local' | 'mpi' | 'gloo')")
