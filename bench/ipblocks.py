"""ipBlock-heavy policies: parse, compile, maps and a query against one policy of N ipBlocks.

    make bench-ipblocks                      # 1k, 4k, 16k and 100k ipBlocks
    python -m bench.ipblocks --counts 1000 4000

Each count runs in its own process (peak RSS is that count's own). The cluster is small
(``PODS`` pods in two namespaces, IPv4 and IPv6 addresses); one NetworkPolicy holds N
ipBlocks in one egress rule (and the first half of them in one ingress rule): half IPv4,
half IPv6, random prefixes, half of them with two ``except`` CIDRs inside, some covering pod
addresses. Seeded, so runs compare. 100k is past netreach's default limit of 50,000 ipBlocks
per policy: the manifests are parsed without limits, to time the engine itself.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import resource
import subprocess
import sys
import time
from typing import Any

COUNTS = (1_000, 4_000, 16_000, 100_000)
PODS = 200


def _network(rng: random.Random, version: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if version == 4:
        prefix = rng.randint(8, 30)
        value = rng.getrandbits(32)
        return ipaddress.IPv4Network((value >> (32 - prefix) << (32 - prefix), prefix))
    prefix = rng.randint(16, 124)
    value = rng.getrandbits(128)
    return ipaddress.IPv6Network((value >> (128 - prefix) << (128 - prefix), prefix))


def _inside(
    rng: random.Random, network: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    bits = network.max_prefixlen
    prefix = rng.randint(network.prefixlen + 1, min(bits, network.prefixlen + 12))
    offset = rng.getrandbits(prefix - network.prefixlen) << (bits - prefix)
    value = int(network.network_address) + offset
    if bits == 32:
        return ipaddress.IPv4Network((value, prefix))
    return ipaddress.IPv6Network((value, prefix))


def ip_block(rng: random.Random, index: int) -> dict[str, Any]:
    network = _network(rng, 4 if index % 2 == 0 else 6)
    block: dict[str, Any] = {"cidr": str(network)}
    if index % 4 < 2:
        excepts = {_inside(rng, network) for _ in range(2)}
        block["except"] = sorted(str(e) for e in excepts)
    return block


def manifests(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """The cluster: namespaces, pods with IPv4 and IPv6 addresses, one big policy."""
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = []
    for ns in ("a", "b"):
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for i in range(PODS):
        v4 = f"10.{i // 250}.{i % 250}.{1 + i % 7}"
        objects.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p{i}", "namespace": "ab"[i % 2], "labels": {"app": f"x{i % 9}"}},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
            "status": {"podIP": v4, "podIPs": [{"ip": v4}, {"ip": f"fd00::{i:x}"}]},
        })  # fmt: skip
    blocks = [ip_block(rng, i) for i in range(count)]
    blocks[0] = {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/24"]}  # some pods inside
    blocks[1] = {"cidr": "fd00::/120", "except": ["fd00::10/124"]}
    objects.append({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "many-blocks", "namespace": "a"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress", "Ingress"],
            "egress": [{"to": [{"ipBlock": b} for b in blocks],
                        "ports": [{"protocol": "TCP", "port": 443}]}],
            "ingress": [{"from": [{"ipBlock": b} for b in blocks[: count // 2]]}],
        },
    })  # fmt: skip
    return objects


def measure(count: int) -> dict[str, object]:
    """Run inside a fresh process: every stage timed, peak memory at the end."""
    from service.engine.connectivity import connectivity_map
    from service.engine.model import Document, Origin
    from service.engine.options import Granularity
    from service.engine.parse.counts import CountLimits
    from service.engine.reachability import check
    from service.usecases.manifests import from_documents

    objects = manifests(count)
    documents = [Document(Origin("bench", i), o) for i, o in enumerate(objects)]
    figures: dict[str, object] = {"ip_blocks": count}
    mark = time.perf_counter()
    parsed = from_documents(documents, counts=CountLimits.unbounded())  # past the default limit
    figures["parse_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    compiled = parsed.compile()
    figures["compile_s"] = time.perf_counter() - mark
    figures["pieces"] = len(compiled.pieces)
    mark = time.perf_counter()
    namespace_map = connectivity_map(compiled, Granularity.NAMESPACE)
    figures["namespace_map_s"] = time.perf_counter() - mark
    figures["connections"] = len(namespace_map)
    mark = time.perf_counter()
    check(compiled, "a/p0", "10.200.0.1", port=443)
    check(compiled, "a/p0", "fd00::1", port=443)
    figures["query_ms"] = (time.perf_counter() - mark) * 500
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", nargs="+", type=int, default=list(COUNTS))
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    rows = []
    for count in args.counts:
        child = subprocess.run(
            [sys.executable, "-m", "bench.ipblocks", "--measure", str(count)],
            capture_output=True, text=True,
        )  # fmt: skip
        if child.returncode != 0:
            sys.stderr.write(child.stderr)
            return child.returncode
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append(figures)
        print(json.dumps(figures), file=sys.stderr)
    columns = [
        ("ip_blocks", "ipBlocks", "{:,}"),
        ("pieces", "pieces", "{:,}"),
        ("parse_s", "parse s", "{:.2f}"),
        ("compile_s", "compile s", "{:.2f}"),
        ("namespace_map_s", "namespace map s", "{:.2f}"),
        ("connections", "connections", "{:,}"),
        ("query_ms", "query ms", "{:.1f}"),
        ("peak_rss_mb", "peak RSS MB", "{:,.0f}"),
    ]
    print("| " + " | ".join(title for _, title, _ in columns) + " |")
    print("|---" * len(columns) + "|")
    for figures in rows:
        print("| " + " | ".join(fmt.format(figures[key]) for key, _, fmt in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
