"""GET .../connectivity/summary and .../connectivity/between over a real server.

The expected matrix is recomputed here, in plain Python, from the public workload map
(``GET .../connectivity?granularity=workload``), on the demo and on a generated cluster:
the summary must be exactly that aggregation, filters included.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import YAML, assert_error

GENERATOR = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "gen_cluster.py"
DNS_LABELS = {
    ("k8s-app", "kube-dns"),
    ("k8s-app", "coredns"),
    ("app.kubernetes.io/name", "coredns"),
}
ALL = 65535


def demo_bytes(name: str) -> bytes:
    return resources.files("service.demo").joinpath(name).read_bytes()


def group(endpoint: dict[str, Any]) -> str:
    return "IPBlock" if endpoint["kind"] == "IPBlock" else str(endpoint["namespace"])


def ranges(ports: list[dict[str, Any]]) -> set[tuple[str, int, int]]:
    out = set()
    for p in ports:
        start = p.get("port", 1)
        out.add((p["protocol"], start, p.get("endPort", start if "port" in p else ALL)))
    return out


def allows(ports: list[dict[str, Any]], protocol: str | None, port: int | None) -> bool:
    return any(
        (protocol is None or proto == protocol) and (port is None or lo <= port <= hi)
        for proto, lo, hi in ranges(ports)
    )


def canonical(spans: set[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Port ranges merged per protocol (overlapping or adjacent ranges become one)."""
    merged: list[tuple[str, int, int]] = []
    for proto, lo, hi in sorted(spans):
        if merged and merged[-1][0] == proto and lo <= merged[-1][2] + 1:
            merged[-1] = (proto, merged[-1][1], max(hi, merged[-1][2]))
        else:
            merged.append((proto, lo, hi))
    return merged


def expected_matrix(
    connections: list[dict[str, Any]],
    dns_workloads: set[tuple[str, str, str]],
    protocol: str | None = None,
    port: int | None = None,
) -> dict[tuple[str, str], dict[str, Any]]:
    cells: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"pairs": set(), "connections": 0, "ports": set(), "dns": False}
    )
    for c in connections:
        if not allows(c["ports"], protocol, port):
            continue
        key = (group(c["from"]), group(c["to"]))
        cell = cells[key]
        side = [
            "outside" if e["kind"] == "IPBlock" else (e["namespace"], e["kind"], e["name"])
            for e in (c["from"], c["to"])
        ]
        cell["pairs"].add(tuple(side))
        cell["connections"] += 1
        cell["ports"] |= ranges(c["ports"])
        target = c["to"]
        if target["kind"] != "IPBlock" and (
            (target["namespace"], target["kind"], target["name"]) in dns_workloads
            and (allows(c["ports"], "UDP", 53) or allows(c["ports"], "TCP", 53))
        ):
            cell["dns"] = True
    return dict(cells)


def dns_workloads(client: httpx.Client, cluster: str) -> set[tuple[str, str, str]]:
    found = set()
    for kind in ("Deployment", "DaemonSet", "StatefulSet"):
        response = client.get(
            f"/v1/clusters/{cluster}/snapshots/latest/objects", params={"kind": kind, "limit": 50}
        )
        if response.status_code == 404:  # the snapshot holds no object of this kind
            continue
        while True:
            page = response.json()
            for item in page["items"]:
                labels = item["body"]["spec"]["template"]["metadata"].get("labels", {})
                if DNS_LABELS & set(labels.items()):
                    found.add((item["namespace"], kind, item["name"]))
            if not page["next_cursor"]:
                break
            response = client.get(
                f"/v1/clusters/{cluster}/snapshots/latest/objects",
                params={"kind": kind, "limit": 50, "cursor": page["next_cursor"]},
            )
    return found


