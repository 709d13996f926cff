"""What the side-by-side benchmark scripts share: interleaved timing rounds, and writing the table."""

from __future__ import annotations

import gc
import os
import statistics
import time


def interleaved_medians(runs: dict, rounds: int) -> dict:
    """The median time of each ``runs[name]()``; each round runs all of them, in an order rotated per round,
    so that noise on the machine hits every row alike."""
    times = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            gc.collect()
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def publish(table: str, out_dir: str, filename: str) -> None:
    """Print the table and write it into ``out_dir/filename``."""
    print(table)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, filename), "w") as fh:
        fh.write(table + "\n")
