"""Incremental compilation: a head that changes only policies, on a compiled base.

A what-if usually edits a few NetworkPolicies of a large snapshot. When the head's
selectors, ipBlocks and named ports cut the pods and the address space no finer than the
base's did, the base's classes and pieces are valid for the head as they are: every head
selector is constant on every base class. Then only the changed policies are compiled, and
only the map rows of the destinations they can affect are computed again.

"No finer" is decided exactly, on what :func:`~service.engine.compile.compile_cluster`
groups by: per namespace, the label keys and values the selectors that can look at its
pods mention; the named ports rules reference; the ipBlock (and admin ``networks``) cuts
and IP versions; whether pod addresses matter to them. Each must be a subset of the
base's (dropping one merely leaves the base's classes finer than needed, which is still
exact); anything new, or any change besides NetworkPolicies, admin policies and Services,
means a full compile (``None``).

Rows recomputed, per destination class (a destination is never an external piece here):

* ingress: the classes a changed policy selects, before or after (its rules, or their order
  in the tiers, changed for them);
* egress: the peers a changed policy's egress rule reaches, before or after; when the set
  of egress-isolated classes changes, every peer.

The map is patched on the base's: rows towards a touched endpoint are expanded again from
its classes, every other row is kept. External sources of the recomputed destinations must
be unchanged (external ranges are merged over the whole map); otherwise the head map is
built in full, from the incremental compile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise

import numpy as np

from service.engine import bitsets
from service.engine.compile import (
    CompiledAdminPolicy,
    CompiledCluster,
    CompiledPolicy,
    _IndexBuilder,
    _Lookups,
    _referenced_named_ports,
    _Relevance,
    address_blocks,
)
from service.engine.connectivity import (
    ConnectivityMap,
    Endpoint,
    IntArray,
    _ranks,
    _union_duplicates,
    class_connectivity,
    connectivity_map,
    endpoint_ref,
)
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.model import (
    AdminPolicy,
    Cluster,
    Direction,
    Namespace,
    NetworkPolicy,
    ObjectRef,
    Protocol,
)
from service.engine.model.addresses import split_points
from service.engine.options import AnalysisOptions, Granularity, PodIPsInIPBlocks
from service.engine.partition import AddressPartition
from service.engine.ranges import RangeTable, merge_external

# Fields of a Cluster an incremental compile may see changed; any other must be the same.
_CHANGEABLE = frozenset({"policies", "admin_policies", "services", "warnings"})


@dataclasses.dataclass(frozen=True, slots=True)
class Increment:
    """The head compiled on the base's classes, and the destination classes whose map rows
    may differ from the base's (None: every peer)."""

    compiled: CompiledCluster
    affected: int | None


# --------------------------------------------------------------------------------------
# Do the base's classes hold?
# --------------------------------------------------------------------------------------


def _named_ports(
    policies: Iterable[NetworkPolicy], admin: Iterable[AdminPolicy]
) -> set[tuple[str, Protocol]]:
    """The (name, protocol) pairs classes are told apart by (as in ``_classify``)."""
    referenced = _referenced_named_ports(policies)
    referenced |= {
        (name, protocol)
        for policy in admin
        for rule in (*policy.ingress, *policy.egress)
        for name in rule.named_ports
        for protocol in Protocol
    }
    return referenced


def _pod_ips_matter(cluster: Cluster, options: AnalysisOptions) -> bool:
    return options.pod_ips_in_ipblocks is PodIPsInIPBlocks.MATCH or any(
        peer.networks or peer.nodes is not None
        for p in cluster.admin_policies
        for r in p.egress
        for peer in r.peers
    )


def _relevance(
    namespaces: Mapping[str, Namespace],
    policies: Sequence[NetworkPolicy],
    admin: Sequence[AdminPolicy],
) -> dict[str, dict[str, set[str]]]:
    """Per namespace, the label keys and values these policies' selectors read there."""
    only = Cluster(namespaces=(), pods=(), policies=tuple(policies), admin_policies=tuple(admin))
    return _Relevance(only, namespaces)._relevant


def _policy_key(policy: NetworkPolicy) -> tuple[str, str]:
    return (policy.namespace, policy.name)


