"""Grouping rules and peers for the class-level connectivity computation."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from service.engine import bitsets
from service.engine.compile import CompiledCluster, CompiledRule
from service.engine.model import Direction, PortSet, Protocol


@dataclass(slots=True)
class EgressGroup:
    """Egress rules with the same peers and ports, from whichever classes they apply to."""

    rule: CompiledRule
    sources: int


def egress_groups(compiled: CompiledCluster) -> list[EgressGroup]:
    groups: dict[tuple[int, PortSet, tuple[tuple[str, Protocol], ...]], EgressGroup] = {}
    for policy in compiled.policies:
        if Direction.EGRESS not in policy.policy.policy_types or not policy.selected:
            continue
        for rule in policy.egress:
            key = (rule.bits, rule.numeric_ports, rule.named_ports)
            group = groups.get(key)
            if group is None:
                groups[key] = EgressGroup(rule, policy.selected)
            else:
                group.sources |= policy.selected
    return list(groups.values())


def disjoint(entries: dict[PortSet, int]) -> list[tuple[int, PortSet]]:
    """Turn possibly overlapping (ports -> peers) entries into disjoint peer sets, each with
    the union of the ports of every entry it was in."""
    cells: list[tuple[int, PortSet]] = []
    for ports, bits in entries.items():
        refined: list[tuple[int, PortSet]] = []
        for cell_bits, cell_ports in cells:
            overlap = cell_bits & bits
            if not overlap:
                refined.append((cell_bits, cell_ports))
                continue
            refined.append((overlap, cell_ports | ports))
            rest = cell_bits & ~bits
            if rest:
                refined.append((rest, cell_ports))
            bits &= ~cell_bits
        if bits:
            refined.append((bits, ports))
        cells = refined
    merged: dict[PortSet, int] = defaultdict(int)
    for bits, ports in cells:
        merged[ports] |= bits
    return [(bits, ports) for ports, bits in merged.items()]


def map_stage(target: int, compiled: CompiledCluster) -> str:
    """Where a connectivity map stands, for a deadline's message."""
    return f"connectivity map (destination {target + 1} of {compiled.peer_count})"


def egress_groups_by_target(
    compiled: CompiledCluster,
) -> tuple[list[EgressGroup], list[list[EgressGroup]]]:
    """The groups whose peers are everything, and for every peer the other groups that
    reach it (NetworkPolicy egress, transposed: from "whom a rule lets out" to "who may
    leave towards this peer")."""
    universal: list[EgressGroup] = []
    reaching: list[list[EgressGroup]] = [[] for _ in range(compiled.peer_count)]
    for group in egress_groups(compiled):
        if group.rule.bits == compiled.all_peers:
            universal.append(group)
        else:
            for peer in bitsets.indices(group.rule.bits).tolist():
                reaching[peer].append(group)
    return universal, reaching
