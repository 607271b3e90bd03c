"""Class-level connectivity when admin-tier policies are present (rule 8).

The tiers in order: Admin-tier rules (first match decides Accept/Allow, Deny, or Pass on),
then NetworkPolicy if it isolates the endpoint, else the Baseline tier (first match:
Accept/Allow, Deny, or Pass to the default), then allow. The admin tiers' state of every
pair comes from :mod:`service.engine.tier_tables`; per destination, the sources are split
into cells by that state and by NetworkPolicy's verdict. Egress is evaluated for every
source towards the destination, ingress for the destination from every source; a
connection needs both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from service.engine.compile import CompiledCluster, CompiledPolicy
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.grouping import disjoint, egress_groups_by_target, map_stage
from service.engine.model import Direction, PortSet
from service.engine.tier_tables import TierTable, tier_table

_ALL = PortSet.all()
_NONE = PortSet.empty()

PolicyCells = dict[PortSet | None, int]  # NetworkPolicy's verdict (None: not isolated)
Side = list[tuple[int, PortSet]]


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


def _split_cells(policy: PolicyCells) -> tuple[int, int]:
    """The peers NetworkPolicy's verdict lets some port through, and the others (not
    isolated, or admitted nothing: the admin tiers' verdict alone)."""
    admitted = admin_only = 0
    for verdict, bits in policy.items():
        if verdict:
            admitted |= bits
        else:
            admin_only |= bits
    return admitted, admin_only


def _side(table: TierTable, group: int, policy: PolicyCells) -> Side:
    """Both parts of one side combined: disjoint peer sets with the ports they get."""
    found: dict[PortSet, int] = defaultdict(int)
    admin_only = 0  # not isolated, or NetworkPolicy admits nothing: the admin tiers' verdict
    by_state = table.by_state(group).items()
    result = table.result
    for verdict, policy_bits in policy.items():
        if not verdict:
            admin_only |= policy_bits
            continue
        results = table.results(verdict)
        for state, state_bits in by_state:
            bits = state_bits & policy_bits
            if bits:
                ports = results.get(state)
                if ports is None:
                    ports = result(state, verdict)
                if ports:
                    found[ports] |= bits
    if admin_only:
        for ports, admin_bits in table.by_allowed(group).items():
            bits = admin_bits & admin_only
            if bits:
                found[ports] |= bits
    return [(bits, ports) for ports, bits in found.items()]


def tiered_class_connectivity(
    compiled: CompiledCluster,
    deadline: Deadline = NO_DEADLINE,
    *,
    dns: bool = False,
    targets: Sequence[int] | None = None,
) -> list[list[tuple[int, PortSet]]]:
    """Same contract as :func:`service.engine.connectivity.class_connectivity`; ``dns``: as
    if every ``domainNames`` peer resolved to every external address (rule 9)."""
    order = list(range(compiled.peer_count) if targets is None else targets)
    if dns:
        return _tiered(compiled, deadline, [], order)[1]
    return _tiered(compiled, deadline, order, [])[0]


def dns_class_connectivity(
    compiled: CompiledCluster, deadline: Deadline = NO_DEADLINE
) -> tuple[list[list[tuple[int, PortSet]]], list[list[tuple[int, PortSet]]]]:
    """What is allowed whatever DNS says, and what DNS decides, per destination (rule 9).
    A domain name stands for external addresses only, so only external destinations are
    evaluated a second time, as if every domain name resolved to them."""
    classes = compiled.class_count
    pieces = list(range(classes, compiled.peer_count))
    unresolved, resolved = _tiered(compiled, deadline, range(compiled.peer_count), pieces)
    definite, dependent = dns_split(unresolved[classes:], resolved)
    nothing: list[list[tuple[int, PortSet]]] = [[] for _ in range(classes)]
    return unresolved[:classes] + definite, nothing + dependent


