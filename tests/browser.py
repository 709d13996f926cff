"""Headless Chromium for the tests of HTML output: a page's DOM after its scripts ran, with the network off."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)

#: Every request outside the file system fails: a page that needs the network shows it.
OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]


def dom_after(path: str, probe: str, seconds: int = 60) -> str:
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
             "--dump-dom", "file://" + probe_path],
            capture_output=True, text=True, timeout=seconds)
    finally:
        os.remove(probe_path)
    return done.stdout
