"""Reachability verdicts as JSON (the API shape) and as readable text (the CLI default)."""

from __future__ import annotations

from typing import Any

from service.engine.model import PortSet
from service.engine.reachability import Effect, PairVerdict, Side, Verdict


def _policy(effect: Effect) -> dict[str, Any]:
    if effect.policy.namespace:  # a NetworkPolicy
        return {"namespace": effect.policy.namespace, "name": effect.policy.name}
    return {"kind": effect.policy.kind, "name": effect.policy.name}  # cluster-scoped tiers


def _effect(effect: Effect) -> dict[str, Any]:
    return {
        "tier": effect.tier.value,
        "policy": _policy(effect),
        "direction": effect.direction.value,
        "rule": effect.rule,
        "peer": effect.peer,
        "ports": effect.ports.to_api(),
        "action": effect.action.value,
        **(
            {"missing_named_ports": list(effect.missing_named_ports)}
            if effect.missing_named_ports
            else {}
        ),
        **({"name": effect.name} if effect.name else {}),
        **(
            {
                "ambiguous": True,
                "ambiguous_with": [{"kind": r.kind, "name": r.name} for r in effect.ambiguous_with],
            }
            if effect.ambiguous_with
            else {}
        ),
        **({"depends_on_dns": True} if effect.depends_on_dns else {}),
        **({"nodes": list(effect.nodes)} if effect.nodes else {}),
    }


def _side(side: Side) -> dict[str, Any]:
    return {
        "endpoint": side.endpoint,
        "subject_to_policies": side.subject_to_policies,
        "isolated": side.isolated,
        "policies": [{"namespace": r.namespace, "name": r.name} for r in side.policies],
        "effects": [_effect(e) for e in side.effects],
        "allowed_ports": side.allowed.to_api(),
        "reason": side.reason,
        **({"depends_on_dns_ports": side.depends_on_dns.to_api()} if side.depends_on_dns else {}),
    }


def pair_to_api(pair: PairVerdict) -> dict[str, Any]:
    return {
        "from": pair.source,
        "to": pair.target,
        "allowed": pair.allowed,
        "ports": pair.ports.to_api(),
        "explanation": {"egress": _side(pair.egress), "ingress": _side(pair.ingress)},
        **({"route": list(pair.route)} if pair.route else {}),
        "depends_on_dns": bool(pair.depends_on_dns),
        "dns_dependent_ports": pair.depends_on_dns.to_api(),
    }


def verdict_to_api(verdict: Verdict, max_pairs: int = 100) -> dict[str, Any]:
    """``{"allowed", "ports", "explanation", "pairs"}``: ``explanation`` is the first pair's
    (the only one for pod-to-pod); ``pairs`` lists every pod pair (capped)."""
    pairs = [pair_to_api(p) for p in verdict.pairs[:max_pairs]]
    return {
        "from": str(verdict.source),
        "to": str(verdict.target),
        "protocol": verdict.protocol.value if verdict.protocol else None,
        "port": verdict.port,
        "allowed": verdict.allowed,
        "partially_allowed": verdict.partially_allowed,
        "ports": verdict.ports.to_api(),
        "explanation": pairs[0]["explanation"] if pairs else None,
        "pairs": pairs,
        "pair_count": len(verdict.pairs),
        "notes": list(verdict.notes),
        "depends_on_dns": verdict.depends_on_dns,
        "dns_dependent_ports": _dns_ports(verdict).to_api(),
        "ambiguous": verdict.ambiguous,
    }


def _dns_ports(verdict: Verdict) -> PortSet:
    found = PortSet.empty()
    for pair in verdict.pairs:
        found = found | pair.depends_on_dns
    return found


def _side_text(side: Side) -> list[str]:
    lines = [f"  {side.direction.value.lower()}: {side.reason}"]
    for effect in side.effects:
        peer = "any peer" if effect.peer is None else f"peer {effect.peer}"
        policy = (
            f"{effect.policy.namespace}/{effect.policy.name}"
            if effect.policy.namespace
            else f"{effect.policy.kind}/{effect.policy.name}"
        )
        missing = ""
        if effect.missing_named_ports:
            missing = f" (named port {', '.join(effect.missing_named_ports)} not defined)"
        named = f" ({effect.name})" if effect.name else ""
        notes = " if DNS resolves a domain name to it" if effect.depends_on_dns else ""
        if effect.ambiguous_with:
            rivals = ", ".join(f"{r.kind}/{r.name}" for r in effect.ambiguous_with)
            notes += f" [ambiguous: same priority as {rivals}]"
        lines.append(
            f"    - {policy} rule {effect.rule}{named} ({peer}{effect.via}): {effect.action.value} "
            f"{effect.ports}{missing}{notes}"
        )
    return lines


def verdict_to_text(verdict: Verdict, max_pairs: int = 20) -> str:
    asked = "any port" if verdict.port is None else f"port {verdict.port}"
    if verdict.protocol is not None:
        asked += f"/{verdict.protocol.value}"
    if verdict.allowed:
        head = "ALLOWED"
    elif verdict.depends_on_dns:
        head = "DEPENDS ON DNS"
    elif verdict.partially_allowed:
        head = "PARTIALLY ALLOWED"
    else:
        head = "DENIED"
    lines = [f"{head}: {verdict.source} -> {verdict.target} on {asked}"]
    if verdict.allowed:
        lines.append(f"allowed ports: {verdict.ports}")
    for note in verdict.notes:
        lines.append(f"note: {note}")
    for pair in verdict.pairs[:max_pairs]:
        mark = "allowed" if pair.allowed else "denied"
        if pair.depends_on_dns:
            mark += f"; depends on DNS: {pair.depends_on_dns}"
        lines.append(f"{pair.source} -> {pair.target}: {mark} ({pair.ports})")
        lines += [f"  via {step}" for step in pair.route]
        lines += _side_text(pair.egress)
        lines += _side_text(pair.ingress)
    if len(verdict.pairs) > max_pairs:
        lines.append(f"... and {len(verdict.pairs) - max_pairs} more pod pairs")
    return "\n".join(lines) + "\n"
