"""Class-level connectivity when admin-tier policies are present (rule 8).

For one destination, the sources are split into cells that every rule treats alike, each
cell carrying its state through the tiers: Admin-tier rules in order (first match decides
Accept/Allow, Deny, or Pass on), then NetworkPolicy if it isolates the endpoint, else the
Baseline tier (first match: Accept/Allow, Deny, or Pass to the default), then allow.
Egress is evaluated for every source towards the destination, ingress for the destination
from every source; a connection needs both.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

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
        return _State(
            self.allowed | ports if action is AdminAction.ALLOW else self.allowed,
            self.denied | ports if action is AdminAction.DENY else self.denied,
            self.decided | ports,
            self.policy,
            self.baseline_denied,
            self.baseline_decided,
        )

    def baseline(self, action: AdminAction, ports: PortSet) -> _State:
        ports = ports - self.baseline_decided
        if not ports:
            return self
        denied = self.baseline_denied | ports if action is AdminAction.DENY else None
        return _State(
            self.allowed,
            self.denied,
            self.decided,
            self.policy,
            self.baseline_denied if denied is None else denied,
            self.baseline_decided | ports,
        )

    def result(self) -> PortSet:
        rest = _ALL - self.allowed - self.denied
        if self.policy is not None:
            return self.allowed | (rest & self.policy)
        return self.allowed | (rest - self.baseline_denied)


# Cells: each state (by its id in a :class:`_Transitions`) with the peers in it. Peers in
# one state are treated alike by every rule seen so far, so cells with equal states are
# merged: their number stays small.
Cells = dict[int, int]
_Step = tuple[bool, AdminAction, PortSet]  # (baseline tier?, action, ports)


class _Transitions:
    """States interned as small ints, with memoised steps and results: the same few states
    meet the same rules again and again, for every destination."""

    def __init__(self) -> None:
        self._states: list[_State] = []
        self._ids: dict[_State, int] = {}
        self._step_ids: dict[_Step, int] = {}
        self._steps: dict[tuple[int, int], int] = {}
        self._results: dict[tuple[int, PortSet | None], PortSet] = {}

    def state(self, state: _State) -> int:
        found = self._ids.get(state)
        if found is None:
            found = self._ids[state] = len(self._states)
            self._states.append(state)
        return found

    def step_id(self, step: _Step) -> int:
        found = self._step_ids.get(step)
        if found is None:
            found = self._step_ids[step] = len(self._step_ids)
        return found

    def step(self, state: int, step: int, value: _Step) -> int:
        key = (state, step)
        found = self._steps.get(key)
        if found is None:
            baseline, action, ports = value
            current = self._states[state]
            moved = current.baseline(action, ports) if baseline else current.admin(action, ports)
            found = self._steps[key] = self.state(moved)
        return found

    def result(self, state: int, policy: PortSet | None) -> PortSet:
        """The ports an admin-tier state lets through, given NetworkPolicy's verdict."""
        key = (state, policy)
        found = self._results.get(key)
        if found is None:
            s = self._states[state]
            combined = _State(
                s.allowed, s.denied, s.decided, policy, s.baseline_denied, s.baseline_decided
            )
            found = self._results[key] = combined.result()
        return found


def _refine(cells: Cells, bits: int, step: _Step, memo: _Transitions) -> Cells:
    step_id = memo.step_id(step)
    moves: dict[int, int] = {}
    for state, cell_bits in cells.items():
        if cell_bits & bits:
            moved = memo.step(state, step_id, step)
            if moved != state:
                moves[state] = moved
    if not moves:
        return cells  # the rule decides nothing new for these peers
    out: Cells = defaultdict(int)
    for state, cell_bits in cells.items():
        target = moves.get(state)
        if target is None:
            out[state] |= cell_bits
            continue
        out[target] |= cell_bits & bits
        outside = cell_bits & ~bits
        if outside:
            out[state] |= outside
    return out


PolicyCells = dict[PortSet | None, int]  # NetworkPolicy's verdict (None: not isolated)


def _policy_cells(entries: dict[PortSet, int], isolated: int, everyone: int) -> PolicyCells:
    """NetworkPolicy's verdict per peer: union of matching rules for isolated peers (none
    matching: nothing), None for the others."""
    cells: PolicyCells = defaultdict(int)
    covered = 0
    for bits, ports in disjoint(entries):
        cells[ports] |= bits
        covered |= bits
    if isolated & ~covered:
        cells[_NONE] |= isolated & ~covered
    if everyone & ~isolated:
        cells[None] |= everyone & ~isolated
    return cells


