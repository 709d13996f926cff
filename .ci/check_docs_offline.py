"""Check the built site in headless Chromium with the network off: math typeset, nothing fetched from outside.

Usage: python .ci/check_docs_offline.py site
"""

from __future__ import annotations

import html
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tests.browser import dom_after  # noqa: E402

PROBE = """
  var maths = Array.from(document.querySelectorAll('math'));
  var external = Array.from(document.querySelectorAll('link[href^="http"], script[src^="http"], img[src^="http"]'))
    .map(function (e) { return e.getAttribute('href') || e.getAttribute('src'); });
  document.body.dataset.probe = JSON.stringify({
    math: maths.length,
    drawn: maths.filter(function (m) { var r = m.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length,
    raw: (document.body.innerText.match(/\\\\\\(|\\\\\\[|\\$\\$/g) || []).length,
    external: external
  });
"""

# Pages with math, and the reference pages the roles hook rewrites.
PAGES = ["concepts/index.html", "graphs/index.html", "tutorials/blobs/index.html", "reference/tensor/index.html"]


def main(site: str) -> int:
    failures = []
    for page in PAGES:
        path = os.path.join(site, page)
        found = re.search(r'data-probe="([^"]*)"', dom_after(path, PROBE))
        if not found:
            failures.append(f"{page}: the page did not load in headless Chromium")
            continue
        result = json.loads(html.unescape(found.group(1)))
        print(f"{page}: {result['math']} formulas, {result['drawn']} drawn, external resources: {result['external']}")
        if result.get("error") or result["drawn"] != result["math"] or result["raw"] or result["external"]:
            failures.append(f"{page}: {result}")
    for f in failures:
        print("FAILED", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "site"))
