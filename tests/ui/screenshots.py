"""Screenshots of every page of the web view, from the demo: ``make screenshots``.

Serves a throwaway SQLite database holding the demo (no tokens: a loopback server is open
then), drives Debian's Chromium through each page and writes PNGs (``--out``, default
``docs/screenshots``). Deterministic apart from the stored times.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from importlib import resources
from pathlib import Path

import httpx

from tests.api.conftest import running_server, test_settings
from tests.ui.browser import INSTALL_HINT, chromium, chromium_path

PAGES = [
    ("clusters", "#/", "light"),
    ("matrix", "#/c/demo/2/matrix", "light"),
    ("matrix-dark", "#/c/demo/2/matrix", "dark"),
    ("drill-down", "#/c/demo/2/between/shop/payments", "light"),
    ("graph", "#/c/demo/2/graph/shop", "light"),
    ("explain", "#/c/demo/2/explain?from=shop/Deployment/api&to=payments/Service/gateway"
                "&port=443", "light"),
    ("policy-yaml", "#/c/demo/2/object/NetworkPolicy/payments/gateway-from-shop-api"
                    "?path=spec.ingress[0].from[0]", "light"),
    ("diff", "#/c/demo/diff?base=1&head=2", "light"),
    ("lint", "#/c/demo/2/lint", "light"),
]  # fmt: skip
MAX_HEIGHT = 1400


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = test_settings(f"sqlite:///{tmp}/screens.db", log_level="warning")
        with running_server(settings) as base_url, chromium(executable) as context:
            with httpx.Client(base_url=base_url, timeout=60) as client:
                for name in ("v1.yaml", "v2.yaml"):
                    data = resources.files("service.demo").joinpath(name).read_bytes()
                    response = client.post(
                        "/v1/clusters/demo/snapshots",
                        content=data,
                        headers={"Content-Type": "application/yaml"},
                    )
                    response.raise_for_status()
            page = context.new_page()
            page.set_viewport_size({"width": 1200, "height": 800})
            for name, fragment, scheme in PAGES:
                page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
                page.goto(f"{base_url}/ui/{fragment}")
                page.wait_for_function(
                    "() => window.__netreach && window.__netreach.rendered === location.hash"
                )
                if name == "drill-down":
                    page.locator("#pairs button", has_text="pod pairs").first.click()
                    page.locator("table.pod-pairs tbody tr").first.wait_for()
                if name == "graph":
                    page.locator('svg.graph .node[data-name="shop/Deployment/api"]').focus()
                page.wait_for_timeout(150)
                height = min(page.evaluate("() => document.body.scrollHeight"), MAX_HEIGHT)
                target = args.out / f"{name}.png"
                page.screenshot(
                    path=str(target), clip={"x": 0, "y": 0, "width": 1200, "height": height},
                    full_page=True,
                )  # fmt: skip
                print(f"{target} ({target.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
