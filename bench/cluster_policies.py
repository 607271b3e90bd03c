"""ClusterNetworkPolicy cost: the M cluster with and without 200 ClusterNetworkPolicies.

    make bench-cnp
    python -m bench.cluster_policies --size M --count 200 --data .bench

The policies are drawn by seed from the cluster's own namespace labels (``team``, ``env``,
``kubernetes.io/metadata.name``) and pod labels (``app``, ``tier``), as guardrails: both
tiers, priorities 0-1000 (some shared), broad Deny and Pass rules, narrow Accept rules (one
app, with ports), egress ``networks`` over the pod and node ranges, TCP/UDP/SCTP ports and
ranges, named ports, and a few ``domainNames`` Accept rules. Each cluster is measured in
its own process by
:func:`bench.engine.measure` (ingest, compile, workload map, 1,000 point queries); the goal
is compile and map within 1.5x of the cluster without them.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.engine import DEFAULT_GENERATOR, REPO, generate

GOAL = 1.5
API = "policy.networking.k8s.io/v1alpha2"
NETWORKS = ["10.128.0.0/9", "10.128.0.0/16", "10.0.0.0/16", "0.0.0.0/0", "192.0.2.0/24"]
NAMED = ["http", "grpc", "metrics", "postgres", "redis"]


def _labels(items: list[dict[str, Any]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    namespace: dict[str, set[str]] = {}
    pod: dict[str, set[str]] = {}
    for item in items:
        labels = item.get("metadata", {}).get("labels") or {}
        if item.get("kind") == "Namespace":
            target = namespace
        elif item.get("kind") == "Pod":
            target = pod
            labels = {k: v for k, v in labels.items() if k in ("app", "tier")}
        else:
            continue
        for key, value in labels.items():
            target.setdefault(key, set()).add(value)
    return (
        {k: sorted(v) for k, v in namespace.items()},
        {k: sorted(v) for k, v in pod.items()},
    )


def _selector(rng: random.Random, vocabulary: dict[str, list[str]]) -> dict[str, Any]:
    key = rng.choice(sorted(vocabulary))
    if rng.random() < 0.2:
        values = rng.sample(vocabulary[key], min(2, len(vocabulary[key])))
        return {"matchExpressions": [{"key": key, "operator": "In", "values": values}]}
    return {"matchLabels": {key: rng.choice(vocabulary[key])}}


def _pods(rng: random.Random, ns: dict[str, list[str]], pods: dict[str, list[str]]) -> Any:
    if rng.random() < 0.5:
        return {"namespaces": _selector(rng, ns)}
    return {"pods": {"namespaceSelector": _selector(rng, ns), "podSelector": _selector(rng, pods)}}


def _protocols(rng: random.Random, named: bool) -> list[dict[str, Any]] | None:
    if rng.random() < 0.3:
        return None
    found: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 3)):
        if named and rng.random() < 0.3:
            found.append({"destinationNamedPort": rng.choice(NAMED)})
            continue
        protocol = rng.choice(["tcp", "tcp", "udp", "sctp"])
        start = rng.choice([53, 80, 443, 5432, 6379, 8080, 9090, 9100])
        if rng.random() < 0.3:
            port: dict[str, Any] = {"range": {"start": start, "end": start + rng.randint(1, 100)}}
        else:
            port = {"number": start}
        found.append({protocol: {"destinationPort": port}})
    return found


def _narrow(rng: random.Random, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Pods of one app in one namespace, as an Accept rule names what it lets in."""
    pod = rng.choice([i for i in items if i.get("kind") == "Pod"])
    meta = pod["metadata"]
    app = (meta.get("labels") or {}).get("app")
    selector = {"matchLabels": {"app": app}} if app else {}
    name = {"matchLabels": {"kubernetes.io/metadata.name": meta["namespace"]}}
    return {"pods": {"namespaceSelector": name, "podSelector": selector}}


