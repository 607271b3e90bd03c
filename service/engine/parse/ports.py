"""Ports: protocols, container ports, NetworkPolicy ports, Service ports."""

from __future__ import annotations

from typing import Any

from service.engine.model import ContainerPort, PolicyPort, Protocol, ServicePort
from service.engine.parse.fields import Context, as_map, get_int, get_str, join
from service.engine.parse.validation import port_name_errors, port_number_errors

_PROTOCOLS = {p.value: p for p in Protocol}
_SUPPORTED = ", ".join(f'"{p.value}"' for p in Protocol)


def parse_protocol(ctx: Context, obj: dict[str, Any], path: str) -> Protocol | None:
    """``protocol``: TCP when absent; only TCP, UDP and SCTP exist."""
    raw = obj.get("protocol")
    if raw is None:
        return Protocol.TCP
    name = get_str(ctx, obj, "protocol", path)
    if name is None:
        return None
    protocol = _PROTOCOLS.get(name)
    if protocol is None:
        ctx.error(
            join(path, "protocol"),
            f'unsupported protocol "{name}": supported values: {_SUPPORTED}',
        )
    return protocol


def check_port_number(ctx: Context, value: int, path: str) -> bool:
    errors = port_number_errors(value)
    for message in errors:
        ctx.error(path, f"invalid port {value}: {message}")
    return not errors


def check_port_name(ctx: Context, value: str, path: str) -> bool:
    errors = port_name_errors(value)
    for message in errors:
        ctx.error(path, f'invalid port name "{value}": {message}')
    return not errors


def parse_int_or_string(ctx: Context, obj: dict[str, Any], key: str, path: str) -> int | str | None:
    """An IntOrString port: a number 1-65535 or an IANA_SVC_NAME; None when absent/invalid."""
    value = obj.get(key)
    field = join(path, key)
    if type(value) is int:
        return value if check_port_number(ctx, value, field) else None
    if type(value) is str:
        return value if check_port_name(ctx, value, field) else None
    if value is not None:
        ctx.wrong_type(field, "an integer or a string", value)
    return None


def parse_container_port(ctx: Context, value: object, path: str) -> ContainerPort | None:
    entry = as_map(ctx, value, path)
    if entry is None:
        if value is None:
            ctx.required(path)
        return None
    number = get_int(ctx, entry, "containerPort", path, required=True)
    ok = number is not None and check_port_number(ctx, number, join(path, "containerPort"))
    name = get_str(ctx, entry, "name", path)
    if name is not None:
        if name == "":
            name = None
        elif not check_port_name(ctx, name, join(path, "name")):
            ok = False
    protocol = parse_protocol(ctx, entry, path)
    if not ok or protocol is None or number is None:
        return None
    return ContainerPort(ctx.session.intern(name) if name else None, number, protocol)


def parse_policy_port(ctx: Context, value: object, path: str) -> PolicyPort | None:
    """A NetworkPolicyPort, with the API server's rules for ``endPort``. ``null`` decodes
    as an empty port: every TCP port."""
    if value is None:
        return PolicyPort(Protocol.TCP)
    entry = as_map(ctx, value, path)
    if entry is None:
        return None
    protocol = parse_protocol(ctx, entry, path)
    raw_port = entry.get("port")
    port = parse_int_or_string(ctx, entry, "port", path)
    ok = port is not None or raw_port is None
    end_port = get_int(ctx, entry, "endPort", path)
    if end_port is None:
        if entry.get("endPort") is not None:
            ok = False
    else:
        end_path = join(path, "endPort")
        if raw_port is None:
            ctx.error(end_path, "may not be specified when `port` is not specified")
            ok = False
        elif type(raw_port) is str:
            ctx.error(end_path, "may not be specified when `port` is non-numeric")
            ok = False
        elif type(raw_port) is int:
            if end_port < raw_port:
                ctx.error(end_path, f"must be greater than or equal to `port` ({raw_port})")
                ok = False
            if not check_port_number(ctx, end_port, end_path):
                ok = False
    if not ok or protocol is None:
        return None
    if type(port) is str:
        port = ctx.session.intern(port)
    return PolicyPort(protocol, port, end_port)


def parse_service_port(ctx: Context, value: object, path: str) -> ServicePort | None:
    """A ServicePort; ``targetPort`` absent, 0 or "" means ``port`` (API server defaulting)."""
    entry = as_map(ctx, value, path)
    if entry is None:
        if value is None:
            ctx.required(path)
        return None
    name = get_str(ctx, entry, "name", path) or None
    number = get_int(ctx, entry, "port", path, required=True)
    ok = number is not None and check_port_number(ctx, number, join(path, "port"))
    raw_target = entry.get("targetPort")
    target: int | str | None
    if raw_target is None or (type(raw_target) in (int, str) and not raw_target):
        target = number
    else:
        target = parse_int_or_string(ctx, entry, "targetPort", path)
        ok = ok and target is not None
    protocol = parse_protocol(ctx, entry, path)
    if not ok or protocol is None or number is None or target is None:
        return None
    if type(target) is str:
        target = ctx.session.intern(target)
    return ServicePort(ctx.session.intern(name) if name else None, number, target, protocol)
