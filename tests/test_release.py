"""Release readiness: one version, a changelog section for it, and the wheel check's rules."""

import pathlib
import re

import microgradnp as mg
from tests import ci_scripts

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_version_is_written_once_and_the_changelog_has_its_section():
    check = ci_scripts.load("check_dist")
    assert check.version() == mg.__version__
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()
    assert re.search(rf"^## {re.escape(mg.__version__)}\b", (ROOT / "CHANGELOG.md").read_text(), re.M)


def test_the_wheel_check_refuses_what_is_not_the_package():
    forbidden = ci_scripts.load("check_dist").FORBIDDEN
    for name in ["tests/test_api.py", "microgradnp/__pycache__/api.cpython-311.pyc", "docs/index.md",
                 "site/index.html", "microgradnp/ops/x.pyc", "examples/moons.py", ".ci/run"]:
        assert forbidden.search(name), name
    for name in ["microgradnp/__init__.py", "microgradnp/workloads/moons.py", "microgradnp/testing/gradcheck.py"]:
        assert not forbidden.search(name), name
