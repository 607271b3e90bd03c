"""Parsed objects -> the resolved inventory (:class:`~service.engine.model.Cluster`).

* Live pods roll up to their top owner, following ownerReferences through the workloads of
  the input (Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob, ...). A pod whose owner
  is a ReplicaSet absent from the input, named ``<deployment>-<pod-template-hash>``, belongs
  to that Deployment (present or not). Any other absent owner is taken as named in the
  reference. A pod without owner is a bare pod (``workload`` None).
* A top-level workload (one not owned by another workload kind) without live pods stands
  for its pods with one *template pod*: named ``<workload>-template``, or
  ``<workload>-<kind>-template`` (then ``-2``, ``-3``, ...) when that name is taken in the
  namespace; it has the template's labels, ports and hostNetwork, no IP and
  ``template=True``.
* Namespaces referenced by objects but not declared exist implicitly (``declared=False``),
  with a warning listing them.
* A host-network pod shares its node's network namespace: without IPs of its own in
  ``status``, it takes the host IPs of the Node named by ``spec.nodeName`` (what the kubelet
  reports as its ``status.podIPs``: :attr:`~service.engine.model.Node.host_ips`). IPs it
  has are kept (in a real cluster they are those host IPs), with a warning when the node's
  addresses do not hold them. Template pods run on no node and get no address.
* ``nodes`` peers without any Node object in the input match nothing: a warning says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from service.engine.model import (
    WORKLOAD_KINDS,
    AdminPolicy,
    Cluster,
    LivePod,
    Namespace,
    Node,
    ObjectRef,
    Pod,
    Workload,
)
from service.engine.parse import ParsedObjects
from service.engine.parse.namespaces import namespace_labels

_WORKLOAD_KINDS = frozenset(WORKLOAD_KINDS)
MAX_LISTED = 20


def build_cluster(parsed: ParsedObjects) -> Cluster:
    resolver = _Resolver(parsed.workloads)
    pods: list[Pod] = []
    for live in parsed.pods:
        pod = live.pod
        top = resolver.pod_owner(live)
        if top is not None:
            pod = Pod(
                pod.namespace,
                pod.name,
                pod.labels,
                pod.ips,
                pod.ports,
                pod.host_network,
                top,
                pod.template,
                pod.node,
            )
        pods.append(pod)
    node_warnings = _host_network_addresses(pods, parsed.nodes)

    top_level = [w for w in parsed.workloads if not _owned_by_workload(w)]
    populated = {(r.kind, r.namespace, r.name) for r in resolver.pod_owners.values()}
    empty = [w for w in top_level if (w.kind, w.namespace, w.name) not in populated]
    if empty:
        taken = {(p.namespace, p.name) for p in pods}
        for workload in empty:
            name = _template_name(workload, taken)
            taken.add((workload.namespace, name))
            pods.append(
                Pod(
                    workload.namespace,
                    name,
                    workload.template_labels,
                    (),
                    workload.template_ports,
                    workload.host_network,
                    workload.ref,
                    template=True,
                )
            )

    namespaces, warning = _namespaces(parsed)
    warnings = [*parsed.warnings, *([warning] if warning else []), *node_warnings]
    warnings += _node_peer_warnings(parsed.admin_policies, parsed.nodes)
    return Cluster(
        namespaces=namespaces,
        pods=tuple(pods),
        services=parsed.services,
        policies=parsed.policies,
        workloads=tuple(top_level),
        warnings=tuple(warnings),
        admin_policies=parsed.admin_policies,
        nodes=parsed.nodes,
    )


def _listed(names: Sequence[str]) -> str:
    listed = ", ".join(names[:MAX_LISTED])
    if len(names) > MAX_LISTED:
        listed += f" and {len(names) - MAX_LISTED} more"
    return listed


def _host_network_addresses(pods: list[Pod], nodes: Sequence[Node]) -> list[str]:
    """Give host-network pods without IPs their node's host IPs (in place); the warnings."""
    by_name = {node.name: node for node in nodes}
    unknown: list[str] = []
    elsewhere: list[str] = []
    for index, pod in enumerate(pods):
        if not pod.host_network or pod.template:
            continue
        node = by_name.get(pod.node) if pod.node is not None else None
        if node is None:
            if not pod.ips and pod.node is not None and nodes:
                unknown.append(f"{pod} (node {pod.node})")
        elif not pod.ips:
            pods[index] = dataclasses.replace(pod, ips=node.host_ips)
        elif not set(pod.ips) <= set(node.ips):
            elsewhere.append(f"{pod} (node {node.name})")
    warnings = []
    if unknown:
        warnings.append(
            f"{len(unknown)} host-network {'pod runs' if len(unknown) == 1 else 'pods run'} "
            f"on a node absent from the input and {'has' if len(unknown) == 1 else 'have'} "
            f"no IP: {'its address is' if len(unknown) == 1 else 'their addresses are'} "
            f"unknown: {_listed(unknown)}"
        )
    if elsewhere:
        warnings.append(
            f"{len(elsewhere)} host-network {'pod has' if len(elsewhere) == 1 else 'pods have'} "
            "status IPs that are not addresses of the node in spec.nodeName; the status IPs "
            f"are used: {_listed(elsewhere)}"
        )
    return warnings


