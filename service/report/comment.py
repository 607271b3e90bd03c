"""The pull-request comment: a semantic diff as markdown a reviewer reads in ten seconds.

Order: one summary line; the highlights (each a table with the objects that caused it) and a
legend defining them; the connection changes grouped by cause ("`shop/NetworkPolicy/web`
(edited: ingress rule 1 peer 0): opened 3 connections"); the objects changed.

The comment never exceeds ``limit`` characters (GitHub's limit is 65,536). The budget is
shared between the sections: each gets an equal share of what is left, and a section that
needs less gives the rest back (water-filling), so every section keeps its first rows, in
a stable order, however large the change. What is cut says how many rows and where the
full report is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.engine.diff import (
    Cause,
    CauseSet,
    ConnectivityDiff,
    ObjectDiff,
    SemanticDiff,
    merge_causes,
)
from service.engine.diff.causes import CauseKind
from service.engine.diff.objects import ObjectKey
from service.engine.model import AddressRange, PortSet
from service.report.endpoints import endpoint_label
from service.report.sides import DiffSide

GITHUB_COMMENT_LIMIT = 65_536
MARKER = "<!-- netreach-diff -->"  # lets a bot find and update its own comment
ROWS_PER_SECTION = 300  # rows rendered per section before the budget is shared
ROWS_UNLIMITED = 10_000  # per section when there is no limit (the full report)
MAX_CAUSE_GROUPS = 30  # cause groups shown; the others are counted
CAUSES_PER_CELL = 2
DEFAULT_FULL_REPORT = "the JSON report (`netreach diff ... --format json`)"

# The highlights, in the order they are shown: (key, title, name in the legend, definition).
HIGHLIGHTS: tuple[tuple[str, str, str, str], ...] = (
    ("external_exposure", "Newly reachable from outside the cluster",
     "newly reachable from outside",
     "a cluster endpoint that gained ports from addresses outside the cluster (counted "
     "once per endpoint, whatever the address ranges)"),
    ("cross_namespace", "New cross-namespace paths", "new cross-namespace path",
     "a connection added between endpoints of two different namespaces"),
    ("lost_ingress", "Lost all ingress", "lost all ingress",
     "an endpoint that accepted connections before and accepts none now"),
    ("lost_egress", "Lost all egress", "lost all egress",
     "an endpoint that could open connections before and can open none now"),
    ("lost_dns", "Lost DNS", "lost DNS",
     "an endpoint that could reach the cluster DNS (pods labelled `k8s-app=kube-dns`) on "
     "UDP 53 or on TCP 53 and lost either one"),
    ("narrowed_egress", "Narrowed egress", "narrowed egress",
     "an endpoint that lost some of its egress (a peer, or some ports) but not all of it"),
)  # fmt: skip


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def summary_line(diff: SemanticDiff, base: DiffSide, head: DiffSide) -> str:
    conn, objects = diff.connections, diff.objects
    c, o = conn.counts(), objects.counts()
    h = conn.highlights.counts()
    if conn.is_empty and not diff.services:
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
    if diff.services:
        parts.insert(1, f"{_plural(len(diff.services), 'client')} reach a retargeted Service "
                        "differently")  # fmt: skip
    if diff.depends_on_dns is not None and not diff.depends_on_dns.is_empty:
        dns = sum(diff.depends_on_dns.counts().values())
        parts.insert(1, f"{_plural(dns, 'connection change')} that only DNS decides")
    alerts = [
        (h["external_exposure"], "newly reachable from outside the cluster"),
        (
            h["cross_namespace"],
            "new cross-namespace path" + ("" if h["cross_namespace"] == 1 else "s"),
        ),
        (h["lost_ingress"], "lost all ingress"),
        (h["lost_egress"], "lost all egress"),
        (h["lost_dns"], "lost DNS"),
        (h["narrowed_egress"], "narrowed egress"),
    ]
    found = [f"{n} {text}" for n, text in alerts if n]
    line = "; ".join(parts)
    if found:
        line += ". **Attention:** " + ", ".join(found)
    return line + "."


def cause_text(cause: Cause) -> str:
    """``\\`shop/NetworkPolicy/web\\` (edited: ingress rule 1 peer 0)``."""
    what = cause.kind.verb
    if cause.details:
        shown = ", ".join(cause.details[:3])
        more = len(cause.details) - 3
        what += f": {shown}" + (f" and {more} more" if more > 0 else "")
    return f"`{cause.label}` ({what})"


def _causes_cell(causes: Sequence[Cause]) -> str:
    if not causes:
        return "—"
    shown = "; ".join(cause_text(c) for c in causes[:CAUSES_PER_CELL])
    more = len(causes) - CAUSES_PER_CELL
    return _cell(shown + (f" and {more} more" if more > 0 else ""))


# --------------------------------------------------------------------------------------
# Sections under a shared budget
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Section:
    """A heading, a table header, rendered rows (the first of ``total``) and a closing."""

    head: str
    rows: list[str]
    total: int
    tail: str = ""
    shown: int = 0

    def cut_line(self, count: int) -> str:
        return f"\n_… and {count} more, in the full report_\n"

    @property
    def fixed(self) -> int:
        return len(self.head) + len(self.tail) + len(self.cut_line(self.total))

    @property
    def need(self) -> int:
        return sum(len(r) for r in self.rows)

    def take(self, budget: int) -> None:
        used = 0
        for index, row in enumerate(self.rows):
            if used + len(row) > budget:
                self.shown = index
                return
            used += len(row)
        self.shown = len(self.rows)

    def text(self) -> str:
        cut = self.total - self.shown
        return self.head + "".join(self.rows[: self.shown]) + (self.cut_line(cut) if cut else "")  \
            + self.tail  # fmt: skip


def _share(sections: Sequence[_Section], budget: int) -> None:
    """Water-filling: each section gets min(its need, an equal share of what is left)."""
    left = budget
    pending = sorted(sections, key=lambda s: s.need)
    for index, section in enumerate(pending):
        share = max(left, 0) // (len(pending) - index)
        give = min(section.need, share)
        section.take(give)
        left -= sum(len(r) for r in section.rows[: section.shown])


# --------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------


class _Lookups:
    """Cause sets by connection and by endpoint, for the highlight tables."""

    def __init__(self, diff: SemanticDiff) -> None:
        self.conn = diff.connections
        self.why = diff.why
        self.sets = self.why.sets
        self._pairs: dict[tuple[int, int], int] | None = None

    def pair(self, source: int, target: int) -> CauseSet:
        conn, why = self.conn, self.why
        if self._pairs is None:  # built once: highlight tables look up many rows
            self._pairs = {}
            for rows, ids in ((conn.changed, why.changed), (conn.added, why.added)):
                keys = zip(rows.sources.tolist(), rows.targets.tolist(), strict=True)
                self._pairs.update(zip(keys, ids.tolist(), strict=True))
        found = self._pairs.get((source, target))
        if found is not None:
            return self.sets[found]
        return self._union(
            (conn.added.targets == target) & (conn.added.sources != source), why.added,
            (conn.changed.targets == target), why.changed,
        )  # fmt: skip

    def losing(self, endpoint: int, outgoing: bool, dns_only: bool = False) -> CauseSet:
        conn, why = self.conn, self.why
        own_removed = conn.removed.sources if outgoing else conn.removed.targets
        own_changed = conn.changed.sources if outgoing else conn.changed.targets
        removed = own_removed == endpoint
        changed = own_changed == endpoint
        if dns_only:
            dns = np.array([_serves_dns(p) for p in conn.portsets] or [False], dtype=bool)
            removed &= dns[conn.removed.ports]
            changed &= dns[conn.changed.before]
        return self._union(removed, why.removed, changed, why.changed)

    def _union(self, *pairs: object) -> CauseSet:
        found: list[Cause] = []
        for mask, ids in zip(pairs[::2], pairs[1::2], strict=True):
            for index in np.unique(ids[mask]).tolist():  # type: ignore[index]
                found += self.sets[index]
        return merge_causes(found)


def _serves_dns(ports: PortSet) -> bool:
    return ports.contains("UDP", 53) or ports.contains("TCP", 53)


def _label(conn: ConnectivityDiff, index: int) -> str:
    return _cell(endpoint_label(conn.endpoints[index]))


def _highlight_sections(diff: SemanticDiff, cap: int) -> list[_Section]:
    conn = diff.connections
    h = conn.highlights
    lookups = _Lookups(diff)
    counts = h.counts()
    sections: list[_Section] = []
    for key, title, _, _ in HIGHLIGHTS:
        if not counts[key]:
            continue
        head = f"\n#### {title} ({counts[key]})\n\n"
        rows: list[str] = []
        total = counts[key]
        if key in ("external_exposure", "cross_namespace"):
            table = h.external_exposure if key == "external_exposure" else h.cross_namespace
            total = len(table)
            columns = "| from | to | ports gained | because |" if key == "external_exposure" \
                else "| from | to | ports | because |"  # fmt: skip
            head += columns + "\n| --- | --- | --- | --- |\n"
            for s, t, p in list(zip(table.sources.tolist(), table.targets.tolist(),
                                    table.ports.tolist(), strict=True))[:cap]:  # fmt: skip
                rows.append(
                    f"| {_label(conn, s)} | {_label(conn, t)} | {_cell(str(conn.portsets[p]))} "
                    f"| {_causes_cell(lookups.pair(s, t))} |\n"
                )
        else:
            ids: tuple[int, ...] = getattr(h, key)
            head += "| endpoint | because |\n| --- | --- |\n"
            outgoing = key != "lost_ingress"
            for index in ids[:cap]:
                causes = lookups.losing(index, outgoing, dns_only=key == "lost_dns")
                rows.append(f"| {_label(conn, index)} | {_causes_cell(causes)} |\n")
        sections.append(_Section(head, rows, total))
    dns = _dns_section(diff, cap)
    if dns is not None:
        sections.append(dns)
    return sections


def _dns_section(diff: SemanticDiff, cap: int) -> _Section | None:
    """Connections only DNS decides (ClusterNetworkPolicy domainNames), as they changed."""
    dns = diff.depends_on_dns
    if dns is None or dns.is_empty:
        return None
    rows: list[str] = []
    for word, table in (("now", dns.added), ("no longer", dns.removed)):
        columns = (table.sources.tolist(), table.targets.tolist(), table.ports.tolist())
        for s, t, p in zip(*columns, strict=True):
            ports = _cell(str(dns.portsets[p]))
            rows.append(f"| {word} | {_label(dns, s)} | {_label(dns, t)} | {ports} |\n")
    changed = dns.changed
    ends = (changed.sources.tolist(), changed.targets.tolist())
    for s, t, b, a in zip(*ends, changed.before.tolist(), changed.after.tolist(), strict=True):
        ports = _cell(f"{dns.portsets[b]} → {dns.portsets[a]}")
        rows.append(f"| changed | {_label(dns, s)} | {_label(dns, t)} | {ports} |\n")
    head = (
        f"\n#### Depends on DNS ({len(rows)})\n\n"
        "Only a ClusterNetworkPolicy `domainNames` rule decides these ports: neither allowed "
        "nor denied by the manifests.\n\n"
        "| depends on DNS | from | to | ports |\n| --- | --- | --- | --- |\n"
    )
    return _Section(head, rows[:cap], len(rows))


def _legend(diff: SemanticDiff) -> str:
    counts = diff.connections.highlights.counts()
    items = [f"**{name}**: {text}" for key, _, name, text in HIGHLIGHTS if counts[key]]
    if not items:
        return ""
    return "\n<sub>Legend — " + "; ".join(items) + ".</sub>\n"


@dataclass(slots=True)
class _Group:
    cause: Cause | None  # None: changes no object change explains
    rows: list[tuple[int, int]]  # (category, row), the first ``cap``
    counts: list[int]  # added, removed, changed

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def title(self) -> str:
        return "Not explained by an object change" if self.cause is None \
            else cause_text(self.cause)  # fmt: skip


def _groups(diff: SemanticDiff, cap: int) -> list[_Group]:
    """One group per object change (a connection with two causes is in both), the one with
    most connections first; details united over the group's connections."""
    why = diff.why
    by_cause: dict[tuple[ObjectKey, CauseKind] | None, list[int]] = {}
    details: dict[tuple[ObjectKey, CauseKind], list[Cause]] = {}
    for index, found in enumerate(why.sets):
        for cause in found or (None,):
            key = None if cause is None else (cause.object, cause.kind)
            by_cause.setdefault(key, []).append(index)
            if cause is not None and key is not None:
                details.setdefault(key, []).append(cause)
    services: dict[tuple[ObjectKey, CauseKind], list[int]] = {}
    for index, change in enumerate(diff.services):
        for cause in change.causes:
            services.setdefault((cause.object, cause.kind), []).append(index)
            details.setdefault((cause.object, cause.kind), []).append(cause)
    groups: list[_Group] = []
    categories = (why.added, why.removed, why.changed)
    for key in [*by_cause, *(k for k in services if k not in by_cause)]:
        wanted = np.asarray(by_cause.get(key, []), dtype=np.int64)
        counts: list[int] = []
        rows: list[tuple[int, int]] = []
        for category, ids in enumerate(categories):
            hits = np.flatnonzero(np.isin(ids, wanted))
            counts.append(len(hits))
            room = cap - len(rows)
            rows += [(category, int(r)) for r in hits[:room].tolist()] if room > 0 else []
        through = services.get(key, []) if key is not None else []
        counts.append(len(through))
        room = cap - len(rows)
        rows += [(3, r) for r in through[: max(room, 0)]]
        if sum(counts):
            cause = None if key is None else merge_causes(details[key])[0]
            groups.append(_Group(cause, rows, counts))
    refs = sum(1 for e in diff.connections.endpoints if not isinstance(e, AddressRange))
    groups.sort(key=lambda g: (g.cause is None, _urgency(diff, g, refs), -g.total, g.title))
    return groups


