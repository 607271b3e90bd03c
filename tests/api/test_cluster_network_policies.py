"""ClusterNetworkPolicy over HTTP: stored counts, validation errors, verdicts naming tier and
rule, what DNS decides in verdicts and maps, lint, and what-if naming the policy as cause."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from service.cli import app as cli
from tests.api.conftest import YAML, assert_error
from tests.api.manifests import SHOP_YAML

PROTECT_DB = """\
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: protect-db}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: db}}}
  ingress:
  - name: no-monitoring
    action: Deny
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: shop-egress}
spec:
  tier: Baseline
  priority: 1
  subject: {namespaces: {matchLabels: {team: shop}}}
  egress:
  - name: example
    action: Accept
    to: [{domainNames: ["*.example.com"]}]
  - name: nothing-else-outside
    action: Deny
    to: [{networks: ["8.0.0.0/8"]}]
"""

BROKEN = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: broken}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {}}
  ingress:
  - action: Accept
    from: [{namespaces: {}}]
    protocols: [{tcp: {destinationPort: {number: 80}}}, {tcp: {}, udp: {}}]
"""


def upload(client: httpx.Client, cluster: str, text: str) -> httpx.Response:
    return client.post(f"/v1/clusters/{cluster}/snapshots", content=text, headers=YAML)


def test_stored_counts_verdicts_maps_and_lint(client: httpx.Client, cluster: str) -> None:
    created = upload(client, cluster, SHOP_YAML + PROTECT_DB)
    assert created.status_code == 201, created.text
    assert created.json()["counts"]["ClusterNetworkPolicy"] == 2
    latest = f"/v1/clusters/{cluster}/snapshots/latest"
    verdict = client.post(
        f"{latest}/reachability",
        json={"from": "monitoring/prometheus-0", "to": "db/pg-0", "port": 9187},
    ).json()
    assert verdict["allowed"] is False
    [effect] = [
        e for e in verdict["explanation"]["ingress"]["effects"] if e["tier"] != "NetworkPolicy"
    ]
    assert effect == {
        "tier": "Admin",
        "policy": {"kind": "ClusterNetworkPolicy", "name": "protect-db"},
        "direction": "Ingress",
        "rule": 0,
        "peer": 0,
        "ports": [{"protocol": "SCTP"}, {"protocol": "TCP"}, {"protocol": "UDP"}],
        "action": "Deny",
        "name": "no-monitoring",
    }
    outside = client.post(
        f"{latest}/reachability", json={"from": "shop/api-0", "to": "8.8.8.8", "port": 443}
    ).json()
    assert (outside["allowed"], outside["depends_on_dns"]) == (False, True)
    assert outside["dns_dependent_ports"] == [{"protocol": "TCP", "port": 443}]
    mapped = client.get(f"{latest}/connectivity", params={"granularity": "pod"}).json()
    assert any(
        c["from"]["name"] == "api-0" and c["to"]["kind"] == "IPBlock"
        for c in mapped["depends_on_dns"]
    )
    codes = {
        (f["code"], f["object"]["name"])
        for f in client.get(f"{latest}/lint").json()["findings"]
        if f["object"].get("kind") == "ClusterNetworkPolicy"
    }
    assert ("NR017", "shop-egress") in codes


def test_an_invalid_cluster_network_policy_is_refused_with_its_path(
    client: httpx.Client, cluster: str
) -> None:
    error = assert_error(upload(client, cluster, SHOP_YAML + "---\n" + BROKEN), 422)
    [detail] = [d for d in error["details"] if d.get("kind") == "ClusterNetworkPolicy"]
    assert detail["field"] == "spec.ingress[0].protocols[1]"
    assert detail["name"] == "broken"
    assert "exactly one of" in detail["message"]
    assert client.get(f"/v1/clusters/{cluster}/snapshots").status_code in (200, 404)
    assert client.get(f"/v1/clusters/{cluster}/snapshots/latest").status_code == 404


def test_what_if_names_the_cluster_network_policy(client: httpx.Client, cluster: str) -> None:
    assert upload(client, cluster, SHOP_YAML).status_code == 201
    response = client.post(
        f"/v1/clusters/{cluster}/snapshots/latest/what-if",
        json={"manifests_yaml": PROTECT_DB, "granularity": "pod"},
    )
    assert response.status_code == 200, response.text
    removed = response.json()["connections"]["removed"]
    causes = {
        (c["kind"], c["object"]["kind"], c["object"]["name"])
        for r in removed
        if r["from"]["name"] == "prometheus-0" and r["to"]["name"] == "pg-0"
        for c in r["causes"]
    }
    assert causes == {("policy-added", "ClusterNetworkPolicy", "protect-db")}
    assert "depends_on_dns" in response.json()["connections"]


def test_what_if_deleting_one_names_it_at_workload_granularity(
    client: httpx.Client, cluster: str
) -> None:
    assert upload(client, cluster, SHOP_YAML + PROTECT_DB).status_code == 201
    response = client.post(
        f"/v1/clusters/{cluster}/snapshots/latest/what-if",
        json={"delete": [{"kind": "ClusterNetworkPolicy", "name": "protect-db"}]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["head"]["what_if"]["deleted"] == 1
    causes = {
        (c["kind"], c["object"]["name"])
        for r in (*body["connections"]["added"], *body["connections"]["changed"])
        if r["from"]["name"] == "prometheus-0"
        for c in r["causes"]
    }
    assert causes == {("policy-removed", "protect-db")}


@pytest.mark.parametrize(
    ("target", "port", "code", "head"),
    [
        pytest.param("8.8.8.8", "443", 4, "DEPENDS ON DNS", id="only-a-domain-name-rule-decides"),
        pytest.param("8.8.8.8", None, 4, "DEPENDS ON DNS", id="every-port-some-depend-on-dns"),
        pytest.param("db/pg-0", "5432", 0, "ALLOWED", id="inside-the-cluster-decided"),
        pytest.param("9.9.9.9", "443", 0, "ALLOWED", id="outside-the-denied-networks"),
    ],
)
def test_cli_query_exits_4_when_the_answer_depends_on_dns(
    target: str, port: str | None, code: int, head: str
) -> None:
    args = ["query", "-", "--from", "shop/api-0", "--to", target]
    args += ["--port", port] if port else []
    result = CliRunner().invoke(cli, args, input=SHOP_YAML + PROTECT_DB)
    assert result.exit_code == code, result.output
    assert result.stdout.startswith(head)
