"""Headless Chromium for the review page's tests: Debian's `chromium`, driven by Playwright's
Python package (the `browser` extra) against that executable; nothing downloads a browser.

`page()` skips the test, saying why, where either is missing (`make` installs both where it can:
scripts/install-browser.sh). WSDATA_CHROMIUM names another Chromium executable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

# A fresh profile, no GPU, and none of the background connections Chromium makes at start (to
# Google's hosts: refused, or slow to fail, on an air-gapped machine).
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def executable() -> str | None:
    return os.environ.get("WSDATA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def page(width: int = 1000, height: int = 1100) -> Iterator[Any]:
    """A new page in a new headless Chromium; its script errors and console errors (a policy
    violation is one) are in `page.errors`."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="no playwright: pip install -e '.[browser]'")
    exe = executable()
    if exe is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium); the browser tests run where it is")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=ARGS)
        try:
            pg = browser.new_page(viewport={"width": width, "height": height})
            pg.errors = []
            pg.on("pageerror", lambda e: pg.errors.append(str(e)))
            pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
            yield pg
        finally:
            browser.close()


def wait(pg: Any, condition: str, timeout_ms: int = 20_000) -> None:
    """Wait until the JavaScript expression `condition` holds. Given as a function: the page's
    Content-Security-Policy forbids evaluating strings, and Playwright evaluates a bare expression so.
    Right after a click on a link the new document may have no body yet: that counts as "not yet"."""
    pg.wait_for_function(f"() => document.body !== null && ({condition})", timeout=timeout_ms)


def follow(pg: Any, locator: Any) -> None:
    """Click the link `locator` and wait until the page it leads to has loaded."""
    with pg.expect_navigation():
        locator.click()


def settled(pg: Any, position: int) -> None:
    """Wait until the review page shows queue position `position` with no key action running."""
    wait(pg, f"document.body.dataset.position === '{position}' && document.body.dataset.pending === '0'")
