#!/usr/bin/env python
"""Side-by-side benchmark of microgradnp and the frameworks a user would otherwise pick.

Every framework that is installed runs the same workloads on the same data,
in one process, with one thread; rounds are interleaved (each round runs every
workload for every framework, in a new seeded random order) so that machine noise hits
all of them alike.  Times are medians, reported as ratios to hand-written
NumPy, the seeds' own vectorised backpropagation.  Each framework's result is
first checked against NumPy's, so every row does the same work.

Workloads (see data.py):

* ``ng``     cost + gradient of Ng's 400-25-10 sigmoid network, m = 5000;
* ``sgd``    1000 per-example SGD steps of the 2-2-2 sigmoid network;
* ``moons``  200 full-batch gradient-descent steps of a 2-5-5-2 network, 1000 points;
* ``wide``   20 SGD steps of a 784-1024-1024-10 ReLU MLP, batch 512, float32;
* ``chain``  forward and backward through 20,000 elementwise ops on a (16,) vector;
* memory: peak of ``chain``, growth over 10,000 ``sgd`` steps, and a 10^6-op chain.

``microgradnp compiled`` runs microgradnp's programs with each step compiled
(``mg.compile``); its one-time trace cost is reported apart.

Run ``python benchmarks/run.py`` (``--quick`` for a fast look).  It prints the
table and writes ``results.md``, ``results.json`` and ``ratios.png`` into
``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import os

# One thread everywhere, before NumPy (or anything else) loads a BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data as benchdata  # noqa: E402

FRAMEWORKS = ["numpy_ref", "microgradnp_impl", "microgradnp_compiled_impl", "microgradnp_numba_impl", "torch_impl", "autograd_impl",
              "mygrad_impl", "jax_impl", "micrograd_impl"]
WORKLOADS = ["ng", "sgd", "moons", "wide", "chain"]
#: microgradnp's targets, as ratios to hand-written NumPy: eager, and with each step compiled (``mg.compile``).
TARGETS = {"ng": 1.05, "sgd": 3.0, "moons": 1.3, "wide": 1.03, "chain": 3.0}
COMPILED_TARGETS = {"ng": 1.05, "sgd": 1.3, "moons": 1.2, "wide": 1.02, "chain": 1.2}
#: With ``mg.compile(backend="numba")`` (issue 36; ng has none).
NUMBA_TARGETS = {"sgd": 0.1, "moons": 0.7, "wide": 1.02, "chain": 0.2}
#: Tolerances of the result check against NumPy (wide runs in float32).
TOLERANCE = {"ng": (1e-8, 1e-12), "sgd": (1e-7, 1e-12), "moons": (1e-7, 1e-12), "wide": (5e-3, 1e-5),
             "chain": (1e-9, 1e-14)}
#: Frameworks whose memory NumPy's allocator reports to tracemalloc.
TRACEABLE = {"numpy", "microgradnp", "microgradnp compiled", "microgradnp numba", "autograd", "mygrad", "micrograd"}


def load_frameworks(names):
    found, missing = {}, {}
    for module_name in names:
        try:
            mod = importlib.import_module(f"impl.{module_name}")
        except ImportError as exc:
            missing[module_name.replace("_impl", "").replace("_ref", "")] = str(exc).split("\n")[0]
            continue
        found[mod.NAME] = mod
    return found, missing


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("numpy", "scipy", "microgradnp", "torch", "autograd", "mygrad", "jax", "micrograd"):
        try:
            from importlib.metadata import version

            out[pkg] = version(pkg)
        except Exception:
            pass
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def check(result, reference, workload) -> str | None:
    rtol, atol = TOLERANCE[workload]
    for key, ref in reference.items():
        got = np.asarray(result[key], dtype=np.float64)
        if got.shape != np.shape(ref) or not np.allclose(got, ref, rtol=rtol, atol=atol):
            err = np.max(np.abs(got - ref)) if got.shape == np.shape(ref) else f"shape {got.shape}"
            return f"{key} differs from NumPy's (max abs diff {err})"
    return None


def build(frameworks, data):
    """Make every runner, run it once (warm-up), and check its result against NumPy."""
    runners, notes = {}, {}
    reference = {}
    for wl in WORKLOADS:
        for name, mod in frameworks.items():
            make = mod.WORKLOADS.get(wl)
            if make is None:
                continue
            try:
                run = make(getattr(data, wl))
                result = run()
            except RecursionError:
                notes[(wl, name)] = "RecursionError"
                continue
            if name == "numpy":
                reference[wl] = result
            elif wl in reference:
                problem = check(result, reference[wl], wl)
                if problem:
                    notes[(wl, name)] = f"wrong result: {problem}"
                    continue
            runners[(wl, name)] = run
    return runners, notes


def time_all(runners, rounds: int, progress: bool = True):
    times = {key: [] for key in runners}
    keys = list(runners)
    # A new order each round, the same in every run (seeded): no row always runs first, nor always right after
    # the same other row.  A fixed rotation kept each row behind its neighbour in the list, and what one row
    # leaves behind can cost the next: measured, the numba chain kernel takes 7.5 ms right after the compiled
    # NumPy chain (the heap that replay leaves, which the numba kernel's many small arrays are taken from), 5.3 ms
    # after any other row or after nothing.
    shuffler = random.Random(0)
    for r in range(rounds):
        order = shuffler.sample(keys, len(keys))
        for key in order:
            gc.collect()
            t0 = time.perf_counter()
            runners[key]()
            times[key].append(time.perf_counter() - t0)
        if progress:
            print(f"  round {r + 1}/{rounds} done", file=sys.stderr)
    return {key: statistics.median(v) for key, v in times.items()}


def memory(frameworks, data, quick: bool) -> dict:
    """Peak memory of chain, growth over 10,000 sgd steps, and a 10^6-op chain for microgradnp."""
    out = {"chain peak (MB)": {}, "growth over 10k sgd steps (KB)": {}}
    for name, mod in frameworks.items():
        if name not in TRACEABLE:
            continue
        if "chain" in mod.WORKLOADS:
            run = mod.WORKLOADS["chain"](data.chain)
            if hasattr(mod, "TRACE_SECONDS"):
                run()  # a compiled step: its first call traces; the peak of interest is the replay's
            gc.collect()
            tracemalloc.start()
            try:
                run()
                out["chain peak (MB)"][name] = tracemalloc.get_traced_memory()[1] / 1e6
            except RecursionError:
                out["chain peak (MB)"][name] = "RecursionError"
            finally:
                tracemalloc.stop()
        if "sgd" in mod.WORKLOADS and name != "micrograd":
            run = mod.WORKLOADS["sgd"](data.sgd)
            repeats = max(1, 10_000 // len(data.sgd["X"]))
            run()
            gc.collect()
            tracemalloc.start()
            run()
            gc.collect()
            base = tracemalloc.get_traced_memory()[0]
            for _ in range(repeats - 1):
                run()
            gc.collect()
            out["growth over 10k sgd steps (KB)"][name] = (tracemalloc.get_traced_memory()[0] - base) / 1e3
            tracemalloc.stop()
    if "microgradnp" in frameworks and not quick:
        import microgradnp as mg

        x = mg.tensor(np.linspace(-1, 1, 16), requires_grad=True)
        t0 = time.perf_counter()
        y = x
        for i in range(1_000_000):
            y = mg.tanh(y) if i % 2 == 0 else y * 1.1
        y.sum().backward()
        out["10^6-op chain, microgradnp"] = f"forward + backward in {time.perf_counter() - t0:.1f} s, no RecursionError"
        del y, x
        gc.collect()
    return out


def table(medians, notes, frameworks, missing) -> str:
    names = list(frameworks)
    lines = ["| framework | " + " | ".join(WORKLOADS) + " |", "|---" * (len(WORKLOADS) + 1) + "|"]
    for name in names:
        cells = []
        for wl in WORKLOADS:
            if (wl, name) in medians and (wl, "numpy") in medians:
                t, base = medians[(wl, name)], medians[(wl, "numpy")]
                cells.append(f"{t * 1e3:.1f} ms ({t / base:.2f}x)" if name != "numpy" else f"{t * 1e3:.1f} ms (1x)")
            elif (wl, name) in notes:
                cells.append(notes[(wl, name)])
            else:
                cells.append("-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| microgradnp target | " + " | ".join(f"<= {TARGETS[w]}x" for w in WORKLOADS) + " |")
    if "microgradnp compiled" in frameworks:
        lines.append("| microgradnp compiled target | " + " | ".join(f"<= {COMPILED_TARGETS[w]}x" for w in WORKLOADS)
                     + " |")
    if "microgradnp numba" in frameworks:
        lines.append("| microgradnp numba target | " + " | ".join(f"<= {NUMBA_TARGETS[w]}x" if w in NUMBA_TARGETS
                                                                   else "-" for w in WORKLOADS) + " |")
    if missing:
        lines.append("")
        lines.append("Not installed, skipped: " + ", ".join(f"{k} ({v})" for k, v in missing.items()))
    return "\n".join(lines)


def bar_chart(medians, frameworks, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in frameworks if n != "numpy"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        xs, ys = [], []
        for j, wl in enumerate(WORKLOADS):
            if (wl, name) in medians and (wl, "numpy") in medians:
                xs.append(j + (i - (len(names) - 1) / 2) * width)
                ys.append(medians[(wl, name)] / medians[(wl, "numpy")])
        ax.bar(xs, ys, width, label=name, edgecolor="black" if name == "microgradnp" else None,
               linewidth=1.5 if name == "microgradnp" else 0)
    for j, wl in enumerate(WORKLOADS):
        ax.hlines(TARGETS[wl], j - 0.45, j + 0.45, colors="k", linestyles="dotted")
        if "microgradnp compiled" in names:
            ax.hlines(COMPILED_TARGETS[wl], j - 0.45, j + 0.45, colors="k", linestyles="dashed", linewidth=0.8)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(WORKLOADS)), WORKLOADS)
    ax.set_ylabel("time / hand-written NumPy (log scale)")
    ax.set_title("Median time relative to hand-written NumPy, 1 thread\n(dotted: microgradnp's targets; "
                 "dashed: compiled)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds (default 7, quick 3)")
    parser.add_argument("--quick", action="store_true", help="smaller workloads and fewer rounds")
    parser.add_argument("--only", nargs="*", help="frameworks to run (numpy always runs)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    parser.add_argument("--replot", metavar="RESULTS_JSON", help="only redraw the bar chart from a results.json")
    args = parser.parse_args(argv)
    if args.replot:
        with open(args.replot) as fh:
            saved = json.load(fh)
        medians = {tuple(k.split("/")): v for k, v in saved["medians_s"].items()}
        names = list(dict.fromkeys(n for _, n in medians))
        os.makedirs(args.out, exist_ok=True)
        bar_chart(medians, names, os.path.join(args.out, "ratios.png"))
        print(f"wrote {os.path.join(args.out, 'ratios.png')}")
        return 0

    names = FRAMEWORKS if not args.only else ["numpy_ref"] + [f for f in FRAMEWORKS if any(o in f for o in args.only)]
    frameworks, missing = load_frameworks(names)
    data = benchdata.make(args.quick)
    rounds = args.rounds or (3 if args.quick else 7)
    print(f"frameworks: {', '.join(frameworks)}" + (f"; missing: {', '.join(missing)}" if missing else ""))
    runners, notes = build(frameworks, data)
    medians = time_all(runners, rounds)
    mem = {} if args.no_memory else memory(frameworks, data, args.quick)

    md = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}; one thread (OMP/OpenBLAS/MKL pinned to 1).",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        f"Median of {rounds} interleaved rounds; ratio to hand-written NumPy in parentheses."
        + (" Quick mode (smaller workloads)." if args.quick else ""),
        "",
        table(medians, notes, frameworks, missing),
    ]
    traced = getattr(frameworks.get("microgradnp compiled"), "TRACE_SECONDS", {})
    if traced:
        md += ["", "Trace cost of microgradnp compiled (the first call of each step, not in the timings above): "
               + ", ".join(f"{w} {traced[w] * 1e3:.1f} ms" for w in WORKLOADS if w in traced) + "."]
    compiled_by_numba = getattr(frameworks.get("microgradnp numba"), "COMPILE_SECONDS", {})
    if compiled_by_numba:
        md += ["", "Kernels of microgradnp numba (the first call of each step, not in the timings above; a number is "
               "the seconds it took to compile or load from the disk cache, else why the step stayed on NumPy): "
               + ", ".join(f"{w} {v:.2f} s" if isinstance(v, float) else f"{w}: {v}"
                           for w, v in compiled_by_numba.items()) + "."]
    if mem:
        md += ["", "## Memory", ""]
        for key, val in mem.items():
            if isinstance(val, dict):
                md.append(f"- {key}: " + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                                                  for k, v in val.items()))
            else:
                md.append(f"- {key}: {val}")
    text = "\n".join(md) + "\n"
    print("\n" + text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump({"medians_s": {f"{w}/{n}": t for (w, n), t in medians.items()},
                   "notes": {f"{w}/{n}": v for (w, n), v in notes.items()}, "memory": mem,
                   "trace_s": dict(traced),
                   "versions": versions(), "machine": machine(), "rounds": rounds, "quick": args.quick}, fh, indent=2)
    try:
        bar_chart(medians, frameworks, os.path.join(args.out, "ratios.png"))
    except ImportError:
        print("matplotlib is not installed: no bar chart", file=sys.stderr)
    print(f"wrote {os.path.join(args.out, 'results.md')}, results.json, ratios.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
