"""ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2), validated as the API server
does with the CRD (experimental channel, a superset of the standard one): required fields,
enums, ``maxItems``/``minItems``, ``minProperties``/``maxProperties`` ("exactly one of"),
``maxLength``, patterns, list-type ``set`` (no duplicates) and the CEL rules
(``x-kubernetes-validations``), each reported at the path the API server names.

The result is the admin-policy model shared with AdminNetworkPolicy: ``Accept`` is ALLOW,
``tier: Baseline`` is ``baseline``.
"""

from __future__ import annotations

import re
from typing import Any

from service.engine.model import (
    AdminAction,
    AdminPeer,
    AdminPolicy,
    AdminRule,
    IPNetwork,
    PodsOf,
    PolicyPort,
    Protocol,
)
from service.engine.parse.addresses import parse_network
from service.engine.parse.admin import parse_namespaced_pods
from service.engine.parse.fields import Context, as_map, as_str, get_int, get_list, item, join
from service.engine.parse.labels import parse_selector
from service.engine.parse.metadata import Metadata

MAX_PRIORITY = 1000
MAX_RULES = 25
MAX_PEERS = 25
MAX_PROTOCOLS = 25
MAX_NETWORKS = 25
MAX_DOMAIN_NAMES = 25
MAX_RULE_NAME = 100
MAX_CIDR_LENGTH = 43
TIERS = ("Admin", "Baseline")
ACTIONS = {"Accept": AdminAction.ALLOW, "Deny": AdminAction.DENY, "Pass": AdminAction.PASS}
PROTOCOLS = {"tcp": Protocol.TCP, "udp": Protocol.UDP, "sctp": Protocol.SCTP}
INGRESS_PEERS = ("namespaces", "pods")
EGRESS_PEERS = ("namespaces", "pods", "nodes", "networks", "domainNames")
# The CRD's pattern, character for character (its ``A-z`` also admits ``[\]^_`` and backtick).
DOMAIN_NAME = re.compile(
    r"^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$"
)
NAMED_PORT_RULE = (
    "networks/nodes/domainNames peer cannot be set with namedPorts since there are no "
    "namedPorts for networks/nodes/domainNames"
)
RANGE_RULE = "Start port must be less than End port"
CIDR_RULE = "Invalid CIDR format provided"


def parse_cluster_policy(ctx: Context, body: dict[str, Any], meta: Metadata) -> AdminPolicy | None:
    """The policy, or None after at least one problem."""
    before = ctx.problem_count
    spec = as_map(ctx, body.get("spec"), "spec")
    if spec is None:
        if body.get("spec") is None:
            ctx.required("spec")
        return None
    priority = get_int(ctx, spec, "priority", "spec", required=True)
    if priority is not None and not 0 <= priority <= MAX_PRIORITY:
        ctx.error("spec.priority", f"must be between 0 and {MAX_PRIORITY}, got {priority}")
    tier = _enum(ctx, spec, "tier", "spec", TIERS)
    subject = _subject(ctx, spec.get("subject"))
    ingress = _rules(ctx, spec, "ingress", "from", INGRESS_PEERS)
    egress = _rules(ctx, spec, "egress", "to", EGRESS_PEERS)
    if ctx.problem_count != before or priority is None or tier is None or subject is None:
        return None
    return AdminPolicy(
        meta.name, priority, subject, ingress, egress, baseline=tier == "Baseline", cluster=True
    )


def _enum(
    ctx: Context, obj: dict[str, Any], key: str, prefix: str, values: tuple[str, ...]
) -> str | None:
    path = join(prefix, key)
    value = obj.get(key)
    if value is None:
        ctx.required(path)
        return None
    if type(value) is not str:
        ctx.wrong_type(path, "a string", value)
        return None
    if value not in values:
        choices = ", ".join(f'"{v}"' for v in values)
        ctx.error(path, f'unsupported value "{value}": supported values: {choices}')
        return None
    return value


def _one_of(ctx: Context, entry: dict[str, Any], path: str, keys: tuple[str, ...]) -> str | None:
    """``minProperties: 1, maxProperties: 1``: exactly one of ``keys`` (unknown fields are
    pruned by the API server before this check, so they do not count)."""
    given = [key for key in keys if entry.get(key) is not None]
    if len(given) != 1:
        ctx.error(path, f"must specify exactly one of: {', '.join(keys)}")
        return None
    return given[0]


