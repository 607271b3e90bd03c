"""The namespace matrix of a stored snapshot, and the connections of one namespace pair.

Both are aggregates of the cached workload connectivity map, computed in numpy over its
rows (one pass, no loop over pairs): a dashboard's first screen costs the map (cached per
snapshot) plus milliseconds, even for 10,000 pods and 100,000 connections.

Groups are the namespaces and one group for every external address (the map's ``IPBlock``
endpoints), keyed ``IPBlock``: namespace names are lowercase, so the key never collides.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from service.engine.compile import CompiledCluster
from service.engine.connectivity import ConnectivityMap
from service.engine.lint.dns import DNS_LABELS, DNS_PORT
from service.engine.model import AddressRange, ObjectRef, PortSet, Protocol
from service.engine.options import AnalysisOptions, Granularity
from service.store.records import SnapshotRecord
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
        if any(pod.labels.get(key) == value for key, value in DNS_LABELS):
            dns_refs.add(pod.ref)
            if pod.workload is not None:
                dns_refs.add(pod.workload)
    return np.array([e in dns_refs for e in cmap.endpoints], dtype=bool)


def _groups(compiled: CompiledCluster, keys: list[str]) -> tuple[Group, ...]:
    pods: Counter[str] = Counter()
    workloads: dict[str, set[ObjectRef]] = {}
    for pod in compiled.pods:
        pods[pod.namespace] += 1
        workloads.setdefault(pod.namespace, set()).add(pod.workload or pod.ref)
    names = sorted(set(compiled.namespaces) | set(pods) | (set(keys) - {EXTERNAL}))
    groups = [Group(n, "Namespace", len(workloads.get(n, ())), pods[n]) for n in names]
    if EXTERNAL in keys:
        groups.append(Group(EXTERNAL, EXTERNAL, 0, 0))
    return tuple(groups)


def namespace_matrix(
    session: Session,
    analyzer: Analyzer,
    record: SnapshotRecord,
    options: AnalysisOptions,
    ports: PortFilter,
) -> NamespaceMatrix:
    """Every (source group, target group) cell with at least one connection left by
    ``ports``, sorted by source then target key (external last)."""
    compiled = analyzer.compiled_for(session, record, options)
    cmap = analyzer.connectivity(session, record, options, Granularity.WORKLOAD)
    keys = _group_keys(cmap)
    groups = _groups(compiled, keys)
    index = {g.key: i for i, g in enumerate(groups)}
    size = len(groups)
    group_of = np.array([index[k] for k in keys], dtype=np.int64)
    keep = _kept_rows(cmap, ports)
    src, dst, pid = cmap.sources[keep], cmap.targets[keep], cmap.ports[keep]
    cell = group_of[src] * size + group_of[dst]

    # A workload pair: external endpoints collapse into one, so a workload reaching three
    # address pieces is one pair with "outside".
    count = len(cmap.endpoints)
    collapsed = np.where(group_of == index.get(EXTERNAL, -1), count, np.arange(count))
    pair_keys = np.unique(collapsed[src] * (count + 1) + collapsed[dst])
    collapsed_group = np.append(group_of, index.get(EXTERNAL, 0))
    pair_cells = (
        collapsed_group[pair_keys // (count + 1)] * size + collapsed_group[pair_keys % (count + 1)]
    )
    pair_counts = np.bincount(pair_cells, minlength=size * size)
    row_counts = np.bincount(cell, minlength=size * size)

    dns_targets = _dns_endpoints(compiled, cmap)
    dns_ports = np.array(
        [p.contains(Protocol.UDP, DNS_PORT) or p.contains(Protocol.TCP, DNS_PORT)
         for p in cmap.portsets],
        dtype=bool,
    )  # fmt: skip
    dns_rows = dns_targets[dst] & (dns_ports[pid] if len(dns_ports) else False)
    dns_cells = np.bincount(cell[dns_rows], minlength=size * size) > 0

    unions: dict[int, PortSet] = {}
    portsets = cmap.portsets
    for combined in np.unique(cell * max(len(portsets), 1) + pid).tolist():
        which, portset = divmod(combined, max(len(portsets), 1))
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
) -> ConnectivityMap:
    """The workload connections from group ``source`` to group ``target`` that ``ports``
    leaves, in the map's order. An unknown namespace is a 404."""
    compiled = analyzer.compiled_for(session, record, options)
    cmap = analyzer.connectivity(session, record, options, Granularity.WORKLOAD)
    keys = _group_keys(cmap)
    known = {g.key for g in _groups(compiled, keys)} | {EXTERNAL}
    for field, name in (("query.from", source), ("query.to", target)):
        if name not in known:
            raise NotFoundError(
                f"no namespace {name!r} in this snapshot", [{"field": field, "input": name}]
            )
    codes = {key: code for code, key in enumerate(dict.fromkeys(keys))}
    group_of = np.array([codes[k] for k in keys], dtype=np.int64)
    keep = _kept_rows(cmap, ports)
    keep &= group_of[cmap.sources] == codes.get(source, -1)
    keep &= group_of[cmap.targets] == codes.get(target, -1)
    return ConnectivityMap(
        cmap.granularity,
        cmap.endpoints,
        cmap.portsets,
        cmap.sources[keep],
        cmap.targets[keep],
        cmap.ports[keep],
    )
