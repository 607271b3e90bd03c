"""Serve the web view: ``/ui/`` (the page), ``/ui/assets/...`` (its scripts and styles).

The pages are static files of this package; everything they show comes from the public
``/v1`` API, called from the browser with the user's token. This module imports nothing of
the engine, the store or the use cases (an import-linter contract): there is no second code
path into the analyses. Nothing is loaded from elsewhere, and the Content-Security-Policy
says so to the browser.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
PREFIX = "/ui"

# Scripts, styles, images and API calls only from this origin; no inline script, no frames.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get(PREFIX)
def ui_without_slash() -> RedirectResponse:
    # The page's asset paths are relative: they need the trailing slash.
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@router.get(f"{PREFIX}/")
def ui_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)


class _Assets(StaticFiles):
    """Static files that revalidate (the pages change with the package) and never sniff."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response


def mount_ui(app: FastAPI) -> None:
    """Add the page and its assets to ``app``."""
    app.include_router(router)
    app.mount(f"{PREFIX}/assets", _Assets(directory=STATIC / "assets"), name="ui-assets")
