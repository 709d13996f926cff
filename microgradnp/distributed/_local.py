"""The ``local`` backend: processes of one machine, with a coordinator in the process that started them.

Standard library only (``multiprocessing``): the launcher (``launch.py``) or
:func:`spawn` starts the workers and runs a :class:`Coordinator` in a thread;
each worker connects to it (an authenticated socket on 127.0.0.1), and the
coordinator sees every failure first: a worker whose connection drops (it
died) or that reports an exception makes it send every other worker the
reason, which they raise as :class:`DistributedError`.

The data does not go through the coordinator: it would wake the launching
process at every step (about 1.5 ms of an 8 ms step of the digit network on
2 cores, measured with ``benchmarks/data_parallel.py``).  Every collective
starts with an *arrival* in a small control block of shared memory (a file
in ``/dev/shm``, mapped by every worker): each worker writes what it calls
(an op code) and its call count, and waits for every other's count, reading
the coordinator's socket meanwhile; the op codes must agree, or every
worker raises naming them.  An ``all_reduce_`` writes its buffer into its
slot of a shared bank before arriving and sums the slots in rank order after,
so every worker gets the same bits.  Two banks, alternated by call parity,
are enough: a worker cannot write call ``g + 2``'s slot before every worker
has arrived at ``g + 1``, that is, finished reading ``g``.  This relies on a
worker's stores becoming visible to the others in program order (x86-64's
memory model); elsewhere the buffers go through the coordinator, as does
the first call of each buffer size (which makes its bank).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import traceback
from multiprocessing.connection import Client, Listener, wait
from typing import Any

import numpy as np

from . import _group
from ._group import DistributedError

__all__ = ["Coordinator", "LocalGroup", "spawn"]

_ENV = ("MG_DIST_ADDRESS", "MG_DIST_AUTHKEY", "MG_RANK", "MG_WORLD_SIZE", "MG_DIST_SHARED")

#: Where the buffers are shared without the coordinator (see the module docstring).
SHARED_BANKS = platform.machine().lower() in ("x86_64", "amd64")

#: The collectives, as numbered in an op code.
_KINDS = ("all_reduce", "broadcast", "barrier")


class Coordinator:
    """Answers the collectives of ``world_size`` workers (a thread of the launching process)."""

    def __init__(self, world_size: int):
        self.world_size = world_size
        self.authkey = os.urandom(16)
        self.listener = Listener(("127.0.0.1", 0), authkey=self.authkey)
        self.conns: dict = {}
        self.results: dict = {}
        self.failure: str | None = None
        self._lock = threading.Lock()
        # The shared control block and banks: files of a folder in /dev/shm (memory) where there is one.
        self.folder = tempfile.mkdtemp(prefix="microgradnp-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        control = np.memmap(os.path.join(self.folder, "control"), dtype=np.int64, mode="w+", shape=(3, world_size))
        control.flush()
        del control
        self.thread = threading.Thread(target=self._serve, name="microgradnp-coordinator", daemon=True)

    def environment(self, rank: int) -> dict:
        host, port = tuple(self.listener.address)  # a TCP address: (host, port)
        return {"MG_DIST_ADDRESS": f"{host}:{port}", "MG_DIST_AUTHKEY": self.authkey.hex(), "MG_RANK": str(rank),
                "MG_WORLD_SIZE": str(self.world_size), "MG_DIST_SHARED": self.folder}

    def close(self) -> None:
        """Remove the shared files (the workers have ended)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def start(self) -> Coordinator:
        self.thread.start()
        return self

    @property
    def finished(self) -> bool:
        return self.failure is not None or len(self.results) == self.world_size

    def fail(self, reason: str) -> None:
        """Tell every connected worker why the run stops; accept no one else."""
        with self._lock:
            if self.failure is not None:
                return
            self.failure = reason
            for conn in self.conns.values():
                try:
                    conn.send(("abort", reason))
                except OSError:
                    pass
            try:
                self.listener.close()
            except OSError:
                pass

    def _serve(self) -> None:
        try:
            while len(self.conns) < self.world_size:
                conn = self.listener.accept()
                self.conns[conn.recv()] = conn
        except (OSError, EOFError):
            return  # closed by fail()
        while not self.finished:
            messages = self._gather()
            if messages is not None:
                self._answer(messages)

    def _gather(self) -> dict | None:
        """One message from every worker that has not finished, or None after a failure."""
        waiting = {conn: rank for rank, conn in self.conns.items() if rank not in self.results}
        messages: dict = {}
        while len(messages) < len(waiting):
            if self.failure is not None:
                return None
            # Every connection, also those that already asked: a process that gave up waiting (its timeout)
            # reports its error while the others are still awaited.
            listening = [c for c in waiting if messages.get(waiting[c], ("",))[0] != "done"]  # done: closed
            ready: list[Any] = wait(listening, timeout=0.2)
            for conn in ready:
                rank = waiting[conn]
                try:
                    message: tuple = conn.recv()
                except (EOFError, OSError):
                    self.fail(f"rank {rank} stopped answering: its process died")
                    return None
                if message[0] == "error":
                    self.fail(message[1])
                    return None
                if rank in messages:
                    self.fail(f"rank {rank} sent {_said(message[0])} before its {_said(messages[rank][0])} was "
                              "answered")
                    return None
                messages[rank] = message
        return messages

    def _answer(self, messages: dict) -> None:
        kinds = {rank: m[0] for rank, m in messages.items()}
        for rank, (kind, value) in messages.items():
            if kind == "done":
                self.results[rank] = value
        asking = {rank: messages[rank] for rank, kind in kinds.items() if kind != "done"}
        if not asking:
            return
        if len(asking) < len(messages) or len({kinds[r] for r in asking}) > 1:
            what = ", ".join(f"rank {r}: {_said(kinds[r])}" for r in sorted(kinds))
            self.fail(f"the processes called different collectives at the same step ({what})")
            return
        kind = next(iter(asking.values()))[0]
        if kind == "all_reduce":
            arrays = [asking[r][1] for r in sorted(asking)]
            if len({(a.shape, a.dtype) for a in arrays}) > 1:
                self.fail("all_reduce_ of buffers of different shapes or dtypes: "
                          + ", ".join(f"rank {r}: {a.dtype}{a.shape}" for r, a in zip(sorted(asking), arrays)))
                return
            total = arrays[0].copy()
            for a in arrays[1:]:
                total += a  # in rank order: every rank gets the same bits
            answer = total
        elif kind == "broadcast":
            src = asking[min(asking)][1][0]
            answer = asking[src][1][1]
        elif kind == "bank":  # the shared bank of a buffer size, made at its first all_reduce_
            nbytes = asking[min(asking)][1]
            answer = os.path.join(self.folder, f"bank_{nbytes}")
            if not os.path.exists(answer):
                bank = np.memmap(answer, dtype=np.uint8, mode="w+", shape=(2, self.world_size, max(nbytes, 1)))
                bank.flush()
                del bank
        else:  # barrier
            answer = None
        for rank in asking:
            self.conns[rank].send(("ok", answer))