def _urgency(diff: SemanticDiff, group: _Group, refs: int) -> int:
    """0: the group opens connections from outside the cluster; 1: it closes or narrows
    connections (outages: lost DNS, lost egress); 2: the rest."""
    conn = diff.connections
    for category, row in group.rows:
        if category == 0 and int(conn.added.sources[row]) >= refs:
            return 0
        if category == 2 and int(conn.changed.sources[row]) >= refs:
            return 0
    return 1 if group.counts[1] or group.counts[2] else 2


def _said(category: int, count: int) -> str:
    """What a cause did to ``count`` rows of a category (added, removed, changed, Service)."""
    return (
        f"opened {_plural(count, 'connection')}",
        f"closed {_plural(count, 'connection')}",
        f"changed the ports of {_plural(count, 'connection')}",
        f"changed what {_plural(count, 'client')} reach through it",
    )[category]


def _group_section(diff: SemanticDiff, group: _Group) -> _Section:
    conn = diff.connections
    said = [_said(category, n) for category, n in enumerate(group.counts) if n]
    head = (
        f"\n**{group.title}**: {', '.join(said)}\n\n"
        f"<details><summary>{_plural(group.total, 'change')}</summary>\n\n"
        "| change | from | to | ports |\n| --- | --- | --- | --- |\n"
    )
    rows = []
    names = ("added", "removed", "changed", "via Service")
    for category, row in group.rows:
        if category == 3:
            change = diff.services[row]
            rows.append(
                f"| via Service | {_cell(str(change.source))} | {_cell(str(change.service))} "
                f"| {_cell(f'{change.before} → {change.after}')} |\n"
            )
            continue
        if category == 2:
            c = conn.changed
            s, t = int(c.sources[row]), int(c.targets[row])
            ports = f"{conn.portsets[int(c.before[row])]} → {conn.portsets[int(c.after[row])]}"
        else:
            r = conn.added if category == 0 else conn.removed
            s, t, ports = (
                int(r.sources[row]),
                int(r.targets[row]),
                str(conn.portsets[int(r.ports[row])]),
            )
        rows.append(
            f"| {names[category]} | {_label(conn, s)} | {_label(conn, t)} | {_cell(ports)} |\n"
        )
    return _Section(head, rows, group.total, "\n</details>\n")


