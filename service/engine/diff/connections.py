"""The semantic diff of two connectivity maps: a pure function, linear in their size.

Each connection is keyed by its endpoints' identities: an :class:`ObjectRef` (pod, workload,
namespace) or an external address range. The two maps may cut the external address space
differently (each merges the pieces its own policies split), so both are first re-cut at the
union of their boundaries; after the comparison, adjacent pieces whose changes are identical
are merged again for output.

Categories:

* ``added``: a pair that could not connect in the base and can in the head;
* ``removed``: a pair that could connect in the base and cannot in the head;
* ``changed``: a pair that can connect in both, on different ports (``before``/``after``).

Highlights, on top:

* ``external_exposure``: a cluster endpoint that gained ports from an external range
  (added or widened connections);
* ``cross_namespace``: new paths (added pairs) between endpoints of different namespaces;
* ``lost_ingress`` / ``lost_egress``: endpoints present on both sides that had at least one
  incoming (outgoing) connection in the base and have none in the head ("lost all");
* ``narrowed_egress``: endpoints present on both sides that lost some of their egress (a
  connection removed, or ports taken from one) and still have some;
* ``lost_dns``: endpoints present on both sides that could reach a kube-dns endpoint on
  UDP 53 in the base and cannot in the head, or likewise on TCP 53 (either one lost is
  lost DNS: resolvers fall back from one to the other).

External addresses count as endpoints, not pieces: each cluster endpoint's external peers
are merged per direction (:mod:`service.engine.ranges`), and ``external_exposure`` counts
the cluster endpoints exposed.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from service.engine.compile import CompiledCluster
from service.engine.connectivity import ConnectivityMap, Endpoint, IntArray
from service.engine.diff.memo import IdentityMemo
from service.engine.model import AddressRange, ObjectRef, PortSet
from service.engine.options import Granularity
from service.engine.ranges import RangeTable, merge_external

KUBE_DNS_LABEL = ("k8s-app", "kube-dns")
DNS_PORT = 53

_EMPTY = np.empty(0, dtype=np.int64)
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Rows:
    """Connections as parallel arrays over a diff's endpoint and port-set tables."""

    sources: IntArray
    targets: IntArray
    ports: IntArray

    @classmethod
    def empty(cls) -> Rows:
        return cls(_EMPTY, _EMPTY, _EMPTY)

    def __len__(self) -> int:
        return len(self.sources)

    def take(self, index: IntArray) -> Rows:
        return Rows(self.sources[index], self.targets[index], self.ports[index])


@dataclass(frozen=True, slots=True)
class ChangedRows:
    """Connections allowed on both sides, on different ports."""

    sources: IntArray
    targets: IntArray
    before: IntArray
    after: IntArray

    def __len__(self) -> int:
        return len(self.sources)

    def take(self, index: IntArray) -> ChangedRows:
        return ChangedRows(
            self.sources[index], self.targets[index], self.before[index], self.after[index]
        )


@dataclass(frozen=True, slots=True)
class Highlights:
    """The findings review bots care about most (endpoint indexes into the diff's table)."""

    external_exposure: Rows  # ports: the ports gained
    cross_namespace: Rows  # ports: the head's ports
    lost_ingress: tuple[int, ...]
    lost_egress: tuple[int, ...]
    lost_dns: tuple[int, ...]
    narrowed_egress: tuple[int, ...] = ()

    @property
    def exposed(self) -> tuple[int, ...]:
        """The cluster endpoints newly reachable from outside (each counted once)."""
        return tuple(np.unique(self.external_exposure.targets).tolist())

    def counts(self) -> dict[str, int]:
        return {
            "external_exposure": len(self.exposed),
            "cross_namespace": len(self.cross_namespace),
            "lost_ingress": len(self.lost_ingress),
            "lost_egress": len(self.lost_egress),
            "narrowed_egress": len(self.narrowed_egress),
            "lost_dns": len(self.lost_dns),
        }


@dataclass(frozen=True, slots=True)
class ConnectivityDiff:
    """What changed between two connectivity maps of the same granularity.

    Rows of every category are sorted by source then target, like the maps.
    """

    granularity: Granularity
    endpoints: tuple[Endpoint, ...]
    portsets: tuple[PortSet, ...]
    added: Rows
    removed: Rows
    changed: ChangedRows
    highlights: Highlights

    @property
    def is_empty(self) -> bool:
        return not (len(self.added) or len(self.removed) or len(self.changed))

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "changed": len(self.changed),
        }