def _said(kind: str) -> str:
    return {"done": "returned", "all_reduce": "all_reduce_", "broadcast": "broadcast_"}.get(kind, kind)


def _op_code(kind: str, buffer, src: int) -> int:
    """What a collective is, as one int64: the kind, the root of a broadcast, the dtype and the size in bytes."""
    dtype, nbytes = (buffer.dtype.num, buffer.nbytes) if buffer is not None else (0, 0)
    return (_KINDS.index(kind) + 1) << 60 | src << 48 | dtype << 40 | nbytes


def _decoded(code: int) -> str:
    if code == 0:
        return "nothing yet"
    kind, src, nbytes = _KINDS[(code >> 60) - 1], (code >> 48) & 0xFFF, code & ((1 << 40) - 1)
    if kind == "barrier":
        return "barrier"
    return f"{_said(kind)} of {nbytes} bytes" + (f" from rank {src}" if kind == "broadcast" else "")


class LocalGroup:
    """This worker's end of the ``local`` backend."""

    name = "local"

    def __init__(self, conn, rank: int, world_size: int, timeout: float, reports_done: bool, shared: str):
        self.conn, self.rank, self.world_size, self.timeout = conn, rank, world_size, float(timeout)
        self.reports_done = reports_done  # a script started by the launcher: say so when it ends
        self.control = np.memmap(os.path.join(shared, "control"), dtype=np.int64, mode="r+", shape=(3, world_size))
        self.calls = 0  # collectives so far: the count each arrival writes
        self.banks: dict = {}  # buffer size in bytes -> its shared bank (2, world_size, nbytes)

    @classmethod
    def from_environment(cls, timeout: float) -> LocalGroup:
        missing = [v for v in _ENV if v not in os.environ]
        if missing:
            raise RuntimeError(f"init_process_group('local'): {', '.join(missing)} not set; start the script with "
                               "`python -m microgradnp.distributed.launch -n N script.py`, or run a function with "
                               "mg.distributed.spawn(fn, N)")
        conn = _PENDING.pop("conn", None)
        spawned = conn is not None
        if conn is None:
            conn = _connect()
        group = cls(conn, int(os.environ["MG_RANK"]), int(os.environ["MG_WORLD_SIZE"]), timeout,
                    reports_done=not spawned, shared=os.environ["MG_DIST_SHARED"])
        if group.reports_done:
            atexit.register(group._report, "done", None)
            _report_uncaught_exceptions(group)
        return group

    def _call(self, kind: str, payload):
        try:
            self.conn.send((kind, payload))
            if not self.conn.poll(self.timeout):
                raise DistributedError(f"rank {self.rank}: no answer to {_said(kind)} in {self.timeout:g} s "
                                       "(another process is stuck or far behind); init_process_group(timeout=...)")
            status, value = tuple(self.conn.recv())
        except (EOFError, OSError) as exc:
            raise DistributedError(f"rank {self.rank}: the launcher of this run is gone ({exc})") from None
        if status == "abort":
            raise DistributedError(f"rank {self.rank} stops: {value}")
        return value

    def _arrive(self, kind: str, buffer=None, src: int = 0) -> int:
        """This worker's arrival at its next collective; returns the call count once every worker arrived there
        with the same op code (see the module docstring), raises :class:`DistributedError` otherwise."""
        code = _op_code(kind, buffer, src)
        self.calls += 1
        g = self.calls
        codes, counts = self.control[1 + g % 2], self.control[0]
        codes[self.rank] = code
        counts[self.rank] = g  # last: the slot and the code are written before anyone sees this count
        start, spins = time.monotonic(), 0
        while counts.min() < g:
            spins += 1
            if spins > 200:  # about a millisecond of spinning, then the socket and the clock are read too
                if self.conn.poll(0 if spins < 2000 else 0.001):
                    self._aborted()
                if time.monotonic() - start > self.timeout:
                    raise DistributedError(f"rank {self.rank}: no answer to {_said(kind)} in {self.timeout:g} s "
                                           "(another process is stuck or far behind); "
                                           "init_process_group(timeout=...)")
        if (codes != code).any():
            what = ", ".join(f"rank {r}: {_decoded(int(c))}" for r, c in enumerate(codes))
            raise DistributedError(f"rank {self.rank} stops: the processes called different collectives at the same "
                                   f"step ({what})")
        return g

    def _aborted(self) -> None:
        try:
            status, value = tuple(self.conn.recv())
        except (EOFError, OSError) as exc:
            raise DistributedError(f"rank {self.rank}: the launcher of this run is gone ({exc})") from None
        raise DistributedError(f"rank {self.rank} stops: {value}" if status == "abort" else
                               f"rank {self.rank}: the launcher sent {status!r} unasked")

    def all_reduce_(self, buffer: np.ndarray) -> np.ndarray:
        bank = self.banks.get(buffer.nbytes) if SHARED_BANKS else None
        if bank is not None:
            bank[(self.calls + 1) % 2, self.rank, :buffer.nbytes] = buffer.reshape(-1).view(np.uint8)
        g = self._arrive("all_reduce", buffer)
        if bank is None:  # the first of this size (every worker alike): through the coordinator, and a bank made
            if SHARED_BANKS:
                path = self._call("bank", buffer.nbytes)
                self.banks[buffer.nbytes] = np.memmap(path, dtype=np.uint8, mode="r+",
                                                      shape=(2, self.world_size, max(buffer.nbytes, 1)))
            buffer[...] = self._call("all_reduce", buffer)
            return buffer
        slots = bank[g % 2, :, :buffer.nbytes].view(buffer.dtype).reshape(self.world_size, *buffer.shape)
        total = slots[0].copy()
        for r in range(1, self.world_size):
            total += slots[r]  # in rank order: every worker gets the same bits
        buffer[...] = total
        return buffer

    def broadcast_(self, buffer: np.ndarray, src: int) -> np.ndarray:
        self._arrive("broadcast", buffer, src)
        buffer[...] = self._call("broadcast", (src, buffer if self.rank == src else None))
        return buffer

    def barrier(self) -> None:
        self._arrive("barrier")

    def _report(self, kind: str, value) -> None:
        try:
            self.conn.send((kind, value))
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self.reports_done:
            self._report("done", None)
            self.reports_done = False
        if not _PENDING.get("spawned"):
            self.conn.close()