class _Prefixes:
    """The admin tiers alone (NetworkPolicy's verdict only matters in the result), for rule
    sequences given in evaluation order: sequences of different destinations share long
    prefixes, so each prefix is refined once (a trie keyed by rule and step)."""

    def __init__(self, everyone: int, memo: _Transitions) -> None:
        self.memo = memo
        self.root: Cells = {memo.state(_State()): everyone}
        self.children: dict[tuple[int, int, int], Cells] = {}  # (node, rule, step) -> cells
        self.by_rules: dict[tuple[object, ...], Cells] = {}  # rule ids and named ports -> cells

    def cells(self, sequence: list[tuple[int, int, _Step]]) -> Cells:
        """``sequence``: (rule id, peer bits, step) per rule, in evaluation order."""
        cells = self.root
        for rule, bits, step in sequence:
            key = (id(cells), rule, self.memo.step_id(step))
            found = self.children.get(key)
            if found is None:
                found = self.children[key] = _refine(cells, bits, step, self.memo)
            cells = found
        return cells


Side = list[tuple[int, PortSet]]


def _side(
    admin: Cells, policy: PolicyCells, memo: _Transitions, cache: dict[tuple[int, object], Side]
) -> Side:
    """Both parts of one side combined: disjoint peer sets with the ports they get (the
    same combination, for another destination, is taken from ``cache``)."""
    key = (id(admin), frozenset(policy.items()))
    cached = cache.get(key)
    if cached is not None:
        return cached
    found: dict[PortSet, int] = defaultdict(int)
    for state, admin_bits in admin.items():
        for verdict, policy_bits in policy.items():
            bits = admin_bits & policy_bits
            if bits:
                ports = memo.result(state, verdict)
                if ports:
                    found[ports] |= bits
    side = cache[key] = [(bits, ports) for ports, bits in found.items()]
    return side


def tiered_class_connectivity(
    compiled: CompiledCluster,
    deadline: Deadline = NO_DEADLINE,
    *,
    dns: bool = False,
    targets: range | None = None,
) -> list[list[tuple[int, PortSet]]]:
    """Same contract as :func:`service.engine.connectivity.class_connectivity`; ``dns``: as
    if every ``domainNames`` peer resolved to every external address (rule 9).

    Each side is NetworkPolicy's verdict per peer combined with the admin tiers' state per
    peer; the admin part depends only on the rules that reach the destination and its
    named ports, so destinations that share those share the work. ``targets``: only those
    destinations (default: every peer), in order."""
    classes = compiled.class_count
    everyone = compiled.all_peers
    egress_isolated = compiled.isolated[Direction.EGRESS]
    universal, reaching = egress_groups_by_target(compiled)
    admin_reaching: list[list[CompiledAdminRule]] = [[] for _ in range(compiled.peer_count)]
    sources: dict[int, int] = {}
    for policy in compiled.admin_policies:  # evaluation order: priority, name; baseline last
        for rule in policy.egress:
            sources[id(rule)] = policy.selected
            bits = rule.bits | rule.dns_bits if dns else rule.bits
            for peer in bitsets.indices(bits).tolist():
                admin_reaching[peer].append(rule)

    memo = _Transitions()
    prefixes = _Prefixes(everyone, memo)
    by_rules = prefixes.by_rules
    sides: dict[tuple[int, object], Side] = {}
    pairs: dict[tuple[int, int, bool], list[tuple[int, PortSet]]] = {}
    both: dict[tuple[PortSet, PortSet], PortSet] = {}
    result: list[list[tuple[int, PortSet]]] = []
    for target in range(compiled.peer_count) if targets is None else targets:
        deadline.check(lambda: map_stage(target, compiled))  # noqa: B023  (called now)
        named = compiled.named_ports_of(target)
        entries: dict[PortSet, int] = defaultdict(int)
        for group in (*reaching[target], *universal):
            entries[group.rule.ports_for(named)] |= group.sources
        rules = admin_reaching[target]
        rules_key = ("egress", tuple(map(id, rules)), named)
        admin_out = by_rules.get(rules_key)
        if admin_out is None:
            sequence = [
                (id(r), sources[id(r)], (r.policy.baseline, r.action, r.ports_for(named)))
                for r in rules
            ]
            admin_out = by_rules[rules_key] = prefixes.cells(sequence)
        policy_out = _policy_cells(entries, egress_isolated, everyone)
        leaving = _side(admin_out, policy_out, memo, sides)
        admitted = _ingress(compiled, target, named, memo, prefixes, sides)
        external = target >= classes
        pair_key = (id(leaving), id(admitted), external)
        found_pairs = pairs.get(pair_key)
        if found_pairs is None:
            found: dict[PortSet, int] = defaultdict(int)
            for out_bits, out_ports in leaving:
                for in_bits, in_ports in admitted:
                    bits = out_bits & in_bits
                    if external:
                        bits &= compiled.all_classes  # external to external: no policy
                    if bits:
                        ports = both.get((out_ports, in_ports))
                        if ports is None:
                            ports = both[out_ports, in_ports] = out_ports & in_ports
                        if ports:
                            found[ports] |= bits
            found_pairs = pairs[pair_key] = [(bits, ports) for ports, bits in found.items()]
        result.append(list(found_pairs))
    return result


