"""``python -m microgradnp.distributed.launch -n N script.py [args...]``: N processes of a script, one group.

The ``local`` backend's launcher (``torchrun``'s role for one machine): it
starts N Python processes of the script, each with its rank in the
environment, coordinates their collectives, and exits with the first
failing process's exit code.  When one process fails, the others' next
collective raises :class:`~microgradnp.distributed.DistributedError`; a
process still running 10 seconds later is stopped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from ._local import Coordinator, watch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m microgradnp.distributed.launch",
                                     description="Run a script in N processes of this machine, as one group.")
    parser.add_argument("-n", "--nprocs", type=int, required=True, help="number of processes")
    parser.add_argument("script", help="the Python script each process runs")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    options = parser.parse_args(argv)
    if options.nprocs < 1:
        parser.error("--nprocs must be at least 1")
    coordinator = Coordinator(options.nprocs).start()
    processes = [(rank, subprocess.Popen([sys.executable, options.script, *options.args],
                                         env={**os.environ, **coordinator.environment(rank)}))
                 for rank in range(options.nprocs)]
    try:
        watch(coordinator, processes, exitcode=lambda p: p.poll(), stop=lambda p: p.kill(), timeout=None)
    except KeyboardInterrupt:
        coordinator.fail("interrupted")
        for _, p in processes:
            p.kill()
    codes = [p.wait() for _, p in processes]
    coordinator.close()
    if coordinator.failure is not None:
        print(f"microgradnp.distributed.launch: {coordinator.failure.splitlines()[0]}", file=sys.stderr)
    return next((c for c in codes if c != 0), 0 if coordinator.failure is None else 1)


if __name__ == "__main__":
    raise SystemExit(main())
