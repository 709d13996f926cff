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


INDEX = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "index.md").read_text()


def test_every_name_the_docs_home_page_gives_exists():
    from microgradnp import testing

    dotted = set(re.findall(r"`((?:mg|microgradnp)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)", INDEX))
    assert not sorted(n for n in dotted if _resolve(n) is None)
    bare = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)(?:\(\))?`", INDEX))
    assert {"Tensor", "backward", "gradcheck"} <= bare
    missing = sorted(n for n in bare if not any(hasattr(where, n) for where in (mg, testing, mg.Tensor)))
    assert not missing, f"the home page names what microgradnp does not have: {missing}"


def test_the_home_pages_claims_about_dependencies_and_comparisons_hold():
    import tomllib

    root = pathlib.Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    text = " ".join(INDEX.split())
    assert "It depends on NumPy and SciPy only" in text
    assert sorted(re.split(r"[<>=]", d)[0] for d in project["dependencies"]) == ["numpy", "scipy"]
    extras = " ".join(" ".join(v) for v in project["optional-dependencies"].values())
    for extra in ("graphviz", "matplotlib", "scikit-learn", "tqdm"):
        assert extra in extras, extra
    # "measured side by side with PyTorch, HIPS autograd, MyGrad, JAX and micrograd": each has its runner.
    for impl in ("torch_impl", "autograd_impl", "mygrad_impl", "jax_impl", "micrograd_impl"):
        assert (root / "benchmarks" / "impl" / f"{impl}.py").exists(), impl
    assert "PyTorch, HIPS autograd, MyGrad, JAX and micrograd" in text
