"""Lint manifests (the CLI), apply suppressions, render; stored snapshots: :mod:`lint_stored`.

Suppressions come from the caller (``CODE`` or ``CODE:namespace/name``, see
:mod:`service.engine.lint.suppress`) and from the objects themselves: an annotation
``netreach.io/lint-ignore: NR003,NR005`` (or ``*``) on an object suppresses those codes for
findings that involve it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.engine.collector import paused_gc
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.lint import CHECKS_BY_CODE, Finding, Severity, Suppression, lint, suppress
from service.engine.model import WORKLOAD_KINDS, ObjectRef, Origin
from service.engine.options import AnalysisOptions
from service.report.formats import FailOn, LintFormat
from service.report.lint import (
    findings_to_api,
    findings_to_markdown,
    findings_to_sarif,
    findings_to_text,
)
from service.usecases.errors import InvalidQueryError
from service.usecases.manifests import Manifests

IGNORE_ANNOTATION = "netreach.io/lint-ignore"
ANNOTATED_KINDS = ("NetworkPolicy", "Service", "Namespace", "Pod", *WORKLOAD_KINDS)


@dataclass(frozen=True, slots=True)
class LintReport:
    findings: list[Finding]
    suppressed: list[Finding] = field(default_factory=list)
    origins: dict[ObjectRef, Origin] = field(default_factory=dict)
    seconds: float = 0.0

    def fails(self, fail_on: FailOn) -> bool:
        """Whether any finding is at or above ``fail_on`` (CI gates)."""
        if fail_on is FailOn.NONE:
            return False
        threshold = Severity(fail_on.value).rank
        return any(f.severity.rank >= threshold for f in self.findings)

    def to_api(self) -> dict[str, Any]:
        return findings_to_api(self.findings, self.origins, suppressed=len(self.suppressed))

    def render(self, output_format: LintFormat, *, base: Path | None = None) -> str:
        suppressed = len(self.suppressed)
        if output_format is LintFormat.JSON:
            return json.dumps(self.to_api(), indent=2) + "\n"
        if output_format is LintFormat.SARIF:
            sarif = findings_to_sarif(self.findings, self.origins, base=base)
            return json.dumps(sarif, indent=2) + "\n"
        if output_format is LintFormat.MD:
            return findings_to_markdown(self.findings, self.origins, suppressed=suppressed)
        return findings_to_text(self.findings, self.origins, suppressed=suppressed)


def parse_suppressions(texts: Iterable[str]) -> list[Suppression]:
    """``--suppress`` / ``suppress=`` values; several may be given comma-separated."""
    out: list[Suppression] = []
    for text in texts:
        for part in text.split(","):
            if not part.strip():
                continue
            try:
                out.append(Suppression.parse(part))
            except ValueError as error:
                raise InvalidQueryError(str(error), [{"field": "suppress"}]) from error
    return out


def _annotation_codes(value: object) -> list[str]:
    if not isinstance(value, str):
        return []
    codes = [c.strip().upper() for c in value.split(",") if c.strip()]
    return ["*" if c in ("*", "ALL") else c for c in codes]


def annotation_suppressions(bodies: Iterable[dict[str, Any]]) -> list[Suppression]:
    """Suppressions from ``netreach.io/lint-ignore`` annotations on the objects."""
    out: list[Suppression] = []
    for body in bodies:
        metadata = body.get("metadata")
        if not isinstance(metadata, dict):
            continue
        annotations = metadata.get("annotations")
        if not isinstance(annotations, dict) or IGNORE_ANNOTATION not in annotations:
            continue
        kind = str(body.get("kind", ""))
        name = str(metadata.get("name", ""))
        namespace = "" if kind == "Namespace" else str(metadata.get("namespace") or "default")
        ref = ObjectRef(kind, namespace, name)
        for code in _annotation_codes(annotations[IGNORE_ANNOTATION]):
            if code == "*" or code in CHECKS_BY_CODE:
                out.append(Suppression(code, ref=ref))
    return out


def _origins(manifests: Manifests) -> dict[ObjectRef, Origin]:
    origins = dict(manifests.parsed.refs)
    # a workload known only through its pods is located at its first pod
    for pod in manifests.cluster.pods:
        if pod.workload is not None and pod.workload not in origins:
            origin = origins.get(pod.ref)
            if origin is not None:
                origins[pod.workload] = origin
    return origins


def lint_manifests(
    manifests: Manifests,
    options: AnalysisOptions | None = None,
    suppressions: Sequence[str] = (),
    deadline: Deadline = NO_DEADLINE,
) -> LintReport:
    """Lint manifests read from files (findings located at file and line)."""
    wanted = parse_suppressions(suppressions)
    compiled = manifests.compile(options, deadline)
    started = time.perf_counter()
    with paused_gc():  # many small objects, none cyclic: spare the collector's passes
        findings = lint(compiled, deadline=deadline)
    seconds = time.perf_counter() - started
    annotated = annotation_suppressions(
        d.body for d in manifests.documents if d.body.get("kind") in ANNOTATED_KINDS
    )
    kept, dropped = suppress(findings, [*wanted, *annotated])
    return LintReport(kept, dropped, _origins(manifests), seconds)
