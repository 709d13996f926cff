#!/usr/bin/env python
"""microgradnp against an earlier commit of itself, workload by workload.

``run.py`` compares frameworks as ratios to hand-written NumPy; those ratios
move by up to 10% between runs on a shared machine, so a change of a few per
cent in microgradnp cannot be read from two runs made on different days.
This script measures it directly: the code of commit ``REV`` (extracted with
``git archive``) and this tree run the same workloads (``run.py``'s, on data
made once by this tree's ``data.py``), each in its own fresh process so the
two packages never share an interpreter, alternating which goes first, for
``--rounds`` rounds.  Each tree's results are first checked against the
other's.  Reported: the fastest run of each (the one least disturbed by
other work on the machine) and the change.

Run ``python benchmarks/against.py REV`` (``--quick`` for a fast look,
``--cpu N`` to pin both to one core).  It prints the table and writes
``against.md`` into ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"  # one thread, as run.py, before NumPy loads a BLAS

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import pickle  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMPL = os.path.join("benchmarks", "impl", "microgradnp_impl.py")


def child(tree: str, workload: str, data_file: str, repeats: int, result_file: str | None) -> None:
    """In a fresh process: ``tree``'s microgradnp runs ``workload``; print the fastest of ``repeats`` runs."""
    sys.path.insert(0, tree)
    import microgradnp

    if not os.path.abspath(microgradnp.__file__).startswith(os.path.abspath(tree) + os.sep):
        raise SystemExit(f"imported microgradnp from {microgradnp.__file__}, not from {tree}")
    spec = importlib.util.spec_from_file_location("microgradnp_impl", os.path.join(tree, IMPL))
    impl = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(impl)
    with open(data_file, "rb") as fh:
        data = pickle.load(fh)
    run = impl.WORKLOADS[workload](data[workload])
    result = run()  # warm-up
    if result_file:
        np.savez(result_file, **{k: np.asarray(v, dtype=np.float64) for k, v in result.items()})
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    print(best)


def extract(rev: str, into: str) -> str:
    """The files of commit ``rev`` of this repository, under ``into``."""
    archive = os.path.join(into, "rev.tar")
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", rev], stdout=fh, check=True)
    tree = os.path.join(into, "tree")
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    if not os.path.exists(os.path.join(tree, IMPL)):
        raise SystemExit(f"{rev} has no {IMPL}: nothing to compare with")
    return tree


def measure(tree: str, workload: str, data_file: str, repeats: int, cpu: int | None,
            result_file: str | None = None) -> float:
    command = [sys.executable, os.path.abspath(__file__), "--child", tree, workload, data_file, str(repeats)]
    if result_file:
        command += ["--result", result_file]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(command, capture_output=True, text=True, env=env,
                          preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None)
    if done.returncode != 0:
        raise SystemExit(f"{workload} in {tree} failed:\n{done.stderr}")
    return float(done.stdout.split()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the commit to compare with (anything git accepts: a hash, a tag, HEAD~3)")
    parser.add_argument("--rounds", type=int, default=8, help="alternations per workload (default 8)")
    parser.add_argument("--repeats", type=int, default=0,
                        help="runs per process, the fastest kept (default: 15 for sgd and chain, 5 for the rest)")
    parser.add_argument("--only", nargs="*", help="workloads to run (default: all of run.py's)")
    parser.add_argument("--quick", action="store_true", help="small data, few repeats")
    parser.add_argument("--cpu", type=int, default=None, help="pin both trees to this core")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.repeats < 0:
        parser.error("--rounds must be at least 1 and --repeats at least 0")

    sys.path.insert(0, HERE)
    import data as benchdata
    from run import TOLERANCE, WORKLOADS

    workloads = args.only or WORKLOADS
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose from {WORKLOADS}")
    with tempfile.TemporaryDirectory() as tmp:
        old = extract(args.rev, tmp)
        data = benchdata.make(quick=args.quick)
        data_file = os.path.join(tmp, "data.pkl")
        with open(data_file, "wb") as fh:
            pickle.dump({wl: getattr(data, wl) for wl in workloads}, fh)
        rows = []
        for wl in workloads:
            repeats = args.repeats or (2 if args.quick else 15 if wl in ("sgd", "chain") else 5)
            files = {tree: os.path.join(tmp, f"{wl}-{i}.npz") for i, tree in enumerate((old, ROOT))}
            best = {old: float("inf"), ROOT: float("inf")}
            for r in range(args.rounds):
                for tree in ((old, ROOT) if r % 2 == 0 else (ROOT, old)):
                    t = measure(tree, wl, data_file, repeats, args.cpu, files[tree] if r == 0 else None)
                    best[tree] = min(best[tree], t)
                if r == 0:
                    rtol, atol = TOLERANCE[wl]
                    a, b = np.load(files[old]), np.load(files[ROOT])
                    for key in a.files:
                        if not np.allclose(a[key], b[key], rtol=rtol, atol=atol):
                            raise SystemExit(f"{wl}: {key} differs between {args.rev} and this tree")
                print(f"  {wl}: round {r + 1}/{args.rounds} done", file=sys.stderr)
            rows.append((wl, best[old], best[ROOT]))

    table = [f"microgradnp at {args.rev} against this tree (fastest of {args.rounds} alternating rounds"
             f"{', pinned to core %d' % args.cpu if args.cpu is not None else ''}"
             f"{', quick data' if args.quick else ''})", "",
             f"| workload | {args.rev} | this tree | change |", "|---|---|---|---|"]
    for wl, t_old, t_new in rows:
        table.append(f"| {wl} | {t_old * 1e3:.2f} ms | {t_new * 1e3:.2f} ms | {(t_new / t_old - 1) * 100:+.1f}% |")
    from timing import publish

    publish("\n".join(table), args.out, "against.md")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        rest = sys.argv[2:]
        result = rest[rest.index("--result") + 1] if "--result" in rest else None
        child(rest[0], rest[1], rest[2], int(rest[3]), result)
    else:
        sys.exit(main())
