"""The microgradnp command: demo and graph."""

import os
import re
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


def test_graph_command_writes_the_html_view(tmp_path, capsys):
    assert cli.main(["graph", "blobs", "--html", "--out", str(tmp_path / "view")]) == 0
    page = (tmp_path / "view.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "mg-panel" in page
    assert cli.main(["graph", "blobs", "--out", str(tmp_path / "by_extension.html")]) == 0
    assert (tmp_path / "by_extension.html").read_text().startswith("<!DOCTYPE html>")


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


@pytest.mark.parametrize("ext", [".jpg", ".htm", ".SVGZ"])
def test_graph_refuses_an_unknown_extension_with_a_message(tmp_path, ext, capsys):
    assert cli.main(["graph", "--out", str(tmp_path / f"g{ext}")]) == 2
    assert re.search(rf"--out .* has the extension '{re.escape(ext)}'; use one of .svg, .png, .pdf, .dot",
                     capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_graph_accepts_an_upper_case_extension(tmp_path):
    assert cli.main(["graph", "--out", str(tmp_path / "g.DOT")]) == 0
    assert (tmp_path / "g.dot").read_text().startswith("digraph microgradnp")


@pytest.mark.parametrize("command", [["demo", "blobs", "--quick"], ["graph"]])
def test_an_output_place_that_cannot_be_written_is_a_message_and_exit_status_2(tmp_path, command, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = str(blocker / "sub") if command[0] == "demo" else str(blocker / "g.svg")
    assert cli.main([*command, "--out", out]) == 2  # a bad argument, as argparse's own errors
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(r"microgradnp: the .* folder '.*a-file.*' is a file, not a folder|cannot "
                                       r"create", err[0])


@pytest.mark.parametrize("argv", [["demo", "--bogus"], ["graph", "nope"], ["demo", "--out"], ["frobnicate"],
                                  ["graph", "--format", "xyz"], ["graph", "--out", "g.jpg"]])
def test_every_bad_argument_is_one_line_and_exit_status_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's own errors exit from inside parse_args
        status = exc.code
    assert status == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("microgradnp")


def test_a_write_that_fails_midway_is_reported_with_exit_code_1(tmp_path, monkeypatch, capsys):
    from microgradnp import viz

    def disk_full(loss, path, **kwargs):
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(viz, "render", disk_full)
    assert cli.main(["graph", "--format", "dot", "--out", str(tmp_path / "g.dot")]) == 1
    err = capsys.readouterr().err
    assert "could not write" in err and "g.dot: No space left on device" in err and "Traceback" not in err


def test_graph_without_graphviz_falls_back_to_dot_text_as_the_demo_does(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    assert cli.main(["graph", "moons", "--out", str(tmp_path / "moons.svg")]) == 0
    assert (tmp_path / "moons.dot").read_text().startswith("digraph microgradnp")
    assert not (tmp_path / "moons.svg").exists()
    assert "written as DOT text" in capsys.readouterr().err
