"""Use cases over stored snapshots: record, list, get, delete, read objects, analyse.

Each function takes the request's SQLAlchemy session (the caller commits or rolls back)
and, for analysis, the process-wide :class:`Analyzer` holding the compiled-snapshot caches.
"""

from __future__ import annotations

import gc
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from service.engine.collector import paused_gc
from service.engine.compile import CompiledCluster
from service.engine.connectivity import ConnectivityMap, connectivity_map
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.endpoints import EndpointError, EndpointNotFoundError
from service.engine.model import Cluster, Document, ManifestError, Origin, Protocol
from service.engine.options import AnalysisOptions, Granularity
from service.engine.parse.counts import CountLimits
from service.engine.reachability import QueryError, Verdict, check
from service.ingest import Limits, read_bytes
from service.store.clusters import ClusterRepository
from service.store.records import ClusterRecord, NewObject, SnapshotRecord, StoredObject
from service.store.snapshots import SnapshotRepository, prepare_objects
from service.usecases.cache import LRUCache
from service.usecases.cluster_cache import ClusterCache
from service.usecases.errors import (
    InvalidManifestsError,
    InvalidQueryError,
    NotFoundError,
    from_manifest_error,
)
from service.usecases.manifests import compile_snapshot, from_documents

# The upload's own parse, under a name of its own: `from_documents` here is the re-parse of
# stored manifests, which the cache directory exists to avoid (and tests count).
from service.usecases.manifests import from_documents as validate_documents
from service.usecases.reads import release

Ref = int | Literal["latest"]
CLUSTER_NAME = re.compile(r"[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?\Z")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "Node", "AdminNetworkPolicy",
                  "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy", "CustomResourceDefinition",
                  "PersistentVolume",
                  "StorageClass", "PriorityClass"}  # fmt: skip


def parse_ref(text: str) -> Ref:
    """``latest`` or a version number."""
    if text == "latest":
        return "latest"
    if text.isascii() and text.isdigit() and int(text) > 0:
        return int(text)
    raise InvalidQueryError(f"snapshot reference {text!r} is neither a version number nor latest")


def check_cluster_name(name: str) -> str:
    if not CLUSTER_NAME.match(name):
        raise InvalidQueryError(
            f"cluster name {name!r} is invalid: use 1-63 lowercase letters, digits, '-', '_' "
            "or '.', starting and ending with a letter or digit"
        )
    return name


def _new_object(document: Document) -> NewObject:
    """The stored identity of a validated object (the parser refused a kind, name or
    namespace of any type but a string)."""
    body = document.body
    metadata = body.get("metadata") or {}
    kind = body.get("kind")
    namespace = metadata.get("namespace") or (None if kind in CLUSTER_SCOPED else "default")
    name = metadata.get("name") or ""
    assert type(kind) is str
    assert namespace is None or type(namespace) is str
    assert type(name) is str
    return NewObject(kind, namespace, name, body)


def record_snapshot(
    session: Session,
    cluster: str,
    data: bytes | Sequence[bytes],
    *,
    content_type: str | None,
    source: str | None = None,
    labels: Mapping[str, str] | None = None,
    limits: Limits | None = None,
    analyzer: Analyzer | None = None,
    allow_empty: bool = False,
    keep: list[object] | None = None,
) -> tuple[SnapshotRecord, bool]:
    """Validate and store manifests as the next version of ``cluster``; ``(record, created)``.

    ``data`` is the body, whole or in the pieces it arrived in (see ``read_bytes``).
    ``keep`` (if given) receives the decoded documents once they are stored, for the caller
    to free when it suits it (a server: after the answer is sent).
    Nothing is stored unless every object is valid, nor when there is no object at all
    (``[]``, an empty List, only ``---``) unless ``allow_empty``. Content identical to an
    existing version of the cluster returns that version with ``created=False``.
    """
    check_cluster_name(cluster)
    # Normalising, hashing and compressing the objects for the store runs beside their
    # validation: compressing (most of it) does not hold the GIL, so on a second core it
    # costs no wall time. If validation fails, that work is simply dropped.
    pool = ThreadPoolExecutor(1, thread_name_prefix="netreach-prepare")
    try:
        with paused_gc():
            limits = limits or Limits()
            documents = read_bytes(data, content_type=content_type, limits=limits)
        # The objects' identities are read in that thread too: only validated documents
        # have them (its result is used only once the validation below passed).
        ready = pool.submit(
            lambda: prepare_objects([_new_object(d) for d in documents], compress=True)
        )
        manifests = validate_documents(documents, counts=limits.counts)
    except ManifestError as error:
        raise from_manifest_error(error) from error
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if not manifests.documents and not allow_empty:
        raise InvalidManifestsError(
            "the manifests hold no object; nothing was stored (pass allow_empty=true to "
            "store an empty snapshot on purpose)",
            [{"field": "body", "objects": 0}],
        )
    counts = dict(sorted(Counter(str(d.body.get("kind", "")) for d in documents).items()))
    record, created = SnapshotRepository(session).create(
        cluster,
        ready.result(),
        source=source,
        labels=dict(labels or {}),
        counts=counts,
        warnings=list(manifests.warnings),
    )
    if analyzer is not None:
        analyzer.remember(record, manifests.cluster)
    if keep is not None:
        keep.append(documents)
        keep.append(manifests)
    return record, created


