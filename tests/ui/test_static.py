"""The web view's files as the server serves them: no browser needed.

Offline by construction: every asset is served by netreach itself, the page's
Content-Security-Policy allows nothing but its own origin, and no file names another host.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from service.ui.router import CONTENT_SECURITY_POLICY, STATIC
from tests.ui.conftest import UiServer

ASSETS = STATIC / "assets"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def asset_files() -> list[Path]:
    return sorted(p for p in STATIC.rglob("*") if p.is_file())


@pytest.fixture
def client(ui_server: UiServer) -> httpx.Client:
    return httpx.Client(base_url=ui_server.base_url, timeout=30)


def test_root_and_ui_redirect_to_the_page(client: httpx.Client) -> None:
    root = client.get("/")
    assert root.status_code in (302, 307)
    assert root.headers["location"] == "/ui/"
    bare = client.get("/ui")
    assert bare.status_code == 308
    assert bare.headers["location"] == "/ui/"


def test_the_page_is_served_with_a_strict_policy(client: httpx.Client) -> None:
    page = client.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="assets/js/main.js">' in page.text


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/ui/assets/js/main.js", "text/javascript"),
        ("/ui/assets/app.css", "text/css"),
        ("/ui/assets/favicon.svg", "image/svg+xml"),
    ],
)
def test_assets_have_their_media_types(client: httpx.Client, path: str, media: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media


def test_a_missing_asset_is_a_404_in_the_error_envelope(client: httpx.Client) -> None:
    response = client.get("/ui/assets/js/nope.js")
    assert response.status_code == 404
    assert set(response.json()) == {"error"}
    assert client.get("/ui/assets/../../main.py").status_code == 404


def test_every_asset_is_served(client: httpx.Client) -> None:
    for file in asset_files():
        if file.parent == STATIC:
            continue
        url = "/ui/assets/" + file.relative_to(ASSETS).as_posix()
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.content == file.read_bytes()


def test_no_file_names_another_host() -> None:
    """No CDN, no web font, no analytics: the only absolute URL is the SVG namespace name,
    which no browser fetches."""
    pattern = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
    for file in asset_files():
        text = file.read_text().replace(SVG_NAMESPACE, "")
        found = {m.group(0) for m in pattern.finditer(text)}
        assert not found, f"{file.name} names {found}"
        assert "@import" not in text, file.name
        assert "url(http" not in text, file.name


def test_every_module_import_resolves() -> None:
    imports = re.compile(r'^import .* from "(\.[^"]+)";$', re.MULTILINE)
    scripts = sorted((ASSETS / "js").rglob("*.js"))
    assert len(scripts) > 5
    for script in scripts:
        for target in imports.findall(script.read_text()):
            assert (script.parent / target).resolve().is_file(), f"{script.name}: {target}"


def test_no_inline_script_or_style_in_the_page() -> None:
    html = (STATIC / "index.html").read_text()
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert "<style" not in html
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers
