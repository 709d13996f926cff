"""MkDocs hook: typeset the docs' TeX as MathML when the site is built, so math needs no script and no network.

``pymdownx.arithmatex`` (generic mode) leaves each formula in the page as
``<span class="arithmatex">\\(...\\)</span>`` (inline) or
``<div class="arithmatex">\\[...\\]</div>`` (display).  This hook replaces
each one with MathML from ``latex2mathml`` (a PyPI package, pure Python),
which every current browser draws natively.  A formula it cannot convert
fails the build, naming the page and the formula.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_DISPLAY = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def _mathml(tex: str, display: str, page) -> str:
    source = html.unescape(tex).strip()
    try:
        return convert(source, display=display)
    except Exception as exc:  # latex2mathml raises its own types; any of them is a broken formula
        raise ValueError(f"{page.file.src_path}: cannot typeset ${source}$: {exc}") from exc


def typeset(content: str, page=None) -> str:
    """``content`` (a page's HTML) with every arithmatex formula as MathML."""
    content = _DISPLAY.sub(lambda m: f'<div class="math-display">{_mathml(m.group(1), "block", page)}</div>', content)
    return _INLINE.sub(lambda m: _mathml(m.group(1), "inline", page), content)


def on_page_content(html_text, page, config, files):
    return typeset(html_text, page)
