"""A smaller cluster with the same workload (or namespace) connectivity map.

At workload granularity a map only says which *workloads* connect, so pods that the
compiler cannot tell apart and that roll up to the same endpoint are redundant: keep one
representative per endpoint and signature. The signature holds everything the compiler
looks at in a pod: namespace, labels, container ports, host network, and which piece of the
address space (cut where the compiler cuts it: ipBlocks, admin ``networks``, the addresses
of Nodes that ``nodes`` peers select) each of its IPs falls in.
Compiling the reduced cluster is an order of magnitude faster for clusters of replicated
workloads, and its map is identical: the classes of the two compilations are the same
up to the pods they hold, and the expansion to endpoints sees the same endpoints per class.
(Not for pod granularity, where every pod is its own endpoint.)
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Mapping

from service.engine.compile import address_blocks
from service.engine.diff.connections import endpoint_of
from service.engine.model import Cluster, Pod
from service.engine.model.addresses import split_points
from service.engine.options import Granularity

Starts = tuple[tuple[int, tuple[int, ...]], ...]


def ip_starts(cluster: Cluster) -> Starts:
    """The piece boundaries of the address space of each IP version the cluster cuts (its
    ipBlocks, admin ``networks`` and the addresses of Nodes that ``nodes`` peers select)."""
    listed = address_blocks(cluster)
    versions = sorted({b.version for b in listed})
    return tuple((v, tuple(split_points(listed, v))) for v in versions)


def representatives(
    pods: Iterable[Pod], granularity: Granularity, starts: Starts
) -> tuple[Pod, ...]:
    """One pod per endpoint (at ``granularity``) and signature, in input order."""
    if granularity is Granularity.POD:
        raise ValueError("every pod is its own endpoint at pod granularity")
    cuts: Mapping[int, tuple[int, ...]] = dict(starts)
    kept: dict[tuple[object, ...], Pod] = {}
    for pod in pods:
        regions = tuple(
            (ip.version, bisect.bisect_right(cuts[ip.version], int(ip)) if ip.version in cuts
             else 0)
            for ip in pod.ips
        )  # fmt: skip
        key = (
            endpoint_of(pod.ref, pod.workload, granularity),
            pod.namespace,
            pod.labels,
            pod.ports,
            pod.host_network,
            regions,
        )
        if key not in kept:
            kept[key] = pod
    return tuple(kept.values())


def reduced(cluster: Cluster, granularity: Granularity) -> Cluster:
    """``cluster`` with only :func:`representatives` pods (for workload or namespace maps)."""
    pods = representatives(cluster.pods, granularity, ip_starts(cluster))
    return dataclasses.replace(cluster, pods=pods)