_PENDING: dict = {}  # the connection a spawned worker opened before calling its function


def _connect():
    host, port = os.environ["MG_DIST_ADDRESS"].rsplit(":", 1)
    conn = Client((host, int(port)), authkey=bytes.fromhex(os.environ["MG_DIST_AUTHKEY"]))
    conn.send(int(os.environ["MG_RANK"]))
    return conn


def _report_uncaught_exceptions(group: LocalGroup) -> None:
    previous = sys.excepthook

    def hook(kind, value, tb):
        group._report("error", f"rank {group.rank} raised:\n{''.join(traceback.format_exception(kind, value, tb))}")
        group.reports_done = False
        previous(kind, value, tb)

    sys.excepthook = hook


def _spawned(fn, rank: int, environment: dict, args: tuple) -> None:
    """The body of a spawned worker: connect, run ``fn(rank, *args)``, report its result or its exception."""
    os.environ.update(environment)
    conn = _connect()
    _PENDING.update(conn=conn, spawned=True)
    try:
        value = fn(rank, *args)
    except BaseException as exc:  # noqa: BLE001 - reported to the coordinator, then the process fails
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        conn.send(("error", f"rank {rank} raised:\n{text}"))
        os._exit(1)
    _group.destroy_process_group()
    conn.send(("done", value))
    conn.close()


