"""The package's layering: no import cycle, and lower layers never import higher ones."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "microgradnp"

# Each module's layer; a module may import only modules of its own or a lower layer.
LAYERS = {
    "ops": 0, "_mode": 0, "backends": 0,  # backends: the array namespaces the rules run on
    "_tensor": 1, "_methods": 1, "serialization": 2,  # _methods.pyi: the types of what api.py installs on Tensor
    "engine": 2,
    "function": 3, "api": 3,
    "creation": 4, "graph": 4, "checkpoint": 4, "split": 4, "linalg": 4, "fft": 4, "func": 4, "compiler": 4,
    "nn": 5, "optim": 5, "viz": 5, "testing": 5, "data": 5, "distributed": 5,
    "__init__": 6,
    # The workloads are written as a user's program is, against ``import microgradnp as mg``.
    "workloads": 7, "cli": 8, "__main__": 9,
}


def _module_name(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def _imports(path: pathlib.Path) -> set[str]:
    """Package modules imported at module level (imports inside functions are lazy, and counted too)."""
    tree = ast.parse(path.read_text())
    package = _module_name(path).split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("microgradnp"):
                if node.module:
                    found.add(mod)
                for alias in node.names:
                    found.add(f"{mod}.{alias.name}")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("microgradnp")}
    return found


def _top(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path):
    me = _top(_module_name(path))
    for mod in _imports(path):
        other = _top(mod)
        if other not in LAYERS:
            continue  # a name imported from a package, resolved above
        assert LAYERS[other] <= LAYERS[me], f"{path.relative_to(PACKAGE)} ({me}) imports {mod} ({other})"


def test_the_registry_imports_nothing_of_the_package_but_itself():
    for path in (PACKAGE / "ops").glob("*.py"):
        for mod in _imports(path):
            assert mod.startswith("microgradnp.ops"), f"{path.name} imports {mod}"


def _resolve(mod: str, known: set[str]) -> str | None:
    """The module file an imported name lives in (``microgradnp.api.exp`` -> ``microgradnp.api``)."""
    while mod and mod not in known:
        mod = mod.rpartition(".")[0]
    return mod or None


def test_the_module_import_graph_has_no_cycle():
    names = {_module_name(p).removesuffix(".__init__"): p for p in MODULES}
    edges = {}
    for name, path in names.items():
        targets = {_resolve(m, set(names)) for m in _imports(path)} - {None, name}
        # a package's __init__ importing its own submodules is not a cycle with them
        edges[name] = {t for t in targets if not (path.name == "__init__.py" and t.startswith(name + "."))}
        edges[name] = {t for t in edges[name] if not name.startswith(t + ".") or t not in names}
    state: dict[str, int] = {}

    def visit(n, trail):
        state[n] = 1
        for m in sorted(edges[n]):
            if state.get(m) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail + [n, m]))
            if m not in state:
                visit(m, trail + [n])
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n, [])


def test_importing_the_package_in_a_fresh_interpreter_works():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", "import microgradnp.cli, microgradnp.testing.strategies, microgradnp.workloads.digits"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