def list_clusters(session: Session) -> list[ClusterRecord]:
    return ClusterRepository(session).list()


def get_cluster(session: Session, cluster: str) -> ClusterRecord:
    record = ClusterRepository(session).get(cluster)
    if record is None:
        raise NotFoundError(f"no cluster named {cluster!r}")
    return record


def get_snapshot(session: Session, cluster: str, ref: Ref) -> SnapshotRecord:
    record = SnapshotRepository(session).get(cluster, ref)
    if record is None:
        if ClusterRepository(session).get(cluster) is None:
            raise NotFoundError(f"no cluster named {cluster!r}")
        raise NotFoundError(f"cluster {cluster!r} has no snapshot {ref}")
    return record


def list_snapshots(
    session: Session, cluster: str, *, after: int | None, limit: int
) -> list[SnapshotRecord]:
    if ClusterRepository(session).get(cluster) is None:
        raise NotFoundError(f"no cluster named {cluster!r}")
    return SnapshotRepository(session).list(cluster, after=after, limit=limit)


def delete_cluster(session: Session, cluster: str) -> None:
    """Delete a cluster with every snapshot of it."""
    if not ClusterRepository(session).delete(cluster):
        raise NotFoundError(f"no cluster named {cluster!r}")


# The namespaces of a snapshot's objects, per content hash (immutable, so never stale).
_NAMESPACES: LRUCache[str, frozenset[str]] = LRUCache(16)


def snapshot_namespaces(session: Session, record: SnapshotRecord) -> frozenset[str]:
    """Every namespace a snapshot's objects are in or declare (``Namespace`` objects)."""

    def load() -> frozenset[str]:
        keys = SnapshotRepository(session).object_hashes(record.id)
        return frozenset(
            name if kind == "Namespace" else namespace or "" for kind, namespace, name in keys
        ) - {""}

    return _NAMESPACES.get_or_compute(record.content_hash, load)[0]


def delete_snapshot(session: Session, cluster: str, ref: Ref) -> SnapshotRecord:
    record = get_snapshot(session, cluster, ref)
    SnapshotRepository(session).delete(cluster, record.version)
    return record


def snapshot_objects(
    session: Session, record: SnapshotRecord, *, kind: str | None, namespace: str | None
) -> list[StoredObject]:
    return SnapshotRepository(session).objects(record.id, kind=kind, namespace=namespace)


