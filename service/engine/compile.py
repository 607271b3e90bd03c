"""Compile a cluster once into an index that answers reachability questions fast.

Pods that every selector, ipBlock and named-port lookup treats alike form one *class*; the
queries compute over classes and expand to pods, workloads or namespaces only for output.
External addresses are split at every ipBlock boundary; each piece is one more peer. Peer
sets are bitsets (:mod:`service.engine.bitsets`) over ``classes + pieces``.

The NetworkPolicy rules, as numbered in the comments below:

1. A policy selects pods of its own namespace by ``spec.podSelector`` (``{}`` = all).
2. A pod is isolated for a direction iff at least one policy of that type selects it; then
   only the union of those policies' rules of that direction admits traffic.
3. A rule with no peers matches every peer, in the cluster or outside; no ports = all ports.
4. Peers: podSelector alone = pods of the policy's namespace; namespaceSelector alone = all
   pods of matching namespaces; both = the intersection; ipBlock = addresses in the CIDR and
   not in any ``except``.
5. A named port resolves against the destination pod's container ports (name and protocol);
   it never matches an external address.
6. Host-network pods (option ``host-network-pods``): ``exempt`` = never selected, never
   matched by selectors, matched by ipBlocks through their (node) address; ``as-pods`` =
   ordinary pods.
7. ipBlocks and pod IPs (option ``pod-ips-in-ipblocks``): ``match`` = an ipBlock matches the
   pods whose IP lies in it; ``ignore`` = ipBlocks match only external addresses.
8. Admin tiers (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy): the
   Admin tier by priority, then NetworkPolicy if it isolates, else the Baseline tier, then
   allow; per port the first matching rule decides (Accept/Allow, Deny, Pass).
9. A ``domainNames`` peer may stand for any external address, decided by DNS at run time:
   the ports whose verdict changes when it does are reported as depending on DNS.

The admin tiers' subjects and ``namespaces``/``pods`` peers select as rule 4, but never
host-network pods, whatever option 6 says (their CRDs: "host-networked pods are not
included"); ``networks`` match the addresses in their CIDRs, pods' included whatever the
option; ``nodes`` match the IPs of the ``status.addresses`` of the Nodes their selector
selects (:func:`nodes_selected`): the node as an external address, and the pods at those
addresses (host-network pods, whose addresses are their node's).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from service.engine import bitsets
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.model import (
    NAMESPACE_NAME_LABEL,
    AddressRange,
    AdminAction,
    AdminPeer,
    AdminPolicy,
    AdminRule,
    Cluster,
    ContainerPort,
    Direction,
    IPAddress,
    IPBlock,
    Labels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Node,
    ObjectRef,
    Operator,
    Peer,
    Pod,
    PodsOf,
    PolicyPort,
    PortRange,
    PortSet,
    Protocol,
    Rule,
    Service,
)
from service.engine.options import AnalysisOptions, HostNetworkPods, PodIPsInIPBlocks
from service.engine.partition import AddressPartition
from service.engine.peersets import PeerSet, PeerSets

_VERSION = {ipaddress.IPv4Address: 4, ipaddress.IPv6Address: 6}  # faster than ip.version
_OTHER_VALUE = None  # a label value no selector mentions: all such values behave alike
_NO_PORTS = PortSet.empty()


@dataclass(frozen=True, slots=True)
class PodClass:
    """Pods that every selector, ipBlock and named-port lookup treats alike."""

    index: int
    namespace: str
    representative: Pod
    pods: tuple[int, ...]  # indexes into CompiledCluster.pods
    exempt: bool  # a host-network pod that policies do not apply to (rule 6)
    named_ports: tuple[tuple[str, Protocol, int], ...]  # the referenced named ports it defines


NamedPorts = tuple[tuple[str, Protocol, int], ...]
_Resolved = dict[NamedPorts, PortSet]  # a rule's ports per destination's named ports


def _matches(peer_sets: PeerSets, bits: int, peer: int | None) -> bool:
    """Whether a rule's peers include ``peer`` (None: an address of an unmodelled IP
    version, which only a rule without peers matches)."""
    if peer is None:
        return not peer_sets
    return bitsets.contains(bits, peer)


def _resolve(
    numeric: PortSet,
    wanted: frozenset[tuple[str, Protocol | None]],
    named: NamedPorts,
    cache: dict[NamedPorts, PortSet],
) -> PortSet:
    """``numeric`` plus the named ports ``wanted`` (protocol None: any) that a destination
    defining ``named`` has."""
    cached = cache.get(named)
    if cached is None:
        found = [
            PortRange(protocol, number, number)
            for name, protocol, number in named
            if (name, protocol) in wanted or (name, None) in wanted
        ]
        cached = cache[named] = PortSet((*numeric.ranges, *found)) if found else numeric
    return cached


@dataclass(slots=True)
class CompiledRule:
    """One ingress or egress rule of one NetworkPolicy, with its peers as bitsets."""

    policy: NetworkPolicy
    direction: Direction
    index: int
    rule: Rule
    peer_sets: PeerSets  # per peer of the rule; empty when the rule has no peers
    bits: int  # union of peer_sets, or every peer (rule 3)
    numeric_ports: PortSet  # ports independent of the destination
    named_ports: tuple[tuple[str, Protocol], ...]
    _resolved: dict[NamedPorts, PortSet] = field(default_factory=dict)

    @property
    def action(self) -> AdminAction:
        return AdminAction.ALLOW

    def matches(self, peer: int | None) -> bool:
        return _matches(self.peer_sets, self.bits, peer)

    def matching_peer(self, peer: int | None) -> int | None:
        """Index of the first of the rule's peers that holds ``peer`` (None: none does,
        or the rule has no peers)."""
        return None if peer is None else self.peer_sets.first_containing(peer)

    def ports_for(self, named: NamedPorts | None) -> PortSet:
        """The ports this rule admits towards a destination defining ``named`` ports
        (None: an external destination, which no named port matches — rule 5)."""
        if not self.named_ports or named is None:
            return self.numeric_ports
        cached = self._resolved.get(named)  # the common case: no set of names to build
        if cached is not None:
            return cached
        return _resolve(self.numeric_ports, frozenset(self.named_ports), named, self._resolved)


@dataclass(slots=True)
class CompiledAdminRule:
    """One rule of an AdminNetworkPolicy or of the baseline. Its peers are never empty;
    a named port matches the destination's container port of that name, any protocol."""

    policy: AdminPolicy
    direction: Direction
    index: int
    rule: AdminRule
    peer_sets: PeerSets
    bits: int
    numeric_ports: PortSet
    named_ports: tuple[str, ...]
    action: AdminAction
    # peers a ``domainNames`` peer may stand for (every external address): whether it
    # matches is decided by DNS at run time, never by the manifests
    dns_bits: int = 0
    _resolved: dict[NamedPorts, PortSet] = field(default_factory=dict)

    def matches(self, peer: int | None, *, dns: bool = False) -> bool:
        """``dns``: as if every domain name resolved to ``peer``."""
        if dns and peer is not None and bitsets.contains(self.dns_bits, peer):
            return True
        return _matches(self.peer_sets, self.bits, peer)

    def matching_peer(self, peer: int | None) -> int | None:
        return None if peer is None else self.peer_sets.first_containing(peer)

    def ports_for(self, named: NamedPorts | None) -> PortSet:
        if not self.named_ports or named is None:
            return self.numeric_ports
        cached = self._resolved.get(named)
        if cached is not None:
            return cached
        wanted = frozenset((name, None) for name in self.named_ports)
        return _resolve(self.numeric_ports, wanted, named, self._resolved)


