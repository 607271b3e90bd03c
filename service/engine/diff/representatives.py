"""A smaller cluster with the same workload (or namespace) connectivity map.

At workload granularity a map only says which *workloads* connect, so pods that the
compiler cannot tell apart and that roll up to the same endpoint are redundant: keep one
representative per endpoint and signature. The signature holds everything the compiler
looks at in a pod: namespace, labels, container ports, host network, and which piece of the
address space (cut at every ipBlock boundary of the cluster) each of its IPs falls in.
Compiling the reduced cluster is an order of magnitude faster for clusters of replicated
workloads, and its map is identical: the classes of the two compilations are the same
up to the pods they hold, and the expansion to endpoints sees the same endpoints per class.
(Not for pod granularity, where every pod is its own endpoint.)
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Mapping

from service.engine.diff.connections import endpoint_of
from service.engine.model import AdminPolicy, Cluster, IPBlock, NetworkPolicy, Pod
from service.engine.model.addresses import split_points
from service.engine.options import Granularity

Starts = tuple[tuple[int, tuple[int, ...]], ...]


def ip_starts(policies: Iterable[NetworkPolicy], admin: Iterable[AdminPolicy] = ()) -> Starts:
    """The piece boundaries of the address space of each IP version the policies cut
    (ipBlocks, and the ``networks`` of admin-tier policies, which match pod addresses)."""
    blocks: dict[IPBlock, None] = {}
    for policy in policies:
        for rule in (*policy.ingress, *policy.egress):
            for peer in rule.peers:
                if peer.ip_block is not None:
                    blocks[peer.ip_block] = None
    for admin_policy in admin:
        for admin_rule in admin_policy.egress:
            for admin_peer in admin_rule.peers:
                for network in admin_peer.networks:
                    blocks[IPBlock(network)] = None
    listed = list(blocks)
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
    starts = ip_starts(cluster.policies, cluster.admin_policies)
    pods = representatives(cluster.pods, granularity, starts)
    return dataclasses.replace(cluster, pods=pods)
