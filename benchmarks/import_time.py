#!/usr/bin/env python
"""How long ``import microgradnp`` takes, side by side with ``import numpy`` (which it needs) and
``import torch`` (when installed).

Each import runs in a fresh interpreter (``python -c "import X"``), ``--rounds`` times, interleaved;
the table gives medians in seconds and microgradnp's cost over NumPy's own, the number the issue
tracker asked to keep at most 0.3 s.  ``python benchmarks/import_time.py`` prints the table and writes
``import_time.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import publish  # noqa: E402


def _once(module: str) -> float:
    """Seconds for ``import module`` in a fresh interpreter, measured inside it (no start-up cost)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="three rounds")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    modules = ["numpy", "microgradnp"] + (["torch"] if importlib.util.find_spec("torch") else [])
    times = {m: [] for m in modules}
    start = time.perf_counter()
    for _ in range(rounds):
        for m in modules:
            times[m].append(_once(m))
    med = {m: float(np.median(t)) for m, t in times.items()}
    rows = ["| import | seconds (median) | over numpy |", "|---|---|---|"]
    for m in modules:
        over = "-" if m == "numpy" else f"{med[m] - med['numpy']:+.3f}"
        rows.append(f"| `import {m}` | {med[m]:.3f} | {over} |")
    rows.append(f"\n{rounds} rounds, fresh interpreters, {time.perf_counter() - start:.0f} s in all.")
    publish("\n".join(rows), args.out, "import_time.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
