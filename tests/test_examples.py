"""The example scripts: each runs end to end on small settings, prints its summary and writes its figures.

What the workloads compute is tested in tests/workloads/; here, the scripts over them.
"""

from examples import check_notebook_rule, digits, gaussian_blobs, moons


def test_gaussian_blobs_main(tmp_path, capsys):
    assert gaussian_blobs.main(["--replay-seed", "--n", "200", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "correct predictions" in out and "true negatives" in out
    assert (tmp_path / "blobs_classes.png").stat().st_size > 1000
    assert (tmp_path / "blobs_predictions.png").stat().st_size > 1000


def test_digits_main(tmp_path, capsys):
    assert digits.main(["--maxiter", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "relative difference" in out
    assert (tmp_path / "digits_hidden_units.png").stat().st_size > 1000


def test_moons_main(tmp_path, capsys):
    assert moons.main(["--n", "200", "--iters", "50", "--long-iters", "50", "--long-subset", "100", "--out", str(tmp_path)]) == 0
    assert "right" in capsys.readouterr().out
    for name in ("moons_cost.png", "moons_boundary_short.png", "moons_boundary.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_check_notebook_rule_main():
    assert check_notebook_rule.main([]) == 0
