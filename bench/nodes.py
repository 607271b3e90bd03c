"""Nodes and ``nodes`` peers: compile and workload map of a generated cluster, without and
with its Node objects and AdminNetworkPolicies whose egress rules select nodes.

    make bench-nodes                 # size M
    python -m bench.nodes --size S --data .bench

The generator writes no Node objects, so they are made from the pods' ``spec.nodeName``
and ``status.hostIP`` (one InternalIP each, labels ``zone`` and, for three of them, the
control-plane role); its kube-proxy DaemonSet gives every node a host-network pod. The
AdminNetworkPolicies (``--policies``, default 10) select every namespace and Allow or Deny
one port towards the nodes of one zone. Best of three runs per figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.engine import DEFAULT_GENERATOR, REPO, SIZES, generate

ROLE = "node-role.kubernetes.io/control-plane"


def nodes_of(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    hosts = {
        item["spec"]["nodeName"]: item["status"]["hostIP"]
        for item in items
        if item.get("kind") == "Pod" and item.get("spec", {}).get("nodeName")
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {"zone": f"z{k % 3}", **({ROLE: ""} if k < 3 else {})},
            },
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]},
        }
        for k, (name, ip) in enumerate(sorted(hosts.items()))
    ]


def policies(count: int) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "policy.networking.k8s.io/v1alpha1",
            "kind": "AdminNetworkPolicy",
            "metadata": {"name": f"nodes-{k}"},
            "spec": {
                "priority": k,
                "subject": {"namespaces": {}},
                "egress": [
                    {
                        "action": "Deny" if k % 2 else "Allow",
                        "to": [{"nodes": {"matchLabels": {"zone": f"z{k % 3}"}}}],
                        "ports": [{"portNumber": {"protocol": "TCP", "port": 10250 + k}}],
                    }
                ],
            },
        }
        for k in range(count)
    ]


def measure(items: list[dict[str, Any]]) -> dict[str, Any]:
    from service.engine.compile import compile_cluster
    from service.engine.connectivity import connectivity_map
    from service.engine.model import Document, Origin
    from service.engine.options import Granularity
    from service.usecases.manifests import from_documents

    cluster = from_documents([Document(Origin(None, i), b) for i, b in enumerate(items)]).cluster
    compile_s = map_s = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        compiled = compile_cluster(cluster)
        compile_s = min(compile_s, time.perf_counter() - started)
        started = time.perf_counter()
        connections = sum(1 for _ in connectivity_map(compiled, Granularity.WORKLOAD).connections())
        map_s = min(map_s, time.perf_counter() - started)
    return {
        "nodes": len(cluster.nodes),
        "classes": compiled.class_count,
        "pieces": len(compiled.pieces),
        "compile_s": compile_s,
        "workload_map_s": map_s,
        "connections": connections,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=list(SIZES))
    parser.add_argument("--policies", type=int, default=10)
    parser.add_argument("--data", type=Path, default=REPO / ".bench")
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    args = parser.parse_args()
    items = json.loads(generate(args.generator, args.size, args.data).read_text())["items"]
    rows = [
        ("without Nodes", measure(items)),
        (
            "with Nodes and nodes peers",
            measure([*items, *nodes_of(items), *policies(args.policies)]),
        ),
    ]
    print(f"| {args.size} | nodes | classes | pieces | compile s | workload map s | connections |")
    print("|---" * 7 + "|")
    for label, f in rows:
        cells = (
            f"{f['nodes']} | {f['classes']:,} | {f['pieces']:,} | {f['compile_s']:.2f} | "
            f"{f['workload_map_s']:.2f} | {f['connections']:,}"
        )
        print(f"| {label} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