def check_matrix(
    client: httpx.Client, cluster: str, protocol: str | None = None, port: int | None = None
) -> dict[str, Any]:
    base = f"/v1/clusters/{cluster}/snapshots/latest"
    connections = client.get(f"{base}/connectivity", params={"granularity": "workload"}).json()[
        "connections"
    ]
    params = {k: v for k, v in (("protocol", protocol), ("port", port)) if v is not None}
    response = client.get(f"{base}/connectivity/summary", params=params)
    assert response.status_code == 200, response.text
    summary = response.json()
    want = expected_matrix(connections, dns_workloads(client, cluster), protocol, port)
    got = {(c["from"], c["to"]): c for c in summary["cells"]}
    assert set(got) == set(want)
    for key, cell in want.items():
        assert got[key]["workload_pairs"] == len(cell["pairs"]), key
        assert got[key]["connections"] == cell["connections"], key
        assert canonical(ranges(got[key]["ports"])) == canonical(cell["ports"]), key
        assert canonical(ranges(got[key]["ports"])) == sorted(ranges(got[key]["ports"])), key
        assert got[key]["dns"] == cell["dns"], key
        assert got[key]["external"] == ("IPBlock" in key), key
    assert summary["connections"] == sum(c["connections"] for c in want.values())
    assert summary["filter"] == {"port": port, "protocol": protocol}
    return dict(summary)


@pytest.fixture
def demo(client: httpx.Client, cluster: str) -> str:
    for name in ("v1.yaml", "v2.yaml"):
        response = client.post(
            f"/v1/clusters/{cluster}/snapshots", content=demo_bytes(name), headers=YAML
        )
        assert response.status_code == 201, response.text
    return cluster


def test_demo_matrix_is_the_aggregate_of_the_workload_map(client: httpx.Client, demo: str) -> None:
    summary = check_matrix(client, demo)
    assert summary["cluster"] == demo
    assert summary["version"] == 2
    cells = {(c["from"], c["to"]): c for c in summary["cells"]}
    # v2: shop/api may call payments/gateway on 8443, and shop reaches DNS on UDP 53 only.
    assert cells[("shop", "payments")]["ports"] == [{"protocol": "TCP", "port": 8443}]
    assert cells[("shop", "payments")]["workload_pairs"] == 1
    assert cells[("shop", "kube-system")] | {"ports": None} == {
        "from": "shop", "to": "kube-system", "workload_pairs": 3, "connections": 3,
        "ports": None, "external": False, "dns": True,
    }  # fmt: skip
    assert cells[("IPBlock", "shop")]["ports"] == [{"protocol": "TCP", "port": 8080}]
    groups = {g["key"]: g for g in summary["groups"]}
    assert groups["shop"] == {"key": "shop", "kind": "Namespace", "workloads": 3, "pods": 3}
    assert summary["groups"][-1]["key"] == "IPBlock"


@pytest.mark.parametrize(
    ("protocol", "port"), [("TCP", None), ("UDP", None), (None, 53), ("TCP", 8443), (None, 1)]
)
def test_demo_matrix_filters(
    client: httpx.Client, demo: str, protocol: str | None, port: int | None
) -> None:
    check_matrix(client, demo, protocol, port)


def test_version_one_is_another_matrix(client: httpx.Client, demo: str) -> None:
    one = client.get(f"/v1/clusters/{demo}/snapshots/1/connectivity/summary").json()
    cells = {(c["from"], c["to"]) for c in one["cells"]}
    assert one["version"] == 1
    assert ("shop", "payments") in cells  # v1: shop egress is open
    assert ("monitoring", "payments") not in cells  # v2 opened the gateway to every namespace