# --------------------------------------------------------------------------------------
# Endpoint identity
# --------------------------------------------------------------------------------------


class _Table:
    """The unified endpoint table: cluster endpoints by identity, then fine external pieces.
    It depends on the two maps' endpoint tables only: what-ifs on one base share it."""

    def __init__(self, maps: Sequence[ConnectivityMap]) -> None:
        found: set[ObjectRef] = set()
        points: dict[int, set[int]] = {}
        for cmap in maps:
            for endpoint in cmap.endpoints:
                if isinstance(endpoint, AddressRange):
                    cuts = points.setdefault(endpoint.version, set())
                    cuts.add(endpoint.start)
                    cuts.add(endpoint.end + 1)
                else:
                    found.add(endpoint)
        # In the maps' own order, so that each map's sorted rows stay sorted here.
        ordered = sorted(found, key=lambda r: (r.namespace, r.kind, r.name))
        self.refs: dict[ObjectRef, int] = {ref: i for i, ref in enumerate(ordered)}
        self._cluster_ids: dict[int, tuple[tuple[Endpoint, ...], IntArray]] = {}
        self._members: dict[int, tuple[tuple[Endpoint, ...], IntArray, IntArray]] = {}
        self.pieces: list[AddressRange] = []
        self.piece_starts: dict[int, list[int]] = {}
        self.piece_offsets: dict[int, int] = {}
        for version in sorted(points):
            starts = sorted(points[version])
            self.piece_offsets[version] = len(self.pieces)
            self.piece_starts[version] = starts
            self.pieces += [AddressRange(version, lo, hi - 1) for lo, hi in pairwise(starts)]

    @property
    def size(self) -> int:
        return len(self.refs) + len(self.pieces)

    def cluster_ids(self, cmap: ConnectivityMap) -> IntArray:
        """Per endpoint of ``cmap``, its unified id if it is a cluster endpoint, else -1
        (computed once per endpoint table)."""
        key = id(cmap.endpoints)
        found = self._cluster_ids.get(key)
        if found is None or found[0] is not cmap.endpoints:
            refs = self.refs
            ids = np.fromiter(
                (refs[e] if isinstance(e, ObjectRef) else -1 for e in cmap.endpoints),
                dtype=np.int64,
                count=len(cmap.endpoints),
            )
            found = self._cluster_ids[key] = (cmap.endpoints, ids)
        return found[1]

    def members(self, cmap: ConnectivityMap) -> tuple[IntArray, IntArray]:
        """CSR (indptr, members): the unified endpoints each of ``cmap``'s endpoints covers
        (computed once per endpoint table)."""
        key = id(cmap.endpoints)
        found = self._members.get(key)
        if found is None or found[0] is not cmap.endpoints:
            found = self._members[key] = (cmap.endpoints, *self._members_of(cmap))
        return found[1], found[2]

    def _members_of(self, cmap: ConnectivityMap) -> tuple[IntArray, IntArray]:
        base = len(self.refs)
        starts = self.cluster_ids(cmap).copy()
        counts = np.ones(len(starts), dtype=np.int64)
        for i, endpoint in enumerate(cmap.endpoints):
            if isinstance(endpoint, AddressRange):
                cuts = self.piece_starts[endpoint.version]
                offset = base + self.piece_offsets[endpoint.version]
                # bisect, not numpy: a list of IPv6 ints would become an object array,
                # converted again on every call
                lo = bisect.bisect_left(cuts, endpoint.start)
                hi = bisect.bisect_left(cuts, endpoint.end + 1)
                starts[i], counts[i] = offset + lo, hi - lo
        indptr = np.zeros(len(starts) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(counts)
        within = np.arange(int(indptr[-1]), dtype=np.int64) - np.repeat(indptr[:-1], counts)
        return indptr, np.repeat(starts, counts) + within


_TABLES: IdentityMemo[_Table] = IdentityMemo()


def _expand(
    keys: IntArray, indptr: IntArray, members: IntArray, *carried: IntArray
) -> tuple[IntArray, tuple[IntArray, ...]]:
    """Replace each row's endpoint ``keys`` by each unified endpoint it covers."""
    degree = indptr[keys + 1] - indptr[keys]
    if bool(np.all(degree == 1)):
        return members[indptr[keys]], carried
    rows = np.repeat(np.arange(len(keys)), degree)
    first = np.repeat(np.cumsum(degree) - degree, degree)
    within = np.arange(len(rows)) - first
    return members[indptr[keys][rows] + within], tuple(c[rows] for c in carried)


@dataclass(frozen=True, slots=True)
class _Keyed:
    """One map's rows in unified ids: ``keys = source * size + target``, sorted, unique."""

    keys: IntArray
    sources: IntArray
    targets: IntArray
    ports: IntArray


def _keyed(cmap: ConnectivityMap, table: _Table, portset_ids: IntArray) -> _Keyed:
    indptr, members = table.members(cmap)
    src, (dst, pid) = _expand(cmap.sources, indptr, members, cmap.targets, cmap.ports)
    dst, (src, pid) = _expand(dst, indptr, members, src, pid)
    keys = src * table.size + dst
    if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):  # rows of another order
        order = np.argsort(keys, kind="stable")
        keys, src, dst, pid = keys[order], src[order], dst[order], pid[order]
    return _Keyed(keys, src, dst, portset_ids[pid])


