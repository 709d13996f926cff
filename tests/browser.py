"""Headless Chromium for the tests of HTML output: a page's DOM after its scripts ran, with the network off."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)

#: Every request outside the file system fails: a page that needs the network shows it.
OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]


def dom_after(path: str, probe: str, seconds: int = 60, window: tuple = (1400, 1000)) -> str:
    """The DOM of the page at ``path`` once its scripts and then ``probe`` (JavaScript) ran.

    The probe runs in a copy of the page written next to it (so relative
    links resolve the same), appended as the last script of the body; it
    reports by changing the DOM (``document.body.dataset.probe = ...``).
    """
    if CHROMIUM is None:
        raise RuntimeError("headless Chromium is not installed (apt-get install chromium)")
    with open(path, encoding="utf-8") as fh:
        page = fh.read()
    script = ("<script>window.addEventListener('load', function () { try { " + probe + " } catch (e) { "
              "document.body.dataset.probe = JSON.stringify({error: String(e)}); } });</script>")
    page = page.replace("</body>", script + "</body>") if "</body>" in page else page + script
    folder = os.path.dirname(os.path.abspath(path))
    fd, probe_path = tempfile.mkstemp(suffix=".html", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *OFFLINE, "--virtual-time-budget=5000",
             f"--window-size={window[0]},{window[1]}", "--hide-scrollbars", "--force-device-scale-factor=1",
             "--dump-dom", "file://" + probe_path],
            capture_output=True, text=True, timeout=seconds)
    finally:
        os.remove(probe_path)
    return done.stdout


#: What a drawing must be, measured in the page: the smallest text, nodes outside the canvas (clipped),
#: nodes under the HTML view's panel.
READABILITY_PROBE = """
  var svg = document.querySelector('svg'), panel = document.getElementById('mg-panel');
  var canvas = document.getElementById('mg-canvas') || svg;
  var sheet = svg.querySelector('g.graph > polygon').getBoundingClientRect();  // Graphviz's canvas
  var c = canvas.getBoundingClientRect(), p = panel ? panel.getBoundingClientRect() : null;
  function meets(a, b) { return a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1; }
  var smallest = 1e9, outside = [], under = [], nodes = svg.querySelectorAll('g.node');
  svg.querySelectorAll('text').forEach(function (t) {
    var h = t.getBoundingClientRect().height; if (h > 0) smallest = Math.min(smallest, h); });
  nodes.forEach(function (g) {
    var r = g.getBoundingClientRect(), id = g.querySelector('title').textContent;
    var box = p ? sheet : c;  // the SVG alone: its own element is the canvas (a wider content is clipped)
    if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1 ||
        r.left < sheet.left - 1 || r.right > sheet.right + 1 || r.top < sheet.top - 1 || r.bottom > sheet.bottom + 1)
      outside.push(id);
    if (p && meets(r, c) && meets(r, p)) under.push(id);
  });
  var s = svg.getBoundingClientRect();
  document.body.dataset.probe = JSON.stringify({smallest: smallest, outside: outside, under: under, nodes: nodes.length,
    sheet: [sheet.width, sheet.height], svg: [s.width, s.height]});
"""


def _as_page(path: str) -> tuple[str, bool]:
    """An SVG drawing wrapped in a page that shows it at 100% (written next to it), or the HTML page itself."""
    if not str(path).endswith(".svg"):
        return str(path), False
    with open(path, encoding="utf-8") as fh:
        svg = fh.read()
    page = os.path.splitext(str(path))[0] + ".at100.html"
    with open(page, "w", encoding="utf-8") as fh:
        fh.write('<!DOCTYPE html><html><body style="margin:0">' + svg[svg.index("<svg"):] + "</body></html>")
    return page, True


def readability(path, window: tuple = (1400, 1000)) -> dict:
    """:data:`READABILITY_PROBE`'s findings for a drawing (SVG at 100%, or an HTML view), at ``window``:
    ``smallest`` (px), ``outside`` and ``under`` (node ids), ``nodes``; or ``error``."""
    page, made = _as_page(path)
    try:
        dom = dom_after(page, READABILITY_PROBE, window=window)
    finally:
        if made:
            os.remove(page)
    found = re.search(r'data-probe="([^"]*)"', dom)
    return json.loads(html.unescape(found.group(1))) if found else {"error": "the page did not load"}


def problems(found: dict) -> list:
    """What is wrong with a drawing by :func:`readability`'s findings (nothing: an empty list)."""
    if "error" in found:
        return [found["error"]]
    out = []
    if found["smallest"] < 10:
        out.append(f"text {found['smallest']:.1f} px high (under 10 px)")
    if found["outside"]:
        out.append(f"nodes outside the canvas (clipped): {found['outside'][:5]}")
    if found["under"]:
        out.append(f"nodes under the panel: {found['under'][:5]}")
    return out


def screenshot(path, png: str, window: tuple = (1400, 1000), seconds: int = 60) -> None:
    """A PNG of the drawing at ``path`` (SVG at 100%, or an HTML view) as Chromium shows it at ``window``."""
    page, made = _as_page(path)
    try:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *OFFLINE, "--hide-scrollbars",
                        f"--window-size={window[0]},{window[1]}", "--force-device-scale-factor=1",
                        "--virtual-time-budget=3000", f"--screenshot={os.path.abspath(png)}",
                        "file://" + os.path.abspath(page)], capture_output=True, timeout=seconds, check=True)
    finally:
        if made:
            os.remove(page)


def graph_drawings(folder: str) -> list:
    """The graph drawings among the built figures: Graphviz's SVGs and the HTML views."""
    found = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith(".svg"):
            with open(path, encoding="utf-8") as fh:
                if 'class="graph"' in fh.read(1000):  # Graphviz's drawing (matplotlib's SVGs have none)
                    found.append(path)
        elif name.endswith(".html"):
            found.append(path)
    return found
