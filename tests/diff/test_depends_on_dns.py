"""Diffs with ClusterNetworkPolicy domainNames rules: what only DNS decides is its own part
of the diff (JSON, markdown), never folded silently into added or removed."""

from __future__ import annotations

from typing import Any

from service.engine.model import Document, Origin
from service.engine.options import Granularity
from service.report.comment import render_markdown
from service.report.diff import diff_to_api
from service.report.sides import DiffSide
from service.usecases.compare import diff_manifests
from service.usecases.manifests import from_documents

Body = dict[str, Any]

BASE: list[Body] = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "client", "namespace": "a", "labels": {"app": "client"}},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running", "podIP": "10.0.0.1"},
    },
]


def allow_list(*, with_dns: bool) -> Body:
    egress: list[Body] = [{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]
    if with_dns:
        egress.insert(0, {"action": "Accept", "to": [{"domainNames": ["*.example.com"]}]})
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "allow-list"},
        "spec": {"tier": "Admin", "priority": 1, "subject": {"namespaces": {}}, "egress": egress},
    }


def manifests(bodies: list[Body]) -> Any:
    return from_documents([Document(Origin(None, i), b) for i, b in enumerate(bodies)])


def diff(base: list[Body], head: list[Body]) -> Any:
    return diff_manifests(manifests(base), manifests(head), granularity=Granularity.POD)


def test_a_domain_names_rule_added_makes_connections_depend_on_dns() -> None:
    found = diff([*BASE, allow_list(with_dns=False)], [*BASE, allow_list(with_dns=True)])
    assert found.connections.is_empty  # nothing is allowed or denied for sure that was not
    assert found.depends_on_dns is not None
    assert len(found.depends_on_dns.added) == 1
    body = diff_to_api(found, DiffSide("base"), DiffSide("head"))
    [added] = body["connections"]["depends_on_dns"]["added"]
    assert added["from"] == {"kind": "Pod", "namespace": "a", "name": "client"}
    assert added["to"]["kind"] == "IPBlock"
    assert body["connections"]["depends_on_dns"]["removed"] == []
    text = render_markdown(found, DiffSide("base"), DiffSide("head"))
    assert "Depends on DNS (1)" in text
    assert "1 connection change that only DNS decides" in text
    assert not found.is_empty


def test_removing_it_lists_the_connection_as_no_longer_dns_dependent() -> None:
    found = diff([*BASE, allow_list(with_dns=True)], [*BASE])
    assert found.depends_on_dns is not None
    assert len(found.depends_on_dns.removed) == 1
    assert len(found.connections.added) == 1  # allowed for sure now: no policy at all


def test_without_domain_names_the_diff_has_no_dns_part() -> None:
    found = diff(BASE, [*BASE, allow_list(with_dns=False)])
    assert found.depends_on_dns is None
    body = diff_to_api(found, DiffSide("base"), DiffSide("head"))
    assert "depends_on_dns" not in body["connections"]
