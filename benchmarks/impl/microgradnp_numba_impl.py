"""microgradnp with ``mg.compile(backend="numba")``: the compiled programs, each step's arithmetic one Numba kernel.

The same workloads as microgradnp_compiled_impl.py; a step the numba backend
has no form for runs on the NumPy backend (it says so when it is built).
Kernels come from the disk cache after the first run of the benchmark; the
seconds the first call took to compile (or load) them are reported apart.
"""

from __future__ import annotations

import functools

import numba  # noqa: F401 - a missing Numba leaves this row out, named

from . import microgradnp_compiled_impl as compiled

NAME = "microgradnp numba"

TRACE_SECONDS = compiled.TRACES["numba"]
COMPILE_SECONDS = compiled.COMPILES

WORKLOADS = {name: functools.partial(make, backend="numba") for name, make in compiled.WORKLOADS.items()}
