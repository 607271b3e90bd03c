"""Connection changes caused by Nodes: a relabelled Node or a Node whose addresses changed
is named as the cause when a ``nodes`` peer matches on one side only."""

from __future__ import annotations

import copy
from typing import Any

from service.engine.diff import Cause, CauseKind, ObjectKey, SemanticDiff
from service.engine.model import Document, Origin
from service.engine.options import Granularity
from service.report.endpoints import endpoint_label
from service.usecases.compare import diff_manifests
from service.usecases.manifests import from_documents
from tests.engine.test_nodes import BASE, N1, N2, WORKERS, anp_egress, to

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
