"""Services: a selector (None when absent or empty) and ports with their target ports."""

from __future__ import annotations

from typing import Any

from service.engine.model import Service, ServicePort
from service.engine.parse.fields import Context, freeze, get_list, get_map, item
from service.engine.parse.labels import parse_labels
from service.engine.parse.metadata import Metadata
from service.engine.parse.ports import parse_service_port


def parse_service(ctx: Context, body: dict[str, Any], meta: Metadata) -> Service:
    spec = get_map(ctx, body, "spec", "") or {}
    raw_selector = spec.get("selector")
    selector = parse_labels(ctx, raw_selector, "spec.selector") if raw_selector else None
    if selector is not None and not selector:
        selector = None
    return Service(meta.namespace or "", meta.name, selector, _ports(ctx, spec))


def _ports(ctx: Context, spec: dict[str, Any]) -> tuple[ServicePort, ...]:
    raw = get_list(ctx, spec, "ports", "spec")
    if not raw:
        return ()
    cache = ctx.session.service_ports
    key = freeze(raw)
    found = cache.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    before = ctx.problem_count
    ports: list[ServicePort] = []
    for index, value in enumerate(raw):
        port = parse_service_port(ctx, value, item("spec.ports", index))
        if port is not None:
            ports.append(port)
    result = tuple(ports)
    if ctx.problem_count == before:
        cache[key] = result
    return result