def spawn(fn, nprocs: int, args: tuple = (), start_method: str | None = None, timeout: float | None = None,
          backend: str = "local") -> list:
    """Run ``fn(rank, *args)`` in ``nprocs`` processes of this machine; return their results, by rank.

    Inside, ``init_process_group()`` joins the ``local`` group.  When one
    process raises or dies, the others' collectives raise
    :class:`DistributedError`, and so does ``spawn``, with the first
    failure's reason (the traceback of a raising process included).
    ``start_method``: ``"spawn"`` (the default: ``fn`` must be importable)
    or ``"fork"`` (Linux: faster, and ``fn`` may be local to a script).
    ``timeout``: seconds to wait for the whole run (None: no limit).
    ``backend="ray"``: ``nprocs`` Ray tasks instead, on this machine or the
    Ray cluster the script runs in (``ray job submit -- python driver.py``).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> def work(rank):
    ...     mg.distributed.init_process_group()
    ...     return float(mg.distributed.all_reduce_(np.array([rank + 1.0]))[0])
    >>> mg.distributed.spawn(work, 3, start_method="fork")
    [6.0, 6.0, 6.0]
    """
    if isinstance(nprocs, bool) or not isinstance(nprocs, int) or nprocs < 1:
        raise ValueError(f"spawn: nprocs must be a positive int, got {nprocs!r}")
    if backend == "ray":
        from ._ray import spawn_ray

        return spawn_ray(fn, nprocs, tuple(args), timeout)
    if backend != "local":
        raise ValueError(f"spawn: backend must be 'local' or 'ray' (MPI and torchrun start the processes "
                         f"themselves), got {backend!r}")
    context: Any = multiprocessing.get_context(start_method or "spawn")
    coordinator = Coordinator(nprocs).start()
    processes = [context.Process(target=_spawned, args=(fn, rank, coordinator.environment(rank), tuple(args)),
                                 name=f"microgradnp-rank-{rank}", daemon=True) for rank in range(nprocs)]
    for p in processes:
        p.start()
    watch(coordinator, list(enumerate(processes)), exitcode=lambda p: p.exitcode, stop=lambda p: p.terminate(),
          timeout=timeout)
    for p in processes:
        p.join(5)
    coordinator.thread.join(2)
    coordinator.close()
    if coordinator.failure is None and len(coordinator.results) < nprocs:
        coordinator.fail(f"rank {min(set(range(nprocs)) - set(coordinator.results))} ended without a result")
    if coordinator.failure is not None:
        raise DistributedError(coordinator.failure)
    return [coordinator.results[rank] for rank in range(nprocs)]


def watch(coordinator: Coordinator, processes: list, exitcode, stop, timeout: float | None, grace: float = 10.0):
    """Wait for the run: a process that exits with an error fails it; after a failure, the others get
    ``grace`` seconds to raise and are then stopped.  ``processes``: ``(rank, process)``."""
    start = time.monotonic()
    failed_at = None
    exited: dict = {}  # rank -> when its failed exit was seen
    while True:
        codes = {rank: exitcode(p) for rank, p in processes}
        for rank, code in codes.items():
            if code not in (None, 0) and coordinator.failure is None:
                # What it sent before exiting (its traceback) may still be on its way: a second to arrive.
                seen = exited.setdefault(rank, time.monotonic())
                if time.monotonic() - seen > 1.0:
                    coordinator.fail(f"rank {rank} exited with code {code}")
        if all(code is not None for code in codes.values()):
            break
        if coordinator.failure is not None:
            failed_at = failed_at or time.monotonic()
            if time.monotonic() - failed_at > grace:
                for rank, p in processes:
                    if codes[rank] is None:
                        stop(p)
                break
        if timeout is not None and time.monotonic() - start > timeout:
            coordinator.fail(f"the run took longer than {timeout:g} s")
        time.sleep(0.02)