def _matches(old: IntArray, new: IntArray) -> tuple[IntArray, IntArray]:
    """Positions in ``old`` and ``new`` (both sorted, unique) of their common keys."""
    if not len(old) or not len(new):
        return _EMPTY, _EMPTY
    position = np.searchsorted(new, old)
    clipped = np.minimum(position, len(new) - 1)
    found = new[clipped] == old
    return np.flatnonzero(found), clipped[found]


# --------------------------------------------------------------------------------------
# The diff
# --------------------------------------------------------------------------------------


class _PortTable:
    """Port sets by id, shared by both sides and the gains computed on top."""

    def __init__(self) -> None:
        self.ids: dict[PortSet, int] = {}
        self._gains: dict[tuple[int, int], int] = {}

    def id(self, ports: PortSet) -> int:
        return self.ids.setdefault(ports, len(self.ids))

    def ids_of(self, portsets: Sequence[PortSet]) -> IntArray:
        return np.array([self.id(p) for p in portsets], dtype=np.int64)

    def gain(self, before: int, after: int) -> int:
        """The id of ``after - before`` (maybe the empty set)."""
        key = (before, after)
        found = self._gains.get(key)
        if found is None:
            table = self.table()
            found = self._gains[key] = self.id(table[after] - table[before])
        return found

    def table(self) -> list[PortSet]:
        return list(self.ids)


@dataclass(frozen=True, slots=True)
class _Rest:
    """The rows a diff told to be the same on both sides and does not compare: what the
    highlights still need of them (over the unified cluster endpoints)."""

    out_degree: IntArray  # rows from each cluster endpoint
    dns_rows: ConnectivityMap  # those towards a kube-dns endpoint of either side


def _towards(table: _Table, cmap: ConnectivityMap, targets: Collection[Endpoint]) -> BoolArray:
    """Which rows of ``cmap`` go towards one of ``targets``."""
    wanted = np.zeros(table.size, dtype=bool)
    wanted[[table.refs[t] for t in targets if isinstance(t, ObjectRef) and t in table.refs]] = True
    ids = table.cluster_ids(cmap)
    towards = wanted[np.maximum(ids, 0)] & (ids >= 0)
    for i in np.flatnonzero(ids < 0).tolist():  # external ranges: few
        towards[i] = cmap.endpoints[i] in targets
    keep: BoolArray = towards[cmap.targets]
    return keep


def _rows(cmap: ConnectivityMap, mask: BoolArray) -> ConnectivityMap:
    return ConnectivityMap(
        cmap.granularity, cmap.endpoints, cmap.portsets,
        cmap.sources[mask], cmap.targets[mask], cmap.ports[mask],
    )  # fmt: skip


def _out_degree(table: _Table, cmap: ConnectivityMap) -> IntArray:
    """Rows from each unified cluster endpoint (computed once per map)."""

    def compute() -> IntArray:
        ids = table.cluster_ids(cmap)
        counts = np.bincount(cmap.sources, minlength=len(cmap.endpoints))
        out = np.zeros(len(table.refs), dtype=np.int64)
        np.add.at(out, ids[ids >= 0], counts[ids >= 0])
        return out

    return _DEGREES.get((table, cmap.sources), compute)


