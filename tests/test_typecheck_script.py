"""The pieces of .ci/typecheck.py that decide what is checked (mypy itself runs in CI, from the dev extra)."""

from tests import ci_scripts


def test_a_baseline_line_survives_edits_above_the_error():
    typecheck = ci_scripts.load("typecheck")
    line = 'microgradnp/viz.py:181:5: error: Item "None" has no attribute "x"  [union-attr]'
    assert typecheck.without_line_numbers(line) == 'microgradnp/viz.py: Item "None" has no attribute "x"  [union-attr]'


def test_each_page_is_checked_from_its_first_block_that_imports(tmp_path):
    typecheck = ci_scripts.load("typecheck")
    written = typecheck.doc_modules(str(tmp_path))
    assert written, "no docs page has code to check"
    for path in written:
        text = open(path, encoding="utf-8").read()
        assert text.startswith(("import ", "from ")), path
        assert ">>>" not in text.split("\n", 1)[0]
    names = {p.rsplit("/", 1)[-1] for p in written}
    assert "docs__func.py" in names and "docs__compile.py" in names
