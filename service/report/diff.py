"""Semantic diffs as JSON (the API shape, streamed) and as markdown for review bots.

Markdown: one summary line, then the highlights, the object changes and the connection
changes as tables inside collapsible ``<details>``, in a stable order, and never longer than
GitHub's 65,536-character comment limit: a table that does not fit ends with "and N more".
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.engine.diff import ChangedRows, ConnectivityDiff, ObjectDiff, Rows, SemanticDiff
from service.report.endpoints import endpoint_label, endpoint_to_api

GITHUB_COMMENT_LIMIT = 65_536
CHUNK_ROWS = 5000
HIGHLIGHT_ROWS = 100  # rows per highlight table before "and N more"
TABLE_ROWS = 300  # rows per connection or object table before "and N more"
_RESERVE = 2_500  # room kept for every closing line after the table being written
MARKER = "<!-- netreach-diff -->"  # lets a bot find and update its own comment


@dataclass(frozen=True, slots=True)
class DiffSide:
    """What one side of a diff is: a label for people, details for machines."""

    label: str
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def summary(diff: SemanticDiff) -> dict[str, Any]:
    return {
        "connections": diff.connections.counts(),
        "objects": diff.objects.counts(),
        "highlights": diff.connections.highlights.counts(),
    }


def objects_to_api(objects: ObjectDiff) -> dict[str, Any]:
    return {
        "added": [k.to_api() for k in objects.added],
        "removed": [k.to_api() for k in objects.removed],
        "changed": [
            {**c.key.to_api(), "fields": list(c.fields), **({"more_fields": c.more_fields}
                                                            if c.more_fields else {})}
            for c in objects.changed
        ],
    }  # fmt: skip


class _Encoded:
    """Each endpoint and port set of a diff encoded once."""

    def __init__(self, diff: ConnectivityDiff) -> None:
        self.endpoints = [_dumps(endpoint_to_api(e)) for e in diff.endpoints]
        self.portsets = [_dumps(p.to_api()) for p in diff.portsets]

    def rows(self, rows: Rows) -> Iterator[str]:
        e, p = self.endpoints, self.portsets
        for s, t, q in zip(
            rows.sources.tolist(), rows.targets.tolist(), rows.ports.tolist(), strict=True
        ):
            yield f'{{"from":{e[s]},"to":{e[t]},"ports":{p[q]}}}'

    def changed(self, rows: ChangedRows) -> Iterator[str]:
        e, p = self.endpoints, self.portsets
        for s, t, b, a in zip(
            rows.sources.tolist(),
            rows.targets.tolist(),
            rows.before.tolist(),
            rows.after.tolist(),
            strict=True,
        ):
            yield f'{{"from":{e[s]},"to":{e[t]},"before":{p[b]},"after":{p[a]}}}'

    def endpoint_list(self, ids: Sequence[int]) -> str:
        return "[" + ",".join(self.endpoints[i] for i in ids) + "]"


def _array(items: Iterator[str]) -> Iterator[str]:
    yield "["
    batch: list[str] = []
    first = True
    for item in items:
        batch.append(item)
        if len(batch) == CHUNK_ROWS:
            yield ("" if first else ",") + ",".join(batch)
            first, batch = False, []
    if batch:
        yield ("" if first else ",") + ",".join(batch)
    yield "]"


def iter_diff_json(diff: SemanticDiff, base: DiffSide, head: DiffSide) -> Iterator[str]:
    """``{"base", "head", "granularity", "summary", "highlights", "connections", "objects"}``
    as text chunks (a diff of millions of connections streams)."""
    conn = diff.connections
    enc = _Encoded(conn)
    h = conn.highlights
    yield (
        f'{{"base":{_dumps(base.info)},"head":{_dumps(head.info)},'
        f'"granularity":{_dumps(conn.granularity.value)},"summary":{_dumps(summary(diff))},'
        '"highlights":{"external_exposure":'
    )
    yield from _array(enc.rows(h.external_exposure))
    yield ',"cross_namespace":'
    yield from _array(enc.rows(h.cross_namespace))
    yield (
        f',"lost_ingress":{enc.endpoint_list(h.lost_ingress)}'
        f',"lost_egress":{enc.endpoint_list(h.lost_egress)}'
        f',"lost_dns":{enc.endpoint_list(h.lost_dns)}}},"connections":{{"added":'
    )
    yield from _array(enc.rows(conn.added))
    yield ',"removed":'
    yield from _array(enc.rows(conn.removed))
    yield ',"changed":'
    yield from _array(enc.changed(conn.changed))
    yield f'}},"objects":{_dumps(objects_to_api(diff.objects))}}}\n'


def diff_to_api(diff: SemanticDiff, base: DiffSide, head: DiffSide) -> dict[str, Any]:
    """The JSON as one value (small diffs, tests)."""
    value: dict[str, Any] = json.loads("".join(iter_diff_json(diff, base, head)))
    return value


# --------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def summary_line(diff: SemanticDiff, base: DiffSide, head: DiffSide) -> str:
    conn, objects = diff.connections, diff.objects
    c, o = conn.counts(), objects.counts()
    h = conn.highlights.counts()
    if conn.is_empty:
        connections = "no change in connectivity"
    else:
        connections = (
            f"{_plural(c['added'], 'connection')} added, {c['removed']} removed, "
            f"{c['changed']} changed"
        )
    parts = [
        f"**netreach**: `{base.label}` → `{head.label}` ({conn.granularity.value} "
        f"granularity): {connections}",
        f"objects {o['added']} added, {o['removed']} removed, {o['changed']} changed",
    ]
    alerts = [
        (h["external_exposure"], "newly reachable from outside the cluster"),
        (
            h["cross_namespace"],
            "new cross-namespace path" + ("" if h["cross_namespace"] == 1 else "s"),
        ),
        (h["lost_ingress"], "lost all ingress"),
        (h["lost_egress"], "lost all egress"),
        (h["lost_dns"], "lost DNS"),
    ]
    found = [f"{n} {text}" for n, text in alerts if n]
    line = "; ".join(parts)
    if found:
        line += ". **Attention:** " + ", ".join(found)
    return line + "."


class _Writer:
    """Markdown under a character budget: tables stop with "and N more" when full."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.used = 0

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.used += len(text)

    def fits(self, text: str) -> bool:
        return self.used + len(text) + _RESERVE <= self.limit

    def table(self, header: str, rows: Iterator[str], total: int, cap: int) -> None:
        self.write(header)
        shown = 0
        for row in rows:
            if shown >= cap or not self.fits(row):
                break
            self.write(row)
            shown += 1
        if shown < total:
            self.write(f"\n_… and {total - shown} more_\n")

    def text(self) -> str:
        return "".join(self.parts)


