"""Browser tests: a real server (uvicorn, SQLite, tokens) with the demo stored, and Debian's
Chromium driven by Playwright.

Without Chromium the browser tests are skipped with the install command, except in CI
(``CI=true``), where a missing browser is a failure. Every request a page makes is recorded;
each test ends by asserting that all of them went to the test server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.api.conftest import create_token, running_server, test_settings
from tests.conftest import ThrowawayDatabases
from tests.ui.browser import INSTALL_HINT, chromium, chromium_path

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page

DEMO = "demo"


@dataclass
class UiServer:
    base_url: str
    token: str
    read_token: str


@dataclass
class Browsing:
    """A page of the web view, and every URL it requested."""

    page: Page
    server: UiServer
    requests: list[str] = field(default_factory=list)

    def open(self, fragment: str = "#/", token: str | None = "admin") -> Page:
        """Go to ``/ui/<fragment>`` (with the token in the session) and wait until drawn."""
        url = f"{self.server.base_url}/ui/"
        if self.page.url.split("#")[0] != url:
            self.page.goto(url)
            self.wait()
        wanted = {"admin": self.server.token, "read": self.server.read_token}.get(
            token or "", token
        )
        if (token is None and self.page.evaluate("() => sessionStorage.length > 0")) or (
            token is not None
            and self.page.evaluate("() => sessionStorage.getItem('netreach.token')") != wanted
        ):
            self.page.fill("#token-input", wanted or "")
            self.page.click("#token-form button[type=submit]")
            self.wait()
        self.page.goto(url + fragment)
        self.wait()
        return self.page

    def wait(self) -> None:
        self.page.wait_for_function(
            "() => window.__netreach && window.__netreach.rendered === location.hash",
            timeout=30_000,
        )


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    executable = chromium_path()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        executable = None
    if executable is None:
        if _in_ci():
            pytest.fail(f"Chromium or Playwright is missing in CI: {INSTALL_HINT}")
        pytest.skip(INSTALL_HINT)
    return executable


@pytest.fixture(scope="session")
def ui_server(throwaway_databases: ThrowawayDatabases) -> Iterator[UiServer]:
    database_url = throwaway_databases.create("sqlite")
    with running_server(test_settings(database_url, max_page_size=1000)) as base_url:
        token = create_token(database_url, "ui-admin", "admin")
        read_token = create_token(database_url, "ui-read", "read")
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            for name in ("v1.yaml", "v2.yaml"):
                data = resources.files("service.demo").joinpath(name).read_bytes()
                response = client.post(
                    f"/v1/clusters/{DEMO}/snapshots",
                    content=data,
                    headers={"Content-Type": "application/yaml"},
                )
                assert response.status_code == 201, response.text
        yield UiServer(base_url, token, read_token)


@pytest.fixture(scope="session")
def browser_context(chromium_binary: str) -> Iterator[BrowserContext]:
    with chromium(chromium_binary) as context:
        yield context


@pytest.fixture
def browsing(browser_context: BrowserContext, ui_server: UiServer) -> Iterator[Browsing]:
    page = browser_context.new_page()
    session = Browsing(page, ui_server)
    page.on("request", lambda request: session.requests.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A Content-Security-Policy violation is a console error; a refused API call (a test's
    # bad token, a missing cluster) is logged by the browser as a failed resource: expected.

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            errors.append(message.text)

    page.on("console", on_console)
    try:
        yield session
    finally:
        page.close()
    outside = [url for url in session.requests if not url.startswith(ui_server.base_url + "/")]
    assert not outside, f"requests left the test server: {outside}"
    assert not errors, f"errors in the page: {errors}"