AnyRule = CompiledRule | CompiledAdminRule


@dataclass(frozen=True, slots=True)
class RuleEffect:
    """A rule that matched, and the ports it decided (admin tiers) or admitted."""

    rule: AnyRule
    ports: PortSet


@dataclass(frozen=True, slots=True)
class SideEvaluation:
    """One direction for one endpoint towards one peer, through every tier."""

    allowed: PortSet
    effects: tuple[RuleEffect, ...]  # in evaluation order: admin, NetworkPolicy, baseline
    isolating: tuple[CompiledPolicy, ...]  # NetworkPolicies isolating the endpoint
    # ports whose verdict depends on whether a domainNames peer resolves to the peer
    # (``allowed`` holds the verdict when none does)
    depends_on_dns: PortSet = _NO_PORTS
    # per policy whose rule decided ports: the other policies of the same tier and
    # priority that match the same connection on some of those ports (ambiguous by spec)
    ambiguous: tuple[tuple[AdminPolicy, tuple[AdminPolicy, ...]], ...] = ()


@dataclass(slots=True)
class CompiledAdminPolicy:
    policy: AdminPolicy
    selected: int  # the subject's classes
    ingress: tuple[CompiledAdminRule, ...]
    egress: tuple[CompiledAdminRule, ...]

    def rules(self, direction: Direction) -> tuple[CompiledAdminRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress


@dataclass(slots=True)
class CompiledPolicy:
    policy: NetworkPolicy
    selected: int  # bitset of the classes the policy selects (rule 1)
    ingress: tuple[CompiledRule, ...]
    egress: tuple[CompiledRule, ...]

    def rules(self, direction: Direction) -> tuple[CompiledRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress


@dataclass(frozen=True, slots=True)
class _Lookups:
    pods_by_workload: dict[ObjectRef, tuple[Pod, ...]]
    pods_by_namespace: dict[str, tuple[Pod, ...]]
    pod_by_address: dict[IPAddress, Pod]
    services: dict[tuple[str, str], Service]
    nodes_by_address: dict[IPAddress, tuple[Node, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, cluster: Cluster) -> _Lookups:
        nodes: dict[IPAddress, list[Node]] = defaultdict(list)
        for node in cluster.nodes:
            for ip in node.ips:
                nodes[ip].append(node)
        by_workload: dict[ObjectRef, list[Pod]] = defaultdict(list)
        by_namespace: dict[str, list[Pod]] = defaultdict(list)
        by_address: dict[IPAddress, Pod] = {}
        for pod in cluster.pods:
            by_namespace[pod.namespace].append(pod)
            if pod.workload is not None:
                by_workload[pod.workload].append(pod)
            if not pod.host_network:
                for ip in pod.ips:
                    by_address.setdefault(ip, pod)
        return cls(
            {ref: tuple(pods) for ref, pods in by_workload.items()},
            {namespace: tuple(pods) for namespace, pods in by_namespace.items()},
            by_address,
            {(s.namespace, s.name): s for s in cluster.services},
            {ip: tuple(found) for ip, found in nodes.items()},
        )


@dataclass(slots=True)
class CompiledCluster:
    """The compiled form of one snapshot; build it with :func:`compile_cluster`."""

    cluster: Cluster
    options: AnalysisOptions
    pods: tuple[Pod, ...]
    pod_class: list[int]  # pod index -> class index
    classes: tuple[PodClass, ...]
    pieces: tuple[AddressRange, ...]  # external address pieces; peer index = len(classes) + i
    namespaces: Mapping[str, Namespace]
    policies: tuple[CompiledPolicy, ...]
    isolated: dict[Direction, int]  # classes isolated per direction (rule 2)
    applied: dict[Direction, list[list[CompiledPolicy]]]  # per class, policies selecting it
    admin_policies: tuple[CompiledAdminPolicy, ...]  # evaluation order; the baseline last
    class_bits_by_namespace: dict[str, int]
    _piece_starts: dict[int, list[int]]
    _piece_offsets: dict[int, int]
    _pod_index: dict[tuple[str, str], int]
    _lookups: _Lookups | None = None
    _tiers: tuple[TierRules, TierRules] | None = None  # tier_rules(), built on first use

    @property
    def admin_rules(self) -> TierRules:
        """Per direction, per class, the Admin-tier rules whose subject holds it, in
        evaluation order (point queries and lint; the maps use tier tables instead)."""
        return self._tier_rules()[0]

    @property
    def baseline_rules(self) -> TierRules:
        return self._tier_rules()[1]

    def _tier_rules(self) -> tuple[TierRules, TierRules]:
        if self._tiers is None:
            self._tiers = tier_rules(len(self.classes), self.admin_policies)
        return self._tiers

    @property
    def lookups(self) -> _Lookups:
        """Indexes for endpoint resolution, built on first use."""
        if self._lookups is None:
            self._lookups = _Lookups.build(self.cluster)
        return self._lookups

    @property
    def class_count(self) -> int:
        return len(self.classes)

    @property
    def peer_count(self) -> int:
        return len(self.classes) + len(self.pieces)

    @property
    def all_classes(self) -> int:
        return bitsets.below(len(self.classes))

    @property
    def all_peers(self) -> int:
        return bitsets.below(self.peer_count)

    def pod(self, namespace: str, name: str) -> Pod | None:
        index = self._pod_index.get((namespace, name))
        return None if index is None else self.pods[index]

    def class_of(self, pod: Pod) -> PodClass:
        return self.classes[self.pod_class[self._pod_index[(pod.namespace, pod.name)]]]

    def piece_of(self, address: IPAddress) -> int | None:
        """Peer index of the external piece holding ``address``; None when the snapshot never
        mentions that IP version (no ipBlock can match it then)."""
        starts = self._piece_starts.get(address.version)
        if starts is None:
            return None
        offset = self._piece_offsets[address.version]
        return len(self.classes) + offset + bisect.bisect_right(starts, int(address)) - 1

    def peer_index(self, endpoint: Pod | IPAddress) -> int | None:
        if isinstance(endpoint, Pod):
            return self.class_of(endpoint).index
        return self.piece_of(endpoint)

    def named_ports_of(self, peer: int) -> tuple[tuple[str, Protocol, int], ...] | None:
        return self.classes[peer].named_ports if peer < len(self.classes) else None

    def is_subject(self, peer: int) -> bool:
        """Whether policies can apply to this peer at all (not external, not exempt)."""
        return peer < len(self.classes) and not self.classes[peer].exempt

    @property
    def has_admin(self) -> bool:
        return bool(self.admin_policies)

    @property
    def has_domain_names(self) -> bool:
        """Some rule has a ``domainNames`` peer that may stand for an external address."""
        return any(r.dns_bits for p in self.admin_policies for r in p.egress)

    def side_ports(self, direction: Direction, subject: int, other: int | None) -> PortSet:
        """What ``subject``'s policies of ``direction`` admit to/from ``other`` (rule 2);
        ``other`` None is an external address of an IP version no ipBlock mentions."""
        if not self.is_subject(subject):
            return PortSet.all()
        if not self.has_admin and not bitsets.contains(self.isolated[direction], subject):
            return PortSet.all()
        return self.evaluate_side(direction, subject, other).allowed

    def evaluate_side(
        self, direction: Direction, subject: int, other: int | None
    ) -> SideEvaluation:
        """:meth:`evaluate_tiers`, and the ports that depend on DNS: those whose verdict
        changes when every ``domainNames`` peer resolves to ``other`` (rule 9)."""
        found = self.evaluate_tiers(direction, subject, other)
        rules = (*self.admin_rules[direction][subject], *self.baseline_rules[direction][subject])
        if other is None or not any(bitsets.contains(r.dns_bits, other) for r in rules):
            return found
        resolved = self.evaluate_tiers(direction, subject, other, dns=True)
        changed = (found.allowed - resolved.allowed) | (resolved.allowed - found.allowed)
        if not changed:
            return found
        effects = found.effects + tuple(
            e
            for e in resolved.effects
            if isinstance(e.rule, CompiledAdminRule) and e.rule.dns_bits and e not in found.effects
        )
        return replace(
            found, allowed=found.allowed - changed, effects=effects, depends_on_dns=changed
        )

    def evaluate_tiers(
        self, direction: Direction, subject: int, other: int | None, *, dns: bool = False
    ) -> SideEvaluation:
        """The tiers in order (rule 8): admin rules, first match decides (Allow, Deny, or
        Pass on to NetworkPolicy); then NetworkPolicy if it isolates the endpoint, else the
        baseline (first match: Allow, Deny, or Pass on to the default); then allow.
        ``dns``: as if every ``domainNames`` peer resolved to ``other``."""
        destination = subject if direction is Direction.INGRESS else other
        named = None if destination is None else self.named_ports_of(destination)
        effects: list[RuleEffect] = []
        admin_allowed = admin_denied = decided = PortSet.empty()
        ambiguous = _Ambiguity()
        for rule in self.admin_rules[direction][subject]:
            if rule.matches(other, dns=dns):
                ambiguous.see(rule, rule.ports_for(named), decided)
                ports = rule.ports_for(named) - decided
                if ports:
                    effects.append(RuleEffect(rule, ports))
                    if rule.action is AdminAction.ALLOW:
                        admin_allowed = admin_allowed | ports
                    elif rule.action is AdminAction.DENY:
                        admin_denied = admin_denied | ports
                    decided = decided | ports
        rest = PortSet.all() - admin_allowed - admin_denied
        isolating = tuple(self.applied[direction][subject])
        if isolating:
            policy_allowed = PortSet.empty()
            for compiled in isolating:
                for policy_rule in compiled.rules(direction):
                    if policy_rule.matches(other):
                        ports = policy_rule.ports_for(named)
                        effects.append(RuleEffect(policy_rule, ports))
                        policy_allowed = policy_allowed | ports
            return SideEvaluation(
                admin_allowed | (rest & policy_allowed),
                tuple(effects),
                isolating,
                ambiguous=ambiguous.found(),
            )
        baseline_denied = baseline_decided = PortSet.empty()
        ambiguous.next_tier()
        for rule in self.baseline_rules[direction][subject]:
            if rule.matches(other, dns=dns):
                ambiguous.see(rule, rule.ports_for(named) & rest, baseline_decided)
                ports = (rule.ports_for(named) & rest) - baseline_decided
                if ports:
                    effects.append(RuleEffect(rule, ports))
                    if rule.action is AdminAction.DENY:
                        baseline_denied = baseline_denied | ports
                    baseline_decided = baseline_decided | ports
        return SideEvaluation(
            admin_allowed | (rest - baseline_denied),
            tuple(effects),
            (),
            ambiguous=ambiguous.found(),
        )

    def allowed_ports(self, src: Pod | IPAddress, dst: Pod | IPAddress) -> PortSet:
        """Ports on which ``src`` may open a connection to ``dst``."""
        if isinstance(src, Pod) and isinstance(dst, Pod) and src.ref == dst.ref:
            return PortSet.all()  # a pod can always reach itself
        s, d = self.peer_index(src), self.peer_index(dst)
        egress = PortSet.all() if s is None else self.side_ports(Direction.EGRESS, s, d)
        ingress = PortSet.all() if d is None else self.side_ports(Direction.INGRESS, d, s)
        return egress & ingress


class _Ambiguity:
    """Same-priority policies of one tier that match one connection (the CRD: "the
    implementation can apply any of the matching policies"). Rules arrive in evaluation
    order; ``decided`` is what higher-precedence rules have decided so far."""

    def __init__(self) -> None:
        self._key: tuple[bool, int] | None = None
        self._before = PortSet.empty()  # decided before the current priority group
        self._group: dict[AdminPolicy, PortSet] = {}
        self._found: dict[AdminPolicy, dict[AdminPolicy, None]] = {}

    def next_tier(self) -> None:
        self._key = None
        self._group = {}

    def see(self, rule: CompiledAdminRule, ports: PortSet, decided: PortSet) -> None:
        policy = rule.policy
        if not policy.has_priority:
            return
        key = (policy.baseline, policy.priority)
        if key != self._key:
            self._key, self._before, self._group = key, decided, {}
        ports = ports - self._before
        if not ports:
            return
        for other, other_ports in self._group.items():
            if other != policy and other_ports & ports:
                self._found.setdefault(policy, {})[other] = None
                self._found.setdefault(other, {})[policy] = None
        self._group[policy] = self._group.get(policy, PortSet.empty()) | ports

    def found(self) -> tuple[tuple[AdminPolicy, tuple[AdminPolicy, ...]], ...]:
        return tuple((policy, tuple(others)) for policy, others in self._found.items())


# --------------------------------------------------------------------------------------
# Compilation
# --------------------------------------------------------------------------------------


def compile_cluster(
    cluster: Cluster, options: AnalysisOptions | None = None, deadline: Deadline = NO_DEADLINE
) -> CompiledCluster:
    """Group pods into classes, split the address space, and index every policy rule
    (``deadline`` checked after each stage and each policy)."""
    options = options or AnalysisOptions()
    namespaces = _namespaces(cluster)
    blocks = address_blocks(cluster)
    versions = _ip_versions(cluster, blocks)
    partition = AddressPartition.of(blocks, versions)
    starts, pieces = partition.starts, partition.pieces
    classes, pod_class = _classify(cluster, options, namespaces, starts, blocks)
    builder = _IndexBuilder(classes, partition, namespaces, options, cluster.nodes)
    deadline.check("compile: pod classes and address pieces")
    compiled_list: list[CompiledPolicy] = []
    for policy in cluster.policies:
        compiled_list.append(builder.policy(policy))
        deadline.check(lambda: f"compile: NetworkPolicy {policy}")  # noqa: B023  (called now)
    compiled_policies = tuple(compiled_list)
    admin = tuple(
        builder.admin_policy(p) for p in sorted(cluster.admin_policies, key=lambda p: p.precedence)
    )
    deadline.check("compile: cluster-wide policies")

    isolated = {Direction.INGRESS: 0, Direction.EGRESS: 0}
    applied: dict[Direction, list[list[CompiledPolicy]]] = {
        d: [[] for _ in classes] for d in Direction
    }
    for compiled in compiled_policies:
        for direction in compiled.policy.policy_types:
            isolated[direction] |= compiled.selected
            per_class = applied[direction]
            for c in bitsets.indices(compiled.selected).tolist():
                per_class[c].append(compiled)

    return CompiledCluster(
        cluster=cluster,
        options=options,
        pods=cluster.pods,
        pod_class=pod_class,
        classes=classes,
        pieces=pieces,
        namespaces=namespaces,
        policies=compiled_policies,
        isolated=isolated,
        applied=applied,
        admin_policies=admin,
        class_bits_by_namespace=builder.namespace_bits,
        _piece_starts=starts,
        _piece_offsets=partition.offsets,
        _pod_index={(p.namespace, p.name): i for i, p in enumerate(cluster.pods)},
    )


TierRules = dict[Direction, list[list[CompiledAdminRule]]]


def tier_rules(
    class_count: int, admin: Sequence[CompiledAdminPolicy]
) -> tuple[TierRules, TierRules]:
    """Per class, the Admin-tier and Baseline-tier rules whose subject holds it, in
    evaluation order. Only the (direction, tier) lists a policy adds to are touched, once
    per selected class: 200 policies over thousands of classes stay cheap."""
    admin_rules: TierRules = {d: [[] for _ in range(class_count)] for d in Direction}
    baseline_rules: TierRules = {d: [[] for _ in range(class_count)] for d in Direction}
    for compiled_admin in admin:
        tiers = baseline_rules if compiled_admin.policy.baseline else admin_rules
        selected = bitsets.indices(compiled_admin.selected).tolist()
        for direction, rules in (
            (Direction.INGRESS, compiled_admin.ingress),
            (Direction.EGRESS, compiled_admin.egress),
        ):
            if rules:
                per_class = tiers[direction]
                for c in selected:
                    per_class[c].extend(rules)
    return admin_rules, baseline_rules


def _namespaces(cluster: Cluster) -> dict[str, Namespace]:
    found = {ns.name: ns for ns in cluster.namespaces}
    used = {pod.namespace for pod in cluster.pods} | {p.namespace for p in cluster.policies}
    for name in sorted(used - found.keys()):  # normally added by the inventory; be safe
        found[name] = Namespace(name, Labels({NAMESPACE_NAME_LABEL: name}), declared=False)
    return found


def _ip_blocks(
    policies: Iterable[NetworkPolicy], admin: Iterable[AdminPolicy] = ()
) -> list[IPBlock]:
    """Every ipBlock, and every admin ``networks`` CIDR (as a block without excepts)."""
    found: dict[IPBlock, None] = {}
    for policy in policies:
        for rule in (*policy.ingress, *policy.egress):
            for peer in rule.peers:
                if peer.ip_block is not None:
                    found[peer.ip_block] = None
    for admin_policy in admin:
        for admin_rule in admin_policy.egress:
            for admin_peer in admin_rule.peers:
                for network in admin_peer.networks:
                    found[IPBlock(network)] = None
    return list(found)


def nodes_selected(nodes: Iterable[Node], selector: LabelSelector) -> tuple[Node, ...]:
    """The Nodes a ``nodes`` peer's selector selects (``{}``: every Node)."""
    return tuple(node for node in nodes if selector.matches(node.labels))


def _node_selectors(admin: Iterable[AdminPolicy]) -> dict[LabelSelector, None]:
    """The selectors of every ``nodes`` peer (egress only, as the CRDs allow)."""
    return {
        peer.nodes: None
        for policy in admin
        for rule in policy.egress
        for peer in rule.peers
        if peer.nodes is not None
    }


def _node_blocks(cluster: Cluster) -> list[IPBlock]:
    """One single-address block per IP of each Node a ``nodes`` peer selects."""
    found: dict[IPBlock, None] = {}
    if cluster.nodes:
        for selector in _node_selectors(cluster.admin_policies):
            for node in nodes_selected(cluster.nodes, selector):
                for ip in node.ips:
                    found[IPBlock(ipaddress.ip_network(ip))] = None
    return list(found)


def address_blocks(cluster: Cluster) -> list[IPBlock]:
    """Where the address space is cut: every ipBlock, every admin ``networks`` CIDR and
    every address of a Node that a ``nodes`` peer selects."""
    blocks = dict.fromkeys(_ip_blocks(cluster.policies, cluster.admin_policies))
    blocks.update(dict.fromkeys(_node_blocks(cluster)))
    return list(blocks)


def _ip_versions(cluster: Cluster, blocks: Sequence[IPBlock]) -> list[int]:
    """IPv4 always; IPv6 when the snapshot mentions an IPv6 address anywhere (a Node's too)."""
    v6 = (
        any(b.version == 6 for b in blocks)
        or any(ip.version == 6 for pod in cluster.pods for ip in pod.ips)
        or any(ip.version == 6 for node in cluster.nodes for ip in node.ips)
    )
    return [4, 6] if v6 else [4]


def _offsets(starts: Mapping[int, list[int]]) -> dict[int, int]:
    """Index of the first piece of each IP version within ``pieces``."""
    offsets: dict[int, int] = {}
    running = 0
    for version, points in starts.items():
        offsets[version] = running
        running += len(points)
    return offsets


def _is_exempt(pod: Pod, options: AnalysisOptions) -> bool:
    return pod.host_network and options.host_network_pods is HostNetworkPods.EXEMPT


class _Relevance:
    """Which label keys and values any selector that can look at a namespace's pods mentions.

    Labels are projected onto these before grouping, so pods that differ only in labels no
    selector reads (``pod-template-hash``, unreferenced ``app`` values) share a class.
    """

    def __init__(self, cluster: Cluster, namespaces: Mapping[str, Namespace]) -> None:
        self._namespaces_of: dict[LabelSelector, list[str]] = {}
        everywhere: list[LabelSelector] = []
        local: dict[str, list[LabelSelector]] = defaultdict(list)
        for policy in cluster.policies:
            local[policy.namespace].append(policy.pod_selector)
            for rule in (*policy.ingress, *policy.egress):
                for peer in rule.peers:
                    if peer.pod_selector is None:
                        continue
                    if peer.namespace_selector is None:
                        local[policy.namespace].append(peer.pod_selector)
                    elif peer.namespace_selector.is_empty:
                        everywhere.append(peer.pod_selector)
                    else:
                        for name in self._matching(peer.namespace_selector, namespaces):
                            local[name].append(peer.pod_selector)
        for admin in cluster.admin_policies:  # admin selectors: where their namespaces are
            for pods in (
                admin.subject,
                *(
                    peer.pods
                    for rule in (*admin.ingress, *admin.egress)
                    for peer in rule.peers
                    if peer.pods is not None
                ),
            ):
                if pods.pod_selector is None:
                    continue
                if pods.namespace_selector.is_empty:
                    everywhere.append(pods.pod_selector)
                else:
                    for name in self._matching(pods.namespace_selector, namespaces):
                        local[name].append(pods.pod_selector)
        common = self._keys(everywhere)
        self._relevant: dict[str, dict[str, set[str]]] = {}
        for name in namespaces:
            merged = {k: set(v) for k, v in common.items()}
            for k, v in self._keys(local.get(name, ())).items():
                merged.setdefault(k, set()).update(v)
            self._relevant[name] = merged
        self._cache: dict[tuple[str, Labels], tuple[tuple[str, str | None], ...]] = {}

    def _matching(self, selector: LabelSelector, namespaces: Mapping[str, Namespace]) -> list[str]:
        found = self._namespaces_of.get(selector)
        if found is None:
            found = [ns.name for ns in namespaces.values() if selector.matches(ns.labels)]
            self._namespaces_of[selector] = found
        return found

    @staticmethod
    def _keys(selectors: Iterable[LabelSelector]) -> dict[str, set[str]]:
        keys: dict[str, set[str]] = defaultdict(set)
        for selector in set(selectors):
            for req in selector.requirements():
                values = keys[req.key]
                if req.operator in (Operator.IN, Operator.NOT_IN):
                    values.update(req.values)
        return keys

    def project(self, namespace: str, labels: Labels) -> tuple[tuple[str, str | None], ...]:
        key = (namespace, labels)
        cached = self._cache.get(key)
        if cached is None:
            relevant = self._relevant.get(namespace, {})
            out = []
            for k, v in sorted(labels.items()):
                values = relevant.get(k)
                if values is not None:
                    out.append((k, v if v in values else _OTHER_VALUE))
            cached = self._cache[key] = tuple(out)
        return cached


def _referenced_named_ports(policies: Iterable[NetworkPolicy]) -> set[tuple[str, Protocol]]:
    names: set[tuple[str, Protocol]] = set()
    for policy in policies:
        for rule in (*policy.ingress, *policy.egress):
            for port in rule.ports:
                if isinstance(port.port, str):
                    names.add((port.port, port.protocol))
    return names


def _classify(
    cluster: Cluster,
    options: AnalysisOptions,
    namespaces: Mapping[str, Namespace],
    starts: Mapping[int, list[int]],
    blocks: Sequence[IPBlock],
) -> tuple[tuple[PodClass, ...], list[int]]:
    relevance = _Relevance(cluster, namespaces)
    referenced = _referenced_named_ports(cluster.policies)
    referenced |= {  # admin rules name ports without a protocol: any of them
        (name, protocol)
        for policy in cluster.admin_policies
        for rule in (*policy.ingress, *policy.egress)
        for name in rule.named_ports
        for protocol in Protocol
    }
    # admin ``networks`` and ``nodes`` match pod addresses whatever the option; ipBlocks
    # only with "match"
    match_pod_ips = options.pod_ips_in_ipblocks is PodIPsInIPBlocks.MATCH or any(
        peer.networks or peer.nodes is not None
        for p in cluster.admin_policies
        for r in p.egress
        for peer in r.peers
    )
    offsets = _offsets(starts)
    keys: dict[tuple[object, ...], int] = {}
    members: list[list[int]] = []
    representatives: list[Pod] = []
    named_by_class: list[tuple[tuple[str, Protocol, int], ...]] = []
    exempt_by_class: list[bool] = []
    pod_class: list[int] = []
    named_cache: dict[tuple[ContainerPort, ...], tuple[tuple[str, Protocol, int], ...]] = {}
    for index, pod in enumerate(cluster.pods):
        exempt = _is_exempt(pod, options)
        labels = () if exempt else relevance.project(pod.namespace, pod.labels)
        named = named_cache.get(pod.ports)
        if named is None:
            named = named_cache[pod.ports] = tuple(
                sorted(
                    (p.name, p.protocol, p.port)
                    for p in pod.ports
                    if p.name is not None and (p.name, p.protocol) in referenced
                )
            )
        regions: tuple[int, ...] = ()
        if blocks and pod.ips and (exempt or match_pod_ips):
            regions = tuple(
                sorted(
                    offsets[version] + bisect.bisect_right(starts[version], int(ip)) - 1
                    for ip in pod.ips
                    if (version := _VERSION[type(ip)]) in starts
                )
            )
        key = (pod.namespace, labels, named, regions, exempt, pod.host_network)
        c = keys.get(key)
        if c is None:
            c = keys[key] = len(members)
            members.append([])
            representatives.append(pod)
            named_by_class.append(named)
            exempt_by_class.append(exempt)
        members[c].append(index)
        pod_class.append(c)
    classes = tuple(
        PodClass(
            index=c,
            namespace=representatives[c].namespace,
            representative=representatives[c],
            pods=tuple(members[c]),
            exempt=exempt_by_class[c],
            named_ports=named_by_class[c],
        )
        for c in range(len(members))
    )
    return classes, pod_class


class _IndexBuilder:
    """Turns selectors, peers and rules into bitsets over the peers of one compilation."""

    def __init__(
        self,
        classes: Sequence[PodClass],
        partition: AddressPartition,
        namespaces: Mapping[str, Namespace],
        options: AnalysisOptions,
        nodes: Sequence[Node] = (),
    ) -> None:
        self.classes = classes
        self.partition = partition
        self.nodes = nodes
        self.namespaces = namespaces
        self.options = options
        size = len(classes)
        self.size = size
        self.all_peers = bitsets.below(size + len(partition))
        by_namespace: dict[str, list[int]] = defaultdict(list)
        value_index: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        key_index: dict[str, list[int]] = defaultdict(list)
        subjects: list[int] = []
        host_network: list[int] = []
        for cls in classes:
            if cls.representative.host_network:
                host_network.append(cls.index)
            if cls.exempt:
                continue
            subjects.append(cls.index)
            by_namespace[cls.namespace].append(cls.index)
            for k, v in cls.representative.labels.items():
                value_index[k][v].append(cls.index)
                key_index[k].append(cls.index)

        def pack(positions: list[int]) -> int:
            return bitsets.from_index_array(np.asarray(positions, dtype=np.int64), size)

        self.subjects = pack(subjects)
        self.host_network = pack(host_network)
        self.namespace_bits = {ns: pack(ix) for ns, ix in by_namespace.items()}
        self.values = {k: {v: pack(ix) for v, ix in vs.items()} for k, vs in value_index.items()}
        self.keys = {k: pack(ix) for k, ix in key_index.items()}
        self._selector_cache: dict[LabelSelector, int] = {}
        self._namespace_cache: dict[LabelSelector, int] = {}
        self._namespace_index: tuple[int, dict[str, dict[str, int]], dict[str, int]] | None = None
        self._peer_cache: dict[tuple[Peer, str], PeerSet] = {}
        self._nodes_cache: dict[LabelSelector, PeerSet] = {}
        # rules with the same ports resolve named ports alike: they share one cache (most
        # rules repeat a few port lists, and resolving builds port sets)
        self._resolved: dict[tuple[bool, PortSet, tuple[object, ...]], _Resolved] = {}

        # Which classes each external piece's addresses belong to (rules 6 and 7).
        match_pods = options.pod_ips_in_ipblocks is PodIPsInIPBlocks.MATCH
        located: list[tuple[int, int, bool]] = []  # (piece, class, matched under the option)
        for cls in classes:
            for ip in cls.representative.ips:
                piece = partition.piece_of(ip)
                if piece is not None:
                    located.append((piece, cls.index, cls.exempt or match_pods))
        located.sort()
        self._in_piece = _ClassesByPiece([(p, c) for p, c, matched in located if matched], size)
        self._at_piece = _ClassesByPiece([(p, c) for p, c, _ in located], size)

    # -- selectors ------------------------------------------------------------------------
    def pods_matching(self, selector: LabelSelector) -> int:
        cached = self._selector_cache.get(selector)
        if cached is None:
            cached = _selected(selector, self.subjects, self.values, self.keys)
            self._selector_cache[selector] = cached
        return cached

    def pods_in_namespaces(self, selector: LabelSelector) -> int:
        cached = self._namespace_cache.get(selector)
        if cached is None:
            if self._namespace_index is None:
                self._namespace_index = self._index_namespaces()
            cached = _selected(selector, *self._namespace_index)
            self._namespace_cache[selector] = cached
        return cached

    def _index_namespaces(self) -> tuple[int, dict[str, dict[str, int]], dict[str, int]]:
        """The pods of every namespace, and by namespace label value and key (as
        :attr:`values` and :attr:`keys` hold the pods by their own labels)."""
        everyone = 0
        values: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        keys: dict[str, int] = defaultdict(int)
        for ns in self.namespaces.values():
            bits = self.namespace_bits.get(ns.name, 0)
            everyone |= bits
            for key, value in ns.labels.items():
                values[key][value] |= bits
                keys[key] |= bits
        return everyone, values, keys

    def block_set(self, block: IPBlock, *, pod_addresses: bool = False) -> PeerSet:
        """The pieces inside ``block`` and the classes whose addresses are in it (rules 6
        and 7; ``pod_addresses``: every pod address, as admin ``networks`` match)."""
        runs = self.partition.runs(block)
        located = self._at_piece if pod_addresses else self._in_piece
        size = self.size
        return PeerSet(located.classes(runs), tuple((lo + size, hi + size) for lo, hi in runs))

    def pods_of(self, pods: PodsOf) -> int:
        """An admin subject or ``namespaces``/``pods`` peer: never host-network pods."""
        bits = self.pods_in_namespaces(pods.namespace_selector) & ~self.host_network
        if pods.pod_selector is not None:
            bits &= self.pods_matching(pods.pod_selector)
        return bits

    def nodes_matching(self, selector: LabelSelector) -> PeerSet:
        """A ``nodes`` peer: the addresses of the selected Nodes, as external pieces and as
        the pods at them (host-network pods). The one path for every kind with nodes peers."""
        cached = self._nodes_cache.get(selector)
        if cached is None:
            cached = PeerSet()
            for node in nodes_selected(self.nodes, selector):
                for ip in node.ips:  # each is a piece of its own (address_blocks)
                    block = IPBlock(ipaddress.ip_network(ip))
                    cached = cached | self.block_set(block, pod_addresses=True)
            self._nodes_cache[selector] = cached
        return cached

    def admin_peer(self, peer: AdminPeer) -> PeerSet:
        if peer.pods is not None:
            return PeerSet(self.pods_of(peer.pods))
        if peer.nodes is not None:
            return self.nodes_matching(peer.nodes)
        found = PeerSet()
        for network in peer.networks:
            found = found | self.block_set(IPBlock(network), pod_addresses=True)
        return found  # domainNames: none here, DNS decides (external_bits)

    @property
    def external_bits(self) -> int:
        """Every external address piece: what a domain name may resolve to."""
        return self.all_peers & ~bitsets.below(self.size)

    def peer(self, peer: Peer, namespace: str) -> PeerSet:
        """Rule 4: the peers one NetworkPolicyPeer matches."""
        key = (peer, namespace)
        cached = self._peer_cache.get(key)
        if cached is not None:
            return cached
        if peer.ip_block is not None:
            found = self.block_set(peer.ip_block)
        elif peer.namespace_selector is None:
            assert peer.pod_selector is not None
            bits = self.pods_matching(peer.pod_selector) & self.namespace_bits.get(namespace, 0)
            found = PeerSet(bits)
        else:
            bits = self.pods_in_namespaces(peer.namespace_selector)
            if peer.pod_selector is not None:
                bits &= self.pods_matching(peer.pod_selector)
            found = PeerSet(bits)
        self._peer_cache[key] = found
        return found

    # -- rules and policies ---------------------------------------------------------------
    def rule(self, policy: NetworkPolicy, direction: Direction, index: int) -> CompiledRule:
        rule = policy.rules(direction)[index]
        peer_sets = PeerSets(self.peer(p, policy.namespace) for p in rule.peers)
        bits = peer_sets.union_bits() if peer_sets else self.all_peers
        numeric, named = _split_ports(rule.ports)
        resolved = self._resolved.setdefault((False, numeric, named), {})
        return CompiledRule(
            policy, direction, index, rule, peer_sets, bits, numeric, named, resolved
        )

    def admin_policy(self, policy: AdminPolicy) -> CompiledAdminPolicy:
        def rules(direction: Direction) -> tuple[CompiledAdminRule, ...]:
            compiled = []
            for index, rule in enumerate(policy.rules(direction)):
                peer_sets = PeerSets(self.admin_peer(p) for p in rule.peers)
                bits = peer_sets.union_bits()
                numeric, _ = _split_ports(rule.ports)
                named = tuple(dict.fromkeys(rule.named_ports))
                if not rule.ports and named:
                    numeric = PortSet.empty()
                dns = self.external_bits if any(p.domain_names for p in rule.peers) else 0
                compiled.append(
                    CompiledAdminRule(
                        policy,
                        direction,
                        index,
                        rule,
                        peer_sets,
                        bits,
                        numeric,
                        named,
                        rule.action,
                        dns,
                        self._resolved.setdefault((True, numeric, named), {}),
                    )
                )
            return tuple(compiled)

        return CompiledAdminPolicy(
            policy, self.pods_of(policy.subject), rules(Direction.INGRESS), rules(Direction.EGRESS)
        )

    def policy(self, policy: NetworkPolicy) -> CompiledPolicy:
        selected = self.pods_matching(policy.pod_selector) & self.namespace_bits.get(
            policy.namespace, 0
        )
        return CompiledPolicy(
            policy=policy,
            selected=selected,
            ingress=tuple(
                self.rule(policy, Direction.INGRESS, i) for i in range(len(policy.ingress))
            ),
            egress=tuple(self.rule(policy, Direction.EGRESS, i) for i in range(len(policy.egress))),
        )


def _selected(
    selector: LabelSelector,
    bits: int,
    values: Mapping[str, Mapping[str, int]],
    keys: Mapping[str, int],
) -> int:
    """Those of ``bits`` whose labels ``selector`` matches, from the bits per label value
    (``values``) and per label key (``keys``) of the same objects."""
    for req in selector.requirements():
        of_key = values.get(req.key, {})
        if req.operator is Operator.IN:
            matched = 0
            for value in req.values:
                matched |= of_key.get(value, 0)
            bits &= matched
        elif req.operator is Operator.NOT_IN:  # also matches objects without the key
            for value in req.values:
                bits &= ~of_key.get(value, 0)
        elif req.operator is Operator.EXISTS:
            bits &= keys.get(req.key, 0)
        else:
            bits &= ~keys.get(req.key, 0)
    return bits


class _ClassesByPiece:
    """Classes whose addresses lie in given pieces: (piece, class) pairs sorted by piece,
    so a run of pieces is one slice found by bisection (not a scan of every piece)."""

    def __init__(self, located: Sequence[tuple[int, int]], size: int) -> None:
        self._pieces = [piece for piece, _ in located]
        self._classes = np.array([c for _, c in located], dtype=np.int64)
        self._size = size

    def classes(self, runs: Sequence[tuple[int, int]]) -> int:
        if not self._pieces or not runs:
            return 0
        pieces = self._pieces
        slices = [
            self._classes[bisect.bisect_left(pieces, lo) : bisect.bisect_left(pieces, hi)]
            for lo, hi in runs
        ]
        found = np.concatenate(slices) if len(slices) > 1 else slices[0]
        if len(found) <= bitsets.SPARSE:
            return bitsets.from_indices(found.tolist())
        return bitsets.from_index_array(found, self._size)


def _split_ports(ports: Sequence[PolicyPort]) -> tuple[PortSet, tuple[tuple[str, Protocol], ...]]:
    """Rule 3 and 5: numeric ports as a set; named ones left for the destination."""
    if not ports:
        return PortSet.all(), ()
    numeric = PortSet.empty()
    named: list[tuple[str, Protocol]] = []
    for port in ports:
        if port.port is None:
            numeric = numeric | PortSet.protocol_all(port.protocol)
        elif isinstance(port.port, str):
            named.append((port.port, port.protocol))
        else:
            end = port.end_port if port.end_port is not None else port.port
            numeric = numeric | PortSet.range(port.protocol, port.port, end)
    return numeric, tuple(dict.fromkeys(named))