def cluster_policies(
    items: list[dict[str, Any]], count: int, seed: int = 1
) -> list[dict[str, Any]]:
    """Guardrails as administrators write them: broad Deny and Pass rules (by namespace
    labels), narrow Accept rules (one app, named ports or numbers), egress Deny of address
    ranges, a few domainNames allow lists."""
    rng = random.Random(seed)
    ns, pods = _labels(items)
    policies = []
    for index in range(count):
        rules: dict[str, list[dict[str, Any]]] = {"ingress": [], "egress": []}
        for _ in range(rng.randint(1, 4)):
            direction = rng.choice(["ingress", "egress"])
            action = rng.choices(["Accept", "Deny", "Pass"], weights=[3, 4, 3])[0]
            named = True
            if direction == "egress" and rng.random() < 0.25:
                peers: list[Any] = [{"networks": rng.sample(NETWORKS, rng.randint(1, 2))}]
                action, named = rng.choice(["Deny", "Pass"]), False
            elif direction == "egress" and rng.random() < 0.05:
                peers, action, named = [{"domainNames": ["*.example.com"]}], "Accept", False
            elif action == "Accept":
                peers = [_narrow(rng, items) for _ in range(rng.randint(1, 2))]
            else:
                peers = [_pods(rng, ns, pods) for _ in range(rng.randint(1, 2))]
            rule: dict[str, Any] = {
                "name": f"r{len(rules[direction])}",
                "action": action,
                ("from" if direction == "ingress" else "to"): peers,
            }
            protocols = _protocols(rng, named)
            if action == "Accept" and not protocols and "networks" not in peers[0]:
                protocols = [{"destinationNamedPort": rng.choice(NAMED)}] if named else None
            if protocols:
                rule["protocols"] = protocols
            rules[direction].append(rule)
        spec: dict[str, Any] = {
            "tier": "Admin" if rng.random() < 0.6 else "Baseline",
            "priority": rng.choice([rng.randint(0, 1000), rng.randint(0, 20)]),
            "subject": _pods(rng, ns, pods),
        }
        spec.update({k: v for k, v in rules.items() if v})
        policies.append(
            {"apiVersion": API, "kind": "ClusterNetworkPolicy",
             "metadata": {"name": f"cnp-{index:03d}"}, "spec": spec}
        )  # fmt: skip
    return policies


def with_policies(path: Path, count: int) -> Path:
    out = path.with_name(f"{path.stem}-cnp{count}.json")
    if not out.exists():
        document = json.loads(path.read_text())
        document["items"] += cluster_policies(document["items"], count)
        out.write_text(json.dumps(document))
    return out


def _measure(path: Path) -> dict[str, Any]:
    child = subprocess.run(
        [sys.executable, "-m", "bench.engine", "--measure", str(path)],
        check=True, capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    figures: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=["S", "M", "L"])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--data", type=Path, default=REPO / ".bench")
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    args = parser.parse_args()
    plain = generate(args.generator, args.size, args.data)
    extended = with_policies(plain, args.count)
    without, with_cnp = _measure(plain), _measure(extended)
    columns = [
        ("compile_s", "compile s"),
        ("workload_map_s", "workload map s"),
        ("query_p50_ms", "query p50 ms"),
        ("query_p99_ms", "query p99 ms"),
        ("peak_rss_mb", "peak RSS MB"),
    ]
    print(f"| {args.size} | classes | " + " | ".join(t for _, t in columns) + " |")
    print("|---" * (len(columns) + 2) + "|")
    for label, figures in (("without", without), (f"+{args.count} CNPs", with_cnp)):
        cells = [
            f"{figures[k]:.3f}" if k.endswith("ms") else f"{figures[k]:.2f}" for k, _ in columns
        ]
        print(f"| {label} | {figures['classes']:,} | " + " | ".join(cells) + " |")
    ratio = (with_cnp["compile_s"] + with_cnp["workload_map_s"]) / (
        without["compile_s"] + without["workload_map_s"]
    )
    verdict = "within" if ratio <= GOAL else "OVER"
    print(f"\ncompile + map: {ratio:.2f}x the cluster without them ({verdict} the {GOAL}x goal)")
    cpu = [f["compile_cpu_s"] + f["workload_map_cpu_s"] for f in (without, with_cnp)]
    print(
        f"CPU time of compile + map: {cpu[0]:.3f} s without, {cpu[1]:.3f} s with them: "
        f"{cpu[1] / cpu[0]:.2f}x (steadier than wall time on a busy machine)"
    )
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
