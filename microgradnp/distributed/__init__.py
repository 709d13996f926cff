"""Data-parallel training on an existing engine: one laptop's cores, or MPI across machines.

Gradients are plain arrays, so the way out of one process is short: every
process computes the gradient of its shard's summed loss, one collective
sums them, and every process divides by the whole batch's example count.
The processes, the network and the failures are the engine's:

* ``"local"``: processes of this machine (standard library), started by
  ``python -m microgradnp.distributed.launch -n N script.py`` or
  :func:`spawn`;
* ``"mpi"``: ``mpirun -n N python script.py`` (or ``srun``) through mpi4py
  (``pip install "microgradnp[mpi]"``), on one machine or a cluster;
* ``"gloo"``: ``torchrun --nproc-per-node N script.py``, through
  ``torch.distributed``, for those who already run it;
* ``"ray"``: :func:`spawn` with ``backend="ray"`` starts Ray tasks, on this
  machine or a Ray cluster (``ray job submit``).

See the "Training on several processes" page of the docs.
"""

from ._group import (
    DistributedError,
    all_reduce_,
    barrier,
    broadcast_,
    destroy_process_group,
    get_rank,
    get_world_size,
    is_initialized,
)
from ._local import spawn
from ._setup import init_process_group
from .parallel import DistributedDataParallel, DistributedSampler, grad, save

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "get_rank", "get_world_size",
           "all_reduce_", "broadcast_", "barrier", "DistributedError", "DistributedDataParallel",
           "DistributedSampler", "grad", "save", "spawn"]
