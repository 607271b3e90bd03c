"""Debian's Chromium, driven by Playwright, without downloading a browser.

Playwright's own browser builds are never used (``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD``): the
system's ``chromium`` runs headless with a fresh profile and no network of its own
(no component updates, sync, background requests or first-run pages).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
INSTALL_HINT = (
    "the browser tests need Debian's Chromium: `sudo apt-get install -y chromium` "
    "(and `make install` for Playwright's Python package); set NETREACH_CHROMIUM to use "
    "another Chromium binary"
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
)


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when the machine has none."""
    configured = os.environ.get("NETREACH_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    return found


@contextmanager
def chromium(executable: str) -> Iterator[BrowserContext]:
    """A headless Chromium with a throwaway profile, closed (and its profile removed) after."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="netreach-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=[*FLAGS],
                viewport={"width": 1280, "height": 860},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    """``python -m tests.ui.browser``: say whether the browser tests can run here."""
    executable = chromium_path()
    try:
        import playwright  # noqa: F401
    except ImportError:
        executable = None
    if executable is None:
        print(f"note: the browser tests will be skipped: {INSTALL_HINT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