_DEGREES: IdentityMemo[IntArray] = IdentityMemo()


def _rest(
    table: _Table, base: ConnectivityMap, compared: BoolArray, dns: Collection[Endpoint]
) -> _Rest:
    """What the rows of ``base`` not ``compared`` count for (the same on both sides)."""
    ids = table.cluster_ids(base)
    counts = np.bincount(base.sources[compared], minlength=len(base.endpoints))
    out_degree = _out_degree(table, base).copy()
    np.subtract.at(out_degree, ids[ids >= 0], counts[ids >= 0])
    towards_dns = _towards(table, base, dns) & ~compared
    return _Rest(out_degree, _rows(base, towards_dns))


def diff_maps(
    base: ConnectivityMap,
    head: ConnectivityMap,
    *,
    base_dns: Collection[Endpoint] = (),
    head_dns: Collection[Endpoint] = (),
    changed_targets: Collection[Endpoint] | None = None,
) -> ConnectivityDiff:
    """Compare two maps of the same granularity; ``*_dns`` name each side's kube-dns
    endpoints (see :func:`dns_endpoints`) for the ``lost_dns`` highlight.

    ``changed_targets``: when the caller knows that every row towards any other endpoint
    is the same connection on both maps (an incremental what-if patches only the rows
    towards the endpoints it touched), only the rows towards these are compared; the
    answer is the same as comparing every row."""
    if base.granularity is not head.granularity:
        raise ValueError(
            f"cannot compare a {base.granularity.value} map with a {head.granularity.value} map"
        )
    table = _TABLES.get((base.endpoints, head.endpoints), lambda: _Table((base, head)))
    ports = _PortTable()
    rest = None
    base_ids, head_ids = ports.ids_of(base.portsets), ports.ids_of(head.portsets)
    if changed_targets is not None:
        compared = _towards(table, base, changed_targets)
        rest = _rest(table, base, compared, {*base_dns, *head_dns})
        base = _rows(base, compared)
        head = _rows(head, _towards(table, head, changed_targets))
    old = _keyed(base, table, base_ids)
    new = _keyed(head, table, head_ids)

    in_old, in_new = _matches(old.keys, new.keys)
    removed_mask = np.ones(len(old.keys), dtype=bool)
    removed_mask[in_old] = False
    added_mask = np.ones(len(new.keys), dtype=bool)
    added_mask[in_new] = False
    differs = old.ports[in_old] != new.ports[in_new]
    size = table.size
    added = Rows(new.sources[added_mask], new.targets[added_mask], new.ports[added_mask])
    removed = Rows(old.sources[removed_mask], old.targets[removed_mask], old.ports[removed_mask])
    same_old = in_old[differs]
    changed = ChangedRows(
        old.sources[same_old],
        old.targets[same_old],
        old.ports[same_old],
        new.ports[in_new[differs]],
    )

    endpoints: list[Endpoint] = [*table.refs, *table.pieces]
    refs = len(table.refs)
    present = _present_in_both(table, base, head)
    exposure = _exposure(refs, ports, added, changed)
    cross = _cross_namespace(endpoints, refs, added)
    same_out = rest.out_degree if rest is not None else np.zeros(refs, dtype=np.int64)
    lost_ingress, lost_egress = _lost_traffic(size, refs, present, old, new, same_out)
    narrowed_egress = _narrowed_egress(refs, present, ports, new, removed, changed, same_out)
    lost_dns = np.zeros(refs, dtype=bool)
    same_dns = None if rest is None else _keyed(rest.dns_rows, table, base_ids)
    for protocol in ("UDP", "TCP"):
        dns = _dns_reach(refs, ports, protocol)
        base_ids_dns, head_ids_dns = _ids(table, base_dns), _ids(table, head_dns)
        before, after = dns(old, base_ids_dns), dns(new, head_ids_dns)
        if same_dns is not None:  # the rows not compared reach the same on both sides
            before |= dns(same_dns, base_ids_dns)
            after |= dns(same_dns, head_ids_dns)
        lost_dns |= before & ~after
    lost_dns = np.flatnonzero(present & lost_dns)

    merged, endpoints = _merge_pieces(refs, endpoints, added, removed, changed)
    pieces = [e for e in endpoints[refs:] if isinstance(e, AddressRange)]
    ranges = RangeTable(refs)

    def per_endpoint(rows: Rows) -> Rows:
        kept, src, dst = merge_external(
            refs, pieces, ranges, rows.sources, rows.targets, [rows.ports]
        )
        return Rows(src, dst, rows.ports[kept])

    def per_endpoint_changed(rows: ChangedRows) -> ChangedRows:
        kept, src, dst = merge_external(
            refs, pieces, ranges, rows.sources, rows.targets, [rows.before, rows.after]
        )
        return ChangedRows(src, dst, rows.before[kept], rows.after[kept])

    merged_added = per_endpoint(_remap(added, merged, refs))
    merged_removed = per_endpoint(_remap(removed, merged, refs))
    merged_changed = per_endpoint_changed(_remap_changed(changed, merged, refs))
    merged_exposure = per_endpoint(_remap(exposure, merged, refs))
    order = sorted(
        ranges.ids.items(), key=lambda item: (item[0].version, item[0].start, item[0].end)
    )
    renumber = np.arange(refs + len(order), dtype=np.int64)
    for position, (_, old_id) in enumerate(order):
        renumber[old_id] = refs + position

    def ids(rows: Rows) -> Rows:
        return Rows(renumber[rows.sources], renumber[rows.targets], rows.ports)

    diff = ConnectivityDiff(
        base.granularity,
        (*endpoints[:refs], *(span for span, _ in order)),
        tuple(ports.table()),
        ids(merged_added),
        ids(merged_removed),
        ChangedRows(
            renumber[merged_changed.sources],
            renumber[merged_changed.targets],
            merged_changed.before,
            merged_changed.after,
        ),
        Highlights(
            ids(merged_exposure),
            cross,
            tuple(lost_ingress.tolist()),
            tuple(lost_egress.tolist()),
            tuple(lost_dns.tolist()),
            tuple(narrowed_egress.tolist()),
        ),
    )
    return _sorted(diff)


