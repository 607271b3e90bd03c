"""Nodes: labels and ``status.addresses``, checked as the API server's schema and validation
do (every entry has a ``type`` and an ``address``; no entry twice), and the IP types'
addresses as IPs."""

from __future__ import annotations

from typing import Any

from service.engine.model import IP_ADDRESS_TYPES, Node, NodeAddress
from service.engine.parse.addresses import parse_ip
from service.engine.parse.fields import Context, as_map, get_list, get_map, get_str, item, join
from service.engine.parse.metadata import Metadata


def parse_node(ctx: Context, body: dict[str, Any], meta: Metadata) -> Node:
    status = get_map(ctx, body, "status", "") or {}
    raw = get_list(ctx, status, "addresses", "status") or ()
    seen: set[tuple[str, str]] = set()
    addresses: list[NodeAddress] = []
    for index, value in enumerate(raw):
        path = item("status.addresses", index)
        entry = as_map(ctx, value, path)
        if entry is None:
            if value is None:
                ctx.required(path)
            continue
        kind = get_str(ctx, entry, "type", path, required=True)
        text = get_str(ctx, entry, "address", path, required=True)
        if kind is None or text is None:
            continue
        if (kind, text) in seen:
            ctx.error(path, f'duplicate value: {{"type": "{kind}", "address": "{text}"}}')
            continue
        seen.add((kind, text))
        if kind not in IP_ADDRESS_TYPES:
            continue  # Hostname, InternalDNS, ExternalDNS: names, never matched by peers
        try:
            addresses.append(NodeAddress(kind, parse_ip(text)))
        except ValueError:
            ctx.error(join(path, "address"), f'invalid IP address "{text}" for type {kind}')
    return Node(meta.name, meta.labels, tuple(addresses))
