#!/usr/bin/env python
"""Steps per second of data-parallel training with 1 and 2 workers, per backend, on the digit network.

Ng's 400-25-10 sigmoid network, full-batch gradient steps on 5,000 examples
(the seeds' digits workload; random inputs of the same shapes: only the speed
is measured here, the equality of the gradients is tests/distributed's).  Each
worker takes its shard, sums its loss, ``backward()`` through
``DistributedDataParallel`` (one all-reduce of the ~10,000 parameters), and
steps SGD.  One BLAS thread per process, so that 2 workers on 2 cores are
compared with 1 worker on 1.  Reported: the median over ``--rounds`` runs of
``--steps`` steps (the slowest worker's time, after one untimed step), steps
per second, and the speed-up over one worker of the same backend.

Run ``python benchmarks/data_parallel.py`` (``--quick``: fewer steps).  MPI,
gloo (``torchrun``) and Ray are measured when they are installed.  Writes
``data_parallel.md`` into ``--out``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import publish  # noqa: E402

EXAMPLES, SIZES = 5000, [400, 25, 10]


def train(rank: int, steps: int, seed: int = 0) -> float:
    """``steps`` data-parallel SGD steps of this process's shard (its rank: the group's); the seconds taken."""
    import microgradnp as mg
    from microgradnp.nn import functional as F

    mg.distributed.init_process_group()
    world, rank = mg.distributed.get_world_size(), mg.distributed.get_rank()
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((EXAMPLES, SIZES[0]))[rank::world]
    Y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], EXAMPLES)][rank::world]
    model = mg.distributed.DistributedDataParallel(mg.nn.MLP(SIZES, activation="sigmoid", rng=0))
    opt = mg.optim.SGD(model.parameters(), lr=0.5)

    def step():
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(X), Y, reduction="sum").backward()
        opt.step()

    step()  # the first step of a process loads what the others reuse (SciPy's expit: about 0.18 s)
    mg.distributed.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    mg.distributed.barrier()
    return time.perf_counter() - start


def local(workers: int, steps: int) -> float:
    import microgradnp as mg

    return max(mg.distributed.spawn(train, workers, args=(steps,), start_method="fork", timeout=600))


def ray(workers: int, steps: int) -> float:
    import microgradnp as mg

    return max(mg.distributed.spawn(train, workers, args=(steps,), backend="ray", timeout=600))


def _launched(command: list, workers: int, steps: int) -> float:
    """The slowest process's seconds, from ``command`` (a launcher) running ``train`` in ``workers`` processes."""
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "run.py")
        with open(script, "w") as fh:
            fh.write(f"import sys\nsys.path.insert(0, {here!r})\nfrom data_parallel import train\n"
                     f"print('seconds=%r;' % train(0, {steps}), flush=True)\n")  # joins the launcher's group
        env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
        done = subprocess.run([*command(workers), script], capture_output=True, text=True, env=env, timeout=600,
                              check=True)
    # The processes share the pipe, so their lines may interleave: each figure is found by its marks.
    return max(float(s) for s in re.findall(r"seconds=([0-9.e+-]+);", done.stdout))


def mpi(workers: int, steps: int) -> float:
    return _launched(lambda n: ["mpirun", "--oversubscribe", "-n", str(n), sys.executable], workers, steps)


def gloo(workers: int, steps: int) -> float:
    return _launched(lambda n: ["torchrun", f"--nproc-per-node={n}"], workers, steps)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args(argv)
    steps, rounds = (5, 3) if args.quick else (20, 5)
    rounds = args.rounds or rounds
    backends = {"local": local}
    if importlib.util.find_spec("mpi4py") and shutil.which("mpirun"):
        backends["mpi"] = mpi
    if importlib.util.find_spec("torch") and shutil.which("torchrun"):
        backends["gloo"] = gloo
    if importlib.util.find_spec("ray"):
        backends["ray"] = ray
    lines = [f"Data-parallel SGD on the {'-'.join(map(str, SIZES))} network, {EXAMPLES} examples per step, "
             f"{steps} steps per run, median of {rounds} runs, one BLAS thread per process "
             f"({os.cpu_count()} cores).", "",
             "| backend | workers | seconds per run | steps per second | speed-up over 1 worker |",
             "|---|---:|---:|---:|---:|"]
    for name, run in backends.items():
        times = {}
        for workers in (1, 2):
            run(workers, 1)  # warm-up: start-up, imports
            times[workers] = statistics.median(run(workers, steps) for _ in range(rounds))
            print(f"  {name}, {workers} workers: done", file=sys.stderr)
        for workers, t in times.items():
            lines.append(f"| {name} | {workers} | {t:.3f} | {steps / t:.1f} | {times[1] / t:.2f}x |")
    publish("\n".join(lines), args.out, "data_parallel.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