def _ids(table: _Table, endpoints: Collection[Endpoint]) -> IntArray:
    found = [table.refs[e] for e in endpoints if isinstance(e, ObjectRef) and e in table.refs]
    return np.asarray(sorted(found), dtype=np.int64)


def _present_in_both(table: _Table, base: ConnectivityMap, head: ConnectivityMap) -> BoolArray:
    flags = np.zeros(len(table.refs), dtype=np.int64)
    for cmap in (base, head):
        seen = table.cluster_ids(cmap)
        flags[seen[seen >= 0]] += 1
    present: BoolArray = flags == 2
    return present


def _exposure(refs: int, ports: _PortTable, added: Rows, changed: ChangedRows) -> Rows:
    """Connections from outside the cluster that are new or carry new ports (the gain)."""
    fresh = added.take(np.flatnonzero((added.sources >= refs) & (added.targets < refs)))
    rows = np.flatnonzero((changed.sources >= refs) & (changed.targets < refs))
    gains = np.array(
        [
            ports.gain(b, a)
            for b, a in zip(
                changed.before[rows].tolist(), changed.after[rows].tolist(), strict=True
            )
        ],
        dtype=np.int64,
    )
    table = ports.table()
    keep = np.array([bool(table[g]) for g in gains.tolist()], dtype=bool)
    rows = rows[keep] if len(rows) else rows
    return Rows(
        np.concatenate([fresh.sources, changed.sources[rows]]),
        np.concatenate([fresh.targets, changed.targets[rows]]),
        np.concatenate([fresh.ports, gains[keep] if len(gains) else _EMPTY]),
    )


def _cross_namespace(endpoints: Sequence[Endpoint], refs: int, added: Rows) -> Rows:
    """New paths between cluster endpoints of different namespaces."""
    rows = np.flatnonzero((added.sources < refs) & (added.targets < refs))
    if not len(rows):
        return Rows.empty()
    names: dict[str, int] = {}
    namespace_id = np.array(
        [
            names.setdefault(e.namespace, len(names))
            for e in endpoints[:refs]
            if isinstance(e, ObjectRef)
        ],
        dtype=np.int64,
    )
    differ = namespace_id[added.sources[rows]] != namespace_id[added.targets[rows]]
    return added.take(rows[differ])


