"""The example scripts: each runs end to end on small settings, prints its summary and writes its figures.

What the workloads compute is tested in tests/workloads/; here, the scripts over them.
"""

import pytest

from examples import (
    check_notebook_rule,
    cnn,
    deq_digits,
    digits,
    gaussian_blobs,
    gaussian_process,
    moons,
    ode_fit,
    sequence,
)
from microgradnp.testing import GradcheckError, gradcheck


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


def test_ode_fit_recovers_the_oscillator_and_draws_it(tmp_path, capsys):
    import numpy as np

    times, observed = ode_fit.make_data()
    fitted, found = ode_fit.fit(times, observed)
    assert found.success
    np.testing.assert_allclose(fitted, ode_fit.TRUE, atol=0.06)  # what noise 0.05 on 40 points allows
    assert ode_fit.main(["--n", "20", "--out", str(tmp_path)]) == 0
    assert "fitted k" in capsys.readouterr().out
    assert (tmp_path / "ode_fit.png").stat().st_size > 1000


def test_deq_digits_learns_with_the_implicit_gradient_the_unrolled_one(tmp_path, capsys):
    import microgradnp as mg

    model, history, (X_test, y_test) = deq_digits.train(epochs=3, progress=False)
    assert history["loss"][-1] < history["loss"][0] and history["test accuracy"][-1] > 0.85
    assert deq_digits.unrolled_gradient_gap(model, mg.tensor(X_test[:32]), y_test[:32]) < 1e-7
    assert deq_digits.main(["--epochs", "2", "--no-progress", "--out", str(tmp_path)]) == 0
    assert "test accuracy after 2 epochs" in capsys.readouterr().out
    assert (tmp_path / "deq_digits.png").stat().st_size > 1000


def test_gaussian_process_is_plain_numpy_differentiated_unchanged(tmp_path, capsys):
    import numpy as np

    X, y = gaussian_process.make_data(12)
    x0 = np.log([0.8, 1.2, 0.3])
    plain = gaussian_process.neg_log_marginal_likelihood(x0, X, y)
    assert isinstance(plain, float | np.floating)  # on arrays, no Tensor anywhere
    value, grad = gaussian_process.value_and_grad(x0, X, y)
    assert value == plain
    h = 1e-6
    numeric = [(gaussian_process.neg_log_marginal_likelihood(x0 + d, X, y)
                - gaussian_process.neg_log_marginal_likelihood(x0 - d, X, y)) / (2 * h) for d in h * np.eye(3)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6)
    assert gaussian_process.main(["--n", "12", "--out", str(tmp_path)]) == 0
    assert "fitted in" in capsys.readouterr().out
    assert (tmp_path / "gp_posterior.png").stat().st_size > 1000


def test_check_notebook_rule_main():
    assert check_notebook_rule.main([]) == 0


def test_notebook_rule_is_rejected_and_autograd_accepted(capsys):
    from examples import check_notebook_rule

    assert check_notebook_rule.main([]) == 0
    out = capsys.readouterr().out
    assert "gradcheck rejected it" in out and "input 'W_ih'" in out and "gradcheck passed" in out
    W_ih, W_ho, x, t = check_notebook_rule.setup()
    with pytest.raises(GradcheckError) as info:
        gradcheck(check_notebook_rule.notebook_loss, (W_ih, W_ho, x, t))
    assert "input 'W_ih'" in str(info.value)  # W_ih is wrong ...
    assert "\n   W_ho  " not in str(info.value)  # ... W_ho is not in the table


def test_the_docs_show_the_real_test_file_and_it_passes():
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[1]
    test_file = (root / "examples" / "test_my_derivatives.py").read_text()
    assert test_file in (root / "docs" / "testing.md").read_text()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "examples" / "test_my_derivatives.py")],
        capture_output=True, text=True, cwd=root,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_case_study_shows_the_real_output(capsys):
    import pathlib

    from examples import check_notebook_rule

    check_notebook_rule.main([])
    out = capsys.readouterr().out.rstrip("\n")
    root = pathlib.Path(__file__).resolve().parents[1]
    assert out in (root / "docs" / "notebook-rule.md").read_text()


def test_cnn_and_sequence_mains(tmp_path, capsys):
    assert cnn.main(["--epochs", "1", "--out", str(tmp_path)]) == 0
    assert sequence.main(["--epochs", "1", "--train", "32", "--test", "8", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "one-step MSE" in out
    for name in ("cnn_training.png", "cnn_filters.png", "sequence_forecast.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_reading_a_failure_shows_the_real_reports(capsys):
    import pathlib

    from examples import reading_a_failure

    assert reading_a_failure.main() == 0
    out = capsys.readouterr().out
    docs = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "testing.md").read_text()
    cases = out.split("--- ")[1:]
    assert len(cases) == 3
    for case in cases:
        title, report = case.split(" ---\n", 1)
        assert "Diagnosis:" in report, title
        assert report.rstrip("\n") in docs, f"docs/testing.md shows an old report for {title}"