def _object_rows(objects: ObjectDiff, cap: int) -> list[str]:
    rows = []
    for key in objects.added:
        rows.append(f"| added | {key.kind} | {key.namespace or ''} | {key.name} | |\n")
    for key in objects.removed:
        rows.append(f"| removed | {key.kind} | {key.namespace or ''} | {key.name} | |\n")
        if len(rows) >= cap:
            return rows[:cap]
    for change in objects.changed:
        if len(rows) >= cap:
            break
        key = change.key
        fields = ", ".join(f"`{_cell(f)}`" for f in change.fields)
        if change.more_fields:
            fields += f" and {change.more_fields} more"
        rows.append(f"| changed | {key.kind} | {key.namespace or ''} | {key.name} | {fields} |\n")
    return rows[:cap]


def render_markdown(
    diff: SemanticDiff,
    base: DiffSide,
    head: DiffSide,
    *,
    limit: int | None = GITHUB_COMMENT_LIMIT,
    full_report: str = DEFAULT_FULL_REPORT,
) -> str:
    """The PR comment: at most ``limit`` characters (None: the full report, every section
    up to ``ROWS_UNLIMITED`` rows). ``full_report`` says where a reader finds what is cut."""
    cap = ROWS_PER_SECTION if limit is not None else ROWS_UNLIMITED
    objects = diff.objects
    top = f"{MARKER}\n{summary_line(diff, base, head)}\n"
    highlights = _highlight_sections(diff, cap)
    legend = _legend(diff)
    groups = _groups(diff, cap)
    shown_groups = groups if limit is None else groups[:MAX_CAUSE_GROUPS]
    group_sections = [_group_section(diff, g) for g in shown_groups]
    hidden = groups[len(shown_groups) :]
    why_head = "\n### Why: connection changes by cause\n" if groups else ""
    if hidden:
        count = sum(g.total for g in hidden)
        why_tail = (f"\n_… and {_plural(len(hidden), 'more cause')} "
                    f"({_plural(count, 'connection change')}), in the full report_\n")  # fmt: skip
    else:
        why_tail = ""
    sections = [*highlights, *group_sections]
    object_total = sum(objects.counts().values())
    if object_total:
        sections.append(
            _Section(
                f"\n<details><summary>Objects changed ({object_total})</summary>\n\n"
                "| change | kind | namespace | name | fields |\n| --- | --- | --- | --- | --- |\n",
                _object_rows(objects, cap),
                object_total,
                "\n</details>\n",
            )
        )
    footer = (
        "\n_Tables that did not fit were cut (each says how many rows it left out"
        + (f"; GitHub comments are limited to {limit:,} characters" if limit else "")
        + f"): the full report is {full_report}._\n"
    )
    if limit is None:
        for section in sections:
            section.shown = len(section.rows)
    else:
        fixed = len(top) + len(legend) + len(why_head) + len(why_tail) + len(footer)
        fixed += sum(s.fixed for s in sections)
        _share(sections, limit - fixed)
    parts = [top, *(s.text() for s in highlights), legend, why_head]
    parts += [s.text() for s in group_sections]
    parts.append(why_tail)
    if object_total:
        parts.append(sections[-1].text())
    cut = sum(s.total - s.shown for s in sections) + sum(g.total for g in hidden)
    if cut:
        parts.append(footer)
    text = "".join(parts)
    assert limit is None or len(text) <= limit, "the markdown budget was overrun"
    return text