class Basis:
    """What incremental compiles on one compiled base reuse; build it once per base (the
    index builder and the endpoint tables are made on first use)."""

    def __init__(self, base: CompiledCluster) -> None:
        cluster = base.cluster
        self.compiled = base
        self.relevance = _relevance(base.namespaces, cluster.policies, cluster.admin_policies)
        self.named_ports = _named_ports(cluster.policies, cluster.admin_policies)
        self.pod_ips_matter = _pod_ips_matter(cluster, base.options)
        self.pods_v6 = any(ip.version == 6 for pod in cluster.pods for ip in pod.ips) or any(
            ip.version == 6 for node in cluster.nodes for ip in node.ips
        )
        self.cuts = {v: set(points) for v, points in base._piece_starts.items()}
        self.by_key = {_policy_key(c.policy): c for c in base.policies}
        self._builder: _IndexBuilder | None = None
        self._endpoints: dict[Granularity, tuple[tuple[object, ...], list[list[int]]]] = {}
        self._ranks: dict[Granularity, tuple[tuple[object, ...], IntArray]] = {}

    def builder(self) -> _IndexBuilder:
        if self._builder is None:
            base = self.compiled
            partition = AddressPartition.of(address_blocks(base.cluster), base._piece_starts.keys())
            self._builder = _IndexBuilder(
                base.classes, partition, base.namespaces, base.options, base.cluster.nodes
            )
        return self._builder

    def class_endpoints(self, base_map: ConnectivityMap, cluster_count: int) -> list[list[int]]:
        """Per class, the indexes in ``base_map``'s endpoints of the endpoints its pods are."""
        cached = self._endpoints.get(base_map.granularity)
        if cached is not None and cached[0] is base_map.endpoints:
            return cached[1]
        index = {e: i for i, e in enumerate(base_map.endpoints[:cluster_count])}
        table = _class_endpoint(self.compiled, base_map.granularity, index)
        self._endpoints[base_map.granularity] = (base_map.endpoints, table)
        return table

    def cluster_ranks(self, base_map: ConnectivityMap, cluster_count: int) -> IntArray:
        """The sort ranks of ``base_map``'s cluster endpoints among themselves (they sort
        before every external range, and a patched map keeps them all)."""
        cached = self._ranks.get(base_map.granularity)
        if cached is not None and cached[0] is base_map.endpoints:
            return cached[1]
        rank = _ranks(base_map.endpoints[:cluster_count])
        self._ranks[base_map.granularity] = (base_map.endpoints, rank)
        return rank

    def keeps_classes(
        self, head: Cluster, added: Sequence[NetworkPolicy], added_admin: Sequence[AdminPolicy]
    ) -> bool:
        """Whether the base's classes and address pieces are exact for ``head`` (see the
        module docstring): nothing but policies and Services changed, and no selector, named
        port, ipBlock boundary or IP version of the added policies splits what the base
        kept together (what the others read, the base's classes already tell apart)."""
        base = self.compiled
        before = base.cluster
        for f in dataclasses.fields(Cluster):
            if f.name in _CHANGEABLE:
                continue
            old, new = getattr(before, f.name), getattr(head, f.name)
            if old is not new and old != new:
                return False
        if any(p.namespace not in base.namespaces for p in added):
            return False  # a policy in a namespace of its own
        if not _named_ports(added, added_admin) <= self.named_ports:
            return False
        if _pod_ips_matter(head, base.options) and not self.pod_ips_matter:
            return False
        blocks = address_blocks(head)
        versions = {4, 6} if self.pods_v6 or any(b.version == 6 for b in blocks) else {4}
        if versions != self.cuts.keys():
            return False
        for version in versions:
            if not set(split_points(blocks, version)) <= self.cuts[version]:
                return False
        wanted = _relevance(base.namespaces, added, added_admin)
        for name, keys in wanted.items():
            known = self.relevance.get(name, {})
            for key, values in keys.items():
                if key not in known or not values <= known[key]:
                    return False
        return True


# --------------------------------------------------------------------------------------
# The head, compiled on the base's classes
# --------------------------------------------------------------------------------------


