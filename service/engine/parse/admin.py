"""AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1),
validated as the API server's schema and CEL rules do."""

from __future__ import annotations

from typing import Any

from service.engine.model import (
    AdminAction,
    AdminPeer,
    AdminPolicy,
    AdminRule,
    IPNetwork,
    PodsOf,
    PolicyPort,
)
from service.engine.parse.addresses import parse_network
from service.engine.parse.counts import (
    ADMIN_MAX_NETWORKS,
    ADMIN_MAX_PEERS,
    ADMIN_MAX_PORTS,
    crd_limit,
)
from service.engine.parse.fields import (
    Context,
    as_map,
    as_str,
    get_int,
    get_list,
    get_map,
    get_str,
    item,
    join,
)
from service.engine.parse.labels import parse_selector
from service.engine.parse.metadata import Metadata
from service.engine.parse.ports import check_port_name, check_port_number, parse_protocol

MAX_PRIORITY = 1000
MAX_RULES = 100
BASELINE_NAME = "default"
_ACTIONS = {a.value: a for a in AdminAction}
_BASELINE_ACTIONS = {AdminAction.ALLOW, AdminAction.DENY}
# the CRDs' CEL rule on egress rules, in each CRD's words
_NO_NAMED_PORTS = {
    False: "networks/nodes/domainNames peer cannot be set with namedPorts since there are no "
    "namedPorts for networks/nodes/domainNames",
    True: "networks/nodes peer cannot be set with namedPorts since there are no namedPorts "
    "for networks/nodes",
}


def parse_admin_policy(
    ctx: Context, body: dict[str, Any], meta: Metadata, *, baseline: bool
) -> AdminPolicy | None:
    spec = get_map(ctx, body, "spec", "") or {}
    ok = True
    priority = 0
    if baseline:
        if meta.name and meta.name != BASELINE_NAME:
            ctx.error("metadata.name", f'must be "{BASELINE_NAME}": there is one baseline')
            ok = False
    else:
        found = get_int(ctx, spec, "priority", "spec", required=True)
        if found is None:
            ok = False
        elif not 0 <= found <= MAX_PRIORITY:
            ctx.error("spec.priority", f"must be between 0 and {MAX_PRIORITY}, got {found}")
            ok = False
        else:
            priority = found
    subject = _pods_of(ctx, spec.get("subject"), "spec.subject", required=True)
    ingress = _rules(ctx, spec, "ingress", "from", baseline)
    egress = _rules(ctx, spec, "egress", "to", baseline)
    if not ok or subject is None or ingress is None or egress is None:
        return None
    return AdminPolicy(meta.name, priority, subject, ingress, egress, baseline)


def _pods_of(ctx: Context, value: object, path: str, *, required: bool) -> PodsOf | None:
    """``{namespaces: selector}`` or ``{pods: {namespaceSelector, podSelector}}``."""
    entry = as_map(ctx, value, path)
    if entry is None:
        if value is None and required:
            ctx.required(path)
        return None
    return _selection(ctx, entry, path, ("namespaces", "pods"))


def _selection(
    ctx: Context, entry: dict[str, Any], path: str, allowed: tuple[str, ...]
) -> PodsOf | None:
    given = [key for key in allowed if entry.get(key) is not None]
    if len(given) != 1:
        choices = ", ".join(allowed)
        ctx.error(path, f"must specify exactly one of: {choices}")
        return None
    key = given[0]
    if key == "namespaces":
        return PodsOf(parse_selector(ctx, entry["namespaces"], join(path, "namespaces")))
    return parse_namespaced_pods(ctx, entry["pods"], join(path, "pods"))


def parse_namespaced_pods(ctx: Context, value: object, path: str) -> PodsOf | None:
    """``{namespaceSelector, podSelector}``: the pods of an admin policy's subject or peer
    (AdminNetworkPolicy and ClusterNetworkPolicy alike; ``podSelector`` is required)."""
    pods = as_map(ctx, value, path)
    if pods is None:
        return None
    namespaces = parse_selector(ctx, pods.get("namespaceSelector"), join(path, "namespaceSelector"))
    if pods.get("podSelector") is None:
        ctx.required(join(path, "podSelector"))
        return None
    return PodsOf(namespaces, parse_selector(ctx, pods["podSelector"], join(path, "podSelector")))


def _rules(
    ctx: Context, spec: dict[str, Any], key: str, peers_key: str, baseline: bool
) -> tuple[AdminRule, ...] | None:
    raw = get_list(ctx, spec, key, "spec")
    if not raw:
        return () if raw is not None or spec.get(key) is None else None
    prefix = join("spec", key)
    if len(raw) > MAX_RULES:
        ctx.error(prefix, f"may hold at most {MAX_RULES} rules, got {len(raw)}")
        return None
    rules: list[AdminRule] = []
    ok = True
    for index, value in enumerate(raw):
        rule = _rule(ctx, value, item(prefix, index), peers_key, baseline)
        if rule is None:
            ok = False
        else:
            rules.append(rule)
    return tuple(rules) if ok else None


