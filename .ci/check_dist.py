"""Build the sdist and the wheel as a release would, and check what they hold.

The wheel holds the package and its metadata only (no tests, docs, build output or caches); the sdist
holds what building the package needs; both carry the version ``microgradnp.__version__`` states (the
one place it is written), and CHANGELOG.md has a section for it.  Prints the wheel's path last, for
.ci/run to install into an empty environment.

Usage: python .ci/check_dist.py OUT_DIR
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tarfile
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

#: Nothing of these may ship in the wheel.
FORBIDDEN = re.compile(r"(^|/)(tests|docs|site|examples|benchmarks|\.ci|__pycache__|\.hypothesis)(/|$)|\.pyc$")


def version() -> str:
    """``__version__`` as microgradnp/__init__.py assigns it (read without importing the package)."""
    with open(os.path.join(ROOT, "microgradnp", "__init__.py"), encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit("microgradnp/__init__.py assigns no __version__")


def main(out: str) -> int:
    v = version()
    problems = []
    with open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as fh:
        if not re.search(rf"^## {re.escape(v)}\b", fh.read(), re.M):
            problems.append(f"CHANGELOG.md has no '## {v}' section")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, ROOT], check=True,
                   stdout=subprocess.DEVNULL)
    wheels = [f for f in os.listdir(out) if f.endswith(".whl")]
    sdists = [f for f in os.listdir(out) if f.endswith(".tar.gz")]
    if wheels != [f"microgradnp-{v}-py3-none-any.whl"] or sdists != [f"microgradnp-{v}.tar.gz"]:
        problems.append(f"expected one wheel and one sdist of version {v}, got {wheels + sdists}")
    names = zipfile.ZipFile(os.path.join(out, wheels[0])).namelist() if wheels else []
    shipped = [n for n in names if not n.startswith(f"microgradnp-{v}.dist-info/")]
    problems += [f"the wheel holds {n}, which is not the package" for n in shipped
                 if not n.startswith("microgradnp/") or FORBIDDEN.search(n)]
    for needed in ("microgradnp/__init__.py", "microgradnp/workloads/moons.py", "microgradnp/cli.py",
                   "microgradnp/py.typed", "microgradnp/api.pyi", "microgradnp/_methods.pyi"):
        if needed not in names:
            problems.append(f"the wheel lacks {needed}")
    members = tarfile.open(os.path.join(out, sdists[0])).getnames() if sdists else []
    for needed in ("pyproject.toml", "README.md", "microgradnp/__init__.py"):
        if f"microgradnp-{v}/{needed}" not in members:
            problems.append(f"the sdist lacks {needed}")
    problems += [f"the sdist holds {m}" for m in members if re.search(r"(^|/)(site|\.ci-venv|__pycache__|\.hypothesis)(/|$)", m)]
    for p in problems:
        print(f"check_dist: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_dist: {len(shipped)} package files in the wheel, {len(members)} entries in the sdist, version {v}")
    print(os.path.join(out, wheels[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
