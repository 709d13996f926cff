"""Editors and type checkers see the registry's functions: py.typed, and microgradnp/api.pyi up to date."""

import ast
import inspect
import pathlib

from microgradnp import api
from tests import ci_scripts

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_stub_of_the_generated_functions_is_up_to_date_and_valid():
    text = (ROOT / "microgradnp" / "api.pyi").read_text()
    assert text == ci_scripts.load("make_stubs").stub(), "microgradnp/api.pyi is out of date: run python .ci/make_stubs.py"
    tree = ast.parse(text)
    defined = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert set(defined) == set(api.__all__) | {"implements"}  # (and the decorator the modules above use)
    for name, node in defined.items():  # the stub's parameters are the function's own, in order
        assert [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs] == [
            p.name for p in inspect.signature(getattr(api, name)).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)], name
        assert ast.get_docstring(node), f"{name} has no docstring in the stub"


def test_the_stub_of_the_tensor_methods_is_up_to_date_and_covers_every_installed_method():
    import microgradnp as mg
    from microgradnp.ops import REGISTRY

    text = (ROOT / "microgradnp" / "_methods.pyi").read_text()
    assert text == ci_scripts.load("make_stubs").methods_stub(), \
        "microgradnp/_methods.pyi is out of date: run python .ci/make_stubs.py"
    (cls,) = [n for n in ast.parse(text).body if isinstance(n, ast.ClassDef)]
    declared = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    installed = {name for op in REGISTRY.values() for name in (*op.methods, *op.properties, *op.operators)}
    assert installed | {"backward"} <= declared
    for name in declared:
        assert hasattr(mg.Tensor, name), name  # nothing declared that a Tensor lacks


def test_the_package_says_it_is_typed():
    assert (ROOT / "microgradnp" / "py.typed").exists()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()
