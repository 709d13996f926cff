"""The benchmark harness runs and checks its results (timings are never asserted)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_benchmark_quick_run_writes_its_table(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--quick", "--rounds", "1",
         "--only", "microgradnp", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    table = (tmp_path / "results.md").read_text()
    assert "| microgradnp |" in table and "| microgradnp compiled |" in table and "wrong result" not in table
    assert "Trace cost of microgradnp compiled" in table
    results = json.loads((tmp_path / "results.json").read_text())
    for name in ("microgradnp", "microgradnp compiled"):
        assert {f"{w}/{name}" for w in ("ng", "sgd", "moons", "wide", "chain")} <= set(results["medians_s"])
    assert set(results["trace_s"]) == {"ng", "sgd", "moons", "wide", "chain"}
    assert results["memory"]["growth over 10k sgd steps (KB)"]["microgradnp"] < 1000  # flat memory
    assert (tmp_path / "ratios.png").stat().st_size > 1000


def test_per_example_benchmark_checks_every_row_against_numpy(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "per_example.py"), "--quick", "--rounds", "1",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # a row that disagrees with NumPy fails the run
    table = (tmp_path / "per_example.md").read_text()
    assert "| microgradnp vmap(grad) |" in table and "784-256-10" in table and "20-64-3" in table


def test_conv_benchmark_checks_microgradnp_against_the_hand_written_im2col(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "conv.py"), "--quick", "--rounds", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # gradients that disagree fail the run
    assert "| microgradnp conv2d |" in (tmp_path / "conv.md").read_text()


def test_against_an_earlier_commit_runs_both_trees_and_checks_their_results(tmp_path):
    if subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "against.py"), "HEAD", "--quick", "--rounds", "1",
         "--only", "sgd", "moons", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # results that differ between the trees fail the run
    table = (tmp_path / "against.md").read_text()
    assert "| workload | HEAD | this tree | change |" in table
    assert "| sgd |" in table and "| moons |" in table and "| ng |" not in table


def test_against_refuses_an_unknown_workload(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "against.py"), "HEAD", "--only", "nope", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2 and "unknown workloads ['nope']" in done.stderr


def test_the_drawing_benchmark_renders_every_graph(tmp_path):
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "render.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    table = (tmp_path / "render.md").read_text()
    assert "| 30-step plain-op RNN, every node (collapse=False) | 340 |" in table
    assert "| 30-step plain-op RNN, steps folded (default) | 35 |" in table


def test_the_import_benchmark_reports_numpy_and_microgradnp(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "import_time.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    table = (tmp_path / "import_time.md").read_text()
    assert "| `import numpy` |" in table and "| `import microgradnp` |" in table


def test_the_checkpoint_benchmark_compares_gradients_bit_for_bit_and_memory_falls(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "checkpoint_memory.py"), "--batch", "256", "--width", "32",
         "--rounds", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in (tmp_path / "checkpoint_memory.md").read_text().splitlines() if line.startswith("| ")]
    peaks = [float(row.split("|")[2].split()[0]) for row in rows[1:]]
    assert len(peaks) == 5 and all(row.endswith("| bit for bit |") for row in rows[1:])
    assert peaks[0] > peaks[1] > peaks[2]  # plain, then 3 and 5 segments


def test_the_backends_benchmark_checks_each_library_against_numpy(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "backends.py"), "--quick", "--rounds", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    table = (tmp_path / "backends.md").read_text()
    assert "| microgradnp on NumPy (CPU) |" in table and "| microgradnp on torch (CPU) |" in table


def test_each_round_runs_every_row_once_in_a_new_order_the_same_in_every_run(monkeypatch):
    # A fixed rotation kept each row right behind the same other row, whose after-effects it then paid.
    monkeypatch.syspath_prepend(os.path.join(ROOT, "benchmarks"))
    import run

    ran: list = []
    runners = {key: (lambda key=key: ran.append(key)) for key in [("w", f"framework {i}") for i in range(6)]}
    orders = []
    for _ in range(2):
        ran.clear()
        run.time_all(runners, rounds=4, progress=False)
        rounds = [ran[i:i + 6] for i in range(0, 24, 6)]
        assert all(sorted(r) == sorted(runners) for r in rounds)
        orders.append(rounds)
    assert orders[0] == orders[1]  # seeded
    followers = {r[r.index(("w", "framework 1")) + 1] for r in orders[0] if r[-1] != ("w", "framework 1")}
    assert len({tuple(r) for r in orders[0]}) == 4 and len(followers) > 1
