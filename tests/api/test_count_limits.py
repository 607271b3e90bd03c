"""Item counts at upload and in what-ifs, over a real server: netreach's own limits on a
NetworkPolicy come from the settings; past one, a 422 names document, field and limit, and
nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import assert_error, running_server, test_settings
from tests.conftest import ThrowawayDatabases

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}


def policy(blocks: int) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "blocks", "namespace": "a"},
        "spec": {"podSelector": {}, "egress": [{"to": [
            {"ipBlock": {"cidr": f"10.0.{i}.0/24"}} for i in range(blocks)]}]},
    }  # fmt: skip


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def small_limits(
    request: pytest.FixtureRequest, throwaway_databases: ThrowawayDatabases
) -> Iterator[httpx.Client]:
    url = throwaway_databases.create(str(request.param))
    settings = test_settings(url, max_policy_ip_blocks=10, max_rule_peers=20)
    with running_server(settings) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


def test_an_upload_past_a_limit_is_a_422_naming_document_field_and_limit(
    small_limits: httpx.Client,
) -> None:
    refused = small_limits.post("/v1/clusters/limited/snapshots", json=[NAMESPACE, policy(11)])
    error = assert_error(refused, 422, "invalid_manifests")
    (detail,) = error["details"]
    assert detail == {
        "message": "holds 11 ipBlocks in the policy: more than netreach's limit of 10 (a "
        "NetworkPolicy has no limit in the API server; the server's setting "
        "NETREACH_MAX_POLICY_IP_BLOCKS)",
        "document": 1,
        "line": 1,  # JSON: the whole body is one line
        "kind": "NetworkPolicy",
        "namespace": "a",
        "name": "blocks",
        "field": "spec.egress[0].to[10].ipBlock",
    }
    assert small_limits.get("/v1/clusters/limited/snapshots").status_code == 404  # nothing
    stored = small_limits.post("/v1/clusters/limited/snapshots", json=[NAMESPACE, policy(10)])
    assert stored.status_code == 201, stored.text


def test_a_what_if_past_a_limit_is_a_422(small_limits: httpx.Client) -> None:
    base = small_limits.post("/v1/clusters/what-if/snapshots", json=[NAMESPACE])
    assert base.status_code == 201, base.text
    refused = small_limits.post(
        "/v1/clusters/what-if/snapshots/1/what-if", json={"manifests": [policy(11)]}
    )
    error = assert_error(refused, 422, "invalid_manifests")
    assert error["details"][0]["field"] == "spec.egress[0].to[10].ipBlock"
    answered = small_limits.post(
        "/v1/clusters/what-if/snapshots/1/what-if", json={"manifests": [policy(10)]}
    )
    assert answered.status_code == 200, answered.text
