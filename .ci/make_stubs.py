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
METHODS_STUB = os.path.join(ROOT, "microgradnp", "_methods.pyi")


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


def _header(what: str) -> list:
    """The first lines of a stub: what it types, that it is generated, what it imports."""
    return [f'"""Type stub of {what}.', "",
            "Written by .ci/make_stubs.py from the registry; do not edit (tests/test_stubs.py checks it).", '"""', "",
            "from typing import Any", "", "from ._tensor import Tensor", ""]


def stub() -> str:
    sys.path.insert(0, ROOT)
    from microgradnp import api
    from microgradnp.ops import REGISTRY

    several = {name for name, op in REGISTRY.items() if op.unpack is not None}
    lines = _header("microgradnp.api: the public functions the op registry generates") + [
        "FUNCTIONS: dict[str, Any]",
        "NAMESPACES: dict[str, dict[str, Any]]",
        "",
        "def implements(numpy_function: Any) -> Any:",
        '    """Route ``numpy_function`` called on Tensors to the decorated function."""',
        "",
    ]
    lines += ["__all__ = ["] + [f"    {name!r}," for name in api.__all__] + ["]", ""]
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


def _summary(fn) -> str:
    doc = (inspect.getdoc(fn) or "").strip().splitlines()
    return doc[0].replace("\\", "\\\\").replace('"""', "'''") if doc else ""


def _method(name: str, fn, returns: str, decorator: str | None = None) -> list:
    """A method of the stub: ``fn``'s parameters after the first become the method's after ``self``."""
    params = [] if decorator == "property" else _signature(fn).split(", ")[1:]
    params = params[1:] if params and params[0] == "/" else params
    head = [f"    @{decorator}"] if decorator else []
    summary = _summary(fn)
    # == and != give a Tensor, as NumPy's give an array (its stubs say the same to type checkers this way)
    ignore = "  # type: ignore[override]" if name in ("__eq__", "__ne__") else ""
    return head + [f"    def {name}({', '.join(['self', *params])}) -> {returns}:{ignore}",
                   f'        """{summary}"""' if summary else "        ..."]


def methods_stub() -> str:
    """The stub of the Tensor methods the registry installs (microgradnp/api.py), read by type checkers through
    ``TensorMethods``, the base class ``Tensor`` has for them alone (microgradnp/_tensor.py)."""
    sys.path.insert(0, ROOT)
    from microgradnp import api
    from microgradnp.ops import REGISTRY

    lines = _header("the Tensor methods, properties and operators the op registry installs") + [
        "class TensorMethods:",
    ]
    seen = set()
    for op in REGISTRY.values():
        f = api.function(op)
        returns = "Any" if op.unpack is not None else "Tensor"
        entries = [(n, None) for n in op.methods] + [(n, "property") for n in op.properties]
        entries += [(n, None) for n in op.operators] + [(api._INPLACE[n], None) for n in op.operators
                                                         if n in api._INPLACE]
        for name, decorator in entries:
            if name not in seen:
                seen.add(name)
                lines += _method(name, f, returns, decorator)
    lines += _method("backward", api._backward, "None")
    lines += _method("to", api._to, "Tensor")
    from microgradnp import viz  # installs Tensor.draw (the Tensor knows nothing of drawing)

    lines += _method("draw", viz._draw, "Any")
    return "\n".join(lines).rstrip() + "\n"


def main(argv) -> int:
    for path, text in ((STUB, stub()), (METHODS_STUB, methods_stub())):
        if "--check" in argv:
            with open(path, encoding="utf-8") as fh:
                if fh.read() != text:
                    print(f"{os.path.relpath(path, ROOT)} is out of date: run python .ci/make_stubs.py",
                          file=sys.stderr)
                    return 1
            continue
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
