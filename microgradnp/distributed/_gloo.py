"""The ``gloo`` backend: ``torch.distributed``'s process group, for those who already run it.

``torchrun --nproc-per-node 2 train.py`` (or any launcher that sets
``MASTER_ADDR``, ``MASTER_PORT``, ``RANK`` and ``WORLD_SIZE``) starts the
processes; the flat NumPy buffers are passed to gloo without a copy
(``torch.from_numpy`` shares their memory).  gloo's own timeout ends a
collective that a dead process never joins.
"""

from __future__ import annotations

import atexit
import datetime

import numpy as np

__all__ = ["GlooGroup"]


class GlooGroup:
    name = "gloo"

    def __init__(self, timeout: float):
        try:
            import torch
            import torch.distributed as dist
        except ImportError:
            raise ImportError("init_process_group('gloo') needs PyTorch (a CPU build will do: "
                              "pip install torch --index-url https://download.pytorch.org/whl/cpu)") from None
        self.torch, self.dist = torch, dist
        if not dist.is_initialized():
            dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=timeout))
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        # gloo's threads must be stopped before the interpreter ends, or the process aborts at exit
        # ("terminate called without an active exception", seen in 2 of 3 runs of torchrun with torch 2.13).
        atexit.register(self.close)

    def all_reduce_(self, buffer: np.ndarray) -> np.ndarray:
        self.dist.all_reduce(self.torch.from_numpy(buffer), op=self.dist.ReduceOp.SUM)
        return buffer

    def broadcast_(self, buffer: np.ndarray, src: int) -> np.ndarray:
        self.dist.broadcast(self.torch.from_numpy(buffer), src=src)
        return buffer

    def barrier(self) -> None:
        self.dist.barrier()

    def close(self) -> None:
        if self.dist.is_initialized():
            self.dist.destroy_process_group()
