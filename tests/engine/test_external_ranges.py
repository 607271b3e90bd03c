"""External peers merged per endpoint and direction: adjacent address pieces with the same
ports are one range, so an unprotected workload's ``0.0.0.0/0`` is one row, in every
output format, in diffs, and in highlight counts (endpoints, not pieces)."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from service.cli import app
from service.engine.compile import compile_cluster
from service.engine.connectivity import connectivity_map
from service.engine.model import AddressRange, Cluster, Document, Origin
from service.engine.options import Granularity
from service.report.diff import DiffSide, render_markdown
from service.usecases.compare import diff_manifests
from service.usecases.manifests import from_documents, load_paths
from tests.engine.strategies import clusters

DEMO = Path(__file__).resolve().parents[2] / "service" / "demo" / "v2.yaml"
runner = CliRunner()


def _external_rows(cmap: object) -> dict[tuple[object, bool], list[tuple[AddressRange, object]]]:
    rows: dict[tuple[object, bool], list[tuple[AddressRange, object]]] = defaultdict(list)
    for c in cmap.connections():  # type: ignore[attr-defined]
        if isinstance(c.target, AddressRange):
            rows[(c.source, True)].append((c.target, c.ports))
        elif isinstance(c.source, AddressRange):
            rows[(c.target, False)].append((c.source, c.ports))
    return rows


def test_an_unprotected_workload_reaches_the_internet_in_one_row() -> None:
    cmap = connectivity_map(load_paths([DEMO]).compile(), Granularity.WORKLOAD)
    rows = _external_rows(cmap)
    coredns = next(k for k in rows if str(k[0]) == "kube-system/Deployment/coredns" and k[1])
    assert [(str(r.networks()[0]), str(p)) for r, p in rows[coredns]] == [
        ("0.0.0.0/0", "all ports")
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_per_endpoint_ranges_are_disjoint_and_maximal(cluster: Cluster) -> None:
    cmap = connectivity_map(compile_cluster(cluster), Granularity.POD)
    for (_, _), found in _external_rows(cmap).items():
        found.sort(key=lambda item: (item[0].version, item[0].start))
        for (a, ports_a), (b, ports_b) in pairwise(found):
            if a.version != b.version:
                continue
            assert a.end < b.start, "ranges of one endpoint and direction overlap"
            assert not (a.end + 1 == b.start and ports_a == ports_b), "adjacent, same ports"


def test_every_format_has_the_same_rows(tmp_path: Path) -> None:
    outputs = {}
    for fmt in ("json", "csv", "md", "dot"):
        result = runner.invoke(app, ["analyze", str(DEMO), "--format", fmt])
        assert result.exit_code == 0
        outputs[fmt] = result.stdout
    connections = json.loads(outputs["json"])["connections"]
    csv_rows = outputs["csv"].strip().splitlines()[1:]
    md_rows = [line for line in outputs["md"].splitlines()
               if line.startswith("| ") and not line.startswith("| ---")][1:]  # fmt: skip
    dot_edges = [line for line in outputs["dot"].splitlines() if " -> " in line]
    assert len(connections) == len(csv_rows) == len(md_rows) == len(dot_edges) == 20
    assert [r for r in csv_rows if r.startswith("kube-system/Deployment/coredns,0.0.0.0")] == [
        "kube-system/Deployment/coredns,0.0.0.0/0,"
        "SCTP (all ports); TCP (all ports); UDP (all ports)"
    ]
    assert {"kind": "IPBlock", "cidr": "0.0.0.0/0"} in [c["to"] for c in connections]


def _deployment(name: str) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }  # fmt: skip


def test_exposure_counts_endpoints_not_pieces() -> None:
    """An empty base against five unprotected workloads and a policy that cuts the address
    space at 10.0.0.0/8: five endpoints newly reachable from outside, one row each."""
    cut = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "cut", "namespace": "other"},
        "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
    }
    head = [*(_deployment(f"app{i}") for i in range(5)), cut]
    sides = [from_documents([Document(Origin(None, i), b) for i, b in enumerate(d)])
             for d in ([], head)]  # fmt: skip
    diff = diff_manifests(*sides)
    assert diff.connections.highlights.counts()["external_exposure"] == 5
    assert len(diff.connections.highlights.external_exposure) == 5
    text = render_markdown(diff, DiffSide("a"), DiffSide("b"))
    assert "5 newly reachable from outside the cluster" in text
