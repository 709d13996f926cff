"""The ``ray`` backend: Ray tasks as the processes, a Ray actor as the place where their buffers meet.

``mg.distributed.spawn(fn, n, backend="ray")`` (in a script run directly or
by ``ray job submit -- python driver.py``) starts a coordinator actor and
``n`` tasks; each task's ``init_process_group()`` joins the group, and every
collective is a call of the actor, which answers every task once all have
called (the sum in rank order: every task gets the same bits).  Ray places
the tasks on the cluster's machines, restarts nothing, and reports a task
that raises or dies to ``spawn``, which tells the actor: every task waiting
in a collective then raises :class:`~microgradnp.distributed.DistributedError`.
"""

from __future__ import annotations

import asyncio
import os
import traceback

import numpy as np

from ._group import DistributedError

__all__ = ["RayGroup", "spawn_ray"]

_ENV_ACTOR = "MG_DIST_RAY_ACTOR"


def _ray():
    try:
        import ray
    except ImportError:
        raise ImportError("the ray backend needs Ray: pip install 'microgradnp[ray]'") from None
    return ray


class _Meeting:
    """What the actor does, apart from Ray: collect one call per rank for each call count, answer all."""

    def __init__(self, world_size: int, timeout: float):
        self.world_size, self.timeout = world_size, timeout
        self.calls: dict = {}
        self.failure: str | None = None

    async def collective(self, count: int, rank: int, kind: str, payload):
        if self.failure is not None:
            return ("abort", self.failure)
        entry = self.calls.setdefault(count, {"asked": {}, "done": asyncio.Event(), "answer": None})
        entry["asked"][rank] = (kind, payload)
        if len(entry["asked"]) == self.world_size:
            entry["answer"] = self._answer(entry["asked"])
            entry["done"].set()
        else:
            try:
                await asyncio.wait_for(entry["done"].wait(), self.timeout)
            except asyncio.TimeoutError:
                return ("abort", f"rank {rank}: no answer to {kind} in {self.timeout:g} s")
        if self.failure is not None:
            return ("abort", self.failure)
        entry["left"] = entry.get("left", self.world_size) - 1
        if entry["left"] == 0:  # every rank has its answer: the buffers go
            del self.calls[count]
        return entry["answer"]

    def _answer(self, asked: dict):
        kinds = {rank: kind for rank, (kind, _) in asked.items()}
        if len(set(kinds.values())) > 1:
            return ("abort", "the processes called different collectives at the same step ("
                    + ", ".join(f"rank {r}: {kinds[r]}" for r in sorted(kinds)) + ")")
        kind = kinds[0]
        if kind == "all_reduce":
            total = np.array(asked[0][1], copy=True)
            for rank in range(1, self.world_size):
                total += asked[rank][1]  # in rank order: every task gets the same bits
            return ("ok", total)
        if kind == "broadcast":
            src = asked[0][1][0]
            return ("ok", asked[src][1][1])
        return ("ok", None)

    def fail(self, reason: str) -> None:
        self.failure = reason
        for entry in self.calls.values():
            entry["done"].set()


class RayGroup:
    """A task's end of the ``ray`` backend."""

    name = "ray"

    def __init__(self):
        if _ENV_ACTOR not in os.environ:
            raise RuntimeError("init_process_group('ray'): this process was not started by "
                               "mg.distributed.spawn(fn, n, backend='ray')")
        ray = _ray()
        self.actor = ray.get_actor(os.environ[_ENV_ACTOR])
        self.rank, self.world_size = int(os.environ["MG_RANK"]), int(os.environ["MG_WORLD_SIZE"])
        self.count = 0

    def _call(self, kind: str, payload):
        self.count += 1
        status, value = _ray().get(self.actor.collective.remote(self.count, self.rank, kind, payload))
        if status == "abort":
            raise DistributedError(f"rank {self.rank} stops: {value}")
        return value

    def all_reduce_(self, buffer: np.ndarray) -> np.ndarray:
        buffer[...] = self._call("all_reduce", buffer)
        return buffer

    def broadcast_(self, buffer: np.ndarray, src: int) -> np.ndarray:
        buffer[...] = self._call("broadcast", (src, buffer if self.rank == src else None))
        return buffer

    def barrier(self) -> None:
        self._call("barrier", None)

    def close(self) -> None:
        pass


def _task(fn, rank: int, world_size: int, actor: str, args: tuple):
    """A Ray task's body: the rank in the environment (``init_process_group`` reads it), then ``fn``."""
    from . import _group

    os.environ.update({_ENV_ACTOR: actor, "MG_RANK": str(rank), "MG_WORLD_SIZE": str(world_size)})
    try:
        return ("ok", fn(rank, *args))
    except BaseException as exc:  # noqa: BLE001 - returned to spawn, which stops the others
        return ("error", f"rank {rank} raised:\n{''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))}")
    finally:
        _group.destroy_process_group()
        os.environ.pop(_ENV_ACTOR, None)


def spawn_ray(fn, nprocs: int, args: tuple, timeout: float | None, collective_timeout: float = 300.0) -> list:
    """``spawn`` on Ray: ``nprocs`` tasks of ``fn``, one actor for their collectives (see the module docstring)."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(log_to_driver=False, include_dashboard=False)
    name = f"microgradnp-{os.getpid()}-{os.urandom(4).hex()}"
    meeting = ray.remote(_Meeting).options(name=name, max_concurrency=max(2 * nprocs, 8)).remote(nprocs,
                                                                                               collective_timeout)
    # No retries: a task run again would repeat its collectives from the start, in a group that moved on
    # (Ray retries a task whose process died three times by default).
    task = ray.remote(max_retries=0)(_task)
    refs = [task.remote(fn, rank, nprocs, name, tuple(args)) for rank in range(nprocs)]
    results: dict = {}
    failure = None
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1, timeout=timeout)
        if not done:
            failure = failure or f"the run took longer than {timeout:g} s"
            break
        rank = refs.index(done[0])
        try:
            status, value = ray.get(done[0])
        except Exception as exc:  # the task's process died (a WorkerCrashedError, ...)
            status, value = "error", f"rank {rank} died: {type(exc).__name__}: {exc}"
        if status == "error" and failure is None:
            failure = value
            ray.get(meeting.fail.remote(value))  # every task waiting in a collective raises
        results[rank] = value
    for ref in pending:
        ray.cancel(ref, force=True)
    ray.kill(meeting)
    if failure is not None:
        raise DistributedError(failure)
    return [results[rank] for rank in range(nprocs)]
