"""microgradnp with ``mg.compile(backend="numba")``: the compiled programs, each step's arithmetic one Numba kernel.

The same workloads as microgradnp_compiled_impl.py, but for ``sgd``: its
1000 per-example steps are one compiled function, the Python loop over the
examples kept a loop in machine code (``unroll=False``), where the other
rows call a compiled step once per example.  A step the numba backend has
no form for runs on the NumPy backend (it says so when it is built).
Kernels come from the disk cache after the first run of the benchmark; the
seconds the first call took to compile (or load) them are reported apart.
"""

from __future__ import annotations

import functools

import numba  # noqa: F401 - a missing Numba leaves this row out, named

import microgradnp as mg

from . import microgradnp_compiled_impl as compiled

NAME = "microgradnp numba"

TRACE_SECONDS = compiled.TRACES["numba"]
COMPILE_SECONDS = compiled.COMPILES



def sgd(d):
    Xs, Ts, lr = d["X"], d["T"], d["lr"]
    keys = ("W1", "W2")
    params = compiled._params(d, keys)
    W1, W2 = params

    @mg.compile(backend="numba", unroll=False)
    def epoch(X, T):
        for x, t in zip(X, T):
            compiled.sgd_step(params, lr, x, t)

    def run():
        compiled._reset(params, d, keys)
        epoch(Xs, Ts)
        compiled._traced("sgd", epoch)
        return {"W1": W1.data.copy(), "W2": W2.data.copy()}

    return run


WORKLOADS = {**{name: functools.partial(make, backend="numba") for name, make in compiled.WORKLOADS.items()},
             "sgd": sgd}
