"""The README tells the truth: every name it mentions exists, and what it says the demo does, it does."""

import importlib
import pathlib
import re

import microgradnp as mg
from microgradnp.workloads import WORKLOADS

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()


def _resolve(dotted: str):
    """The object ``mg.a.b`` or ``microgradnp.a.b`` names (a submodule imported when needed), or None."""
    parts = dotted.split(".")
    obj, path = mg, "microgradnp"
    for part in parts[1:]:
        path += "." + part
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:
            obj = importlib.import_module(path)
        except ImportError:
            return None
    return obj


def test_every_mg_or_microgradnp_name_in_the_readme_exists():
    names = set(re.findall(r"`((?:mg|microgradnp)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)", README))
    assert len(names) > 10
    missing = sorted(n for n in names if _resolve(n) is None)
    assert not missing, f"the README names what does not exist: {missing}"


def test_the_readme_states_the_demos_workloads_and_its_quick_run():
    try_it = README.split("## Try it", 1)[1].split("## ", 1)[0]
    for name in WORKLOADS:
        assert f"`{name}`" in try_it, f"the README's demo section does not mention the {name} workload"
    assert len(WORKLOADS) == 5 and "five networks" in try_it
    assert "--quick" in try_it


def test_methods_the_readme_attributes_to_classes_exist():
    methods = re.findall(r"`Module\.([a-z_]+)`", README)
    assert methods, "the README names no Module method"
    for method in methods:
        assert hasattr(mg.nn.Module, method), f"Module.{method}"
