"""Type-check with mypy what users read and write: the package, the examples and the docs' code blocks.

The strictness the project chose (docs/design.md, "Types"): mypy's default mode (the bodies of
unannotated functions are not checked), missing third-party stubs ignored.

* ``examples/`` and the docs' code blocks: no error at all.  A page's blocks are checked as one
  module, in order, from its first block that imports something (the blocks before it are
  fragments of prose); a page may bind a name again as the reader goes on.
* ``microgradnp/``: no error that is not in ``.ci/mypy-baseline.txt``.  The baseline lists the
  errors the package had when the check came in (dynamic attributes, containers without
  annotations); it may only shrink: an error that is gone must leave it (``--update`` rewrites it),
  a new one fails.  The compiler package has none.

Usage: python .ci/typecheck.py [--update]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BASELINE = os.path.join(ROOT, ".ci", "mypy-baseline.txt")
FLAGS = ["--ignore-missing-imports", "--no-error-summary", "--hide-error-context", "--no-color-output"]


def mypy(*args: str) -> list[str]:
    """The error lines of ``mypy args`` (notes dropped)."""
    done = subprocess.run([sys.executable, "-m", "mypy", *FLAGS, *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"mypy failed to run:\n{done.stdout}{done.stderr}")
    return [line for line in done.stdout.splitlines() if ": error:" in line]


def without_line_numbers(line: str) -> str:
    """``path:line: error: message`` as ``path: message``: the baseline survives edits above an error."""
    return re.sub(r"^([^:]+):\d+(:\d+)?: error: ", r"\1: ", line)


def doc_modules(folder: str) -> list[str]:
    """Each page's code blocks, from its first block that imports, written as one module into ``folder``."""
    pages = [os.path.join(ROOT, "README.md")]
    for base, _, files in os.walk(os.path.join(ROOT, "docs")):
        pages += [os.path.join(base, f) for f in sorted(files) if f.endswith(".md")]
    written = []
    for page in sorted(pages):
        with open(page, encoding="utf-8") as fh:
            blocks = re.findall(r"```python\n(.*?)```", fh.read(), re.S)
        blocks = [b for b in blocks if not b.lstrip().startswith(">>>") and not b[:1].isspace()]
        first = next((i for i, b in enumerate(blocks) if re.match(r"(import|from) ", b)), None)
        if first is None:
            continue
        name = os.path.relpath(page, ROOT).replace(os.sep, "__").replace("-", "_")[:-3] + ".py"
        with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
            fh.write("\n\n".join(blocks[first:]))
        written.append(os.path.join(folder, name))
    return written


def main(argv) -> int:
    failed = False
    users = mypy("--follow-imports=silent", "examples")
    with tempfile.TemporaryDirectory() as folder:
        pages = doc_modules(folder)
        users += [re.sub(r"^.*?([^/\\]+\.py):", r"docs code of \1:", line) for line in
                  mypy("--follow-imports=silent", "--allow-redefinition", "--disable-error-code", "no-redef", *pages)]
    print(f"examples and {len(pages)} pages of docs: {len(users)} type errors")
    for line in users:
        print("  " + line)
    failed |= bool(users)

    package = sorted(without_line_numbers(line) for line in mypy("microgradnp"))
    if "--update" in argv:
        with open(BASELINE, "w", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in package))
        print(f"{os.path.relpath(BASELINE, ROOT)}: {len(package)} errors")
        return int(failed)
    with open(BASELINE, encoding="utf-8") as fh:
        known = [line.rstrip("\n") for line in fh if line.strip()]
    new = sorted((Counter(package) - Counter(known)).elements())  # the same message twice counts twice
    gone = sorted((Counter(known) - Counter(package)).elements())
    print(f"microgradnp/: {len(package)} type errors, {len(known)} in the baseline, {len(new)} new, {len(gone)} gone")
    for line in new:
        print("  new: " + line)
    for line in gone:
        print("  gone (run python .ci/typecheck.py --update): " + line)
    return int(failed or bool(new) or bool(gone))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
