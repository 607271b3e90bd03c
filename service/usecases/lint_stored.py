"""Lint a stored snapshot (the API): findings from the cached compiled form, suppressions
from the caller and from the stored objects' annotations."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.engine.collector import paused_gc
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.lint import Suppression, lint, suppress
from service.engine.options import AnalysisOptions
from service.store.records import SnapshotRecord
from service.store.snapshots import SnapshotRepository
from service.usecases.cache import LRUCache
from service.usecases.lint import (
    ANNOTATED_KINDS,
    LintReport,
    annotation_suppressions,
    parse_suppressions,
)
from service.usecases.snapshots import Analyzer

_ANNOTATIONS: LRUCache[str, list[Suppression]] = LRUCache(16)


def lint_snapshot(
    session: Session,
    analyzer: Analyzer,
    record: SnapshotRecord,
    options: AnalysisOptions,
    suppressions: Sequence[str] = (),
    deadline: Deadline = NO_DEADLINE,
) -> LintReport:
    """Lint a stored snapshot (no file locations: it came from a request body)."""
    wanted = parse_suppressions(suppressions)
    compiled = analyzer.compiled_for(session, record, options, deadline)
    started = time.perf_counter()
    with paused_gc():  # many small objects, none cyclic: spare the collector's passes
        findings = lint(compiled, deadline=deadline)
    seconds = time.perf_counter() - started
    annotated: list[Suppression] = []
    if findings:

        def load() -> list[Suppression]:
            with paused_gc():
                bodies = SnapshotRepository(session).object_bodies(record.id)
            return annotation_suppressions(b for b in bodies if b.get("kind") in ANNOTATED_KINDS)

        # keyed by content: identical content has identical annotations
        annotated = _ANNOTATIONS.get_or_compute(record.content_hash, load)[0]
    kept, dropped = suppress(findings, [*wanted, *annotated])
    return LintReport(kept, dropped, {}, seconds)
