#!/usr/bin/env python
"""The `wide` workload on each array library microgradnp runs on, side by side in one run.

`wide` is run.py's BLAS-bound workload: SGD steps of a 784-1024-1024-10 ReLU MLP, softmax
cross-entropy, float32.  Rows: microgradnp on NumPy (the reference, 1.00x), microgradnp on torch
CPU tensors, and PyTorch itself on the CPU (what the library costs without us); when the machine
has a GPU, microgradnp and PyTorch on torch CUDA tensors, and microgradnp on CuPy when CuPy is
installed.  Every row's final weights are checked against NumPy's first (float32: 5e-3 relative),
then rounds are interleaved and the medians reported as ratios.  One thread for the CPU rows.

``python benchmarks/backends.py`` (``--quick``: a smaller batch and fewer steps) prints the table
and writes ``backends.md`` into ``--out``, naming the CPU and the GPU it ran on.  The target of the
array-backends work: on a GPU, at least 10x faster than NumPy on the same machine's CPU.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

import microgradnp as mg  # noqa: E402
from microgradnp import backends  # noqa: E402
from microgradnp.nn import functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from data import make  # noqa: E402
from timing import interleaved_medians, publish  # noqa: E402

KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")


def microgradnp_row(d, library: str, device=None, compiled: bool = False):
    """microgradnp's wide step, its data and parameters on ``library`` (and ``device``); ``compiled``: the step
    under ``mg.compile``."""
    X = mg.tensor(d["X"]).to(library, device=device) if library != "numpy" else mg.tensor(d["X"])
    y = d["y"] if library == "numpy" else backends.from_numpy(d["y"], library, device=device)

    params = [mg.tensor(d[k] if library == "numpy" else backends.from_numpy(d[k], library, device=device),
                        requires_grad=True) for k in KEYS]
    W1, b1, W2, b2, W3, b3 = params
    opt = mg.optim.SGD(params, lr=d["lr"])

    def step(X, y):
        logits = mg.linear(mg.relu(mg.linear(mg.relu(mg.linear(X, W1, b1)), W2, b2)), W3, b3)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return _steps(step, (X, y), dict(zip(KEYS, params)), d, library, device, compiled)


def _steps(step, batch, params: dict, d, library: str, device, compiled: bool):
    """A row's timed run: the parameters back at their initial values, then ``d["steps"]`` steps (compiled:
    under ``mg.compile``, traced in the check that runs every row once before the timed rounds)."""
    step = mg.compile(step, fullgraph=True) if compiled else step

    def run():
        _reset(list(params.values()), [d[k] for k in params], library, device)
        for _ in range(d["steps"]):
            step(*batch)
        return {k: p.numpy() for k, p in params.items()}  # (a copy from a GPU, which also waits for it)

    return run


def _reset(params, values, library: str, device) -> None:
    """The parameters back at their initial values (new arrays: a compiled step's guards see the same layout,
    so it replays)."""
    for p, v in zip(params, values):
        p.data = np.array(v) if library == "numpy" else backends.from_numpy(np.array(v), library, device=device)
        p.grad = None


def moons_row(d, library: str, device=None, compiled: bool = False):
    """The small `moons` workload (full-batch descent of a 2-5-5-2 sigmoid net, float64), eager or compiled:
    bound by what each op costs in Python and in the library's dispatch, not by arithmetic."""
    def on(a):
        return a if library == "numpy" else backends.from_numpy(a, library, device=device)

    X, Y = mg.tensor(on(d["X"])), mg.tensor(on(d["Y"]))
    keys = ("W1", "b1", "W2", "b2", "W3", "b3")

    params = [mg.tensor(on(np.array(d[k])), requires_grad=True) for k in keys]
    W1, b1, W2, b2, W3, b3 = params
    opt = mg.optim.SGD(params, lr=d["alpha"])

    def step(X, Y):
        out = mg.sigmoid(mg.linear(mg.sigmoid(mg.linear(mg.sigmoid(mg.linear(X, W1, b1)), W2, b2)), W3, b3))
        loss = ((out - Y) ** 2).sum() / (2 * len(d["X"]))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return _steps(step, (X, Y), dict(zip(keys, params)), d, library, device, compiled)


