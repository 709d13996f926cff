"""The microgradnp command: demo and graph."""

import os
import shutil
import subprocess
import sys

import pytest

from microgradnp import cli


def test_demo_quick_writes_figures_graphs_and_a_summary(tmp_path, capsys):
    assert cli.main(["demo", "all", "--quick", "--out", str(tmp_path), "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert "workload" in out and "blobs" in out and "digits" in out and "moons" in out
    names = {p.name for p in tmp_path.iterdir()}
    for expected in ("blobs_classes.png", "blobs_predictions.png", "digits_hidden_units.png", "moons_cost.png",
                     "moons_boundary.png", "blobs_graph.dot", "digits_graph.dot", "moons_graph.dot"):
        assert expected in names
    assert "Linear layers.0" in (tmp_path / "digits_graph.dot").read_text()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_command_renders_svg(tmp_path):
    out = tmp_path / "moons.svg"
    assert cli.main(["graph", "moons", "--collapse", "--out", str(out)]) == 0
    assert out.read_text().lstrip().startswith("<?xml")


def test_python_dash_m_runs_the_same_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "microgradnp", "graph", "blobs", "--format", "dot",
                           "--out", str(tmp_path / "g.dot")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "g.dot").read_text().startswith("digraph microgradnp")


def test_the_demo_runs_from_any_folder_without_the_repository(tmp_path):
    """The workloads ship inside the package: nothing is read from a clone's examples/ folder."""
    env = {**os.environ, "PYTHONPATH": "", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-I", "-m", "microgradnp", "demo", "blobs", "--quick", "--format", "dot",
                           "--out", "out"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "blobs_predictions.png").stat().st_size > 1000
    assert (tmp_path / "out" / "blobs_graph.dot").read_text().startswith("digraph microgradnp")


def test_missing_example_dependencies_are_named_with_the_install_command(monkeypatch):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None if name == "tqdm" else real(name))
    with pytest.raises(SystemExit, match=r"the workloads need tqdm.*pip install \"microgradnp\[examples,viz\]\""):
        cli.main(["demo", "blobs"])
