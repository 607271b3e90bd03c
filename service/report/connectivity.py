"""Connectivity maps as JSON, CSV, markdown and DOT.

JSON is the API's ``{"connections": [{"from", "to", "ports"}]}``; it is written as text
chunks so a map of millions of connections streams without building one giant object. Each
endpoint and port set is encoded once (orjson), and a row is three precomputed pieces: the
``{"from":...,"to":`` of its source, its target, and the ``,"ports":...}`` of its ports.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import orjson

from service.engine.connectivity import ConnectivityMap
from service.report.endpoints import endpoint_label, endpoint_to_api

CHUNK_ROWS = 5000


def connections_to_api(
    cmap: ConnectivityMap, start: int = 0, stop: int | None = None
) -> list[dict[str, Any]]:
    return [
        {
            "from": endpoint_to_api(c.source),
            "to": endpoint_to_api(c.target),
            "ports": c.ports.to_api(),
        }
        for c in cmap.connections(start, stop)
    ]


def _dumps(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"))``, byte for byte, through orjson.

    The two agree on printable ASCII and on the short escapes (``\\"``, ``\\\\``,
    ``\\n``, ...); json escapes non-ASCII and DEL as ``\\uXXXX`` where orjson writes the
    character, so any output holding those, or a ``\\u`` escape, is left to json.
    """
    dumped = orjson.dumps(value)
    if dumped.isascii() and b"\\u" not in dumped and b"\x7f" not in dumped:
        return dumped.decode("ascii")
    return json.dumps(value, separators=(",", ":"))


def _pieces(cmap: ConnectivityMap) -> tuple[list[str], list[str], list[str]]:
    """The text before each source's target, each endpoint's JSON, the text after a target
    for each port set: a row is ``heads[source] + endpoints[target] + tails[ports]``."""
    endpoints = [_dumps(endpoint_to_api(e)) for e in cmap.endpoints]
    heads = [f'{{"from":{e},"to":' for e in endpoints]
    tails = [f',"ports":{_dumps(p.to_api())}}}' for p in cmap.portsets]
    return heads, endpoints, tails


def _rows(cmap: ConnectivityMap, start: int, stop: int | None) -> Iterator[tuple[int, int, int]]:
    return zip(
        cmap.sources[start:stop].tolist(),
        cmap.targets[start:stop].tolist(),
        cmap.ports[start:stop].tolist(),
        strict=True,
    )


def iter_connections_json(
    cmap: ConnectivityMap, start: int = 0, stop: int | None = None
) -> Iterator[str]:
    """The JSON text of each connection."""
    heads, endpoints, tails = _pieces(cmap)
    for s, t, p in _rows(cmap, start, stop):
        yield heads[s] + endpoints[t] + tails[p]


def iter_map_json(cmap: ConnectivityMap, extra: dict[str, Any] | None = None) -> Iterator[str]:
    """``{"connections": [...]}`` (plus ``extra`` keys first) as text chunks of
    ``CHUNK_ROWS`` connections."""
    head = "{" + "".join(f"{_dumps(k)}:{_dumps(v)}," for k, v in (extra or {}).items())
    yield head + '"connections":['
    heads, endpoints, tails = _pieces(cmap)
    for start in range(0, len(cmap), CHUNK_ROWS):
        rows = _rows(cmap, start, start + CHUNK_ROWS)
        text = ",".join([heads[s] + endpoints[t] + tails[p] for s, t, p in rows])
        yield text if start == 0 else "," + text
    dns = cmap.depends_on_dns
    if dns is None:
        yield "]}\n"
        return
    yield '],"depends_on_dns":['  # only with domainNames rules: what DNS decides
    yield ",".join(iter_connections_json(dns))
    yield "]}\n"


def iter_map_csv(cmap: ConnectivityMap) -> Iterator[str]:
    """One row per connection: from, to, ports (``TCP 80; UDP 53``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    dns = cmap.depends_on_dns
    # with domainNames rules, a fourth column: the ports only DNS decides (own rows)
    writer.writerow(["from", "to", "ports"] if dns is None else ["from", "to", "ports", "dns"])
    extra = [] if dns is None else [""]
    labels = [endpoint_label(e) for e in cmap.endpoints]
    portsets = ["; ".join(str(r) for r in p) for p in cmap.portsets]
    for index, (s, t, p) in enumerate(
        zip(cmap.sources.tolist(), cmap.targets.tolist(), cmap.ports.tolist(), strict=True)
    ):
        writer.writerow([labels[s], labels[t], portsets[p], *extra])
        if index % CHUNK_ROWS == CHUNK_ROWS - 1:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    for connection in () if dns is None else dns.connections():
        ports = "; ".join(str(r) for r in connection.ports)
        source, target = endpoint_label(connection.source), endpoint_label(connection.target)
        writer.writerow([source, target, "", ports])
    yield buffer.getvalue()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def iter_map_markdown(cmap: ConnectivityMap, title: str = "Connectivity") -> Iterator[str]:
    yield f"### {title} ({cmap.granularity.value} granularity)\n\n"
    yield f"{len(cmap)} allowed connection(s).\n\n"
    yield from _md_table(cmap)
    dns = cmap.depends_on_dns
    if dns is not None and len(dns):
        yield (
            f"\n{len(dns)} connection(s) depend on DNS: only a ClusterNetworkPolicy "
            "`domainNames` rule decides these ports, which manifests cannot resolve.\n\n"
        )
        yield from _md_table(dns)


def _md_table(cmap: ConnectivityMap) -> Iterator[str]:
    if not len(cmap):
        return
    yield "| from | to | ports |\n| --- | --- | --- |\n"
    labels = [_md_cell(endpoint_label(e)) for e in cmap.endpoints]
    portsets = [_md_cell(str(p)) for p in cmap.portsets]
    rows = zip(cmap.sources.tolist(), cmap.targets.tolist(), cmap.ports.tolist(), strict=True)
    for s, t, p in rows:
        yield f"| {labels[s]} | {labels[t]} | {portsets[p]} |\n"


def iter_map_dot(cmap: ConnectivityMap) -> Iterator[str]:
    """A Graphviz digraph: one node per endpoint in use, edges labelled with ports."""
    yield "digraph connectivity {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n"
    used = sorted(set(cmap.sources.tolist()) | set(cmap.targets.tolist()))
    for index in used:
        label = endpoint_label(cmap.endpoints[index])
        shape = ", shape=ellipse, style=dashed" if label[:1].isdigit() or ":" in label else ""
        yield f"  n{index} [label={json.dumps(label)}{shape}];\n"
    rows = zip(cmap.sources.tolist(), cmap.targets.tolist(), cmap.ports.tolist(), strict=True)
    for s, t, p in rows:
        yield f"  n{s} -> n{t} [label={json.dumps(str(cmap.portsets[p]))}];\n"
    dns = cmap.depends_on_dns
    if dns is not None:  # what DNS decides: dashed edges, new nodes named d0, d1, ...
        node = {cmap.endpoints[i]: f"n{i}" for i in used}
        for c in dns.connections():
            for endpoint in (c.source, c.target):
                if endpoint not in node:
                    node[endpoint] = f"d{len(node)}"
                    label = json.dumps(endpoint_label(endpoint))
                    yield f"  {node[endpoint]} [label={label}, style=dashed];\n"
            label = json.dumps(f"depends on DNS: {c.ports}")
            yield f"  {node[c.source]} -> {node[c.target]} [label={label}, style=dashed];\n"
    yield "}\n"