def _node_peer_warnings(policies: Sequence[AdminPolicy], nodes: Sequence[Node]) -> list[str]:
    """Without Node objects, ``nodes`` peers select no node: say which policies have them."""
    if nodes:
        return []
    having = [
        str(policy)
        for policy in policies
        if any(peer.nodes is not None for rule in policy.egress for peer in rule.peers)
    ]
    if not having:
        return []
    return [
        f"the input holds no Node objects, so the nodes peers of {len(having)} "
        f"{'policy' if len(having) == 1 else 'policies'} match nothing: {_listed(having)}"
    ]


def _owned_by_workload(workload: Workload) -> bool:
    return workload.owner is not None and workload.owner.kind in _WORKLOAD_KINDS


_Key = tuple[str, str, str]  # kind, namespace, name: cheaper to hash than ObjectRef


class _Resolver:
    """Top owners, memoised per workload and per pod owner reference."""

    def __init__(self, workloads: tuple[Workload, ...]) -> None:
        self.workloads: dict[_Key, Workload] = {(w.kind, w.namespace, w.name): w for w in workloads}
        self.tops: dict[_Key, ObjectRef] = {}
        self.pod_owners: dict[tuple[str, str, str, str | None], ObjectRef] = {}

    def top(self, key: _Key) -> ObjectRef:
        """The top owner of the workload ``key`` (present in the input)."""
        found = self.tops.get(key)
        if found is not None:
            return found
        chain = [key]
        current = key
        result: ObjectRef | None = None
        while True:
            workload = self.workloads.get(current)
            if workload is None or not _owned_by_workload(workload):
                break  # absent (taken as named) or top-level
            assert workload.owner is not None
            parent = (workload.owner.kind, current[1], workload.owner.name)
            known = self.tops.get(parent)
            if known is not None:
                result = known
                break
            if parent in chain:  # an ownership cycle: stop where it closes
                break
            chain.append(parent)
            current = parent
        if result is None:
            result = ObjectRef(*current)
        for link in chain:
            self.tops[link] = result
        return result

    def pod_owner(self, live: LivePod) -> ObjectRef | None:
        owner = live.owner
        if owner is None:
            return None
        memo_key = (owner.kind, live.pod.namespace, owner.name, live.template_hash)
        found = self.pod_owners.get(memo_key)
        if found is None:
            found = self.pod_owners[memo_key] = self._pod_owner(*memo_key)
        return found

    def _pod_owner(
        self, kind: str, namespace: str, name: str, template_hash: str | None
    ) -> ObjectRef:
        key = (kind, namespace, name)
        if key in self.workloads:
            return self.top(key)
        if kind == "ReplicaSet" and template_hash:
            suffix = "-" + template_hash
            if name.endswith(suffix) and len(name) > len(suffix):
                deployment = ("Deployment", namespace, name[: -len(suffix)])
                if deployment in self.workloads:
                    return self.top(deployment)
                return ObjectRef(*deployment)
        return ObjectRef(*key)


def _template_name(workload: Workload, taken: set[tuple[str, str]]) -> str:
    name = f"{workload.name}-template"
    if (workload.namespace, name) not in taken:
        return name
    base = f"{workload.name}-{workload.kind.lower()}-template"
    name, counter = base, 1
    while (workload.namespace, name) in taken:
        counter += 1
        name = f"{base}-{counter}"
    return name


def _namespaces(parsed: ParsedObjects) -> tuple[tuple[Namespace, ...], str | None]:
    declared = {ns.name for ns in parsed.namespaces}
    used = {ref.namespace for ref, _origin in parsed.refs}
    names = sorted(n for n in used if n and n not in declared)
    if not names:
        return parsed.namespaces, None
    extra = tuple(Namespace(n, namespace_labels(n), declared=False) for n in names)
    listed = ", ".join(names[:MAX_LISTED])
    if len(names) > MAX_LISTED:
        listed += f" and {len(names) - MAX_LISTED} more"
    noun = "namespace" if len(names) == 1 else "namespaces"
    warning = f"{len(names)} {noun} not declared in the input, assumed to exist: {listed}"
    return (*parsed.namespaces, *extra), warning
