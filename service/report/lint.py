"""Lint findings as JSON (the API shape), text (the CLI default), markdown (PR comments)
and SARIF 2.1.0 (code scanning).

``origins`` maps objects to where they were read (file and line); a finding is located at
the first of its objects that came from a file.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from service.engine.lint import CHECKS, Finding, Severity
from service.engine.model import ObjectRef, Origin

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
TOOL_NAME = "netreach"
TOOL_VERSION = "0.1.0"

Origins = Mapping[ObjectRef, Origin]


def locate(finding: Finding, origins: Origins) -> Origin | None:
    """Where the finding's first object read from a file came from, if any did."""
    for ref in finding.objects:
        origin = origins.get(ref)
        if origin is not None and origin.source is not None:
            return origin
    return None


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {s.value: counts.get(s, 0) for s in Severity}


# -- JSON -------------------------------------------------------------------------------


def finding_to_api(finding: Finding, origins: Origins | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "severity": finding.severity.value,
        "code": finding.code,
        "check": finding.check.name,
        "message": finding.message,
        "object": finding.object.to_api(),
        "objects": [ref.to_api() for ref in finding.objects],
        "suggestion": finding.suggestion,
    }
    if finding.field is not None:
        out["field"] = finding.field
    if finding.subject_count:
        out["affected"] = {
            "count": finding.subject_count,
            "sample": [ref.to_api() for ref in finding.subjects],
        }
    origin = locate(finding, origins or {})
    if origin is not None:
        out["location"] = {"file": origin.source, "document": origin.document}
        if origin.line is not None:
            out["location"]["line"] = origin.line
    return out


def findings_to_api(
    findings: Sequence[Finding], origins: Origins | None = None, *, suppressed: int = 0
) -> dict[str, Any]:
    """``{"findings": [...], "summary": {"error": n, "warning": n, "info": n},
    "suppressed": n}``."""
    return {
        "findings": [finding_to_api(f, origins) for f in findings],
        "summary": summary(findings),
        "suppressed": suppressed,
    }


# -- text and markdown ------------------------------------------------------------------


def _where(finding: Finding, origins: Origins) -> str:
    origin = locate(finding, origins)
    if origin is None:
        return ""
    return f"{origin.source}:{origin.line}" if origin.line is not None else f"{origin.source}"


def _totals(findings: Sequence[Finding], suppressed: int) -> str:
    counts = summary(findings)
    text = (
        f"{len(findings)} finding(s): {counts['error']} error(s), {counts['warning']} "
        f"warning(s), {counts['info']} info"
    )
    return text + (f"; {suppressed} suppressed" if suppressed else "")


def findings_to_text(
    findings: Sequence[Finding], origins: Origins | None = None, *, suppressed: int = 0
) -> str:
    origins = origins or {}
    lines: list[str] = []
    for f in findings:
        where = _where(f, origins)
        head = f"{f.severity.value} {f.code} {f.check.name}: {f.object}"
        lines.append(head + (f" ({where})" if where else ""))
        if f.field:
            lines.append(f"  at: {f.field}")
        lines.append(f"  {f.message}")
        lines.append(f"  fix: {f.suggestion}")
        if f.subject_count:
            more = f.subject_count - len(f.subjects)
            sample = ", ".join(str(s) for s in f.subjects) + (f" and {more} more" if more else "")
            lines.append(f"  affects: {sample}")
        lines.append("")
    lines.append(_totals(findings, suppressed))
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def findings_to_markdown(
    findings: Sequence[Finding], origins: Origins | None = None, *, suppressed: int = 0
) -> str:
    origins = origins or {}
    out = ["## NetworkPolicy lint", "", _totals(findings, suppressed), ""]
    if not findings:
        return "\n".join([*out, "No finding.", ""])
    icons = {Severity.ERROR: "🔴 error", Severity.WARNING: "🟠 warning", Severity.INFO: "🔵 info"}
    out += ["| Severity | Code | Object | Finding | Suggested fix |", "|---|---|---|---|---|"]
    for f in findings:
        where = _where(f, origins)
        obj = f"`{_md(str(f.object))}`" + (f"<br>{_md(where)}" if where else "")
        if f.field:
            obj += f"<br>`{_md(f.field)}`"
        out.append(
            f"| {icons[f.severity]} | {f.code} {f.check.name} | {obj} | {_md(f.message)} "
            f"| {_md(f.suggestion)} |"
        )
    return "\n".join([*out, ""])


# -- SARIF 2.1.0 ------------------------------------------------------------------------


def _uri(source: str, base: Path | None) -> str:
    """A relative URI when the file is under ``base`` (or given relative), else a file URI."""
    path = Path(source)
    if path.is_absolute():
        if base is not None:
            try:
                return quote(path.resolve().relative_to(base.resolve()).as_posix())
            except ValueError:
                pass
        return path.as_uri()
    return quote(PurePosixPath(*path.parts).as_posix())


def _logical(ref: ObjectRef) -> dict[str, Any]:
    if ref.kind == "Namespace":
        qualified = ref.name
    elif not ref.namespace:  # cluster-scoped (the admin-tier policies)
        qualified = f"{ref.kind}/{ref.name}"
    else:
        qualified = f"{ref.namespace}/{ref.kind}/{ref.name}"
    out: dict[str, Any] = {"name": ref.name, "fullyQualifiedName": qualified, "kind": ref.kind}
    if ref.namespace:
        out["properties"] = {"namespace": ref.namespace}
    return out


def _fingerprint(finding: Finding) -> str:
    key = "|".join([finding.code, *(str(r) for r in finding.objects), finding.field or ""])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def findings_to_sarif(
    findings: Sequence[Finding], origins: Origins | None = None, *, base: Path | None = None
) -> dict[str, Any]:
    """One SARIF run; results carry a file + line location when their object came from a
    file (relative to ``base`` when under it), and logical locations always."""
    origins = origins or {}
    index = {check.code: i for i, check in enumerate(CHECKS)}
    rules = [
        {
            "id": check.code,
            "name": "".join(part.capitalize() for part in check.name.split("-")),
            "shortDescription": {"text": check.summary},
            "fullDescription": {"text": check.help},
            "help": {"text": check.help},
            "defaultConfiguration": {"level": SARIF_LEVELS[check.severity]},
            "properties": {"tags": ["kubernetes", "networkpolicy"]},
        }
        for check in CHECKS
    ]
    results = []
    for f in findings:
        location: dict[str, Any] = {"logicalLocations": [_logical(r) for r in f.objects]}
        origin = locate(f, origins)
        if origin is not None and origin.source is not None:
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(origin.source, base)}}
            if origin.line is not None:
                physical["region"] = {"startLine": origin.line}
            location["physicalLocation"] = physical
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": SARIF_LEVELS[f.severity],
            "message": {"text": f"{f.message} Fix: {f.suggestion}"},
            "locations": [location],
            "partialFingerprints": {"netreachFinding/v1": _fingerprint(f)},
        }
        if f.field is not None:
            result["properties"] = {"field": f.field}
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": TOOL_VERSION,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