def _bounded_list(
    ctx: Context, obj: dict[str, Any], key: str, prefix: str, *, low: int, high: int
) -> list[Any] | None:
    """A list field with the CRD's ``minItems``/``maxItems``; None after a problem or when
    absent (the caller decides whether absence is allowed)."""
    path = join(prefix, key)
    raw = get_list(ctx, obj, key, prefix)
    if raw is None:
        return None
    if len(raw) < low:
        ctx.error(path, f"must have at least {low} item{'s' if low != 1 else ''}")
        return None
    if len(raw) > high:
        ctx.error(path, f"must have at most {high} items, got {len(raw)}")
        return None
    return raw


def _subject(ctx: Context, value: object) -> PodsOf | None:
    entry = as_map(ctx, value, "spec.subject")
    if entry is None:
        if value is None:
            ctx.required("spec.subject")
        return None
    return _pods_of(ctx, entry, "spec.subject")


def _pods_of(ctx: Context, entry: dict[str, Any], path: str) -> PodsOf | None:
    key = _one_of(ctx, entry, path, ("namespaces", "pods"))
    if key is None:
        return None
    field = join(path, key)
    if key == "namespaces":
        if as_map(ctx, entry[key], field) is None:
            return None
        return PodsOf(parse_selector(ctx, entry[key], field))
    return parse_namespaced_pods(ctx, entry[key], field)


def _rules(
    ctx: Context, spec: dict[str, Any], key: str, peers_key: str, kinds: tuple[str, ...]
) -> tuple[AdminRule, ...]:
    raw = _bounded_list(ctx, spec, key, "spec", low=0, high=MAX_RULES) or ()
    prefix = join("spec", key)
    rules = (_rule(ctx, value, item(prefix, i), peers_key, kinds) for i, value in enumerate(raw))
    return tuple(rule for rule in rules if rule is not None)


def _rule(
    ctx: Context, value: object, path: str, peers_key: str, kinds: tuple[str, ...]
) -> AdminRule | None:
    entry = as_map(ctx, value, path)
    if entry is None:
        if value is None:
            ctx.required(path)
        return None
    before = ctx.problem_count
    name = as_str(ctx, entry.get("name"), join(path, "name")) or ""
    if len(name) > MAX_RULE_NAME:
        ctx.error(join(path, "name"), f"may be at most {MAX_RULE_NAME} characters")
    action_text = _enum(ctx, entry, "action", path, tuple(ACTIONS))
    peers_path = join(path, peers_key)
    raw_peers = _bounded_list(ctx, entry, peers_key, path, low=1, high=MAX_PEERS)
    if raw_peers is None and entry.get(peers_key) is None:
        ctx.required(peers_path)
    peers = [_peer(ctx, raw, item(peers_path, i), kinds) for i, raw in enumerate(raw_peers or ())]
    ports, named = _protocols(ctx, entry, path)
    if named and any(p is not None and _has_no_named_ports(p) for p in peers):
        ctx.error(path, NAMED_PORT_RULE)  # the egress rule's CEL rule
    if ctx.problem_count != before or action_text is None:
        return None
    found = tuple(p for p in peers if p is not None)
    return AdminRule(name, ACTIONS[action_text], found, ports, named)


def _has_no_named_ports(peer: AdminPeer) -> bool:
    return bool(peer.networks or peer.domain_names) or peer.nodes is not None


def _peer(ctx: Context, value: object, path: str, kinds: tuple[str, ...]) -> AdminPeer | None:
    entry = as_map(ctx, value, path)
    if entry is None:
        if value is None:
            ctx.required(path)
        return None
    key = _one_of(ctx, entry, path, kinds)
    if key is None:
        return None
    field = join(path, key)
    if key == "nodes":
        if as_map(ctx, entry[key], field) is None:
            return None
        return AdminPeer(nodes=parse_selector(ctx, entry[key], field))
    if key == "networks":
        networks = _networks(ctx, entry, path)
        return None if networks is None else AdminPeer(networks=networks)
    if key == "domainNames":
        names = _domain_names(ctx, entry, path)
        return None if names is None else AdminPeer(domain_names=names)
    pods = _pods_of(ctx, entry, path)
    return None if pods is None else AdminPeer(pods=pods)


