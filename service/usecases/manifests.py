"""Manifests to a resolved cluster: ingest (bytes/files -> documents), parse and validate
(documents -> objects), inventory (pods rolled up, workload templates, implicit namespaces)."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from service.engine.collector import paused_gc
from service.engine.compile import CompiledCluster, compile_cluster
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.inventory import build_cluster
from service.engine.model import Cluster, Document
from service.engine.options import AnalysisOptions
from service.engine.parse import ParsedObjects, parse_documents
from service.engine.parse.counts import CountLimits
from service.engine.parse.essentials import essentials
from service.ingest import Limits, read_bytes, read_paths, read_sources


@dataclass(frozen=True, slots=True)
class Manifests:
    """Validated manifests: the documents as read, the objects, and the resolved cluster."""

    documents: list[Document]
    parsed: ParsedObjects
    cluster: Cluster
    read_warnings: tuple[str, ...] = ()  # files skipped while reading (not manifests)

    @property
    def warnings(self) -> tuple[str, ...]:
        return (*self.read_warnings, *self.cluster.warnings)

    def compile(
        self, options: AnalysisOptions | None = None, deadline: Deadline = NO_DEADLINE
    ) -> CompiledCluster:
        return compile_snapshot(self.cluster, options, deadline)


def compile_snapshot(
    cluster: Cluster, options: AnalysisOptions | None = None, deadline: Deadline = NO_DEADLINE
) -> CompiledCluster:
    """Compile, then move everything alive into the collector's permanent generation.

    A compiled snapshot is hundreds of thousands of long-lived objects; without
    ``gc.freeze()`` every later full collection walks them all again, which made building a
    large map five times slower. Freezing costs nothing and frees nothing less: reference
    counting still reclaims frozen objects once unused (our values hold no cycles).
    """
    with paused_gc():
        compiled = compile_cluster(cluster, options, deadline)
    gc.freeze()
    return compiled


def from_documents(
    documents: list[Document],
    read_warnings: Sequence[str] = (),
    counts: CountLimits | None = None,
) -> Manifests:
    """Raises ManifestError (every problem at once) when any object is invalid (``counts``:
    netreach's limits on a NetworkPolicy's items; default: the defaults)."""
    with paused_gc():
        parsed = parse_documents(documents, counts)
        return Manifests(documents, parsed, build_cluster(parsed), tuple(read_warnings))


def load_paths(
    paths: Sequence[str | Path],
    limits: Limits | None = None,
    *,
    whole_bodies: bool = False,
    exclude: Sequence[str] = (),
) -> Manifests:
    """Files and directories (recursive) of YAML/JSON manifests, without the paths matching
    ``exclude`` (globs); documents that are no Kubernetes object (no apiVersion, no kind) are
    skipped with a warning naming their file.

    Unless ``whole_bodies``, each object keeps only the fields the analysis reads (the
    documents then are not the files' full content): a 100,000-pod dump fits in a fraction
    of the memory.
    """
    transform = None if whole_bodies else essentials
    warnings: list[str] = []
    limits = limits or Limits()
    with paused_gc():
        documents = read_paths(paths, limits, transform, exclude=exclude, warnings=warnings)
    return from_documents(documents, warnings, limits.counts)


def load_sources(sources: Sequence[tuple[str, bytes]], limits: Limits | None = None) -> Manifests:
    """In-memory files (name, bytes), read as :func:`load_paths` reads files."""
    warnings: list[str] = []
    limits = limits or Limits()
    with paused_gc():
        documents = read_sources(sources, limits, essentials, warnings=warnings)
    return from_documents(documents, warnings, limits.counts)


def load_bytes(
    data: bytes,
    *,
    content_type: str | None = None,
    source: str | None = None,
    limits: Limits | None = None,
) -> Manifests:
    limits = limits or Limits()
    with paused_gc():
        documents = read_bytes(data, source=source, content_type=content_type, limits=limits)
    return from_documents(documents, counts=limits.counts)
