"""NetworkPolicy (networking.k8s.io/v1), with the API server's defaulting and validation."""

from __future__ import annotations

from typing import Any

from service.engine.model import (
    Direction,
    IPBlock,
    IPNetwork,
    NetworkPolicy,
    Peer,
    PolicyPort,
    Rule,
)
from service.engine.parse.addresses import parse_network
from service.engine.parse.counts import own_limit
from service.engine.parse.fields import (
    Context,
    as_map,
    as_str,
    freeze,
    get_list,
    get_map,
    get_str,
    item,
    join,
)
from service.engine.parse.labels import parse_selector
from service.engine.parse.metadata import Metadata
from service.engine.parse.ports import parse_policy_port

_DIRECTIONS = {d.value: d for d in Direction}
_INGRESS_ONLY = frozenset({Direction.INGRESS})
_BOTH = frozenset(Direction)
_PEER_FIELDS = {Direction.INGRESS: "from", Direction.EGRESS: "to"}


def parse_policy(ctx: Context, body: dict[str, Any], meta: Metadata) -> NetworkPolicy:
    spec = get_map(ctx, body, "spec", "") or {}
    pod_selector = parse_selector(ctx, spec.get("podSelector"), "spec.podSelector")
    if not _ip_blocks_within_limit(ctx, spec):
        return NetworkPolicy(meta.namespace or "", meta.name, pod_selector, _INGRESS_ONLY)
    ingress = _rules(ctx, spec, Direction.INGRESS)
    egress = _rules(ctx, spec, Direction.EGRESS)
    policy_types = _policy_types(ctx, spec)
    return NetworkPolicy(
        meta.namespace or "", meta.name, pod_selector, policy_types, ingress, egress
    )


def _ip_blocks_within_limit(ctx: Context, spec: dict[str, Any]) -> bool:
    """netreach's limit on the ipBlocks of one policy, counted before anything is parsed
    (the problem names the first ipBlock past the limit)."""
    limit = ctx.session.counts.max_policy_ip_blocks
    seen = 0
    first_past: str | None = None
    for key, peers_key in (("ingress", "from"), ("egress", "to")):
        rules = spec.get(key)
        for r, rule in enumerate(rules if type(rules) is list else ()):
            peers = rule.get(peers_key) if type(rule) is dict else None
            for p, peer in enumerate(peers if type(peers) is list else ()):
                if type(peer) is dict and peer.get("ipBlock") is not None:
                    seen += 1
                    if seen == limit + 1:
                        first_past = f"spec.{key}[{r}].{peers_key}[{p}].ipBlock"
    if first_past is None:
        return True
    return own_limit(ctx, first_past, seen, limit, "ipBlocks in the policy", "max_policy_ip_blocks")


def _policy_types(ctx: Context, spec: dict[str, Any]) -> frozenset[Direction]:
    """As given; when absent or empty: Ingress, plus Egress iff ``egress`` holds a rule
    (``egress: []`` does not count: the API server defaults on ``len(egress) != 0``)."""
    raw = get_list(ctx, spec, "policyTypes", "spec")
    if not raw:
        egress = spec.get("egress")
        return _BOTH if type(egress) is list and egress else _INGRESS_ONLY
    found: set[Direction] = set()
    for index, value in enumerate(raw):
        path = item("spec.policyTypes", index)
        name = as_str(ctx, value, path)
        if name is None:
            if value is None:
                ctx.wrong_type(path, "a string", value)
            continue
        direction = _DIRECTIONS.get(name)
        if direction is None:
            ctx.error(
                path, f'unsupported policy type "{name}": supported values: "Ingress", "Egress"'
            )
        else:
            found.add(direction)
    if len(raw) > len(_DIRECTIONS):
        ctx.error("spec.policyTypes", "may not specify more than two policyTypes")
    return frozenset(found)


def _rules(ctx: Context, spec: dict[str, Any], direction: Direction) -> tuple[Rule, ...]:
    key = "ingress" if direction is Direction.INGRESS else "egress"
    raw = get_list(ctx, spec, key, "spec")
    if not raw:
        return ()
    prefix = join("spec", key)
    counts = ctx.session.counts
    if not own_limit(ctx, prefix, len(raw), counts.max_policy_rules, "rules", "max_policy_rules"):
        return ()
    rules = []
    for index, value in enumerate(raw):
        rule = _rule(ctx, value, item(prefix, index), _PEER_FIELDS[direction])
        if rule is not None:
            rules.append(rule)
    return tuple(rules)


