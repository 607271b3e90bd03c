"""The namespace matrix of a stored snapshot, and the connections of one namespace pair.

Both are aggregates of the cached workload connectivity map, computed in numpy over its
rows (one pass, no loop over pairs): a dashboard's first screen costs the map (cached per
snapshot) plus milliseconds, even for 10,000 pods and 100,000 connections.

Groups are the namespaces and one group for every external address (the map's ``IPBlock``
endpoints), keyed ``IPBlock``: namespace names are lowercase, so the key never collides.

Like the analyzer's caches, the per-snapshot index (each endpoint's group, the DNS
endpoints) and the matrices are kept by content hash in small bounded LRUs: snapshots are
immutable, so an entry is never stale, and a dashboard's repeated first screen costs
nothing but the response.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from service.engine.compile import CompiledCluster
from service.engine.connectivity import ConnectivityMap
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.lint.dns import DNS_LABELS, DNS_PORT
from service.engine.model import AddressRange, ObjectRef, PortSet, Protocol
from service.engine.options import AnalysisOptions, Granularity
from service.store.records import SnapshotRecord
from service.usecases.cache import LRUCache
from service.usecases.errors import NotFoundError
from service.usecases.snapshots import Analyzer

EXTERNAL = "IPBlock"
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class PortFilter:
    """Keep the connections that allow ``protocol`` (any port) and/or ``port`` (any protocol
    when ``protocol`` is None). Both None keeps everything."""

    protocol: Protocol | None = None
    port: int | None = None

    def admits(self, ports: PortSet) -> bool:
        protocols = [self.protocol] if self.protocol is not None else list(Protocol)
        if self.port is None:
            return any(r.protocol in protocols for r in ports)
        return any(ports.contains(p, self.port) for p in protocols)

    @property
    def active(self) -> bool:
        return self.protocol is not None or self.port is not None


@dataclass(frozen=True, slots=True)
class Group:
    """A namespace (``kind`` Namespace) or every external address (``kind`` IPBlock)."""

    key: str
    kind: str
    workloads: int
    pods: int


@dataclass(frozen=True, slots=True)
class Cell:
    """Connections from the workloads of ``source`` to those of ``target``.

    ``workload_pairs`` counts distinct (workload, workload) pairs, the external side counting
    as one endpoint; ``connections`` counts map rows (external addresses split at ipBlock
    boundaries); ``dns`` says that some connection reaches the cluster DNS on port 53.
    """

    source: str
    target: str
    workload_pairs: int
    connections: int
    ports: PortSet
    dns: bool


@dataclass(frozen=True, slots=True)
class NamespaceMatrix:
    groups: tuple[Group, ...]
    cells: tuple[Cell, ...]
    connections: int


def _group_keys(cmap: ConnectivityMap) -> list[str]:
    return [
        EXTERNAL if isinstance(e, AddressRange) else (e.namespace or "default")
        for e in cmap.endpoints
    ]


def _kept_rows(cmap: ConnectivityMap, ports: PortFilter) -> BoolArray:
    if not ports.active:
        return np.ones(len(cmap), dtype=bool)
    admitted = np.array([ports.admits(p) for p in cmap.portsets], dtype=bool)
    return admitted[cmap.ports] if len(admitted) else np.zeros(len(cmap), dtype=bool)


def _dns_endpoints(compiled: CompiledCluster, cmap: ConnectivityMap) -> BoolArray:
    """Endpoints of the map (workloads, pods) whose pods carry a DNS label (as lint's)."""
    dns_refs: set[ObjectRef] = set()
    for pod in compiled.pods:
        labels = pod.labels
        if any(labels.get(key) == value for key, value in DNS_LABELS):
            dns_refs.add(pod.ref)
            if pod.workload is not None:
                dns_refs.add(pod.workload)
    if not dns_refs:
        return np.zeros(len(cmap.endpoints), dtype=bool)
    return np.array([e in dns_refs for e in cmap.endpoints], dtype=bool)


def _groups(compiled: CompiledCluster, keys: list[str]) -> tuple[Group, ...]:
    lookups = compiled.lookups
    workloads: Counter[str] = Counter(ref.namespace for ref in lookups.pods_by_workload)
    in_workloads: Counter[str] = Counter()
    for ref, members in lookups.pods_by_workload.items():
        in_workloads[ref.namespace] += len(members)
    pods = {ns: len(members) for ns, members in lookups.pods_by_namespace.items()}
    names = sorted(set(compiled.namespaces) | set(pods) | (set(keys) - {EXTERNAL}))
    groups = [
        # a bare pod (no owner) counts as a workload of its own
        Group(n, "Namespace", workloads[n] + pods.get(n, 0) - in_workloads[n], pods.get(n, 0))
        for n in names
    ]
    groups.append(Group(EXTERNAL, EXTERNAL, 0, 0))  # every cluster has an outside
    return tuple(groups)


def _distinct(values: IntArray) -> IntArray:
    """The distinct values, sorted (a sort and a mask: faster than np.unique here)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


@dataclass(frozen=True, slots=True)
class _Index:
    """What every aggregate of one map needs: each endpoint's group and whether it is DNS."""

    groups: tuple[Group, ...]
    group_of: IntArray  # endpoint -> index in groups
    external: int  # index of the IPBlock group (the last)
    dns: BoolArray  # endpoint -> holds DNS pods


_INDEXES: LRUCache[tuple[str, AnalysisOptions], _Index] = LRUCache(8)
_MATRICES: LRUCache[tuple[str, AnalysisOptions, PortFilter], NamespaceMatrix] = LRUCache(32)


def _index(
    session: Session,
    analyzer: Analyzer,
    record: SnapshotRecord,
    options: AnalysisOptions,
    deadline: Deadline,
) -> tuple[_Index, ConnectivityMap]:
    cmap = analyzer.connectivity(session, record, options, Granularity.WORKLOAD, deadline)

    def build() -> _Index:
        compiled = analyzer.compiled_for(session, record, options)
        keys = _group_keys(cmap)
        groups = _groups(compiled, keys)
        position = {g.key: i for i, g in enumerate(groups)}
        group_of = np.array([position[k] for k in keys], dtype=np.int64)
        return _Index(groups, group_of, position[EXTERNAL], _dns_endpoints(compiled, cmap))

    return _INDEXES.get_or_compute((record.content_hash, options), build)[0], cmap


def namespace_matrix(
    session: Session,
    analyzer: Analyzer,
    record: SnapshotRecord,
    options: AnalysisOptions,
    ports: PortFilter,
    deadline: Deadline = NO_DEADLINE,
) -> NamespaceMatrix:
    """Every (source group, target group) cell with at least one connection left by
    ``ports``, sorted by source then target key (external last)."""
    index, cmap = _index(session, analyzer, record, options, deadline)
    key = (record.content_hash, options, ports)
    return _MATRICES.get_or_compute(key, lambda: _matrix(index, cmap, ports))[0]


def _matrix(index: _Index, cmap: ConnectivityMap, ports: PortFilter) -> NamespaceMatrix:
    groups, group_of = index.groups, index.group_of
    size = len(groups)
    keep = _kept_rows(cmap, ports)
    src, dst, pid = cmap.sources[keep], cmap.targets[keep], cmap.ports[keep]
    cell = group_of[src] * size + group_of[dst]

    # A workload pair: external endpoints collapse into one, so a workload reaching three
    # address pieces is one pair with "outside".
    count = len(cmap.endpoints)
    collapsed = np.where(group_of == index.external, count, np.arange(count))
    pair_keys = _distinct(collapsed[src] * (count + 1) + collapsed[dst])
    collapsed_group = np.append(group_of, index.external)
    pair_cells = (
        collapsed_group[pair_keys // (count + 1)] * size + collapsed_group[pair_keys % (count + 1)]
    )
    pair_counts = np.bincount(pair_cells, minlength=size * size)
    row_counts = np.bincount(cell, minlength=size * size)

    dns_ports = np.array(
        [p.contains(Protocol.UDP, DNS_PORT) or p.contains(Protocol.TCP, DNS_PORT)
         for p in cmap.portsets],
        dtype=bool,
    )  # fmt: skip
    dns_rows = index.dns[dst] & (dns_ports[pid] if len(dns_ports) else False)
    dns_cells = np.bincount(cell[dns_rows], minlength=size * size) > 0

    unions: dict[int, PortSet] = {}
    portsets = cmap.portsets
    width = max(len(portsets), 1)
    for combined in _distinct(cell * width + pid).tolist():
        which, portset = divmod(combined, width)
        unions[which] = unions.get(which, PortSet.empty()) | portsets[portset]

    cells = tuple(
        Cell(
            groups[which // size].key,
            groups[which % size].key,
            int(pair_counts[which]),
            int(row_counts[which]),
            unions[which],
            bool(dns_cells[which]),
        )
        for which in sorted(unions)
    )
    return NamespaceMatrix(groups, cells, len(src))


def namespace_pair(
    session: Session,
    analyzer: Analyzer,
    record: SnapshotRecord,
    options: AnalysisOptions,
    source: str,
    target: str,
    ports: PortFilter,
    deadline: Deadline = NO_DEADLINE,
) -> ConnectivityMap:
    """The workload connections from group ``source`` to group ``target`` that ``ports``
    leaves, in the map's order. An unknown namespace is a 404."""
    index, cmap = _index(session, analyzer, record, options, deadline)
    position = {g.key: i for i, g in enumerate(index.groups)}
    for field, name in (("query.from", source), ("query.to", target)):
        if name not in position:
            raise NotFoundError(
                f"no namespace {name!r} in this snapshot", [{"field": field, "input": name}]
            )
    keep = _kept_rows(cmap, ports)
    keep &= index.group_of[cmap.sources] == position.get(source, -1)
    keep &= index.group_of[cmap.targets] == position.get(target, -1)
    return ConnectivityMap(
        cmap.granularity,
        cmap.endpoints,
        cmap.portsets,
        cmap.sources[keep],
        cmap.targets[keep],
        cmap.ports[keep],
    )
