"""Connectivity maps: every allowed connection, at pod, workload or namespace granularity.

Computed over pod classes and external address pieces (see :mod:`service.engine.compile`),
one destination at a time, with peer sets as bitsets; the pairs are expanded to pods,
workloads or namespaces in numpy only at the end, so the work grows with the size of the
answer rather than with the square of the pod count.

An endpoint's traffic with itself is not listed (a pod can always reach itself; for a
workload or a namespace, ask at a finer granularity). Traffic between two external
addresses is never listed: no policy applies to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from service.engine import bitsets
from service.engine.collector import paused_gc
from service.engine.compile import CompiledCluster
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.grouping import disjoint, egress_groups_by_target, map_stage
from service.engine.model import AddressRange, Direction, ObjectRef, Pod, PortSet
from service.engine.options import Granularity
from service.engine.ordering import lexsort
from service.engine.ranges import RangeTable, merge_external
from service.engine.tiers import dns_class_connectivity, tiered_class_connectivity

Endpoint = ObjectRef | AddressRange
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Connection:
    source: Endpoint
    target: Endpoint
    ports: PortSet


@dataclass(frozen=True, slots=True)
class ConnectivityMap:
    """Allowed connections as parallel arrays over an endpoint table and a port-set table.

    Rows are sorted by source then target (pods, workloads and namespaces by namespace and
    name, external ranges last by address).
    """

    granularity: Granularity
    endpoints: tuple[Endpoint, ...]
    portsets: tuple[PortSet, ...]
    sources: IntArray
    targets: IntArray
    ports: IntArray
    # the connections (and ports) that only a ClusterNetworkPolicy ``domainNames`` rule
    # decides, not in the map itself; None when no such rule exists
    depends_on_dns: ConnectivityMap | None = None

    def __len__(self) -> int:
        return len(self.sources)

    @classmethod
    def empty(cls, granularity: Granularity) -> ConnectivityMap:
        none = np.empty(0, dtype=np.int64)
        return cls(granularity, (), (), none, none, none)

    def connections(self, start: int = 0, stop: int | None = None) -> Iterator[Connection]:
        endpoints, portsets = self.endpoints, self.portsets
        rows = zip(
            self.sources[start:stop].tolist(),
            self.targets[start:stop].tolist(),
            self.ports[start:stop].tolist(),
            strict=True,
        )
        for s, t, p in rows:
            yield Connection(endpoints[s], endpoints[t], portsets[p])

    def lookup(self) -> dict[tuple[Endpoint, Endpoint], PortSet]:
        return {(c.source, c.target): c.ports for c in self.connections()}

    def involving_namespace(self, namespace: str) -> ConnectivityMap:
        """Only the connections with an endpoint in ``namespace``."""
        inside = np.array(
            [isinstance(e, ObjectRef) and e.namespace == namespace for e in self.endpoints],
            dtype=bool,
        )
        keep = inside[self.sources] | inside[self.targets]
        dns = self.depends_on_dns
        return ConnectivityMap(
            self.granularity,
            self.endpoints,
            self.portsets,
            self.sources[keep],
            self.targets[keep],
            self.ports[keep],
            None if dns is None else dns.involving_namespace(namespace),
        )


# --------------------------------------------------------------------------------------
# Class-level computation
# --------------------------------------------------------------------------------------


def class_connectivity(
    compiled: CompiledCluster,
    deadline: Deadline = NO_DEADLINE,
    targets: Sequence[int] | None = None,
) -> list[list[tuple[int, PortSet]]]:
    """For every peer (class or external piece) as destination, or for ``targets`` only (in
    their order): disjoint sets of source peers, each with the ports they may use. Sources
    include the destination's own class (meaning the *other* pods of that class).
    ``deadline`` is checked per destination."""
    classes = compiled.class_count
    all_peers = compiled.all_peers
    class_mask = compiled.all_classes
    free_sources = all_peers & ~compiled.isolated[Direction.EGRESS]
    ingress_isolated = compiled.isolated[Direction.INGRESS]

    if compiled.has_domain_names:
        definite = dns_class_connectivity(compiled, deadline)[0]
        return definite if targets is None else [definite[t] for t in targets]
    if compiled.has_admin:
        return tiered_class_connectivity(compiled, deadline, targets=targets)
    universal, reaching = egress_groups_by_target(compiled)

    everything = [(all_peers, PortSet.all())]
    # An external destination has only cluster sources: masked once here, each destination's
    # work stays proportional to the classes, not to every peer (which made maps quadratic
    # in the number of address pieces).
    every_class, free_classes = [(class_mask, PortSet.all())], free_sources & class_mask
    result: list[list[tuple[int, PortSet]]] = []
    for target in range(compiled.peer_count) if targets is None else targets:
        deadline.check(lambda: map_stage(target, compiled))  # noqa: B023  (called now)
        named = compiled.named_ports_of(target)
        if compiled.is_subject(target) and bitsets.contains(ingress_isolated, target):
            admitted = [
                (rule.bits, rule.ports_for(named))
                for policy in compiled.applied[Direction.INGRESS][target]
                for rule in policy.ingress
            ]
        else:
            admitted = everything if target < classes else every_class
        leaving = [(free_sources if target < classes else free_classes, PortSet.all())]
        leaving += [(g.sources, g.rule.ports_for(named)) for g in reaching[target]]
        leaving += [(g.sources, g.rule.ports_for(named)) for g in universal]
        entries: dict[PortSet, int] = defaultdict(int)
        for in_bits, in_ports in admitted:
            for out_bits, out_ports in leaving:
                bits = in_bits & out_bits
                if target >= classes:
                    bits &= class_mask  # external to external: no policy applies
                if not bits:
                    continue
                ports = in_ports & out_ports
                if ports:
                    entries[ports] |= bits
        result.append(disjoint(entries))
    return result


# --------------------------------------------------------------------------------------
# Expansion to endpoints
# --------------------------------------------------------------------------------------


def _class_pairs(
    compiled: CompiledCluster, per_target: Sequence[Sequence[tuple[int, PortSet]]]
) -> tuple[IntArray, IntArray, IntArray, list[PortSet]]:
    portset_ids: dict[PortSet, int] = {}
    cells: list[int] = []
    targets: list[int] = []
    ports: list[int] = []
    for target, entries in enumerate(per_target):
        for bits, portset in entries:
            cells.append(bits)
            targets.append(target)
            ports.append(portset_ids.setdefault(portset, len(portset_ids)))
    if not cells:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty, list(portset_ids)
    cell, sources = bitsets.indices_of_many(cells, compiled.peer_count)
    return (
        sources,
        np.array(targets, dtype=np.int64)[cell],
        np.array(ports, dtype=np.int64)[cell],
        list(portset_ids),
    )


def _merge_pieces(
    compiled: CompiledCluster, src: IntArray, dst: IntArray, pid: IntArray
) -> tuple[IntArray, list[AddressRange]]:
    """Merge adjacent external pieces whose connectivity is identical.

    Returns the merged range index of each piece, and the merged ranges."""
    classes = compiled.class_count
    pieces = compiled.pieces
    signatures: list[tuple[bytes, bytes]] = []
    as_source = src >= classes
    as_target = dst >= classes
    out_rows = lexsort((pid[as_source], dst[as_source], src[as_source]))
    in_rows = lexsort((pid[as_target], src[as_target], dst[as_target]))
    out_src, out_rest = (
        src[as_source][out_rows],
        np.stack((dst[as_source][out_rows], pid[as_source][out_rows])),
    )
    in_dst, in_rest = (
        dst[as_target][in_rows],
        np.stack((src[as_target][in_rows], pid[as_target][in_rows])),
    )
    peers = np.arange(classes, classes + len(pieces) + 1, dtype=np.int64)
    out_at = np.searchsorted(out_src, peers).tolist()  # each piece's rows: one pass, not one
    in_at = np.searchsorted(in_dst, peers).tolist()  # search per piece
    for offset in range(len(pieces)):
        lo, hi, lo2, hi2 = out_at[offset], out_at[offset + 1], in_at[offset], in_at[offset + 1]
        signatures.append((out_rest[:, lo:hi].tobytes(), in_rest[:, lo2:hi2].tobytes()))
    merged_index = np.zeros(len(pieces), dtype=np.int64)
    ranges: list[AddressRange] = []
    for offset, piece in enumerate(pieces):
        previous = ranges[-1] if ranges else None
        if (
            previous is not None
            and previous.version == piece.version
            and previous.end + 1 == piece.start
            and signatures[offset] == signatures[offset - 1]
        ):
            ranges[-1] = AddressRange(piece.version, previous.start, piece.end)
        else:
            ranges.append(piece)
        merged_index[offset] = len(ranges) - 1
    return merged_index, ranges


def endpoint_ref(pod: Pod, granularity: Granularity) -> ObjectRef:
    """The map endpoint ``pod`` belongs to at ``granularity``: itself, its workload (or
    itself when it has none), or its namespace."""
    if granularity is Granularity.POD:
        return pod.ref
    if granularity is Granularity.WORKLOAD:
        return pod.workload or pod.ref
    return ObjectRef("Namespace", pod.namespace, pod.namespace)


@dataclass(frozen=True, slots=True)
class _Endpoints:
    """The cluster side of a map's endpoint table, shared by a map and its DNS part."""

    refs: list[ObjectRef]
    rank: IntArray  # each endpoint's place in the output order (before every range)
    # per class, the endpoints its pods map to (CSR): class c's at members[indptr[c]:indptr[c+1]]
    indptr: IntArray
    members: IntArray


