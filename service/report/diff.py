"""Semantic diffs as JSON (the API shape, streamed); the markdown comment for review bots is
:mod:`service.report.comment` (re-exported here).

Every connection change carries ``causes``: the object changes that produced it
(``{"kind": "policy-edited", "object": {...}, "details": ["ingress rule 1 peer 0"]}``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from service.engine.diff import (
    Causes,
    ChangedRows,
    ConnectivityDiff,
    ObjectDiff,
    Rows,
    SemanticDiff,
)
from service.report.comment import GITHUB_COMMENT_LIMIT, MARKER, render_markdown
from service.report.endpoints import endpoint_to_api
from service.report.sides import DiffSide

CHUNK_ROWS = 5000

__all__ = [
    "GITHUB_COMMENT_LIMIT",
    "MARKER",
    "DiffSide",
    "diff_to_api",
    "iter_diff_json",
    "objects_to_api",
    "render_markdown",
    "summary",
]


# --------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _dumps_fast(value: Any) -> str:
    """:func:`_dumps` through orjson (a tenth of the time per small value): the same text
    for ASCII, which names and addresses are; anything else goes through json."""
    text = orjson.dumps(value).decode()
    return text if text.isascii() else _dumps(value)


def summary(diff: SemanticDiff) -> dict[str, Any]:
    return {
        "connections": diff.connections.counts(),
        "objects": diff.objects.counts(),
        "highlights": diff.connections.highlights.counts(),
        "via_services": len(diff.services),
    }


def service_changes_to_api(diff: SemanticDiff) -> list[dict[str, Any]]:
    """Clients whose reach into a retargeted Service changed (the Service's ports)."""
    return [
        {
            "from": change.source.to_api(),
            "to": change.service.to_api(),
            "before": change.before.to_api(),
            "after": change.after.to_api(),
            "causes": [c.to_api() for c in change.causes],
        }
        for change in diff.services
    ]


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
    """Each endpoint, port set and cause set of a diff encoded once."""

    def __init__(self, diff: ConnectivityDiff, causes: Causes) -> None:
        self.endpoints = [_dumps_fast(endpoint_to_api(e)) for e in diff.endpoints]
        self.portsets = [_dumps(p.to_api()) for p in diff.portsets]
        self.causes = [_dumps([c.to_api() for c in found]) for found in causes.sets]

    def rows(self, rows: Rows, causes: Sequence[int] | None = None) -> Iterator[str]:
        e, p = self.endpoints, self.portsets
        rows_iter = zip(rows.sources.tolist(), rows.targets.tolist(), rows.ports.tolist(),
                        strict=True)  # fmt: skip
        if causes is None:
            for s, t, q in rows_iter:
                yield f'{{"from":{e[s]},"to":{e[t]},"ports":{p[q]}}}'
            return
        c = self.causes
        for (s, t, q), why in zip(rows_iter, causes, strict=True):
            yield f'{{"from":{e[s]},"to":{e[t]},"ports":{p[q]},"causes":{c[why]}}}'

    def changed(self, rows: ChangedRows, causes: Sequence[int]) -> Iterator[str]:
        e, p, c = self.endpoints, self.portsets, self.causes
        for s, t, b, a, why in zip(
            rows.sources.tolist(),
            rows.targets.tolist(),
            rows.before.tolist(),
            rows.after.tolist(),
            causes,
            strict=True,
        ):
            yield (
                f'{{"from":{e[s]},"to":{e[t]},"before":{p[b]},"after":{p[a]},"causes":{c[why]}}}'
            )

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
    as text chunks (a diff of millions of connections streams). Each connection change
    carries its ``causes``."""
    conn = diff.connections
    why = diff.why
    enc = _Encoded(conn, why)
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
        f',"narrowed_egress":{enc.endpoint_list(h.narrowed_egress)}'
        f',"lost_dns":{enc.endpoint_list(h.lost_dns)}}},"connections":{{"added":'
    )
    yield from _array(enc.rows(conn.added, why.added.tolist()))
    yield ',"removed":'
    yield from _array(enc.rows(conn.removed, why.removed.tolist()))
    yield ',"changed":'
    yield from _array(enc.changed(conn.changed, why.changed.tolist()))
    yield f',"via_services":{_dumps(service_changes_to_api(diff))}'
    dns = diff.depends_on_dns
    if dns is not None:  # only with domainNames rules: what DNS decides, and how it changed
        plain = _Encoded(dns, Causes.none(dns))
        yield ',"depends_on_dns":{"added":'
        yield from _array(plain.rows(dns.added))
        yield ',"removed":'
        yield from _array(plain.rows(dns.removed))
        yield ',"changed":'
        yield from _array(plain.changed(dns.changed, [0] * len(dns.changed)))
        yield "}"
    yield f'}},"objects":{_dumps(objects_to_api(diff.objects))}}}\n'


def diff_to_api(diff: SemanticDiff, base: DiffSide, head: DiffSide) -> dict[str, Any]:
    """The JSON as one value (small diffs, tests)."""
    value: dict[str, Any] = json.loads("".join(iter_diff_json(diff, base, head)))
    return value
