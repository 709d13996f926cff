#!/usr/bin/env python
"""How fast a failure stops a data-parallel run: seconds from one worker's failure to the others' error.

Two workers; rank 1 fails (raises, or is killed with SIGKILL) while rank 0
waits in an ``all_reduce_``.  Measured, with the wall clock both processes
share: from the moment rank 1 fails to the moment rank 0 raises
``DistributedError`` (the local backend and Ray, where the others raise), or
to the end of the launcher (MPI and torchrun, which end the job).  The tests
check *that* the others stop with an error (tests/distributed); how fast is
measured here, as a figure depends on how busy the machine is.

Run ``python benchmarks/fault_latency.py``; backends that are not installed
are left out.  Writes ``fault_latency.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import publish  # noqa: E402

import microgradnp as mg  # noqa: E402

WORKER = """
import os, signal, sys, time
import numpy as np
import microgradnp as mg

mg.distributed.init_process_group()
how, stamp = sys.argv[1], sys.argv[2]
if mg.distributed.get_rank() == 1:
    time.sleep(0.5)                      # rank 0 is waiting in its collective by now
    with open(stamp, "w") as fh:
        fh.write(repr(time.time()))
    if how == "raise":
        raise ValueError("rank 1 fails")
    os.kill(os.getpid(), signal.SIGKILL)
mg.distributed.all_reduce_(np.ones(3))
"""


def _failing(rank, how, stamp, seen):
    """For spawn: rank 1 fails as the script above; rank 0 notes when its collective raises."""
    mg.distributed.init_process_group()
    if rank == 1:
        time.sleep(0.5)
        with open(stamp, "w") as fh:
            fh.write(repr(time.time()))
        if how == "raise":
            raise ValueError("rank 1 fails")
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        mg.distributed.all_reduce_(__import__("numpy").ones(3))
    except mg.distributed.DistributedError:
        with open(seen, "w") as fh:
            fh.write(repr(time.time()))
        raise


def spawned(backend: str, how: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        stamp, seen = os.path.join(tmp, "failed"), os.path.join(tmp, "seen")
        options = {"start_method": "fork"} if backend == "local" else {"backend": "ray"}
        try:
            mg.distributed.spawn(_failing, 2, args=(how, stamp, seen), timeout=300, **options)
        except mg.distributed.DistributedError:
            pass
        return float(open(seen).read()) - float(open(stamp).read())


def launched(command: list, how: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        script, stamp = os.path.join(tmp, "run.py"), os.path.join(tmp, "failed")
        with open(script, "w") as fh:
            fh.write(textwrap.dedent(WORKER))
        env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
        subprocess.run([*command, script, how, stamp], capture_output=True, env=env, timeout=300)
        return time.time() - float(open(stamp).read())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args(argv)
    backends = {"local": lambda how: spawned("local", how),
                "local launcher": lambda how: launched([sys.executable, "-m", "microgradnp.distributed.launch",
                                                        "-n", "2"], how)}
    if importlib.util.find_spec("mpi4py") and shutil.which("mpirun"):
        backends["mpi"] = lambda how: launched(["mpirun", "--oversubscribe", "-n", "2", sys.executable], how)
    if importlib.util.find_spec("torch") and shutil.which("torchrun"):
        backends["gloo"] = lambda how: launched(["torchrun", "--nproc-per-node=2"], how)
    if importlib.util.find_spec("ray"):
        backends["ray"] = lambda how: spawned("ray", how)
    lines = [f"Seconds from rank 1's failure to rank 0's error (spawn, Ray) or to the end of the job (launchers); "
             f"2 workers, median of {args.rounds} runs, {os.cpu_count()} cores.", "",
             "| backend | rank 1 raises | rank 1 is killed (SIGKILL) |", "|---|---:|---:|"]
    for name, run in backends.items():
        cells = [f"{statistics.median(run(how) for _ in range(args.rounds)):.2f}" for how in ("raise", "kill")]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
        print(f"  {name}: done", file=sys.stderr)
    publish("\n".join(lines), args.out, "fault_latency.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