def dns_class_connectivity(
    compiled: CompiledCluster, deadline: Deadline = NO_DEADLINE
) -> tuple[list[list[tuple[int, PortSet]]], list[list[tuple[int, PortSet]]]]:
    """What is allowed whatever DNS says, and what DNS decides, per destination (rule 9).
    A domain name stands for external addresses only, so only external destinations are
    evaluated a second time, as if every domain name resolved to them."""
    unresolved = tiered_class_connectivity(compiled, deadline)
    classes = compiled.class_count
    pieces = range(classes, compiled.peer_count)
    resolved = tiered_class_connectivity(compiled, deadline, dns=True, targets=pieces)
    definite, dependent = dns_split(unresolved[classes:], resolved)
    nothing: list[list[tuple[int, PortSet]]] = [[] for _ in range(classes)]
    return unresolved[:classes] + definite, nothing + dependent


def _ingress(
    compiled: CompiledCluster,
    target: int,
    named: NamedPorts | None,
    memo: _Transitions,
    prefixes: _Prefixes,
    sides: dict[tuple[int, object], Side],
) -> Side:
    everyone = compiled.all_peers
    if not compiled.is_subject(target):  # one list for all (the caches key on identity)
        return sides.setdefault((-1, None), [(everyone, _ALL)])
    entries: dict[PortSet, int] = defaultdict(int)
    for policy in compiled.applied[Direction.INGRESS][target]:
        for rule in policy.ingress:
            entries[rule.ports_for(named)] |= rule.bits
    isolated = everyone if compiled.applied[Direction.INGRESS][target] else 0
    admin = compiled.admin_rules[Direction.INGRESS][target]
    baseline = compiled.baseline_rules[Direction.INGRESS][target]
    key = (tuple(map(id, admin)), tuple(map(id, baseline)), named)
    cells = prefixes.by_rules.get(key)
    if cells is None:
        sequence = [(id(r), r.bits, (False, r.action, r.ports_for(named))) for r in admin]
        sequence += [(id(r), r.bits, (True, r.action, r.ports_for(named))) for r in baseline]
        cells = prefixes.by_rules[key] = prefixes.cells(sequence)
    return _side(cells, _policy_cells(entries, isolated, everyone), memo, sides)


def dns_split(
    unresolved: list[list[tuple[int, PortSet]]], resolved: list[list[tuple[int, PortSet]]]
) -> tuple[list[list[tuple[int, PortSet]]], list[list[tuple[int, PortSet]]]]:
    """Per destination, from the connectivity when no domain name resolves to it and when
    every one does: what is allowed either way, and what DNS decides (allowed one way
    only). Both inputs and outputs hold disjoint source sets per destination."""
    definite: list[list[tuple[int, PortSet]]] = []
    dependent: list[list[tuple[int, PortSet]]] = []
    for without, with_dns in zip(unresolved, resolved, strict=True):
        both: dict[PortSet, int] = defaultdict(int)
        either: dict[PortSet, int] = defaultdict(int)
        seen_without = 0
        for bits, ports in without:
            seen_without |= bits
            rest = bits
            for other_bits, other_ports in with_dns:
                shared = bits & other_bits
                if not shared:
                    continue
                rest &= ~other_bits
                if ports & other_ports:
                    both[ports & other_ports] |= shared
                changed = (ports - other_ports) | (other_ports - ports)
                if changed:
                    either[changed] |= shared
            if rest:
                either[ports] |= rest
        for bits, ports in with_dns:
            if bits & ~seen_without:
                either[ports] |= bits & ~seen_without
        definite.append([(bits, ports) for ports, bits in both.items()])
        dependent.append([(bits, ports) for ports, bits in either.items()])
    return definite, dependent
