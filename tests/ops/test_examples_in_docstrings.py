"""The ``>>>`` example of every registry op's docstring runs and shows what it says.

pytest's ``--doctest-modules`` does not reach them: an ops module binds each
name to its registry entry, and ``microgradnp.api`` holds the functions under
the ops modules' names.
"""

import doctest

import pytest

from microgradnp.ops import REGISTRY

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items() if ">>>" in (op.adapter.__doc__ or "")))
def test_the_docstring_example_runs(name):
    adapter = REGISTRY[name].adapter
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=FLAGS, verbose=False)  # not from pytest -v: its output would fail
    for test in finder.find(adapter, name, globs={}):
        result = runner.run(test, out=lambda s: pytest.fail(s, pytrace=False))
        assert result.failed == 0 and result.attempted > 0