def _rule(ctx: Context, value: object, path: str, peers_key: str) -> Rule | None:
    """A rule; ``- {}`` and ``- null`` allow everything (no peers, no ports)."""
    if value is None:
        return Rule()
    entry = as_map(ctx, value, path)
    if entry is None:
        return None
    cache = ctx.session.rules
    key = (peers_key, freeze(entry))
    found = cache.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    before = ctx.problem_count
    counts = ctx.session.counts
    raw_peers = get_list(ctx, entry, peers_key, path) or ()
    raw_ports = get_list(ctx, entry, "ports", path) or ()
    within = own_limit(
        ctx, join(path, peers_key), len(raw_peers), counts.max_rule_peers, "peers",
        "max_rule_peers",
    ) & own_limit(
        ctx, join(path, "ports"), len(raw_ports), counts.max_rule_ports, "ports",
        "max_rule_ports",
    )  # fmt: skip
    if not within:
        return None
    peers: list[Peer] = []
    for index, raw in enumerate(raw_peers):
        peer = _peer(ctx, raw, item(join(path, peers_key), index))
        if peer is not None:
            peers.append(peer)
    ports: list[PolicyPort] = []
    for index, raw in enumerate(raw_ports):
        port = parse_policy_port(ctx, raw, item(join(path, "ports"), index))
        if port is not None:
            ports.append(port)
    if ctx.problem_count != before:
        return None
    rule = Rule(tuple(peers), tuple(ports))
    cache[key] = rule
    return rule


def _peer(ctx: Context, value: object, path: str) -> Peer | None:
    entry = as_map(ctx, value, path)
    if entry is None:
        if value is None:
            ctx.error(path, "must specify a peer")
        return None
    raw_pods = entry.get("podSelector")
    raw_namespaces = entry.get("namespaceSelector")
    raw_block = entry.get("ipBlock")
    count = (raw_pods is not None) + (raw_namespaces is not None) + (raw_block is not None)
    if count == 0:
        ctx.error(path, "must specify a peer (podSelector, namespaceSelector or ipBlock)")
        return None
    if count > 1 and raw_block is not None:
        ctx.error(path, "may not specify both ipBlock and another peer")
        return None
    if raw_block is not None:
        block = _ip_block(ctx, raw_block, join(path, "ipBlock"))
        return None if block is None else Peer(ip_block=block)
    pods = None if raw_pods is None else parse_selector(ctx, raw_pods, join(path, "podSelector"))
    namespaces = (
        None
        if raw_namespaces is None
        else parse_selector(ctx, raw_namespaces, join(path, "namespaceSelector"))
    )
    return Peer(pod_selector=pods, namespace_selector=namespaces)


def _ip_block(ctx: Context, value: object, path: str) -> IPBlock | None:
    entry = as_map(ctx, value, path)
    if entry is None:
        return None
    text = get_str(ctx, entry, "cidr", path, required=True)
    if text is None:
        return None
    cidr = _network(ctx, text, join(path, "cidr"))
    ok = cidr is not None
    excepts: list[IPNetwork] = []
    except_path = join(path, "except")
    raw_excepts = get_list(ctx, entry, "except", path) or ()
    limit = ctx.session.counts.max_ip_block_excepts
    if not own_limit(ctx, except_path, len(raw_excepts), limit, "CIDRs", "max_ip_block_excepts"):
        return None
    for index, raw in enumerate(raw_excepts):
        entry_path = item(except_path, index)
        except_text = as_str(ctx, raw, entry_path)
        if except_text is None:
            if raw is None:
                ctx.wrong_type(entry_path, "a string", raw)
            ok = False
            continue
        network = _network(ctx, except_text, entry_path)
        if network is None:
            ok = False
        elif cidr is not None:
            if network.version != cidr.version:
                ctx.error(
                    entry_path,
                    f'"{except_text}" is IPv{network.version} but cidr "{text}" is '
                    f"IPv{cidr.version}: must be a strict subset of cidr",
                )
                ok = False
            elif network.prefixlen <= cidr.prefixlen or not network.subnet_of(cidr):  # type: ignore[arg-type]
                ctx.error(entry_path, f'"{except_text}" must be a strict subset of cidr "{text}"')
                ok = False
            else:
                excepts.append(network)
    if not ok or cidr is None:
        return None
    cache = ctx.session.networks
    block = IPBlock(cidr, tuple(sorted(excepts, key=_span)))
    return cache.setdefault(block, block)  # type: ignore[no-any-return]


def _span(network: IPNetwork) -> tuple[int, int]:
    return int(network.network_address), int(network.broadcast_address)


def _network(ctx: Context, text: str, path: str) -> IPNetwork | None:
    cache = ctx.session.networks
    found = cache.get(text)
    if found is not None:
        return found  # type: ignore[no-any-return]
    try:
        network = parse_network(text)
    except ValueError as exc:
        ctx.error(path, f'invalid CIDR "{text}": {exc}')
        return None
    cache[text] = network
    return network