def _lost_traffic(
    size: int, refs: int, present: BoolArray, old: _Keyed, new: _Keyed, same_out: IntArray
) -> tuple[IntArray, IntArray]:
    """``same_out``: rows from each cluster endpoint that are the same on both sides and
    not in ``old`` and ``new`` (no rows towards it are left out)."""

    def degrees(keyed: _Keyed) -> tuple[IntArray, IntArray]:
        return (
            np.bincount(keyed.targets, minlength=size)[:refs],
            np.bincount(keyed.sources, minlength=size)[:refs] + same_out,
        )

    old_in, old_out = degrees(old)
    new_in, new_out = degrees(new)
    return (
        np.flatnonzero(present & (old_in > 0) & (new_in == 0)),
        np.flatnonzero(present & (old_out > 0) & (new_out == 0)),
    )


def _narrowed_egress(
    refs: int,
    present: BoolArray,
    ports: _PortTable,
    new: _Keyed,
    removed: Rows,
    changed: ChangedRows,
    same_out: IntArray,
) -> IntArray:
    """Endpoints that lost some egress (a connection removed, or some of its ports) but not
    all of it (``same_out``: as in :func:`_lost_traffic`)."""
    losing = np.zeros(refs, dtype=bool)
    gone = removed.sources[removed.sources < refs]
    losing[gone] = True
    table = ports.table()
    inside = changed.sources < refs
    pairs = changed.before[inside] * len(table) + changed.after[inside]
    distinct, inverse = np.unique(pairs, return_inverse=True)
    narrows = np.array(
        [not table[p // len(table)].issubset(table[p % len(table)]) for p in distinct.tolist()],
        dtype=bool,
    )
    losing[changed.sources[inside][narrows[inverse.reshape(-1)]]] = True
    still = same_out > 0
    kept = new.sources[new.sources < refs]
    still[kept] = True
    return np.flatnonzero(present & losing & still)


def _dns_reach(
    refs: int, ports: _PortTable, protocol: str
) -> Callable[[_Keyed, IntArray], BoolArray]:
    """Which cluster endpoints reach one of ``dns`` on ``protocol`` port 53."""
    table = ports.table()
    serves_dns = np.array([p.contains(protocol, DNS_PORT) for p in table] or [False], dtype=bool)

    def reaching(keyed: _Keyed, dns: IntArray) -> BoolArray:
        reach = np.zeros(refs, dtype=bool)
        if not len(dns) or not len(keyed.keys):
            return reach
        hits = np.isin(keyed.targets, dns) & serves_dns[keyed.ports]
        sources = keyed.sources[hits]
        reach[sources[sources < refs]] = True
        return reach

    return reaching


# --------------------------------------------------------------------------------------
# Output: merge external pieces again, sort
# --------------------------------------------------------------------------------------


def _merge_pieces(
    refs: int,
    endpoints: list[Endpoint],
    added: Rows,
    removed: Rows,
    changed: ChangedRows,
) -> tuple[IntArray, list[Endpoint]]:
    """Merge adjacent external pieces whose changes are identical; pieces no change mentions
    are dropped. Returns old id -> new id (cluster endpoints keep theirs) and the table."""
    pieces = len(endpoints) - refs
    mapping = np.arange(len(endpoints), dtype=np.int64)
    if not pieces:
        return mapping, endpoints
    columns: list[tuple[IntArray, IntArray, list[IntArray]]] = []
    for tag, part in enumerate((added, removed)):
        columns.append((part.sources, part.targets, [np.full(len(part), tag), part.ports]))
    columns.append(
        (
            changed.sources,
            changed.targets,
            [np.full(len(changed), 2), changed.before, changed.after],
        )
    )
    signatures: list[list[bytes]] = [[] for _ in range(pieces)]
    for side in (0, 1):
        for src, dst, rest in columns:
            own, other = (src, dst) if side == 0 else (dst, src)
            rows = np.flatnonzero(own >= refs)
            if not len(rows):
                continue
            width = 2 + len(rest)
            block = np.zeros((len(rows), width), dtype=np.int64)
            block[:, 0] = side
            block[:, 1] = other[rows]
            for j, column in enumerate(rest):
                block[:, 2 + j] = column[rows]
            owner = own[rows] - refs
            order = np.lexsort((*block.T[::-1], owner))
            owner, block = owner[order], block[order]
            bounds = np.searchsorted(owner, np.arange(pieces + 1))
            for piece in np.unique(owner).tolist():
                signatures[piece].append(block[bounds[piece] : bounds[piece + 1]].tobytes())
    out: list[Endpoint] = endpoints[:refs]
    previous_signature: list[bytes] | None = None
    for offset in range(pieces):
        piece = endpoints[refs + offset]
        assert isinstance(piece, AddressRange)
        signature = signatures[offset]
        if not signature:
            previous_signature = None
            mapping[refs + offset] = -1
            continue
        last = out[-1] if len(out) > refs else None
        if (
            previous_signature == signature
            and isinstance(last, AddressRange)
            and last.version == piece.version
            and last.end + 1 == piece.start
        ):
            out[-1] = AddressRange(piece.version, last.start, piece.end)
        else:
            out.append(piece)
        mapping[refs + offset] = len(out) - 1
        previous_signature = signature
    return mapping, out


def _distinct(refs: int, *columns: IntArray) -> IntArray:
    """Indexes of the rows to keep: the first of identical rows. Only rows with an external
    endpoint (columns 0 and 1) can have become identical by merging pieces."""
    outside = np.flatnonzero((columns[0] >= refs) | (columns[1] >= refs))
    if len(outside) < 2:
        return np.arange(len(columns[0]), dtype=np.int64)
    _, first = np.unique(np.stack([c[outside] for c in columns], axis=1), axis=0, return_index=True)
    keep = np.ones(len(columns[0]), dtype=bool)
    keep[outside] = False
    keep[outside[first]] = True
    return np.flatnonzero(keep)


def _remap(rows: Rows, mapping: IntArray, refs: int) -> Rows:
    out = Rows(mapping[rows.sources], mapping[rows.targets], rows.ports)
    return out.take(_distinct(refs, out.sources, out.targets, out.ports))


def _remap_changed(rows: ChangedRows, mapping: IntArray, refs: int) -> ChangedRows:
    out = ChangedRows(mapping[rows.sources], mapping[rows.targets], rows.before, rows.after)
    return out.take(_distinct(refs, out.sources, out.targets, out.before, out.after))


def _order(sources: IntArray, targets: IntArray) -> IntArray | None:
    """The permutation sorting rows by source then target (ids follow endpoint order:
    cluster endpoints by namespace, kind, name, then external ranges by address); None when
    they are sorted already."""
    if len(sources) < 2:
        return None
    if bool(
        np.all(
            (sources[1:] > sources[:-1])
            | ((sources[1:] == sources[:-1]) & (targets[1:] > targets[:-1]))
        )
    ):
        return None
    return np.lexsort((targets, sources))


def _sorted(diff: ConnectivityDiff) -> ConnectivityDiff:
    def rows(r: Rows) -> Rows:
        order = _order(r.sources, r.targets)
        return r if order is None else r.take(order)

    order = _order(diff.changed.sources, diff.changed.targets)
    h = diff.highlights
    return ConnectivityDiff(
        diff.granularity,
        diff.endpoints,
        diff.portsets,
        rows(diff.added),
        rows(diff.removed),
        diff.changed if order is None else diff.changed.take(order),
        Highlights(
            rows(h.external_exposure),
            rows(h.cross_namespace),
            h.lost_ingress,
            h.lost_egress,
            h.lost_dns,
            h.narrowed_egress,
        ),
    )


# --------------------------------------------------------------------------------------
# kube-dns
# --------------------------------------------------------------------------------------


def endpoint_of(
    pod_ref: ObjectRef, workload: ObjectRef | None, granularity: Granularity
) -> ObjectRef:
    if granularity is Granularity.POD:
        return pod_ref
    if granularity is Granularity.WORKLOAD:
        return workload or pod_ref
    return ObjectRef("Namespace", pod_ref.namespace, pod_ref.namespace)


def dns_endpoints(compiled: CompiledCluster, granularity: Granularity) -> frozenset[ObjectRef]:
    """The endpoints (at ``granularity``) of the pods labelled ``k8s-app=kube-dns``."""
    key, value = KUBE_DNS_LABEL
    return _DNS.get(
        (compiled.pods, granularity),
        lambda: frozenset(
            endpoint_of(pod.ref, pod.workload, granularity)
            for pod in compiled.pods
            if pod.labels.get(key) == value
        ),
    )


_DNS: IdentityMemo[frozenset[ObjectRef]] = IdentityMemo()
