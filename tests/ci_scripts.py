"""The scripts under .ci/, loaded as modules for the tests that check their rules."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load(name: str):
    """``.ci/NAME.py`` as a module (it is not a package, so not importable by name)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / ".ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