@dataclass
class Analyzer:
    """Process-wide caches of parsed and compiled snapshots, and the analyses on them.

    Snapshots are immutable, so cached entries never go stale; ``on_compile`` lets the
    caller observe compile times (metrics). With ``files``, resolved clusters outlive the
    process: a fresh process loads them instead of parsing the manifests again.
    """

    cache_size: int = 8
    on_compile: Callable[[float], None] | None = None
    files: ClusterCache | None = None
    # Keyed by the snapshot's content hash: identical content, identical answers, so an
    # entry is never wrong, whichever cluster or version (or rolled-back upload) it came from.
    clusters: LRUCache[str, Cluster] = field(init=False)
    compiled: LRUCache[tuple[str, AnalysisOptions], CompiledCluster] = field(init=False)
    maps: LRUCache[tuple[str, AnalysisOptions, Granularity], ConnectivityMap] = field(init=False)

    def __post_init__(self) -> None:
        self.clusters = LRUCache(self.cache_size)
        self.compiled = LRUCache(self.cache_size)
        self.maps = LRUCache(self.cache_size)

    def cluster(self, session: Session, record: SnapshotRecord) -> Cluster:
        """The resolved cluster of a stored snapshot (parsed once, whatever the options)."""

        def load() -> Cluster:
            if self.files is not None:
                cached = self.files.get(record.content_hash)
                if cached is not None:
                    return cached
            with paused_gc():  # decoding allocates a lot, and nothing here forms cycles
                bodies = SnapshotRepository(session).object_bodies(record.id)
                documents = [Document(Origin(None, i), body) for i, body in enumerate(bodies)]
            del bodies
            # validated when stored, perhaps under other limits: read it whatever they are now
            cluster = from_documents(documents, counts=CountLimits.unbounded()).cluster
            if self.files is not None:
                self.files.put_later(record.content_hash, cluster)
            return cluster

        return self.clusters.get_or_compute(record.content_hash, load)[0]

    def remember(self, record: SnapshotRecord, cluster: Cluster) -> None:
        """Keep the cluster an upload has just parsed: the first analysis of a new snapshot
        then skips reading and parsing it again, in this process and (through ``files``)
        in the next."""
        _, known = self.clusters.get_or_compute(record.content_hash, lambda: cluster)
        if not known and self.files is not None:
            self.files.put_later(record.content_hash, cluster)

    def compiled_for(
        self,
        session: Session,
        record: SnapshotRecord,
        options: AnalysisOptions,
        deadline: Deadline = NO_DEADLINE,
    ) -> CompiledCluster:
        def build() -> CompiledCluster:
            if self.files is not None:
                cached = self.files.get_compiled(record.content_hash, options)
                if cached is not None:
                    gc.freeze()  # long-lived, like a compile's (see compile_snapshot)
                    # its cluster is the snapshot's: one object graph for both caches
                    self.clusters.get_or_compute(record.content_hash, lambda: cached.cluster)
                    return cached
            cluster = self.cluster(session, record)
            release(session)
            started = time.perf_counter()
            compiled = compile_snapshot(cluster, options, deadline)
            if self.on_compile is not None:
                self.on_compile(time.perf_counter() - started)
            if self.files is not None:
                self.files.put_compiled_later(record.content_hash, options, compiled)
            return compiled

        return self.compiled.get_or_compute((record.content_hash, options), build)[0]

    def is_compiled(self, record: SnapshotRecord, options: AnalysisOptions) -> bool:
        """Is the compiled form in the cache (so a point query needs no I/O)?"""
        return self.compiled.peek((record.content_hash, options)) is not None

    def connectivity(
        self,
        session: Session,
        record: SnapshotRecord,
        options: AnalysisOptions,
        granularity: Granularity,
        deadline: Deadline = NO_DEADLINE,
    ) -> ConnectivityMap:
        def build() -> ConnectivityMap:
            if self.files is not None:
                cached = self.files.get_map(record.content_hash, options, granularity)
                if cached is not None:
                    return cached
            compiled = self.compiled_for(session, record, options, deadline)
            cmap = connectivity_map(compiled, granularity, deadline)
            if self.files is not None:
                self.files.put_map_later(record.content_hash, options, granularity, cmap)
            return cmap

        return self.maps.get_or_compute((record.content_hash, options, granularity), build)[0]

    def reachability(
        self,
        session: Session,
        record: SnapshotRecord,
        options: AnalysisOptions,
        *,
        source: str,
        target: str,
        port: int | str | None,
        protocol: str | None,
        deadline: Deadline = NO_DEADLINE,
    ) -> Verdict:
        if protocol is not None and protocol not in Protocol.__members__:
            raise InvalidQueryError(
                f"protocol {protocol!r} is not one of TCP, UDP, SCTP", [{"field": "protocol"}]
            )
        compiled = self.compiled_for(session, record, options, deadline)
        try:
            return check(
                compiled,
                source,
                target,
                port=port,
                protocol=None if protocol is None else Protocol(protocol),
                deadline=deadline,
            )
        except EndpointNotFoundError as error:
            raise NotFoundError(str(error), [{"field": error.field}]) from error
        except (EndpointError, QueryError) as error:
            raise InvalidQueryError(str(error), [{"field": error.field}]) from error

    def prepare(
        self,
        session: Session,
        record: SnapshotRecord,
        options: AnalysisOptions,
        granularity: Granularity,
        deadline: Deadline = NO_DEADLINE,
    ) -> bool:
        """Compile and map a snapshot ahead of its first analysis, and write both to the
        cache directory (waiting for the writes); False when the directory had both
        already, so nothing was done. A compilation or map another thread is computing
        meanwhile is computed once, for both."""
        files = self.files
        key = record.content_hash
        if (
            files is not None
            and files.has_compiled(key, options)
            and files.has_map(key, options, granularity)
        ):
            return False
        compiled = self.compiled_for(session, record, options, deadline)
        cmap = self.connectivity(session, record, options, granularity, deadline)
        if files is not None:
            files.drain()
            # computed by an earlier analysis of this process, whose entries have gone since
            # (evicted): written again now (no-ops when they are there)
            files.put_compiled(key, options, compiled)
            files.put_map(key, options, granularity, cmap)
        return True

    def awaited(self, content_hash: str) -> bool:
        """Does a request wait for a compilation or a map of this content being computed?"""
        return (
            self.clusters.awaited(lambda key: key == content_hash)
            or self.compiled.awaited(lambda key: key[0] == content_hash)
            or self.maps.awaited(lambda key: key[0] == content_hash)
        )

    def forget(self, record: SnapshotRecord) -> None:
        """Free the memory of a deleted snapshot (another snapshot with the same content
        simply compiles it again)."""
        self.clusters.discard(lambda key: key == record.content_hash)
        self.compiled.discard(lambda key: key[0] == record.content_hash)
        self.maps.discard(lambda key: key[0] == record.content_hash)

    def close(self) -> None:
        """Finish writing to the cache directory."""
        if self.files is not None:
            self.files.flush()

    def stats(self) -> dict[str, Any]:
        return {
            "compiled": len(self.compiled),
            "hits": self.compiled.hits,
            "misses": self.compiled.misses,
        }
