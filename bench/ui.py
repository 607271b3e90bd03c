"""The web view on M (10,000 pods), measured in the browser: ``make bench-ui``.

    python -m bench.ui --data .bench [--repeat 3] [--changes 50]

Stores M as version 1 and M with 50 generated changes as version 2 of a cluster on a
real server (SQLite), compiles both (one summary request each: what "after the snapshot is
compiled" means), then drives Debian's Chromium through the pages and reads the pages' own
performance marks: the first matrix paint (from the browser's navigation start, page and
scripts included, and from the route's start), the drill-down into the busiest namespace
pair, the graph of that namespace, and the diff view of the two versions (first view, then
again). Figures are medians over ``--repeat`` fresh pages.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.engine import DEFAULT_GENERATOR, generate
from service.client import request_body
from tests.api.conftest import running_server, test_settings
from tests.ui.browser import INSTALL_HINT, chromium, chromium_path

CLUSTER = "m"


def mutated(generator: Path, source: Path, changes: int) -> Path:
    target = source.with_name(f"{source.stem}-{changes}.json")
    if not target.exists():
        subprocess.run(
            [sys.executable, str(generator), "mutate", "--in", str(source), "--changes",
             str(changes), "--out", str(target)],
            check=True,
        )  # fmt: skip
    return target


def upload(client: httpx.Client, path: Path) -> None:
    started = time.perf_counter()
    response = client.post(
        f"/v1/clusters/{CLUSTER}/snapshots",
        content=request_body(path.read_bytes()),
        headers={"Content-Type": "application/json"},
    )
    response.raise_for_status()
    print(f"stored {path.name} as version {response.json()['version']} in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip


def timing(page: Any, base_url: str, fragment: str, name: str) -> dict[str, int]:
    page.evaluate("() => { if (window.__netreach) window.__netreach.timings = {}; }")
    page.goto(f"{base_url}/ui/{fragment}")
    page.wait_for_function(
        f"() => window.__netreach && window.__netreach.timings[{name!r}] !== undefined",
        timeout=120_000,
    )
    values: dict[str, int] = page.evaluate(
        f"() => ({{route: window.__netreach.timings[{name!r}], "
        f"navigation: window.__netreach.sinceNavigation[{name!r}]}})"
    )
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path(".bench"))
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    base = generate(args.generator, "M", args.data)
    head = mutated(args.generator, base, args.changes)
    results: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = test_settings(
            f"sqlite:///{tmp}/ui.db", max_body_bytes=512 * 1024 * 1024, log_level="warning",
            max_page_size=1000,
        )  # fmt: skip
        with running_server(settings) as base_url, chromium(executable) as context:
            with httpx.Client(base_url=base_url, timeout=600) as client:
                upload(client, base)
                upload(client, head)
                for version in (1, 2):
                    started = time.perf_counter()
                    url = f"/v1/clusters/{CLUSTER}/snapshots/{version}/connectivity/summary"
                    summary = client.get(url).json()
                    print(f"compiled version {version} and its workload map in "
                          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
            cells = [c for c in summary["cells"] if c["from"] != c["to"] and not c["external"]]
            busiest = max(cells, key=lambda c: c["connections"])
            source, target = busiest["from"], busiest["to"]
            print(f"drill-down: {source} -> {target} ({busiest['connections']} connections)",
                  file=sys.stderr)  # fmt: skip
            for run in range(args.repeat):
                page = context.new_page()
                first = timing(page, base_url, f"#/c/{CLUSTER}/2/matrix", "matrix")
                results.setdefault("first matrix paint, from navigation start", []).append(
                    first["navigation"]
                )
                results.setdefault("matrix, route to paint", []).append(first["route"])
                drill = timing(page, base_url, f"#/c/{CLUSTER}/2/between/{source}/{target}",
                               "drill-down")  # fmt: skip
                results.setdefault("drill-down (busiest namespace pair)", []).append(drill["route"])
                graph = timing(page, base_url, f"#/c/{CLUSTER}/2/graph/{source}", "graph")
                results.setdefault(f"graph of {source}", []).append(graph["route"])
                diff = timing(page, base_url, f"#/c/{CLUSTER}/diff?base=1&head=2", "diff")
                label = "diff view, first" if run == 0 else "diff view, again"
                results.setdefault(label, []).append(diff["route"])
                page.close()
    print(f"\nweb view on M ({args.changes} changes between the versions), medians of "
          f"{args.repeat} fresh pages:")  # fmt: skip
    for name, values in results.items():
        print(f"  {name:45} {statistics.median(values):7.0f} ms   {values}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
