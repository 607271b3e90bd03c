"""Reading conformance cases and comparing connection lists semantically.

External ranges may be split or merged differently by different tools; both sides are cut
at every boundary either of them uses before comparing, so only the meaning counts.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.engine.model import IPBlock, PortRange, PortSet, Protocol

IPKey = tuple[str, int, int, int]  # ("ip", version, first, last)
Key = str | IPKey


@dataclass(frozen=True)
class Case:
    name: str
    directory: Path
    expected: dict[str, Any]

    @property
    def manifests(self) -> Path:
        return self.directory / "manifests.yaml"


def discover(*roots: Path) -> list[Case]:
    cases = []
    for root in roots:
        if not root.is_dir():
            continue
        for directory in sorted(p for p in root.iterdir() if (p / "expected.json").is_file()):
            expected = json.loads((directory / "expected.json").read_text())
            cases.append(Case(f"{root.name}/{directory.name}", directory, expected))
    return cases


def parse_ports(value: Any) -> PortSet:
    """``"all"`` or ``[{"protocol", "from", "to"}]`` (the case format), or the API's
    NetworkPolicyPort-like list (``{"protocol", "port", "endPort"}``)."""
    if value == "all":
        return PortSet.all()
    ranges = []
    for entry in value:
        protocol = Protocol(entry.get("protocol", "TCP"))
        start = entry.get("from", entry.get("port"))
        end = entry.get("to", entry.get("endPort", start))
        if start is None:
            start, end = 1, 65535
        ranges.append(PortRange(protocol, start, end))
    return PortSet(ranges)


def _range_key(text: str) -> IPKey:
    first, last = (ipaddress.ip_address(x) for x in text.removeprefix("ip:").split("-", 1))
    return ("ip", first.version, int(first), int(last))


def expected_key(text: str) -> Key:
    return _range_key(text) if text.startswith("ip:") else text


def api_keys(endpoint: dict[str, Any]) -> list[Key]:
    """Keys for an endpoint of the API/CLI JSON (an IPBlock may be several ranges)."""
    kind = endpoint["kind"]
    if kind == "IPBlock":
        block = IPBlock.parse(endpoint["cidr"], endpoint.get("except", []))
        return [("ip", r.version, r.start, r.end) for r in block.ranges()]
    if kind == "Pod":
        return [f"{endpoint['namespace']}/{endpoint['name']}"]
    if kind == "Namespace":
        return [endpoint["name"]]
    return [f"{endpoint['namespace']}/{kind}/{endpoint['name']}"]


Facts = dict[tuple[Key, Key], PortSet]


def _cut(facts: Facts, boundaries: dict[int, set[int]]) -> Facts:
    def pieces(key: Key) -> list[Key]:
        if isinstance(key, str):
            return [key]
        _, version, first, last = key
        cuts = sorted(c for c in boundaries[version] if first < c <= last)
        starts = [first, *cuts]
        ends = [c - 1 for c in cuts] + [last]
        return [("ip", version, s, e) for s, e in zip(starts, ends, strict=True)]

    out: Facts = {}
    for (source, target), ports in facts.items():
        for s in pieces(source):
            for t in pieces(target):
                out[(s, t)] = out.get((s, t), PortSet.empty()) | ports
    return out


def _boundaries(*fact_sets: Facts) -> dict[int, set[int]]:
    cuts: dict[int, set[int]] = {4: set(), 6: set()}
    for facts in fact_sets:
        for pair in facts:
            for key in pair:
                if not isinstance(key, str):
                    cuts[key[1]].update((key[2], key[3] + 1))
    return cuts


def comparable(expected: Facts, actual: Facts) -> tuple[Facts, Facts]:
    """Both sides cut at the union of their boundaries, without self-connections."""
    cuts = _boundaries(expected, actual)
    return tuple(  # type: ignore[return-value]
        {pair: ports for pair, ports in _cut(facts, cuts).items() if pair[0] != pair[1] and ports}
        for facts in (expected, actual)
    )


def expected_facts(connections: list[dict[str, Any]]) -> Facts:
    facts: Facts = {}
    for conn in connections:
        pair = (expected_key(conn["from"]), expected_key(conn["to"]))
        facts[pair] = facts.get(pair, PortSet.empty()) | parse_ports(conn["ports"])
    return facts


def actual_facts(connections: list[dict[str, Any]]) -> Facts:
    facts: Facts = {}
    for conn in connections:
        for source in api_keys(conn["from"]):
            for target in api_keys(conn["to"]):
                pair = (source, target)
                facts[pair] = facts.get(pair, PortSet.empty()) | parse_ports(conn["ports"])
    return facts
