"""What a user sees when their own derivative test fails under pytest: short, in their names, no internals."""

import inspect
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[2]

#: A user's test file: the wrong rule is examples/reading_a_failure.py's SoftplusWrongScale.
USER_TESTS = textwrap.dedent(f'''
    import sys
    sys.path.insert(0, {str(ROOT)!r})

    import microgradnp as mg
    from hypothesis import given, settings
    from microgradnp.testing import gradcheck
    from microgradnp.testing import strategies as mst
    from examples.reading_a_failure import SoftplusWrongScale


    def test_softplus():
        T = mg.tensor([0.5, -1.0, 2.0], requires_grad=True)
        assert gradcheck(SoftplusWrongScale.apply, T)


    def test_softplus_verbose():
        T = mg.tensor([0.5, -1.0, 2.0], requires_grad=True)
        assert gradcheck(SoftplusWrongScale.apply, T, verbose=True)


    @settings(database=None, derandomize=True)
    @given(mst.tensors(shape=(3,), elements=mst.interval(-2, 2)))
    def test_softplus_everywhere(T):
        assert gradcheck(SoftplusWrongScale.apply, T)
''')


def _run(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-W", "ignore",
                           "test_user.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return done.stdout


def _section(out: str, test: str) -> list:
    """The lines of one test's failure report, from its ``____ name ____`` header to the next header."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("_") and f" {test} " in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("_____", "=====")) ), len(lines))
    return lines[start:end]


def test_a_failing_user_test_reads_short_and_in_the_users_names(tmp_path):
    out = _run(tmp_path)
    plain = _section(out, "test_softplus")
    text = "\n".join(plain)
    assert len(plain) <= 25, text
    from examples.reading_a_failure import SoftplusWrongScale

    line = inspect.getsourcelines(SoftplusWrongScale.backward)[1] + 1  # the def line, past @staticmethod
    assert "SoftplusWrongScale" in text and "input 'T'" in text, text
    assert f"rule: SoftplusWrongScale.backward at {ROOT / 'examples' / 'reading_a_failure.py'}:{line}" in text, text
    assert "Diagnosis: the analytic gradient of input 'T' is 2 times the numeric one" in text, text
    assert "gradcheck.py" not in text and "_compare_full" not in text, text  # the checker's own frames are hidden

    verbose = "\n".join(_section(out, "test_softplus_verbose"))
    assert "_compare_full" in verbose  # verbose=True keeps everything

    shrunk = "\n".join(_section(out, "test_softplus_everywhere"))
    assert shrunk.count("T=tensor(") == 1, shrunk  # the shrunk example, shown once (Hypothesis words it by version)
    assert "microgradnp/testing" not in shrunk and "gradcheck.py" not in shrunk, shrunk
    assert "Diagnosis:" in shrunk, shrunk
