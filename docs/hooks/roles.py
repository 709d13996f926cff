"""MkDocs hook: the Sphinx roles of the docstrings (``:func:`grad```) become links in the built site.

The docstrings name other objects the way ``help()`` readers and Sphinx
expect, ``:func:`name``` and ``:class:`~microgradnp._tensor.Tensor```;
rendered by mkdocstrings as Markdown they would show as raw text.  Once the
whole site is written, this hook collects the anchor of every documented
object (mkdocstrings gives each the id of its full path), and replaces each
role with a link to that anchor (by full path, or by the last part of the
name when it is unique), or, for an object the reference does not document,
with its name as code.
"""

from __future__ import annotations

import os
import re

_ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|exc|obj):<code>(~?)([\w.]+)</code>")
_ANCHOR = re.compile(r'id="(microgradnp(?:\.\w+)+)"')


def _pages(site_dir: str):
    for folder, _, names in os.walk(site_dir):
        for name in names:
            if name.endswith(".html"):
                yield os.path.join(folder, name)


def link_roles(site_dir: str) -> int:
    """Rewrite the roles in every page of ``site_dir``; returns how many became links."""
    anchors: dict[str, str] = {}
    texts = {}
    for path in _pages(site_dir):
        with open(path, encoding="utf-8") as fh:
            texts[path] = fh.read()
        rel = os.path.relpath(path, site_dir).replace(os.sep, "/")
        for full in _ANCHOR.findall(texts[path]):
            anchors.setdefault(full, f"{rel}#{full}")
    by_tail: dict[str, set] = {}
    for full in anchors:
        parts = full.split(".")
        for k in range(1, len(parts)):
            by_tail.setdefault(".".join(parts[-k:]), set()).add(full)
    linked = 0
    for path, text in texts.items():
        here = os.path.dirname(os.path.relpath(path, site_dir))

        def replace(m, here=here):
            nonlocal linked
            tilde, name = m.groups()
            shown = name.rsplit(".", 1)[-1] if tilde else name
            target = anchors.get(name)
            if target is None and len(by_tail.get(name, ())) == 1:
                target = anchors[next(iter(by_tail[name]))]
            if target is None:
                return f"<code>{shown}</code>"
            linked += 1
            href = os.path.relpath(target.split("#")[0], here or ".").replace(os.sep, "/") + "#" + target.split("#")[1]
            return f'<a href="{href}"><code>{shown}</code></a>'

        new = _ROLE.sub(replace, text)
        if new != text:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(new)
    return linked


def on_post_build(config, **kwargs):
    link_roles(config["site_dir"])
    index = os.path.join(config["site_dir"], "search", "search_index.json")
    if os.path.exists(index):  # the search snippets: the name alone
        with open(index, encoding="utf-8") as fh:
            text = fh.read()
        with open(index, "w", encoding="utf-8") as fh:
            fh.write(re.sub(r":(?:func|class|meth|attr|data|mod|exc|obj):(?=<code>)", "", text))