def _tiered(
    compiled: CompiledCluster,
    deadline: Deadline,
    targets: Sequence[int],
    dns_targets: Sequence[int],
) -> tuple[list[list[tuple[int, PortSet]]], list[list[tuple[int, PortSet]]]]:
    """Per destination of ``targets``, and of ``dns_targets`` as if every domain name
    resolved to it: disjoint source sets with their ports.

    Each side is NetworkPolicy's verdict per peer combined with the admin tiers' state per
    peer (:mod:`service.engine.tier_tables`); destinations with the same admin group and
    the same NetworkPolicy verdict share their side, and both passes share the tables."""
    classes = compiled.class_count
    everyone = compiled.all_peers
    egress_isolated = compiled.isolated[Direction.EGRESS]
    applied = compiled.applied[Direction.INGRESS]
    universal, reaching = egress_groups_by_target(compiled)
    deadline.check("connectivity map: admin tiers (egress)")
    egress = tier_table(compiled, Direction.EGRESS, targets, dns_targets)
    deadline.check("connectivity map: admin tiers (ingress)")
    subjects = sorted({t for t in (*targets, *dns_targets) if compiled.is_subject(t)})
    ingress = tier_table(compiled, Direction.INGRESS, subjects)

    sides: dict[tuple[bool, int, int], Side] = {}
    verdicts: dict[tuple[object, ...], PolicyCells] = {}
    by_ports: dict[tuple[object, ...], PolicyCells] = {}  # ingress: policies, resolved ports
    pairs: dict[tuple[int, int, bool], list[tuple[int, PortSet]]] = {}
    both: dict[tuple[PortSet, PortSet], PortSet] = {}
    everything: Side = [(everyone, _ALL)]
    same: dict[frozenset[tuple[PortSet | None, int]], PolicyCells] = {}

    def intern(cells: PolicyCells) -> PolicyCells:
        """One object per distinct verdict: sides are shared by (group, verdict)."""
        return same.setdefault(frozenset(cells.items()), cells)

    all_classes = compiled.all_classes
    named_of = [compiled.named_ports_of(t) for t in range(compiled.peer_count)]
    subject = [compiled.is_subject(t) for t in range(compiled.peer_count)]

    bounds: dict[tuple[bool, int, int], int] = {}
    split_cells: dict[int, tuple[int, int]] = {}
    reaches: dict[int, int] = {}  # per side: every source it holds

    def bound(table: TierTable, key: tuple[bool, int, int], verdict: PolicyCells) -> int:
        """Every source a side (not yet computed) can hold: those NetworkPolicy lets some
        port through, and of the others those the admin tiers alone let through."""
        found = bounds.get(key)
        if found is None:
            cells = split_cells.get(id(verdict))
            if cells is None:
                cells = split_cells[id(verdict)] = _split_cells(verdict)
            admitted, admin_only = cells
            found = bounds[key] = admitted | (admin_only & table.allowed_sources(key[1]))
        return found

    def reach(side: Side) -> int:
        found = reaches.get(id(side))
        if found is None:
            found = 0
            for bits, _ in side:
                found |= bits
            reaches[id(side)] = found
        return found

    uppers: dict[tuple[int, ...], int] = {}

    def upper(policies: list[CompiledPolicy]) -> int:
        """Every source some ingress rule of ``policies`` names (NetworkPolicy admits no
        other)."""
        key = tuple(map(id, policies))
        found = uppers.get(key)
        if found is None:
            found = 0
            for policy in policies:
                for rule in policy.ingress:
                    found |= rule.bits
            uppers[key] = found
        return found

    alike: dict[tuple[object, ...], list[tuple[int, PortSet]]] = {}

    def row(target: int, dns: bool) -> list[tuple[int, PortSet]]:
        """One destination's disjoint sources with their ports: destinations alike in
        every part of it (admin groups, named ports, the policies that reach or select
        them) share it."""
        named = named_of[target]
        np_key: tuple[object, ...] = (False, named, *map(id, reaching[target]))
        group = egress.group(target, dns=dns)
        if subject[target]:
            row_key: tuple[object, ...] = (
                group,
                target >= classes,
                ingress.group(target),
                np_key,
                *map(id, applied[target]),
            )
        else:
            row_key = (group, target >= classes, np_key)
        found = alike.get(row_key)
        if found is None:
            found = alike[row_key] = computed(target, dns, named, np_key, group)
        return list(found)

    def computed(
        target: int, dns: bool, named: object, np_key: tuple[object, ...], group: int
    ) -> list[tuple[int, PortSet]]:
        """One destination's disjoint sources with their ports; sides whose sources cannot
        meet are not computed (most destinations of a guarded cluster get nothing)."""
        external = target >= classes
        verdict = verdicts.get(np_key)
        if verdict is None:
            entries: dict[PortSet, int] = defaultdict(int)
            for g in (*reaching[target], *universal):
                entries[g.rule.ports_for(named)] |= g.sources  # type: ignore[arg-type]
            verdict = verdicts[np_key] = intern(_policy_cells(entries, egress_isolated, everyone))
        key = (False, group, id(verdict))
        leaving = sides.get(key)
        if subject[target]:
            policies = applied[target]
            group = ingress.group(target)
            # every source the destination could admit: those some ingress rule names, and
            # those the admin tiers alone let in
            admits = ingress.allowed_sources(group) | upper(policies)
            if external:
                admits &= all_classes  # external to external: no policy
            if leaving is None and not bound(egress, key, verdict) & admits:
                return []  # the side is not needed: no source it could hold is admitted
        else:
            admits = all_classes if external else everyone
        if leaving is None:
            if not bound(egress, key, verdict) & admits:
                return []
            leaving = sides[key] = _side(egress, key[1], verdict)
        if subject[target]:
            reach_out = reach(leaving) & admits
            if not reach_out:
                return []  # no source may leave that the destination could admit
            np_key = (True, named, *map(id, policies))
            verdict = verdicts.get(np_key)
            if verdict is None:
                # named ports differ far more often than the ports they resolve to
                rules = [rule for policy in policies for rule in policy.ingress]
                resolved = tuple(rule.ports_for(named) for rule in rules)  # type: ignore[arg-type]
                ports_key = (*map(id, policies), *resolved)
                verdict = by_ports.get(ports_key)
                if verdict is None:
                    entries = defaultdict(int)
                    for rule, rule_ports in zip(rules, resolved, strict=True):
                        entries[rule_ports] |= rule.bits
                    isolated = everyone if policies else 0
                    verdict = intern(_policy_cells(entries, isolated, everyone))
                    by_ports[ports_key] = verdict
                verdicts[np_key] = verdict
            key = (True, group, id(verdict))
            admitted = sides.get(key)
            if admitted is None:
                if not bound(ingress, key, verdict) & reach_out:
                    return []  # no source the destination side can hold may leave
                admitted = sides[key] = _side(ingress, group, verdict)
        else:
            admitted = everything
        pair_key = (id(leaving), id(admitted), external)
        found_pairs = pairs.get(pair_key)
        if found_pairs is None:
            found: dict[PortSet, int] = defaultdict(int)
            meets = reach(admitted)  # every source the destination side admits
            if external:
                meets &= all_classes  # external to external: no policy
            for out_bits, out_ports in leaving:
                if not out_bits & meets:
                    continue
                for in_bits, in_ports in admitted:
                    bits = out_bits & in_bits
                    if external:
                        bits &= all_classes
                    if bits:
                        ports = both.get((out_ports, in_ports))
                        if ports is None:
                            ports = both[out_ports, in_ports] = out_ports & in_ports
                        if ports:
                            found[ports] |= bits
            found_pairs = pairs[pair_key] = [(bits, ports) for ports, bits in found.items()]
        return found_pairs

    passes: list[list[list[tuple[int, PortSet]]]] = []
    for dns, order in ((False, targets), (True, dns_targets)):
        rows = []
        for target in order:
            deadline.check(lambda: map_stage(target, compiled))  # noqa: B023  (called now)
            rows.append(row(target, dns))
        passes.append(rows)
    return passes[0], passes[1]


def dns_split(
    unresolved: list[list[tuple[int, PortSet]]], resolved: list[list[tuple[int, PortSet]]]
) -> tuple[list[list[tuple[int, PortSet]]], list[list[tuple[int, PortSet]]]]:
    """Per destination, from the connectivity when no domain name resolves to it and when
    every one does: what is allowed either way, and what DNS decides (allowed one way
    only). Both inputs and outputs hold disjoint source sets per destination."""
    definite: list[list[tuple[int, PortSet]]] = []
    dependent: list[list[tuple[int, PortSet]]] = []
    # per (ports without, ports with): those allowed either way, those DNS decides (few
    # distinct pairs recur over every destination)
    compared: dict[tuple[PortSet, PortSet], tuple[PortSet, PortSet]] = {}
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
                found = compared.get((ports, other_ports))
                if found is None:
                    found = compared[ports, other_ports] = (
                        ports & other_ports,
                        (ports - other_ports) | (other_ports - ports),
                    )
                kept, changed = found
                if kept:
                    both[kept] |= shared
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