def _rule(
    ctx: Context, value: object, path: str, peers_key: str, baseline: bool
) -> AdminRule | None:
    entry = as_map(ctx, value, path)
    if entry is None:
        if value is None:
            ctx.required(path)
        return None
    before = ctx.problem_count
    name = get_str(ctx, entry, "name", path) or ""
    action_text = get_str(ctx, entry, "action", path, required=True)
    action = _ACTIONS.get(action_text or "")
    allowed = _BASELINE_ACTIONS if baseline else set(AdminAction)
    if action_text is not None and (action is None or action not in allowed):
        names = ", ".join(f'"{a.value}"' for a in AdminAction if a in allowed)
        ctx.error(join(path, "action"), f'unsupported action "{action_text}": use {names}')
    peers_path = join(path, peers_key)
    raw_peers = get_list(ctx, entry, peers_key, path)
    if not raw_peers and (raw_peers is not None or entry.get(peers_key) is None):
        ctx.error(peers_path, "must list at least one peer")
    if raw_peers and not crd_limit(ctx, peers_path, raw_peers, ADMIN_MAX_PEERS):
        return None
    peers = [
        _peer(ctx, raw, item(peers_path, index), egress=peers_key == "to")
        for index, raw in enumerate(raw_peers or ())
    ]
    ports, named = _ports(ctx, entry, path)
    if named and any(p is not None and (p.networks or p.nodes is not None) for p in peers):
        ctx.error(path, _NO_NAMED_PORTS[baseline])
    if ctx.problem_count != before or action is None:
        return None
    return AdminRule(name, action, tuple(p for p in peers if p is not None), ports, named)


def _peer(ctx: Context, value: object, path: str, *, egress: bool) -> AdminPeer | None:
    entry = as_map(ctx, value, path)
    if entry is None:
        if value is None:
            ctx.required(path)
        return None
    kinds = ("namespaces", "pods", "nodes", "networks") if egress else ("namespaces", "pods")
    given = [key for key in kinds if entry.get(key) is not None]
    if len(given) != 1:
        ctx.error(path, f"must specify exactly one of: {', '.join(kinds)}")
        return None
    if given[0] == "nodes":
        return AdminPeer(nodes=parse_selector(ctx, entry["nodes"], join(path, "nodes")))
    if given[0] == "networks":
        networks = _networks(ctx, entry, path)
        return None if networks is None else AdminPeer(networks=networks)
    pods = _selection(ctx, entry, path, ("namespaces", "pods"))
    return None if pods is None else AdminPeer(pods=pods)


def _networks(ctx: Context, entry: dict[str, Any], path: str) -> tuple[IPNetwork, ...] | None:
    raw = get_list(ctx, entry, "networks", path)
    if not raw:
        ctx.error(join(path, "networks"), "must list at least one CIDR")
        return None
    if not crd_limit(ctx, join(path, "networks"), raw, ADMIN_MAX_NETWORKS):
        return None
    found: list[IPNetwork] = []
    for index, value in enumerate(raw):
        where = item(join(path, "networks"), index)
        text = as_str(ctx, value, where)
        if text is None:
            return None
        try:
            found.append(parse_network(text))
        except ValueError as exc:
            ctx.error(where, f'invalid CIDR "{text}": {exc}')
            return None
    return tuple(found)


def _ports(
    ctx: Context, entry: dict[str, Any], path: str
) -> tuple[tuple[PolicyPort, ...], tuple[str, ...]]:
    numeric: list[PolicyPort] = []
    named: list[str] = []
    ports_path = join(path, "ports")
    raw_ports = get_list(ctx, entry, "ports", path) or ()
    if not crd_limit(ctx, ports_path, raw_ports, ADMIN_MAX_PORTS):
        return (), ()
    for index, value in enumerate(raw_ports):
        where = item(ports_path, index)
        port = as_map(ctx, value, where)
        if port is None:
            continue
        given = [k for k in ("portNumber", "namedPort", "portRange") if port.get(k) is not None]
        if len(given) != 1:
            ctx.error(where, "must specify exactly one of: portNumber, namedPort, portRange")
            continue
        if given[0] == "namedPort":
            name = get_str(ctx, port, "namedPort", where)
            if name is not None and check_port_name(ctx, name, join(where, "namedPort")):
                named.append(name)
            continue
        field = join(where, given[0])
        body = as_map(ctx, port[given[0]], field)
        if body is None:
            continue
        protocol = parse_protocol(ctx, body, field)
        if given[0] == "portNumber":
            number = get_int(ctx, body, "port", field, required=True)
            valid = number is not None and check_port_number(ctx, number, join(field, "port"))
            if valid and number is not None and protocol is not None:
                numeric.append(PolicyPort(protocol, number))
            continue
        start = get_int(ctx, body, "start", field, required=True)
        end = get_int(ctx, body, "end", field, required=True)
        if start is None or end is None:
            continue
        valid = check_port_number(ctx, start, join(field, "start"))
        valid = check_port_number(ctx, end, join(field, "end")) and valid
        if valid and start >= end:
            ctx.error(join(field, "end"), f"must be greater than start ({start})")
            valid = False
        if valid and protocol is not None:
            numeric.append(PolicyPort(protocol, start, end))
    return tuple(numeric), tuple(named)