def torch_row(d, device: str):
    """The same steps in PyTorch itself."""
    import torch

    X, y = torch.asarray(d["X"], device=device), torch.asarray(d["y"], device=device)

    def run():
        params = [torch.asarray(np.array(d[k]), device=device).requires_grad_() for k in KEYS]
        W1, b1, W2, b2, W3, b3 = params
        opt = torch.optim.SGD(params, lr=d["lr"])
        for _ in range(d["steps"]):
            h = torch.relu(torch.relu(X @ W1.T + b1) @ W2.T + b2)
            loss = torch.nn.functional.cross_entropy(h @ W3.T + b3, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return {k: p.detach().cpu().numpy() for k, p in zip(KEYS, params)}

    return run


def rows(d) -> tuple[dict, list]:
    runs = {"microgradnp on NumPy (CPU)": microgradnp_row(d, "numpy"),
            "microgradnp on NumPy (CPU), compiled": microgradnp_row(d, "numpy", compiled=True)}
    missing = []
    try:
        import torch
    except ImportError:
        torch = None
        missing.append("torch is not installed")
    if torch is not None:
        torch.set_num_threads(1)
        runs["microgradnp on torch (CPU)"] = microgradnp_row(d, "torch", "cpu")
        runs["microgradnp on torch (CPU), compiled"] = microgradnp_row(d, "torch", "cpu", compiled=True)
        runs["PyTorch itself (CPU)"] = torch_row(d, "cpu")
        if torch.cuda.is_available():
            runs["microgradnp on torch (CUDA)"] = microgradnp_row(d, "torch", "cuda")
            runs["microgradnp on torch (CUDA), compiled"] = microgradnp_row(d, "torch", "cuda", compiled=True)
            runs["PyTorch itself (CUDA)"] = torch_row(d, "cuda")
        else:
            missing.append("no CUDA GPU: the GPU rows are left out")
    try:
        import cupy  # noqa: F401

        runs["microgradnp on CuPy (GPU)"] = microgradnp_row(d, "cupy")
    except ImportError:
        missing.append("CuPy is not installed")
    return runs, missing


def small_rows(d) -> dict:
    """The moons rows: microgradnp eager and compiled, on NumPy and (when installed) on torch's CPU."""
    runs = {"microgradnp on NumPy (CPU)": moons_row(d, "numpy"),
            "microgradnp on NumPy (CPU), compiled": moons_row(d, "numpy", compiled=True)}
    try:
        import torch  # noqa: F401
    except ImportError:
        return runs
    runs["microgradnp on torch (CPU)"] = moons_row(d, "torch", "cpu")
    runs["microgradnp on torch (CPU), compiled"] = moons_row(d, "torch", "cpu", compiled=True)
    return runs


def check(runs: dict, rtol: float = 5e-3, atol: float = 1e-5) -> None:
    """Every row's final weights against NumPy's (float32 arithmetic in different orders, by default)."""
    reference = next(iter(runs.values()))()
    for name, run in list(runs.items())[1:]:
        got = run()
        for k in reference:
            np.testing.assert_allclose(got[k], reference[k], rtol=rtol, atol=atol, err_msg=f"{name}: {k}")


def machine() -> str:
    gpu = "none"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"CPU: {_cpu_name()}; GPU: {gpu}"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _table(times: dict) -> list:
    base = times["microgradnp on NumPy (CPU)"]
    lines = ["| row | time | against microgradnp on NumPy |", "|---|---|---|"]
    return lines + [f"| {name} | {t * 1e3:.1f} ms | {t / base:.2f}x |" for name, t in times.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller batch and fewer steps")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    workloads = make(quick=args.quick)
    d = workloads.wide
    runs, missing = rows(d)
    check(runs)
    lines = [f"`wide` ({d['steps']} SGD steps, batch {len(d['X'])}, float32), median of {args.rounds} interleaved "
             f"rounds; {machine()}", ""] + _table(interleaved_medians(runs, args.rounds))
    small = workloads.moons
    runs = small_rows(small)
    check(runs, rtol=1e-10, atol=1e-12)  # float64
    lines += ["", f"`moons` ({small['steps']} full-batch steps of a 2-5-5-2 sigmoid net, {len(small['X'])} points, "
              "float64): what `mg.compile` buys where each op's Python and dispatch cost dominates", ""]
    lines += _table(interleaved_medians(runs, args.rounds))
    lines += [""] + [f"- {m}" for m in missing]
    publish("\n".join(lines), args.out, "backends.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
