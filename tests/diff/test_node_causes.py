"""Diffs with Nodes: a relabelled Node or a Node whose addresses changed is named as the
cause when a ``nodes`` peer matches on one side only; representative pods (the workload
maps of diffs) keep host-network pods of different nodes apart."""

from __future__ import annotations

import copy
from typing import Any

from service.engine.compile import compile_cluster
from service.engine.connectivity import connectivity_map
from service.engine.diff import Cause, CauseKind, ObjectKey, SemanticDiff, reduced
from service.engine.model import Document, ObjectRef, Origin
from service.engine.options import Granularity
from service.report.endpoints import endpoint_label
from service.usecases.compare import diff_manifests
from service.usecases.manifests import from_documents
from tests.engine.test_nodes import BASE, N1, N2, WORKERS, anp_egress, node, to

Body = dict[str, Any]
POLICY = anp_egress("deny-workers", 5, to("Deny", WORKERS))


def _diff(base: list[Body], head: list[Body]) -> SemanticDiff:
    def manifests(bodies: list[Body]) -> Any:
        return from_documents([Document(Origin(None, i), b) for i, b in enumerate(bodies)])

    return diff_manifests(manifests(base), manifests(head), granularity=Granularity.POD)


def _rows(diff: SemanticDiff, category: str) -> dict[tuple[str, str], tuple[Cause, ...]]:
    conn, why = diff.connections, diff.why
    rows, ids = getattr(conn, category), getattr(why, category)
    return {
        (endpoint_label(conn.endpoints[s]), endpoint_label(conn.endpoints[t])): why.sets[c]
        for s, t, c in zip(rows.sources.tolist(), rows.targets.tolist(), ids.tolist(), strict=True)
    }


def test_a_relabelled_node_is_the_cause() -> None:
    n1 = copy.deepcopy(N1)
    n1["metadata"]["labels"] = {"role": "spare"}
    diff = _diff([*BASE, N1, N2, POLICY], [*BASE, n1, N2, POLICY])
    added = _rows(diff, "added")
    expected = (Cause(ObjectKey("Node", "", "n1"), CauseKind.NODE_CHANGED,
                      ("labels: role: worker -> spare",)),)  # fmt: skip
    assert added[("a/client", "sys/agent-1")] == expected
    assert added[("a/client", "192.168.1.1/32")] == expected
    assert [c.key for c in diff.objects.changed] == [ObjectKey("Node", "", "n1")]


def test_a_node_address_change_is_the_cause() -> None:
    n1 = copy.deepcopy(N1)
    n1["status"]["addresses"][0]["address"] = "192.168.1.5"
    diff = _diff([*BASE, N1, N2, POLICY], [*BASE, n1, N2, POLICY])
    cause = Cause(ObjectKey("Node", "", "n1"), CauseKind.NODE_CHANGED,
                  ("addresses: 192.168.1.1, 203.0.113.1 -> 192.168.1.5, 203.0.113.1",))  # fmt: skip
    assert _rows(diff, "added")[("a/client", "192.168.1.1/32")] == (cause,)
    assert _rows(diff, "removed")[("a/client", "192.168.1.5/32")] == (cause,)
    # the host-network pod moved with its node: still denied, so unchanged
    assert ("a/client", "sys/agent-1") not in {**_rows(diff, "added"), **_rows(diff, "removed")}
    [change] = diff.objects.changed
    assert change.fields == ("status.addresses[0].address",)


def test_node_status_noise_is_no_object_change() -> None:
    n1 = copy.deepcopy(N1)
    n1["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    diff = _diff([*BASE, N1, N2, POLICY], [*BASE, n1, N2, POLICY])
    assert diff.objects.is_empty
    assert not len(diff.connections.added)


def test_representatives_keep_host_network_pods_of_different_nodes_apart() -> None:
    """A DaemonSet's host-network pods differ only by their node's address: a workload map
    computed from representative pods must keep one per node a nodes peer tells apart."""
    owner = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "controller": True}]
    agents = [copy.deepcopy(b) for b in BASE if b["metadata"]["name"].startswith("agent-")]
    for body in agents:
        body["metadata"]["ownerReferences"] = owner
    others = [b for b in BASE if not b["metadata"]["name"].startswith("agent-")]
    single_stack = node("n2", [("InternalIP", "192.168.1.2")], role="control-plane")
    documents = [*others, *agents, N1, single_stack, POLICY]
    cluster = from_documents(
        [Document(Origin(None, i), b) for i, b in enumerate(documents)]
    ).cluster
    assert {p.workload for p in cluster.pods if p.host_network} == {
        ObjectRef("DaemonSet", "sys", "agent")
    }
    compiled = compile_cluster(cluster)
    small = reduced(cluster, Granularity.WORKLOAD)
    assert len([p for p in small.pods if p.host_network]) == 2
    full_map = connectivity_map(compiled, Granularity.WORKLOAD)
    small_map = connectivity_map(compile_cluster(small), Granularity.WORKLOAD)
    assert full_map.lookup() == small_map.lookup()