def _strings_set(
    ctx: Context, entry: dict[str, Any], key: str, path: str, high: int
) -> list[tuple[str, str]] | None:
    """An ``x-kubernetes-list-type: set`` of strings: (item path, text) pairs, no duplicates."""
    raw = _bounded_list(ctx, entry, key, path, low=1, high=high)
    if raw is None:
        return None
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, value in enumerate(raw):
        where = item(join(path, key), index)
        text = as_str(ctx, value, where)
        if text is None:
            if value is None:
                ctx.required(where)
            return None
        if text in seen:
            ctx.error(where, f'duplicate value "{text}"')
            return None
        seen.add(text)
        found.append((where, text))
    return found


def _networks(ctx: Context, entry: dict[str, Any], path: str) -> tuple[IPNetwork, ...] | None:
    texts = _strings_set(ctx, entry, "networks", path, MAX_NETWORKS)
    if texts is None:
        return None
    found: list[IPNetwork] = []
    for where, text in texts:
        if len(text) > MAX_CIDR_LENGTH:
            ctx.error(where, f"may be at most {MAX_CIDR_LENGTH} characters")
            return None
        try:
            found.append(parse_network(text))
        except ValueError:
            ctx.error(where, f'{CIDR_RULE}: "{text}"')
            return None
    return tuple(found)


def _domain_names(ctx: Context, entry: dict[str, Any], path: str) -> tuple[str, ...] | None:
    texts = _strings_set(ctx, entry, "domainNames", path, MAX_DOMAIN_NAMES)
    if texts is None:
        return None
    for where, text in texts:
        if DOMAIN_NAME.fullmatch(text) is None:
            ctx.error(where, f'"{text}" should match {DOMAIN_NAME.pattern!r}')
            return None
    return tuple(text for _, text in texts)


def _protocols(
    ctx: Context, entry: dict[str, Any], path: str
) -> tuple[tuple[PolicyPort, ...], tuple[str, ...]]:
    """``protocols`` absent = every port; else the numbered ports and the named ones."""
    numeric: list[PolicyPort] = []
    named: list[str] = []
    raw = _bounded_list(ctx, entry, "protocols", path, low=1, high=MAX_PROTOCOLS) or ()
    for index, value in enumerate(raw):
        where = item(join(path, "protocols"), index)
        protocol = as_map(ctx, value, where)
        if protocol is None:
            if value is None:
                ctx.required(where)
            continue
        key = _one_of(ctx, protocol, where, (*PROTOCOLS, "destinationNamedPort"))
        if key == "destinationNamedPort":
            name = as_str(ctx, protocol[key], join(where, key))
            if name is not None:
                named.append(name)
        elif key is not None:
            port = _protocol_port(ctx, protocol[key], join(where, key), PROTOCOLS[key])
            if port is not None:
                numeric.append(port)
    return tuple(numeric), tuple(named)


def _protocol_port(ctx: Context, value: object, path: str, protocol: Protocol) -> PolicyPort | None:
    """``tcp: {destinationPort: {number: n} | {range: {start, end}}}`` (minProperties 1)."""
    body = as_map(ctx, value, path)
    if body is None:
        return None
    if body.get("destinationPort") is None:
        ctx.error(path, "must have at least 1 properties: set destinationPort")
        return None
    field = join(path, "destinationPort")
    port = as_map(ctx, body["destinationPort"], field)
    if port is None:
        return None
    key = _one_of(ctx, port, field, ("number", "range"))
    if key == "number":
        number = _port_number(ctx, port, "number", field)
        return None if number is None else PolicyPort(protocol, number)
    if key is None:
        return None
    range_path = join(field, "range")
    bounds = as_map(ctx, port["range"], range_path)
    if bounds is None:
        return None
    start = _port_number(ctx, bounds, "start", range_path)
    end = _port_number(ctx, bounds, "end", range_path)
    if start is None or end is None:
        return None
    if not start < end:
        ctx.error(range_path, f"{RANGE_RULE} (start {start}, end {end})")
        return None
    return PolicyPort(protocol, start, end)


def _port_number(ctx: Context, obj: dict[str, Any], key: str, prefix: str) -> int | None:
    number = get_int(ctx, obj, key, prefix, required=True)
    if number is not None and not 1 <= number <= 65535:
        ctx.error(join(prefix, key), f"must be between 1 and 65535, got {number}")
        return None
    return number
