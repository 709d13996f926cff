"""Check every graph drawing of the built docs as a reader sees it, in headless Chromium at 1400x1000.

Each drawing (SVG at 100%, or HTML view) must have no text under 10 px, no node outside its canvas,
no node under the HTML view's panel, and a screenshot in ``site/figures/screenshots/`` (the docs
build takes them).

Usage: python .ci/check_figures.py site
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tests.browser import graph_drawings, problems, readability  # noqa: E402


def main(site: str) -> int:
    figures = os.path.join(site, "figures")
    drawings = graph_drawings(figures)
    if not drawings:
        print(f"no graph drawings in {figures}", file=sys.stderr)
        return 1
    failed = 0
    for path in drawings:
        name = os.path.basename(path)
        shot = os.path.join(figures, "screenshots", os.path.splitext(name)[0] + ".png")
        found = problems(readability(path))
        if not (os.path.isfile(shot) and os.path.getsize(shot) > 1000):
            found.append(f"no screenshot at {shot}")
        print(f"{name}: {'; '.join(found) if found else 'readable, unclipped, screenshot taken'}")
        failed += bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "site"))
