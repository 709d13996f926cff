"""Documentation: every public function and class has a docstring with a runnable example."""

import importlib
import inspect

import pytest

MODULES = [
    "microgradnp", "microgradnp.nn", "microgradnp.nn.functional", "microgradnp.nn.init", "microgradnp.optim",
    "microgradnp.data", "microgradnp.testing", "microgradnp.testing.strategies", "microgradnp.viz",
    "microgradnp.linalg", "microgradnp.func", "microgradnp.compiler", "microgradnp.nn.utils", "microgradnp.optim.lr_scheduler",
    "microgradnp.testing.compositions",
]


def _public():
    seen = set()
    for mod_name in MODULES:
        mod = importlib.import_module(mod_name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.ismodule(obj) or not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            yield f"{mod_name}.{name}", obj


@pytest.mark.parametrize("name,obj", list(_public()), ids=lambda x: x if isinstance(x, str) else "")
def test_public_api_has_a_docstring_with_an_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    if issubclass(obj, Exception) if inspect.isclass(obj) else False:
        return  # exception classes say what they mean in one line
    assert ">>>" in doc, f"{name}: the docstring has no runnable example"


def _generated(tmp_path, monkeypatch, builder: str, page: str) -> str:
    """The page a docs hook writes, written into ``tmp_path``."""
    import os
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(root, "docs", "hooks"))
    import build_assets

    monkeypatch.setattr(build_assets, "ROOT", str(tmp_path))
    (tmp_path / "docs" / "reference").mkdir(parents=True)
    getattr(build_assets, builder)()
    return (tmp_path / "docs" / "reference" / page).read_text()


def test_the_op_table_lists_every_op(tmp_path, monkeypatch):
    from microgradnp.ops import REGISTRY

    table = _generated(tmp_path, monkeypatch, "_op_table", "op-table.md")
    for name, op in REGISTRY.items():
        label = f"{op.namespace}.{name}" if op.namespace else name
        assert f"| `{label}` |" in table
    for name in ("split", "array_split", "linalg.norm", "linalg.matrix_power", "linalg.lstsq"):
        assert f"| `{name}` |" in table


def test_the_compositions_page_is_the_matrix_the_tests_run(tmp_path, monkeypatch):
    from microgradnp.testing import compositions

    page = _generated(tmp_path, monkeypatch, "_compositions_page", "compositions.md")
    assert compositions.support_markdown() in page
    for subject in compositions.SUBJECTS:
        assert f"| {subject} |" in page


def test_the_array_libraries_page_lists_every_known_gap(tmp_path, monkeypatch):
    from microgradnp import backends

    page = _generated(tmp_path, monkeypatch, "_array_libraries_page", "array-libraries.md")
    for library, gaps in backends.KNOWN_GAPS.items():
        assert f"## {library}" in page
        for name in gaps:
            assert f"| `{name}` |" in page


def test_the_coming_from_pytorch_page_names_only_what_exists_and_its_loop_trains():
    import pathlib
    import re

    import numpy as np

    import microgradnp as mg

    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "coming-from-pytorch.md").read_text()
    table = text.split("## Name by name")[1].split("## Where it differs")[0]
    names = set()
    for row in table.splitlines()[4:]:
        cols = row.split("|")
        if len(cols) > 2:
            names |= set(re.findall(r"`(mg\.[A-Za-z0-9_.]*[A-Za-z0-9_])", cols[2]))
    assert len(names) > 40
    for name in sorted(names):
        obj = mg
        for part in name.split(".")[1:]:
            assert hasattr(obj, part), f"the page names {name}, which does not exist"
            obj = getattr(obj, part)
    namespace = {}
    exec(text.split("```python")[1].split("```")[0], namespace)  # the training loop at the top runs
    X, y = namespace["X"], namespace["y"]
    with mg.no_grad():
        assert np.mean(namespace["model"](mg.tensor(X)).data.argmax(axis=1) == y) > 0.9


def _run_the_page(page: str, at_least: int) -> None:
    """A docs page's code blocks, in order, in one namespace, as a reader runs them."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= at_least
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, f"docs/{page}", "exec"), namespace)


def test_the_function_transforms_page_runs():
    _run_the_page("func.md", 8)


def test_the_array_libraries_page_runs():
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    _run_the_page("array-libraries.md", 3)


def test_the_home_page_figure_is_drawn_from_the_home_page_code(monkeypatch):
    # The figure under the home page's example is the graph of that example, run from the page.
    import os
    import pathlib
    import sys

    root = pathlib.Path(__file__).resolve().parents[1]
    sys.path.insert(0, os.path.join(root, "docs", "hooks"))
    import build_assets

    monkeypatch.setattr(build_assets, "ROOT", str(root))
    import microgradnp as mg

    loss = build_assets.home_loss()
    nodes = list(mg.graph.walk(loss))
    assert {"matmul", "sigmoid", "sum"} <= {t._op.name for t in nodes if t._op is not None}
    (w,) = [t for t in nodes if t.name == "w"]
    assert w.grad is not None and w.grad.shape == (2, 2)  # the example ran backward
    index = (root / "docs" / "index.md").read_text()
    assert "](figures/home_after.svg)" in index
    assert '"home_after.svg"' in (root / "docs" / "hooks" / "build_assets.py").read_text()


def test_the_compile_pages_example_on_another_library_runs():
    # The example of "On other array libraries" in docs/compile.md: a compiled step on torch tensors.
    import pathlib
    import re

    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "compile.md").read_text()
    section = text.split("## On other array libraries")[1].split("\n## ")[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    exec(compile(block, "docs/compile.md", "exec"), {})


def test_the_complex_numbers_page_runs():
    _run_the_page("complex.md", 4)