def recompile(basis: Basis, head: Cluster, deadline: Deadline = NO_DEADLINE) -> Increment | None:
    """The head compiled on the base's classes, or None when that would not be exact (then
    compile ``head`` in full)."""
    base = basis.compiled
    # Unchanged policies are the base's own objects, or equal to the base's of that name.
    reused: dict[int, CompiledPolicy] = {}
    added: list[NetworkPolicy] = []
    for policy in head.policies:
        known = basis.by_key.get(_policy_key(policy))
        if known is not None and (known.policy is policy or known.policy == policy):
            reused[id(policy)] = known
        else:
            added.append(policy)
    kept = {id(c) for c in reused.values()}
    old = [c for c in base.policies if id(c) not in kept]
    old_admin = [c for c in base.admin_policies if c.policy not in head.admin_policies]
    before_admin = [c.policy for c in base.admin_policies]
    added_admin = [p for p in head.admin_policies if p not in before_admin]
    if not basis.keeps_classes(head, added, added_admin):
        return None
    deadline.check("what-if: the base's classes hold")
    fresh: dict[int, CompiledPolicy] = {}
    for policy in added:
        fresh[id(policy)] = basis.builder().policy(policy)
        deadline.check(lambda: f"compile: NetworkPolicy {policy}")  # noqa: B023  (called now)
    policies = tuple(reused.get(id(p)) or fresh[id(p)] for p in head.policies)
    new = list(fresh.values())
    isolated, applied = _applied(base, policies, old, new)

    if old_admin or added_admin:
        gone = {id(c) for c in old_admin}
        by_policy = [(c.policy, c) for c in base.admin_policies if id(c) not in gone]
        by_policy += [(p, basis.builder().admin_policy(p)) for p in added_admin]
        ordered = sorted(by_policy, key=lambda item: item[0].precedence)
        admin = tuple(c for _, c in ordered)
        tiers = None  # built on first use, from the head's admin policies
    else:
        admin = base.admin_policies
        tiers = base._tier_rules()  # shared: the diff then sees unchanged tiers as such

    lookups = base._lookups
    if lookups is not None and head.services != base.cluster.services:
        services = _Lookups.build(dataclasses.replace(head, pods=())).services
        lookups = dataclasses.replace(lookups, services=services)
    compiled = dataclasses.replace(
        base,
        cluster=head,
        policies=policies,
        isolated=isolated,
        applied=applied,
        admin_policies=admin,
        _tiers=tiers,
        _lookups=lookups,
    )
    new_admin = [c for c in admin if c.policy in added_admin]
    affected = _affected(base, compiled, old, new, old_admin, new_admin)
    if base.has_domain_names or compiled.has_domain_names:
        affected = None  # the map's DNS part: built in full
    return Increment(compiled, affected)


def _applied(
    base: CompiledCluster,
    policies: Sequence[CompiledPolicy],
    old: Sequence[CompiledPolicy],
    new: Sequence[CompiledPolicy],
) -> tuple[dict[Direction, int], dict[Direction, list[list[CompiledPolicy]]]]:
    """Isolation and, per class, the policies selecting it, in the head's policy order;
    only the lists of classes a changed policy selects are rebuilt."""
    isolated = {Direction.INGRESS: 0, Direction.EGRESS: 0}
    for compiled in policies:
        for direction in compiled.policy.policy_types:
            isolated[direction] |= compiled.selected
    position = {id(compiled): i for i, compiled in enumerate(policies)}
    gone = {id(compiled) for compiled in old}
    fresh = {id(compiled) for compiled in new}
    order = [position[id(c)] for c in base.policies if id(c) in position and id(c) not in fresh]
    reordered = any(a > b for a, b in pairwise(order))
    applied: dict[Direction, list[list[CompiledPolicy]]] = {}
    for direction in Direction:
        per_class = list(base.applied[direction])
        touched = bitsets.below(base.class_count) if reordered else 0  # every list again
        for compiled in (*old, *new):
            if direction in compiled.policy.policy_types:
                touched |= compiled.selected
        joining: dict[int, list[CompiledPolicy]] = {}
        for compiled in new:
            if direction in compiled.policy.policy_types:
                for c in bitsets.indices(compiled.selected).tolist():
                    joining.setdefault(c, []).append(compiled)
        for c in bitsets.indices(touched).tolist():
            kept = [p for p in per_class[c] if id(p) not in gone]
            per_class[c] = sorted([*kept, *joining.get(c, ())], key=lambda p: position[id(p)])
        applied[direction] = per_class
    return isolated, applied


