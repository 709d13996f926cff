"""Write microgradnp/api.pyi, the type stub of the functions the op registry generates.

``mg.sum``, ``mg.exp``, ... are made at import time from the registry (microgradnp/api.py), so an editor
or a type checker reading the source sees neither their signatures nor their docstrings.  This script
writes them out from the registry itself (each op's adapter: its name, signature and docstring), so
the registry stays the one place an op is defined.  ``--check`` fails when the stub is out of date
(CI runs it through tests/test_stubs.py).

Usage: python .ci/make_stubs.py [--check]
"""

from __future__ import annotations

import inspect
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
STUB = os.path.join(ROOT, "microgradnp", "api.pyi")


def _parameter(p: inspect.Parameter) -> str:
    text = p.name
    if p.kind is p.VAR_POSITIONAL:
        text = "*" + text
    elif p.kind is p.VAR_KEYWORD:
        text = "**" + text
    if p.default is not p.empty:
        text += "=..."
    return text


def _signature(fn) -> str:
    params = list(inspect.signature(fn).parameters.values())
    parts, star_done, slash_done = [], False, False
    for k, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if p.kind is p.VAR_POSITIONAL:
            star_done = True
        parts.append(_parameter(p))
        if p.kind is p.POSITIONAL_ONLY and not slash_done and (
                k + 1 == len(params) or params[k + 1].kind is not p.POSITIONAL_ONLY):
            parts.append("/")
            slash_done = True
    return ", ".join(parts)


def stub() -> str:
    sys.path.insert(0, ROOT)
    from microgradnp import api
    from microgradnp.ops import REGISTRY

    several = {name for name, op in REGISTRY.items() if op.unpack is not None}
    lines = [
        '"""Type stub of microgradnp.api: the public functions the op registry generates.',
        "",
        "Written by .ci/make_stubs.py from the registry; do not edit (tests/test_stubs.py checks it).",
        '"""',
        "",
        "from typing import Any",
        "",
        "from .tensor import Tensor",
        "",
        "FUNCTIONS: dict[str, Any]",
        "NAMESPACES: dict[str, dict[str, Any]]",
        "__all__: list[str]",
        "",
    ]
    for name in api.__all__:
        fn = getattr(api, name)
        op_name = getattr(fn, "__wrapped__", fn).__name__
        returns = "Any" if name in several or op_name in several else "Tensor"
        doc = (inspect.getdoc(fn) or "").strip().splitlines()
        summary = doc[0].replace("\\", "\\\\").replace('"""', "'''") if doc else ""
        lines.append(f"def {name}({_signature(fn)}) -> {returns}:")
        lines.append(f'    """{summary}"""' if summary else "    ...")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv) -> int:
    text = stub()
    if "--check" in argv:
        with open(STUB, encoding="utf-8") as fh:
            if fh.read() != text:
                print("microgradnp/api.pyi is out of date: run python .ci/make_stubs.py", file=sys.stderr)
                return 1
        return 0
    with open(STUB, "w", encoding="utf-8") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
