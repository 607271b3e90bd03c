"""Class-level connectivity when AdminNetworkPolicy tiers are present (rule 8).

For one destination, the sources are split into cells that every rule treats alike, each
cell carrying its state through the tiers: admin rules in order (first match decides Allow,
Deny, or Pass on), then NetworkPolicy if it isolates the endpoint, else the baseline (first
match: Allow or Deny), then allow. Egress is evaluated for every source towards the
destination, ingress for the destination from every source; a connection needs both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

from service.engine import bitsets
from service.engine.compile import CompiledAdminRule, CompiledCluster, NamedPorts
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.grouping import disjoint, egress_groups_by_target, map_stage
from service.engine.model import AdminAction, Direction, PortSet

_ALL = PortSet.all()
_NONE = PortSet.empty()


@dataclass(frozen=True, slots=True)
class _State:
    """Where one cell of peers stands in the tiers, for one direction."""

    allowed: PortSet = _NONE  # by admin Allow rules
    denied: PortSet = _NONE  # by admin Deny rules
    decided: PortSet = _NONE  # by any admin rule (Pass included)
    policy: PortSet | None = None  # what NetworkPolicy admits; None: not isolated by it
    baseline_denied: PortSet = _NONE
    baseline_decided: PortSet = _NONE

    def admin(self, action: AdminAction, ports: PortSet) -> _State:
        ports = ports - self.decided
        if not ports:
            return self
        return replace(
            self,
            allowed=self.allowed | ports if action is AdminAction.ALLOW else self.allowed,
            denied=self.denied | ports if action is AdminAction.DENY else self.denied,
            decided=self.decided | ports,
        )

    def baseline(self, action: AdminAction, ports: PortSet) -> _State:
        ports = ports - self.baseline_decided
        if not ports:
            return self
        denied = self.baseline_denied | ports if action is AdminAction.DENY else None
        return replace(
            self,
            baseline_denied=self.baseline_denied if denied is None else denied,
            baseline_decided=self.baseline_decided | ports,
        )

    def result(self) -> PortSet:
        rest = _ALL - self.allowed - self.denied
        if self.policy is not None:
            return self.allowed | (rest & self.policy)
        return self.allowed | (rest - self.baseline_denied)


Cells = list[tuple[int, _State]]


def _refine(cells: Cells, bits: int, update: Callable[[_State], _State]) -> Cells:
    out: Cells = []
    for cell_bits, state in cells:
        inside = cell_bits & bits
        if not inside:
            out.append((cell_bits, state))
            continue
        out.append((inside, update(state)))
        outside = cell_bits & ~bits
        if outside:
            out.append((outside, state))
    return out


def _policy_cells(entries: dict[PortSet, int], isolated: int, everyone: int) -> Cells:
    """NetworkPolicy's verdict per peer: union of matching rules for isolated peers (none
    matching: nothing), None for the others."""
    cells: Cells = [(bits, _State(policy=ports)) for bits, ports in disjoint(entries)]
    covered = 0
    for bits, _ in cells:
        covered |= bits
    if isolated & ~covered:
        cells.append((isolated & ~covered, _State(policy=_NONE)))
    if everyone & ~isolated:
        cells.append((everyone & ~isolated, _State()))
    return cells


def _ingress_cells(compiled: CompiledCluster, target: int, named: NamedPorts | None) -> Cells:
    everyone = compiled.all_peers
    if not compiled.is_subject(target):
        return [(everyone, _State())]
    entries: dict[PortSet, int] = defaultdict(int)
    for policy in compiled.applied[Direction.INGRESS][target]:
        for rule in policy.ingress:
            entries[rule.ports_for(named)] |= rule.bits
    isolated = everyone if compiled.applied[Direction.INGRESS][target] else 0
    cells = _policy_cells(entries, isolated, everyone)
    for admin_rule in compiled.admin_rules[Direction.INGRESS][target]:
        cells = _refine(cells, admin_rule.bits, _admin_update(admin_rule, named))
    for baseline_rule in compiled.baseline_rules[Direction.INGRESS][target]:
        cells = _refine(cells, baseline_rule.bits, _baseline_update(baseline_rule, named))
    return cells


def _admin_update(rule: CompiledAdminRule, named: NamedPorts | None) -> Callable[[_State], _State]:
    ports = rule.ports_for(named)
    return lambda state: state.admin(rule.action, ports)


def _baseline_update(
    rule: CompiledAdminRule, named: NamedPorts | None
) -> Callable[[_State], _State]:
    ports = rule.ports_for(named)
    return lambda state: state.baseline(rule.action, ports)


def tiered_class_connectivity(
    compiled: CompiledCluster, deadline: Deadline = NO_DEADLINE
) -> list[list[tuple[int, PortSet]]]:
    """Same contract as :func:`service.engine.connectivity.class_connectivity`."""
    classes = compiled.class_count
    everyone = compiled.all_peers
    egress_isolated = compiled.isolated[Direction.EGRESS]
    universal, reaching = egress_groups_by_target(compiled)
    admin_reaching: list[list[tuple[CompiledAdminRule, int]]] = [
        [] for _ in range(compiled.peer_count)
    ]
    for policy in compiled.admin_policies:  # evaluation order: priority, name; baseline last
        for rule in policy.egress:
            for peer in bitsets.indices(rule.bits).tolist():
                admin_reaching[peer].append((rule, policy.selected))

    result: list[list[tuple[int, PortSet]]] = []
    for target in range(compiled.peer_count):
        deadline.check(lambda: map_stage(target, compiled))  # noqa: B023  (called now)
        named = compiled.named_ports_of(target)
        entries: dict[PortSet, int] = defaultdict(int)
        for group in (*reaching[target], *universal):
            entries[group.rule.ports_for(named)] |= group.sources
        leaving = _policy_cells(entries, egress_isolated, everyone)
        for rule, sources in admin_reaching[target]:
            update = (
                _baseline_update(rule, named)
                if rule.policy.baseline
                else _admin_update(rule, named)
            )
            leaving = _refine(leaving, sources, update)
        admitted = _ingress_cells(compiled, target, named)
        found: dict[PortSet, int] = defaultdict(int)
        for out_bits, out_state in leaving:
            out_ports = out_state.result()
            if not out_ports:
                continue
            for in_bits, in_state in admitted:
                bits = out_bits & in_bits
                if target >= classes:
                    bits &= compiled.all_classes  # external to external: no policy applies
                if bits:
                    ports = out_ports & in_state.result()
                    if ports:
                        found[ports] |= bits
        result.append([(bits, ports) for ports, bits in found.items()])
    return result