def _endpoint_table(compiled: CompiledCluster, granularity: Granularity) -> _Endpoints:
    """Endpoints of the cluster side, and for each class the endpoints its pods map to."""
    refs: dict[ObjectRef, int] = {}
    per_class: list[list[int]] = []
    for cls in compiled.classes:
        found: dict[int, None] = {}
        for index in cls.pods:
            ref = endpoint_ref(compiled.pods[index], granularity)
            found[refs.setdefault(ref, len(refs))] = None
        per_class.append(list(found))
    endpoints = list(refs)
    indptr = np.zeros(len(per_class) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(found) for found in per_class])
    count = int(indptr[-1])
    members = np.fromiter((e for found in per_class for e in found), dtype=np.int64, count=count)
    return _Endpoints(endpoints, _ranks(endpoints), indptr, members)


def _expand(
    src: IntArray, dst: IntArray, pid: IntArray, indptr: IntArray, members: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Replace each (peer, peer) row by the cartesian product of their endpoints."""

    def expand_side(keys: IntArray, *carried: IntArray) -> tuple[IntArray, tuple[IntArray, ...]]:
        degree = indptr[keys + 1] - indptr[keys]
        rows = np.repeat(np.arange(len(keys)), degree)
        first = np.repeat(np.cumsum(degree) - degree, degree)
        within = np.arange(len(rows)) - first
        return members[indptr[keys][rows] + within], tuple(c[rows] for c in carried)

    src_ep, (dst, pid) = expand_side(src, dst, pid)
    dst_ep, (src_ep, pid) = expand_side(dst, src_ep, pid)
    return src_ep, dst_ep, pid


def _union_duplicates(
    src: IntArray, dst: IntArray, pid: IntArray, portsets: list[PortSet], size: int
) -> tuple[IntArray, IntArray, IntArray]:
    """One row per (source, target): ports of duplicate rows are united."""
    if len(src) == 0:
        return src, dst, pid
    keys = src * size + dst
    order = lexsort((pid, keys))
    keys, pid = keys[order], pid[order]
    distinct = np.ones(len(keys), dtype=bool)
    distinct[1:] = (keys[1:] != keys[:-1]) | (pid[1:] != pid[:-1])
    keys, pid = keys[distinct], pid[distinct]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    result = pid[starts].copy()
    union_ids: dict[tuple[int, ...], int] = {}
    for row in np.flatnonzero(ends - starts > 1).tolist():
        members = tuple(pid[starts[row] : ends[row]].tolist())
        united = union_ids.get(members)
        if united is None:
            total = PortSet.empty()
            for member in members:
                total = total | portsets[member]
            if total not in portsets:
                portsets.append(total)
            united = union_ids[members] = portsets.index(total)
        result[row] = united
    unique_keys = keys[starts]
    return unique_keys // size, unique_keys % size, result


def connectivity_map(
    compiled: CompiledCluster,
    granularity: Granularity = Granularity.WORKLOAD,
    deadline: Deadline = NO_DEADLINE,
) -> ConnectivityMap:
    """Every allowed connection between distinct endpoints, with canonical port sets; with
    ``domainNames`` rules, the connections DNS decides in ``depends_on_dns`` (rule 9)."""
    with paused_gc(freeze=False):  # many short-lived objects, no cycles
        table = _endpoint_table(compiled, granularity)
        if compiled.has_domain_names:
            definite, dependent = dns_class_connectivity(compiled, deadline)
            dns = _map_of(compiled, dependent, granularity, table, deadline)
            definite_map = _map_of(compiled, definite, granularity, table, deadline)
            return replace(definite_map, depends_on_dns=dns)
        per_target = class_connectivity(compiled, deadline)
        return _map_of(compiled, per_target, granularity, table, deadline)


def _map_of(
    compiled: CompiledCluster,
    per_target: Sequence[Sequence[tuple[int, PortSet]]],
    granularity: Granularity,
    endpoint_table: _Endpoints,
    deadline: Deadline = NO_DEADLINE,
) -> ConnectivityMap:
    """``endpoint_table``: :func:`_endpoint_table` (the same for a map and its DNS part)."""
    src, dst, pid, portsets = _class_pairs(compiled, per_target)
    deadline.check("connectivity map: merging external ranges")
    merged_index, ranges = _merge_pieces(compiled, src, dst, pid)
    cluster_endpoints = endpoint_table.refs
    base = len(cluster_endpoints)
    # each class's endpoints, then each piece's merged range (one endpoint each)
    class_indptr = endpoint_table.indptr
    indptr = np.concatenate((class_indptr, class_indptr[-1] + 1 + np.arange(len(merged_index))))
    members = np.concatenate((endpoint_table.members, base + merged_index))
    src_ep, dst_ep, pid = _expand(src, dst, pid, indptr, members)
    distinct = src_ep != dst_ep
    src_ep, dst_ep, pid = _union_duplicates(
        src_ep[distinct], dst_ep[distinct], pid[distinct], portsets, base + len(ranges)
    )
    table = RangeTable(base)
    kept, src_ep, dst_ep = merge_external(base, ranges, table, src_ep, dst_ep, [pid])
    pid = pid[kept]
    endpoints: list[Endpoint] = [*cluster_endpoints, *table.ranges]
    # ranges sort after every cluster endpoint: only they are ranked here
    rank = np.concatenate((endpoint_table.rank, base + _ranks(table.ranges)))
    order = lexsort((rank[dst_ep], rank[src_ep]))
    return ConnectivityMap(
        granularity, tuple(endpoints), tuple(portsets), src_ep[order], dst_ep[order], pid[order]
    )


def _sort_key(endpoint: Endpoint) -> tuple[object, ...]:
    if isinstance(endpoint, AddressRange):
        return (1, endpoint.version, endpoint.start, endpoint.end, "")
    return (0, 0, endpoint.namespace, endpoint.kind, endpoint.name)


def _ranks(endpoints: Sequence[Endpoint]) -> IntArray:
    order = sorted(range(len(endpoints)), key=lambda i: _sort_key(endpoints[i]))
    rank = np.empty(len(endpoints), dtype=np.int64)
    rank[order] = np.arange(len(endpoints))
    return rank
