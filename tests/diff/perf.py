"""Performance figures of the diff features, over HTTP against a real server (SQLite).

    python -m tests.diff.perf --base m.json --head m2.json [--large l.json] [--versions 100]

* stored diff: both files uploaded, then ``GET /v1/clusters/c/diff`` (cold, then warm);
* what-if: five NetworkPolicies of ``--large`` (or ``--base``) changed, ``POST .../what-if``
  (cold: the base is compiled first; warm: the base map is cached);
* bisection: ``--versions`` versions of ``--base`` (a policy opened at two thirds), then
  ``GET .../history/reachability?first=allowed``.

Not a test (pytest does not collect it); the files come from any cluster generator.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from service.store import make_engine, make_session_factory
from service.store.migrate import upgrade
from service.usecases.snapshots import record_snapshot
from tests.api.conftest import create_token, running_server, test_settings


def _items(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    return list(data["items"] if isinstance(data, dict) else data)


def _timed(label: str, call: Any) -> Any:
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:500]
    print(f"{label}: {elapsed:.2f} s ({len(response.content):,} bytes)")
    return response


def _upload(client: httpx.Client, cluster: str, path: Path) -> None:
    started = time.perf_counter()
    response = client.post(
        f"/v1/clusters/{cluster}/snapshots",
        content=path.read_bytes(),
        headers={"Content-Type": "application/json"},
        timeout=600,
    )
    assert response.status_code in (200, 201), response.text[:500]
    print(f"upload {path.name} -> {cluster}: {time.perf_counter() - started:.1f} s")


def _changed_policies(items: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    out = []
    for body in items:
        if body.get("kind") == "NetworkPolicy" and body["spec"].get("ingress"):
            changed = copy.deepcopy(body)
            changed["spec"]["ingress"][0]["ports"] = [{"protocol": "TCP", "port": 8443}]
            out.append(changed)
            if len(out) == count:
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--head", type=Path, required=True)
    parser.add_argument("--large", type=Path)
    parser.add_argument("--versions", type=int, default=100)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="netreach-perf-"))
    url = f"sqlite:///{directory / 'perf.db'}"
    upgrade(url)
    token = create_token(url, "perf", "write")
    settings = test_settings(url, max_body_bytes=1 << 30, cache_size=8)
    with running_server(settings) as base_url:
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=600
        )
        _upload(client, "m", args.base)
        _upload(client, "m", args.head)
        for run in ("cold", "warm"):
            _timed(
                f"stored diff M v1..v2 ({run})",
                lambda: client.get("/v1/clusters/m/diff", params={"base": "1", "head": "2"}),
            )
        _timed(
            "stored diff M v1..v2 markdown",
            lambda: client.get(
                "/v1/clusters/m/diff", params={"base": "1", "head": "2", "format": "md"}
            ),
        )

        large = args.large or args.base
        if args.large:
            _upload(client, "l", args.large)
        cluster = "l" if args.large else "m"
        change = {"manifests": _changed_policies(_items(large), 5)}
        for run in ("cold", "warm", "warm"):
            _timed(
                f"what-if 5 policies on {cluster} ({run})",
                lambda: client.post(f"/v1/clusters/{cluster}/snapshots/1/what-if", json=change),
            )

        items = _items(args.base)
        policy = next(
            b for b in items
            if b.get("kind") == "NetworkPolicy" and b["spec"].get("ingress")
            and set(b["spec"].get("podSelector") or {}) <= {"matchLabels"}
        )  # fmt: skip
        namespace = policy["metadata"]["namespace"]
        opened = copy.deepcopy(policy)
        opened["spec"]["ingress"].append(
            {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 7777}]}
        )
        factory = make_session_factory(make_engine(url))
        started = time.perf_counter()
        turn = args.versions * 2 // 3
        for version in range(1, args.versions + 1):
            docs = [opened if b is policy and version >= turn else b for b in items]
            docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": f"v{version}", "namespace": namespace}})  # fmt: skip
            with factory() as session:
                record_snapshot(
                    session, "h", json.dumps(docs).encode(), content_type="application/json"
                )
                session.commit()
        print(f"stored {args.versions} versions: {time.perf_counter() - started:.0f} s")
        selector = policy["spec"].get("podSelector", {}).get("matchLabels", {})
        target = next(
            b for b in items
            if b.get("kind") == "Pod" and b["metadata"].get("namespace") == namespace
            and selector.items() <= (b["metadata"].get("labels") or {}).items()
        )  # fmt: skip
        params = {"from": "203.0.113.7", "to": f"{namespace}/{target['metadata']['name']}",
                  "port": "7777", "first": "allowed"}  # fmt: skip
        response = _timed(
            f"bisect over {args.versions} versions (cold)",
            lambda: client.get("/v1/clusters/h/history/reachability", params=params),
        )
        body = response.json()
        print(f"  first allowed: {body['version']} (expected {turn}), "
              f"{len(body['probes'])} probes")  # fmt: skip
        _timed(
            f"bisect over {args.versions} versions (warm)",
            lambda: client.get("/v1/clusters/h/history/reachability", params=params),
        )


if __name__ == "__main__":
    main()