def _same_side(
    compiled: CompiledPolicy, other: CompiledPolicy | None, direction: Direction
) -> bool:
    """Whether an edit left one direction of a policy as it was (same isolation, same
    classes selected, same rules)."""
    return (
        other is not None
        and (direction in other.policy.policy_types) == (direction in compiled.policy.policy_types)
        and other.selected == compiled.selected
        and other.policy.rules(direction) == compiled.policy.rules(direction)
    )


def _affected(
    base: CompiledCluster,
    head: CompiledCluster,
    old: Sequence[CompiledPolicy],
    new: Sequence[CompiledPolicy],
    old_admin: Sequence[CompiledAdminPolicy],
    new_admin: Sequence[CompiledAdminPolicy],
) -> int | None:
    """The destination peers whose rows may change (None: all of them)."""
    if base.isolated[Direction.EGRESS] != head.isolated[Direction.EGRESS]:
        return None
    found = 0
    before = {(p.policy.namespace, p.policy.name): p for p in old}
    after = {(p.policy.namespace, p.policy.name): p for p in new}
    pairs = [(c, after.get(k)) for k, c in before.items()]
    pairs += [(c, before.get(k)) for k, c in after.items()]
    for compiled, other in pairs:
        types = compiled.policy.policy_types
        if Direction.INGRESS in types and not _same_side(compiled, other, Direction.INGRESS):
            found |= compiled.selected
        egress = Direction.EGRESS in types and compiled.selected
        if egress and not _same_side(compiled, other, Direction.EGRESS):
            for rule in compiled.egress:
                found |= rule.bits
    for admin in (*old_admin, *new_admin):
        if admin.ingress:
            found |= admin.selected
        if admin.selected:
            for admin_rule in admin.egress:
                found |= admin_rule.bits
    if found >> base.class_count:
        return None  # an external destination: its ranges are merged over the whole map
    return found


# --------------------------------------------------------------------------------------
# The head's map, patched on the base's
# --------------------------------------------------------------------------------------


def _class_endpoint(
    compiled: CompiledCluster, granularity: Granularity, index: Mapping[Endpoint, int]
) -> list[list[int]]:
    """Per class, the map endpoints its pods are (as ``_endpoint_table`` numbers them)."""
    table: list[list[int]] = [[] for _ in compiled.classes]
    for cls in compiled.classes:
        found: dict[int, None] = {}
        for i in cls.pods:
            found[index[endpoint_ref(compiled.pods[i], granularity)]] = None
        table[cls.index] = list(found)
    return table


def _touched(
    basis: Basis, base_map: ConnectivityMap, affected: int
) -> tuple[int, list[list[int]], set[int]]:
    """The map's cluster endpoint count, each class's endpoints, and the endpoints of the
    ``affected`` classes (indexes into ``base_map.endpoints``)."""
    endpoints = base_map.endpoints
    cluster_count = next(
        (i for i, e in enumerate(endpoints) if not isinstance(e, ObjectRef)), len(endpoints)
    )
    per_class = basis.class_endpoints(base_map, cluster_count)
    touched = {e for c in bitsets.indices(affected).tolist() for e in per_class[c]}
    return cluster_count, per_class, touched


def changed_targets(
    basis: Basis, base_map: ConnectivityMap, increment: Increment
) -> frozenset[Endpoint] | None:
    """The endpoints towards which :func:`head_map`'s rows may differ from the base's:
    every other row it keeps as the base has it (None: the map is built in full)."""
    if increment.affected is None:
        return None
    if not increment.affected:
        return frozenset()
    _, _, touched = _touched(basis, base_map, increment.affected)
    return frozenset(base_map.endpoints[i] for i in touched)


