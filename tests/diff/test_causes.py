"""A test per cause kind: the cause named for a known connection change.

Each case is one realistic change to the golden cluster (``cases/cluster.yaml``); the
connection it must change, and the object change that must be named for it, are written
out here, independently of the golden files.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.engine.diff import Cause, CauseKind, ObjectKey, SemanticDiff
from service.engine.model import Document, ObjectRef, Origin
from service.engine.options import Granularity
from service.report.endpoints import endpoint_label
from service.usecases.compare import diff_manifests
from service.usecases.diffs import apply_change
from service.usecases.manifests import from_documents
from tests.diff.helpers import base_documents, case_change


def _manifests(bodies: list[dict[str, Any]]) -> Any:
    return from_documents([Document(Origin(None, i), b) for i, b in enumerate(bodies)])


def _diff(case: str, granularity: Granularity = Granularity.WORKLOAD) -> SemanticDiff:
    base = base_documents()
    head = apply_change(base, case_change(case))
    return diff_manifests(_manifests(base), _manifests(head), granularity=granularity)


def _causes(diff: SemanticDiff, category: str, source: str, target: str) -> tuple[Cause, ...]:
    conn, why = diff.connections, diff.why
    rows, ids = getattr(conn, category), getattr(why, category)
    for s, t, c in zip(rows.sources.tolist(), rows.targets.tolist(), ids.tolist(), strict=True):
        labels = endpoint_label(conn.endpoints[s]), endpoint_label(conn.endpoints[t])
        if labels == (source, target):
            return why.sets[c]
    raise AssertionError(f"no {category} connection {source} -> {target}")


def _policy(namespace: str, name: str) -> ObjectKey:
    return ObjectKey("NetworkPolicy", namespace, name)


CASES = [
    pytest.param(
        "default-deny-egress-without-dns", "removed",
        "analytics/Deployment/reports", "kube-system/Deployment/coredns",
        Cause(_policy("analytics", "default-deny-egress"), CauseKind.POLICY_ADDED,
              ("selects it for egress",)),
        id="policy-added",
    ),
    pytest.param(
        "deleted-policy", "removed", "shop/Deployment/web", "shop/Deployment/api",
        Cause(_policy("shop", "api"), CauseKind.POLICY_REMOVED, ("ingress rule 0 peer 0",)),
        id="policy-removed",
    ),
    pytest.param(
        "widened-namespace-selector", "added", "analytics/Deployment/reports",
        "shop/Deployment/web",
        Cause(_policy("shop", "web"), CauseKind.POLICY_EDITED, ("ingress rule 0 peer 0",)),
        id="rule-edited",
    ),
    pytest.param(
        "new-ipblock-anywhere", "added", "0.0.0.0/0", "shop/Deployment/web",
        Cause(_policy("shop", "web"), CauseKind.POLICY_EDITED, ("ingress rule 1 added",)),
        id="rule-added",
    ),
    pytest.param(
        "relabelled-pods", "removed", "shop/Deployment/web", "shop/Deployment/api",
        Cause(ObjectKey("Deployment", "shop", "api"), CauseKind.POD_RELABELLED,
              ("app: api -> api-v2",)),
        id="pod-relabelled",
    ),
    pytest.param(
        "namespace-relabel", "removed", "edge/Deployment/proxy", "shop/Deployment/web",
        Cause(ObjectKey("Namespace", "", "edge"), CauseKind.NAMESPACE_RELABELLED,
              ("team: platform -> networking",)),
        id="namespace-relabelled",
    ),
    pytest.param(
        "renamed-container-port", "removed", "edge/Deployment/proxy", "shop/Deployment/web",
        Cause(ObjectKey("Deployment", "shop", "web"), CauseKind.PORTS_CHANGED,
              ("http: TCP 8080 -> -", "web: - -> TCP 8080")),
        id="named-container-port-renamed",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("case", "category", "source", "target", "expected"), CASES)
def test_the_cause_of_a_known_connection_change(
    case: str, category: str, source: str, target: str, expected: Cause
) -> None:
    assert _causes(_diff(case), category, source, target) == (expected,)


def test_service_changed() -> None:
    diff = _diff("retargeted-service")
    assert diff.connections.is_empty  # pod-to-pod connectivity is the same
    [change] = [c for c in diff.services if str(c.source) == "shop/Deployment/web"]
    assert change.service == ObjectRef("Service", "shop", "api")
    assert str(change.before) == "TCP 9000"
    assert not change.after  # grpc-web: no container port of that name on api's pods
    assert change.causes == (
        Cause(ObjectKey("Service", "shop", "api"), CauseKind.SERVICE_CHANGED,
              ("port 9000: targetPort grpc -> grpc-web",)),
    )  # fmt: skip


def test_an_added_workload_is_the_cause_of_its_connections() -> None:
    base = base_documents()
    extra = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "batch", "namespace": "analytics"},
        "spec": {
            "selector": {"matchLabels": {"app": "batch"}},
            "template": {"metadata": {"labels": {"app": "batch"}},
                         "spec": {"containers": [{"name": "b", "image": "b"}]}},
        },
    }  # fmt: skip
    diff = diff_manifests(_manifests(base), _manifests([*base, extra]))
    assert _causes(diff, "added", "analytics/Deployment/batch", "edge/Deployment/proxy") == (
        Cause(ObjectKey("Deployment", "analytics", "batch"), CauseKind.ENDPOINT_ADDED),
    )


def test_two_causes_of_one_change_are_both_named() -> None:
    """web -> api needs web's egress and api's ingress: relabelling api breaks both."""
    diff = _diff("relabelled-pods", Granularity.POD)
    rows = diff.connections.removed
    assert len(rows)
    for found in (diff.why.sets[i] for i in diff.why.removed.tolist()):
        assert [c.kind for c in found] == [CauseKind.POD_RELABELLED]


def test_an_unrelated_isolating_policy_is_not_named() -> None:
    """Removing a DNS policy from a pod that other policies still isolate does not explain
    the connections its rules never matched."""
    base = base_documents()
    change = case_change("widened-namespace-selector")
    head = [b for b in apply_change(base, change)
            if b["metadata"].get("name") != "allow-dns"]  # fmt: skip
    diff = diff_manifests(_manifests(base), _manifests(head))
    causes = _causes(diff, "added", "analytics/Deployment/reports", "shop/Deployment/web")
    assert [c.object for c in causes] == [_policy("shop", "web")]


def test_an_admin_tier_policy_is_named_too() -> None:
    """AdminNetworkPolicy effects come from the same verdicts: a new Deny names it."""
    base = base_documents()
    deny = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "no-analytics-egress"},
        "spec": {
            "priority": 5,
            "subject": {"namespaces": {"matchLabels": {"team": "data"}}},
            "egress": [{"name": "deny-all", "action": "Deny",
                        "to": [{"namespaces": {}}]}],
        },
    }  # fmt: skip
    diff = diff_manifests(_manifests(base), _manifests([*base, deny]))
    causes = _causes(diff, "removed", "analytics/Deployment/reports", "edge/Deployment/proxy")
    assert causes == (
        Cause(ObjectKey("AdminNetworkPolicy", "", "no-analytics-egress"),
              CauseKind.POLICY_ADDED, ("egress rule 0 peer 0",)),
    )  # fmt: skip


def _cluster_policy(action: str, priority: int = 5) -> dict[str, Any]:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "analytics-egress"},
        "spec": {
            "tier": "Admin",
            "priority": priority,
            "subject": {"namespaces": {"matchLabels": {"team": "data"}}},
            "egress": [{"name": "all", "action": action, "to": [{"namespaces": {}}]}],
        },
    }


def test_a_cluster_network_policy_added_is_named() -> None:
    base = base_documents()
    diff = diff_manifests(_manifests(base), _manifests([*base, _cluster_policy("Deny")]))
    causes = _causes(diff, "removed", "analytics/Deployment/reports", "edge/Deployment/proxy")
    assert causes == (
        Cause(ObjectKey("ClusterNetworkPolicy", "", "analytics-egress"),
              CauseKind.POLICY_ADDED, ("egress rule 0 peer 0",)),
    )  # fmt: skip


def test_a_cluster_network_policy_edited_is_named() -> None:
    """Deny -> Accept of its one rule brings the connections back, naming the edit."""
    base = [*base_documents(), _cluster_policy("Deny")]
    head = [*base_documents(), _cluster_policy("Accept")]
    diff = diff_manifests(_manifests(base), _manifests(head))
    causes = _causes(diff, "added", "analytics/Deployment/reports", "edge/Deployment/proxy")
    assert causes == (
        Cause(ObjectKey("ClusterNetworkPolicy", "", "analytics-egress"),
              CauseKind.POLICY_EDITED, ("egress rule 0",)),
    )  # fmt: skip
    [change] = diff.objects.changed
    assert (change.key.kind, change.fields) == ("ClusterNetworkPolicy", ("spec.egress[0].action",))