@pytest.fixture(scope="module")
def generated(api: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A generated cluster (400 pods as workloads, 80 policies), stored once per backend."""
    if not GENERATOR.exists():
        pytest.skip(f"the cluster generator is not at {GENERATOR}")
    out = tmp_path_factory.mktemp("gen") / "cluster.json"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--pods", "400", "--seed", "7", "--workloads",
         "--out", str(out)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    name = f"gen-{api.backend}"
    with api.client() as client:
        response = client.post(
            f"/v1/clusters/{name}/snapshots",
            content=out.read_bytes(),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code in (200, 201), response.text
    return name


@pytest.mark.parametrize(("protocol", "port"), [(None, None), ("TCP", 443), ("UDP", None)])
def test_generated_matrix(
    client: httpx.Client, generated: str, protocol: str | None, port: int | None
) -> None:
    summary = check_matrix(client, generated, protocol, port)
    if protocol is None:
        assert len(summary["cells"]) > 10
        assert any(c["dns"] for c in summary["cells"])
        assert any(c["from"] == "IPBlock" for c in summary["cells"])


def test_between_lists_one_cell_in_pages(client: httpx.Client, demo: str) -> None:
    base = f"/v1/clusters/{demo}/snapshots/latest/connectivity"
    everything = client.get(base, params={"granularity": "workload"}).json()["connections"]
    for source, target in [("shop", "kube-system"), ("IPBlock", "shop"), ("shop", "IPBlock")]:
        want = [c for c in everything if group(c["from"]) == source and group(c["to"]) == target]
        rows: list[dict[str, Any]] = []
        params: dict[str, Any] = {"from": source, "to": target, "limit": 2}
        while True:
            page = client.get(f"{base}/between", params=params).json()
            assert page["total"] == len(want)
            assert (page["from"], page["to"], page["version"]) == (source, target, 2)
            rows += page["connections"]
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
        assert rows == want


def test_between_filters_ports(client: httpx.Client, demo: str) -> None:
    base = f"/v1/clusters/{demo}/snapshots/latest/connectivity/between"
    page = client.get(base, params={"from": "shop", "to": "shop", "port": 5432}).json()
    assert [(c["from"]["name"], c["to"]["name"]) for c in page["connections"]] == [
        ("api", "postgres")
    ]
    assert page["filter"] == {"port": 5432, "protocol": None}
    none = client.get(base, params={"from": "shop", "to": "shop", "protocol": "SCTP"}).json()
    assert none["total"] == 0
    assert none["connections"] == []


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"from": "nope", "to": "shop"}, 404, "query.from"),
        ({"from": "shop", "to": "nope"}, 404, "query.to"),
        ({"from": "Shop", "to": "shop"}, 422, None),
        ({"from": "shop"}, 422, None),
        ({"from": "shop", "to": "shop", "port": 0}, 422, None),
        ({"from": "shop", "to": "shop", "protocol": "ICMP"}, 422, None),
        ({"from": "shop", "to": "shop", "cursor": "garbage"}, 422, "query.cursor"),
    ],
)
def test_between_refuses_bad_queries(
    client: httpx.Client, demo: str, params: dict[str, Any], status: int, field: str | None
) -> None:
    response = client.get(
        f"/v1/clusters/{demo}/snapshots/latest/connectivity/between", params=params
    )
    error = assert_error(response, status)
    if field is not None:
        assert any(d.get("field") == field for d in error["details"]), error


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/clusters/absent/snapshots/latest/connectivity/summary", 404),
        ("/v1/clusters/{c}/snapshots/9/connectivity/summary", 404),
        ("/v1/clusters/{c}/snapshots/latest/connectivity/summary?port=70000", 422),
        ("/v1/clusters/{c}/snapshots/latest/connectivity/summary?protocol=tcp", 422),
    ],
)
def test_summary_errors(client: httpx.Client, demo: str, path: str, status: int) -> None:
    assert_error(client.get(path.format(c=demo)), status)


def test_summary_needs_a_token(api: Any, demo: str) -> None:
    with api.client(None) as anonymous:
        url = f"/v1/clusters/{demo}/snapshots/latest/connectivity/summary"
        assert_error(anonymous.get(url), 401, "unauthorized")
    with api.client("other") as limited:
        assert_error(limited.get(url), 403)


def test_empty_snapshot_has_an_empty_matrix(client: httpx.Client, cluster: str) -> None:
    namespace_only = b"apiVersion: v1\nkind: Namespace\nmetadata: {name: lonely}\n"
    response = client.post(
        f"/v1/clusters/{cluster}/snapshots", content=namespace_only, headers=YAML
    )
    assert response.status_code == 201, response.text
    summary = client.get(f"/v1/clusters/{cluster}/snapshots/latest/connectivity/summary").json()
    assert summary["cells"] == []
    assert summary["connections"] == 0
    assert summary["groups"] == [
        {"key": "lonely", "kind": "Namespace", "workloads": 0, "pods": 0},
        {"key": "IPBlock", "kind": "IPBlock", "workloads": 0, "pods": 0},
    ]
