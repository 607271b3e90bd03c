"""Diffs of stored snapshots: two of them (one cluster or two), and a proposed change
against one (what-if, nothing stored). Two sets of manifests: :mod:`compare`.

Connectivity comes from the analyzer's cached maps where it can. A what-if that touches only
NetworkPolicies and Services (the common case) reuses the base snapshot's resolved cluster and
parses only the proposed objects. When the change splits none of the base's pod classes, the
head is compiled incrementally on the base's compiled form and map
(:mod:`service.engine.incremental`); otherwise it is compiled from one representative pod per
workload and signature (:mod:`service.engine.diff.representatives`), cached per base
snapshot. Anything else goes through the full path, exactly as an upload would.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from service.engine.collector import paused_gc
from service.engine.compile import CompiledCluster, compile_cluster
from service.engine.connectivity import connectivity_map
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.diff import (
    ObjectKey,
    SemanticDiff,
    ip_starts,
    object_key,
    representatives,
)
from service.engine.incremental import Basis, changed_targets, head_map, recompile
from service.engine.model import Cluster, Document, ManifestError, Origin, Pod
from service.engine.options import AnalysisOptions, Granularity
from service.engine.parse import ParsedObjects, parse_documents
from service.engine.parse.counts import CountLimits
from service.ingest import Limits, read_bytes
from service.report.diff import DiffSide
from service.store.records import SnapshotRecord
from service.store.snapshots import SnapshotRepository
from service.usecases.cache import LRUCache
from service.usecases.compare import compare
from service.usecases.errors import InvalidQueryError, from_manifest_error
from service.usecases.manifests import Manifests, from_documents
from service.usecases.reads import release
from service.usecases.snapshots import Analyzer, Ref, get_snapshot, parse_ref

# Kinds that make up the inventory: a what-if touching one resolves the whole head again.
# Any other kind (NetworkPolicy, Service, or one the analysis ignores) takes the fast path.
_INVENTORY_KINDS = frozenset(
    {"Namespace", "Node", "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
     "ReplicationController", "Job", "CronJob"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DiffOutcome:
    diff: SemanticDiff
    base: DiffSide
    head: DiffSide
    records: tuple[SnapshotRecord, ...] = ()  # the stored snapshots compared


def parse_cluster_ref(text: str, field: str) -> tuple[str, Ref]:
    """``CLUSTER@REF`` (REF a version number or latest; ``CLUSTER`` alone means latest)."""
    cluster, _, ref = text.partition("@")
    if not cluster:
        raise InvalidQueryError(
            f"{field}: {text!r} is not CLUSTER@REF (e.g. prod@12 or staging@latest)",
            [{"field": field}],
        )
    return cluster, parse_ref(ref or "latest")


def _side(record: SnapshotRecord, **extra: Any) -> DiffSide:
    info = {
        "cluster": record.cluster,
        "version": record.version,
        "content_hash": record.content_hash,
        "created_at": record.created_at.isoformat(),
        **extra,
    }
    return DiffSide(f"{record.cluster}@{record.version}", info)


# --------------------------------------------------------------------------------------
# Stored snapshots
# --------------------------------------------------------------------------------------


def _stored_hashes(
    session: Session, record: SnapshotRecord, keys: Iterable[ObjectKey]
) -> dict[ObjectKey, str]:
    """The content hashes of these objects in a stored snapshot, by key (absent: it has no
    such object). Only those rows are read: no body, nor any other object's key."""
    found = SnapshotRepository(session).hashes_of(
        record.id, [(k.kind, k.namespace, k.name) for k in keys]
    )
    return {ObjectKey(kind, ns, name): digest for (kind, ns, name), digest in found.items()}


def _bodies(
    session: Session, hashes: Mapping[ObjectKey, str], keys: Iterable[ObjectKey]
) -> dict[ObjectKey, Any]:
    wanted = {k: hashes[k] for k in keys if k in hashes}
    bodies = SnapshotRepository(session).bodies_by_hash(list(set(wanted.values())))
    return {k: bodies[digest] for k, digest in wanted.items() if digest in bodies}