def _connection_rows(conn: ConnectivityDiff, rows: Rows) -> Iterator[str]:
    labels = conn.endpoints
    for s, t, p in zip(
        rows.sources.tolist(), rows.targets.tolist(), rows.ports.tolist(), strict=True
    ):
        yield (
            f"| {_cell(endpoint_label(labels[s]))} | {_cell(endpoint_label(labels[t]))} "
            f"| {_cell(str(conn.portsets[p]))} |\n"
        )


def _changed_rows(conn: ConnectivityDiff) -> Iterator[str]:
    rows = conn.changed
    labels = conn.endpoints
    for s, t, b, a in zip(
        rows.sources.tolist(),
        rows.targets.tolist(),
        rows.before.tolist(),
        rows.after.tolist(),
        strict=True,
    ):
        yield (
            f"| {_cell(endpoint_label(labels[s]))} | {_cell(endpoint_label(labels[t]))} "
            f"| {_cell(str(conn.portsets[b]))} | {_cell(str(conn.portsets[a]))} |\n"
        )


def _endpoint_rows(conn: ConnectivityDiff, ids: Sequence[int]) -> Iterator[str]:
    for i in ids:
        yield f"- `{endpoint_label(conn.endpoints[i])}`\n"


def _object_rows(objects: ObjectDiff) -> Iterator[str]:
    for key in objects.added:
        yield f"| added | {key.kind} | {key.namespace or ''} | {key.name} | |\n"
    for key in objects.removed:
        yield f"| removed | {key.kind} | {key.namespace or ''} | {key.name} | |\n"
    for change in objects.changed:
        key = change.key
        fields = ", ".join(f"`{_cell(f)}`" for f in change.fields)
        if change.more_fields:
            fields += f" and {change.more_fields} more"
        yield f"| changed | {key.kind} | {key.namespace or ''} | {key.name} | {fields} |\n"


def render_markdown(
    diff: SemanticDiff,
    base: DiffSide,
    head: DiffSide,
    *,
    limit: int = GITHUB_COMMENT_LIMIT,
) -> str:
    """The PR comment: at most ``limit`` characters."""
    conn, objects = diff.connections, diff.objects
    h = conn.highlights
    out = _Writer(limit)
    out.write(f"{MARKER}\n{summary_line(diff, base, head)}\n")

    ports_header = "| from | to | ports |\n| --- | --- | --- |\n"
    if len(h.external_exposure):
        out.write(
            f"\n#### Newly reachable from outside the cluster ({len(h.external_exposure)})\n\n"
        )
        out.table(
            "| from | to | ports gained |\n| --- | --- | --- |\n",
            _connection_rows(conn, h.external_exposure),
            len(h.external_exposure),
            HIGHLIGHT_ROWS,
        )
    if len(h.cross_namespace):
        out.write(f"\n#### New cross-namespace paths ({len(h.cross_namespace)})\n\n")
        out.table(
            ports_header,
            _connection_rows(conn, h.cross_namespace),
            len(h.cross_namespace),
            HIGHLIGHT_ROWS,
        )
    for title, ids in (
        ("Lost all ingress", h.lost_ingress),
        ("Lost all egress", h.lost_egress),
        ("Lost DNS (UDP/TCP 53 to kube-dns)", h.lost_dns),
    ):
        if ids:
            out.write(f"\n#### {title} ({len(ids)})\n\n")
            out.table("", _endpoint_rows(conn, ids), len(ids), HIGHLIGHT_ROWS)

    sections: list[tuple[str, str, Iterator[str], int]] = [
        ("Connections added", ports_header, _connection_rows(conn, conn.added), len(conn.added)),
        (
            "Connections removed",
            ports_header,
            _connection_rows(conn, conn.removed),
            len(conn.removed),
        ),
        (
            "Connections changed",
            "| from | to | before | after |\n| --- | --- | --- | --- |\n",
            _changed_rows(conn),
            len(conn.changed),
        ),
        (
            "Objects changed",
            "| change | kind | namespace | name | fields |\n| --- | --- | --- | --- | --- |\n",
            _object_rows(objects),
            sum(objects.counts().values()),
        ),
    ]
    for title, header, rows, total in sections:
        if not total:
            continue
        out.write(f"\n<details><summary>{title} ({total})</summary>\n\n")
        out.table(header, rows, total, TABLE_ROWS)
        out.write("\n</details>\n")
    text = out.text()
    assert len(text) <= limit, "the markdown budget was overrun"
    return text