def head_map(
    basis: Basis,
    base_map: ConnectivityMap,
    increment: Increment,
    deadline: Deadline = NO_DEADLINE,
) -> ConnectivityMap:
    """The head's connectivity map at ``base_map``'s granularity, the same connections as
    ``connectivity_map(increment.compiled, ...)``: the base's rows where the change cannot
    reach, the rows towards every touched endpoint expanded again from its classes."""
    head = increment.compiled
    granularity = base_map.granularity
    if increment.affected is None:
        return connectivity_map(head, granularity, deadline)
    affected = bitsets.indices(increment.affected).tolist()
    if not affected:
        return base_map
    classes = head.class_count
    endpoints = base_map.endpoints
    cluster_count, per_class, touched = _touched(basis, base_map, increment.affected)
    recompute = [c for c in range(classes) if any(e in touched for e in per_class[c])]
    rows = class_connectivity(head, deadline, recompute)
    deadline.check("what-if: patching the map")
    is_touched = np.zeros(len(endpoints), dtype=bool)
    is_touched[list(touched)] = True

    # Sources: class -> its endpoints; external piece i -> cluster_count + i (merged below).
    groups = [*per_class, *([cluster_count + i] for i in range(len(head.pieces)))]
    indptr = np.zeros(len(groups) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(g) for g in groups])
    members = np.fromiter((m for g in groups for m in g), dtype=np.int64, count=int(indptr[-1]))
    portsets = list(base_map.portsets)
    ids = {p: i for i, p in enumerate(portsets)}
    src_parts, dst_parts, pid_parts = [], [], []
    for target, row in zip(recompute, rows, strict=True):
        targets = np.asarray(per_class[target], dtype=np.int64)
        targets = targets[is_touched[targets]]  # the class's other endpoints: rows unchanged
        for bits, ports in row:
            sources = bitsets.indices(bits)
            portset = ids.get(ports)
            if portset is None:
                portset = ids[ports] = len(portsets)
                portsets.append(ports)
            degree = indptr[sources + 1] - indptr[sources]
            starts = np.repeat(indptr[sources], degree)
            within = np.arange(int(degree.sum())) - np.repeat(np.cumsum(degree) - degree, degree)
            found = members[starts + within]
            src_parts.append(np.repeat(found, len(targets)))
            dst_parts.append(np.tile(targets, len(found)))
            pid_parts.append(np.full(len(found) * len(targets), portset, dtype=np.int64))
    empty = np.empty(0, dtype=np.int64)
    src = np.concatenate(src_parts) if src_parts else empty
    dst = np.concatenate(dst_parts) if dst_parts else empty
    pid = np.concatenate(pid_parts) if pid_parts else empty
    distinct = src != dst
    src, dst, pid = _union_duplicates(
        src[distinct], dst[distinct], pid[distinct], portsets, cluster_count + len(head.pieces)
    )
    table = RangeTable(cluster_count)
    table.ids = {e: i for i, e in enumerate(endpoints) if i >= cluster_count}  # type: ignore[misc]
    kept, src, dst = merge_external(cluster_count, head.pieces, table, src, dst, [pid])
    pid = pid[kept]

    keep = ~is_touched[base_map.targets]
    src = np.concatenate((base_map.sources[keep], src))
    dst = np.concatenate((base_map.targets[keep], dst))
    pid = np.concatenate((base_map.ports[keep], pid))
    table_endpoints: list[Endpoint] = [*endpoints[:cluster_count], *table.ranges]
    used = np.zeros(len(table_endpoints), dtype=bool)
    used[:cluster_count] = True
    used[src] = used[dst] = True
    if not used.all():  # ranges no row uses any more
        renumber = np.cumsum(used) - 1
        src, dst = renumber[src], renumber[dst]
        table_endpoints = [e for e, u in zip(table_endpoints, used.tolist(), strict=True) if u]
    # Ranks as _ranks gives them (cluster endpoints first, then ranges by address), and
    # the rows ordered by them: the kept rows are in order already, so a stable sort of
    # one key merges two sorted runs (no two rows share a source and a target).
    rank = np.concatenate(
        (
            basis.cluster_ranks(base_map, cluster_count),
            cluster_count + _ranks(table_endpoints[cluster_count:]),
        )
    )
    order = np.argsort(rank[src] * len(table_endpoints) + rank[dst], kind="stable")
    # The base's tables themselves when nothing was added to them or dropped (what reads
    # both maps, like a diff, then sees one table).
    same = len(table_endpoints) == len(endpoints) and all(
        a is b
        for a, b in zip(table_endpoints[cluster_count:], endpoints[cluster_count:], strict=True)
    )
    return ConnectivityMap(
        granularity,
        endpoints if same else tuple(table_endpoints),
        base_map.portsets if len(portsets) == len(base_map.portsets) else tuple(portsets),
        src[order],
        dst[order],
        pid[order],
    )
