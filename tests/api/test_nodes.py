"""Nodes over HTTP: counted and listed like any kind, read by verdicts, lint and what-ifs."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from tests.engine.test_nodes import BASE, N1, N2, WORKERS, anp_egress, to

POLICY = anp_egress("deny-workers", 5, to("Deny", WORKERS))


def _upload(client: httpx.Client, cluster: str, documents: list[dict[str, Any]]) -> Any:
    response = client.post(f"/v1/clusters/{cluster}/snapshots", json=documents)
    assert response.status_code == 201, response.text
    return response.json()


def test_nodes_are_counted_listed_and_filtered(client: httpx.Client, cluster: str) -> None:
    stored = _upload(client, cluster, [*BASE, N1, N2, POLICY])
    assert stored["counts"]["Node"] == 2
    assert not [w for w in stored["warnings"] if "Node" in w]
    base = f"/v1/clusters/{cluster}/snapshots/latest/objects"
    nodes = client.get(base, params={"kind": "node"}).json()["items"]
    assert [(o["kind"], o["namespace"], o["name"]) for o in nodes] == [
        ("Node", None, "n1"),
        ("Node", None, "n2"),
    ]
    assert nodes[0]["body"]["status"]["addresses"][0] == {
        "type": "InternalIP",
        "address": "192.168.1.1",
    }


def test_verdict_names_the_node(client: httpx.Client, cluster: str) -> None:
    _upload(client, cluster, [*BASE, N1, N2, POLICY])
    response = client.post(
        f"/v1/clusters/{cluster}/snapshots/latest/reachability",
        json={"from": "a/client", "to": "192.168.1.1", "port": 80},
    )
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["allowed"] is False
    [effect] = verdict["explanation"]["egress"]["effects"]
    assert effect["nodes"] == ["n1"]
    assert effect["policy"] == {"kind": "AdminNetworkPolicy", "name": "deny-workers"}


def test_without_nodes_the_upload_warns_and_lint_reports(
    client: httpx.Client, cluster: str
) -> None:
    stored = _upload(client, cluster, [*BASE, POLICY])
    assert any("no Node objects" in w and "AdminNetworkPolicy/deny-workers" in w
               for w in stored["warnings"])  # fmt: skip
    lint = client.get(f"/v1/clusters/{cluster}/snapshots/latest/lint").json()
    [finding] = [f for f in lint["findings"] if f["code"] == "NR004"]
    assert "holds no Node objects" in finding["message"]


def test_what_if_a_node_is_relabelled(client: httpx.Client, cluster: str) -> None:
    _upload(client, cluster, [*BASE, N1, N2, POLICY])
    n1 = copy.deepcopy(N1)
    n1["metadata"]["labels"] = {"role": "spare"}
    response = client.post(
        f"/v1/clusters/{cluster}/snapshots/latest/what-if",
        json={"manifests": [n1], "granularity": "pod"},
    )
    assert response.status_code == 200, response.text
    added = response.json()["connections"]["added"]
    rows = {(r["from"].get("name", r["from"].get("cidr")), r["to"].get("name", r["to"].get("cidr")))
            : r["causes"] for r in added}  # fmt: skip
    assert rows[("client", "agent-1")] == [
        {"kind": "node-changed", "object": {"kind": "Node", "name": "n1"},
         "details": ["labels: role: worker -> spare"]}
    ]  # fmt: skip


def test_what_if_an_admin_policy_with_a_nodes_peer_is_added(
    client: httpx.Client, cluster: str
) -> None:
    _upload(client, cluster, [*BASE, N1, N2])
    response = client.post(
        f"/v1/clusters/{cluster}/snapshots/latest/what-if",
        json={"manifests": [POLICY], "granularity": "pod"},
    )
    assert response.status_code == 200, response.text
    removed = response.json()["connections"]["removed"]
    targets = {r["to"].get("name", r["to"].get("cidr")) for r in removed}
    assert {"agent-1", "192.168.1.1/32", "203.0.113.1/32"} <= targets
    assert all(r["from"].get("name") == "client" for r in removed)
    [cause] = removed[0]["causes"]
    assert cause["kind"] == "policy-added"
    assert cause["object"] == {"kind": "AdminNetworkPolicy", "name": "deny-workers"}