def diff_snapshots(
    session: Session,
    analyzer: Analyzer,
    base: tuple[str, Ref],
    head: tuple[str, Ref],
    *,
    granularity: Granularity = Granularity.WORKLOAD,
    options: AnalysisOptions | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> DiffOutcome:
    """Two stored snapshots, of one cluster or of two."""
    options = options or AnalysisOptions()
    records = [get_snapshot(session, cluster, ref) for cluster, ref in (base, head)]
    compiled = [analyzer.compiled_for(session, r, options, deadline) for r in records]
    maps = [analyzer.connectivity(session, r, options, granularity, deadline) for r in records]
    # Only the objects one side holds and the other does not (content-addressed rows): the
    # tens of thousands both share are never read.
    base_bodies, head_bodies = (
        {ObjectKey(kind, ns or "", name): body for (kind, ns, name), body in side.items()}
        for side in SnapshotRepository(session).changed_objects(records[0].id, records[1].id)
    )
    keys = list(base_bodies.keys() | head_bodies.keys())
    release(session)
    diff = compare(
        compiled[0],
        compiled[1],
        maps[0],
        maps[1],
        base_bodies,
        head_bodies,
        keys,
        deadline,
    )
    return DiffOutcome(diff, _side(records[0]), _side(records[1]), (records[0], records[1]))


# --------------------------------------------------------------------------------------
# What-if
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProposedChange:
    """Manifests to add or replace (matched by kind, namespace and name) and objects to
    delete."""

    documents: tuple[Document, ...]
    deletions: tuple[ObjectKey, ...]
    parsed: ParsedObjects | None = None  # the documents as validated, when they were

    @property
    def keys(self) -> list[ObjectKey]:
        return [object_key(d.body) for d in self.documents]

    @property
    def kinds(self) -> set[str]:
        return {k.kind for k in (*self.keys, *self.deletions)}


def proposed_change(
    *,
    manifests: Sequence[Any] | None = None,
    manifests_yaml: str | None = None,
    delete: Sequence[Mapping[str, Any]] = (),
    limits: Limits | None = None,
) -> ProposedChange:
    """Read a what-if request: objects (or YAML text) read exactly as an upload is, and
    deletions as ``{"kind", "namespace", "name"}``."""
    if manifests is not None and manifests_yaml is not None:
        raise InvalidQueryError(
            "give either manifests or manifests_yaml, not both", [{"field": "manifests"}]
        )
    documents: list[Document] = []
    parsed: ParsedObjects | None = None
    try:
        if manifests_yaml is not None:
            data, content_type = manifests_yaml.encode("utf-8"), "application/yaml"
        else:
            data, content_type = json.dumps(list(manifests or [])).encode(), "application/json"
        if manifests or manifests_yaml:
            with paused_gc():
                limits = limits or Limits()
                documents = read_bytes(data, content_type=content_type, limits=limits)
                parsed = parse_documents(documents, limits.counts)  # every problem at once
    except ManifestError as error:
        raise from_manifest_error(error) from error
    deletions: list[ObjectKey] = []
    for index, item in enumerate(delete):
        kind, name = item.get("kind"), item.get("name")
        if not isinstance(kind, str) or not kind or not isinstance(name, str) or not name:
            raise InvalidQueryError(
                f"delete[{index}] needs a kind and a name",
                [{"field": f"delete[{index}]"}],
            )
        namespace = item.get("namespace")
        body = {"kind": kind, "metadata": {"name": name, "namespace": namespace}}
        deletions.append(object_key(body))
    keys = [object_key(d.body) for d in documents]
    both = sorted(set(keys) & set(deletions))
    if both:
        raise InvalidQueryError(
            f"{both[0]} is both replaced and deleted",
            [{"field": "delete", **k.to_api()} for k in both],
        )
    return ProposedChange(tuple(documents), tuple(deletions), parsed)


# Representative pods of a stored snapshot's cluster, per (content hash, granularity, ipBlock
# cuts): what-ifs that leave pods alone and do not cut the address space anew reuse them.
_REPRESENTATIVES: LRUCache[tuple[str, Granularity, object], tuple[Pod, ...]] = LRUCache(8)


def _head_cluster(base: Cluster, change: ProposedChange) -> Cluster:
    """The fast path: only policies (admin tiers included) and services change."""
    parsed = change.parsed or parse_documents(list(change.documents), CountLimits.unbounded())
    gone = {(k.kind, k.namespace, k.name) for k in (*change.keys, *change.deletions)}
    policies = [p for p in base.policies if ("NetworkPolicy", p.namespace, p.name) not in gone]
    services = [s for s in base.services if ("Service", s.namespace, s.name) not in gone]
    admin = [p for p in base.admin_policies if (p.kind, "", p.name) not in gone]
    return dataclasses.replace(
        base,
        policies=(*policies, *parsed.policies),
        services=(*services, *parsed.services),
        admin_policies=(*admin, *parsed.admin_policies),
    )


# What incremental what-ifs reuse of a compiled base, per (content hash, options).
_BASES: LRUCache[tuple[str, AnalysisOptions], Basis] = LRUCache(4)


def _basis(record: SnapshotRecord, options: AnalysisOptions, compiled: CompiledCluster) -> Basis:
    key = (record.content_hash, options)
    basis, _ = _BASES.get_or_compute(key, lambda: Basis(compiled))
    if basis.compiled is not compiled:  # the analyzer compiled the base again
        _BASES.discard(lambda k: k == key)
        basis, _ = _BASES.get_or_compute(key, lambda: Basis(compiled))
    return basis


def _compile_head(
    record: SnapshotRecord,
    cluster: Cluster,
    base: Cluster,
    options: AnalysisOptions,
    granularity: Granularity,
    deadline: Deadline,
) -> CompiledCluster:
    if granularity is Granularity.POD:
        return compile_cluster(cluster, options, deadline)
    starts = ip_starts(cluster)
    if cluster.pods is base.pods:
        pods, _ = _REPRESENTATIVES.get_or_compute(
            (record.content_hash, granularity, starts),
            lambda: representatives(cluster.pods, granularity, starts),
        )
    else:
        pods = representatives(cluster.pods, granularity, starts)
    deadline.check("what-if: representative pods")
    return compile_cluster(dataclasses.replace(cluster, pods=pods), options, deadline)


def what_if(
    session: Session,
    analyzer: Analyzer,
    cluster: str,
    ref: Ref,
    change: ProposedChange,
    *,
    granularity: Granularity = Granularity.WORKLOAD,
    options: AnalysisOptions | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> DiffOutcome:
    """The diff a proposed change would make to a stored snapshot; nothing is stored."""
    options = options or AnalysisOptions()
    record = get_snapshot(session, cluster, ref)
    kinds = change.kinds
    touched = [*change.keys, *change.deletions]
    hashes = _stored_hashes(session, record, touched)
    missing = [k for k in change.deletions if k not in hashes]
    if missing:
        raise InvalidQueryError(
            f"cannot delete {missing[0]}: snapshot {record.cluster}@{record.version} has no "
            "such object",
            [{"field": "delete", **k.to_api()} for k in missing],
        )
    base_bodies: dict[ObjectKey, Mapping[str, Any]] = _bodies(session, hashes, touched)
    head_bodies: dict[ObjectKey, Mapping[str, Any]] = dict(base_bodies)
    for key in change.deletions:
        del head_bodies[key]
    for document in change.documents:
        head_bodies[object_key(document.body)] = document.body

    base_compiled = analyzer.compiled_for(session, record, options, deadline)
    base_map = analyzer.connectivity(session, record, options, granularity, deadline)
    with paused_gc():
        base_cluster = base_compiled.cluster  # the snapshot's resolved cluster
        if kinds & _INVENTORY_KINDS:
            head_cluster = _full_head(session, record, change)
        else:
            head_cluster = _head_cluster(base_cluster, change)
        release(session)
        increment = None
        targets = None  # the endpoints whose incoming rows may differ (None: any)
        if head_cluster.pods is base_cluster.pods:
            basis = _basis(record, options, base_compiled)
            increment = recompile(basis, head_cluster, deadline)
        if increment is not None:
            head_compiled = increment.compiled
            head_connectivity = head_map(basis, base_map, increment, deadline)
            targets = changed_targets(basis, base_map, increment)
        else:
            head_compiled = _compile_head(
                record, head_cluster, base_cluster, options, granularity, deadline
            )
            head_connectivity = connectivity_map(head_compiled, granularity, deadline)
    diff = compare(
        base_compiled,
        head_compiled,
        base_map,
        head_connectivity,
        base_bodies,
        head_bodies,
        touched,
        deadline,
        changed_targets=targets,
    )
    what = {"replaced_or_added": len(change.documents), "deleted": len(change.deletions)}
    head = DiffSide(
        f"{record.cluster}@{record.version}+what-if", {**_side(record).info, "what_if": what}
    )
    return DiffOutcome(diff, _side(record), head, (record,))


def _full_head(session: Session, record: SnapshotRecord, change: ProposedChange) -> Cluster:
    """The slow path: the base's documents with the change applied, resolved again."""
    return head_documents_manifests(
        SnapshotRepository(session).object_bodies(record.id), change
    ).cluster


def apply_change(
    bodies: Iterable[Mapping[str, Any]], change: ProposedChange
) -> list[dict[str, Any]]:
    """The documents of the head: replaced in place, added at the end, deleted removed."""
    replacing = {object_key(d.body): d.body for d in change.documents}
    deleted = set(change.deletions)
    out: list[dict[str, Any]] = []
    for body in bodies:
        key = object_key(body)
        if key in deleted:
            continue
        out.append(dict(replacing.pop(key, body)))
    out += [dict(b) for b in replacing.values()]
    return out


def head_documents_manifests(
    bodies: Iterable[Mapping[str, Any]], change: ProposedChange
) -> Manifests:
    documents = [Document(Origin(None, i), b) for i, b in enumerate(apply_change(bodies, change))]
    try:  # the stored objects and the change were validated (perhaps under other limits)
        return from_documents(documents, counts=CountLimits.unbounded())
    except ManifestError as error:
        raise from_manifest_error(error) from error
