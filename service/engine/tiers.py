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

from service.engine.compile import CompiledCluster, CompiledPolicy, NamedPorts
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


_FEW = 8  # needed sources looked up one by one up to this many (most sides need a few)


def _side(table: TierTable, group: int, policy: PolicyCells, needed: int) -> Side:
    """Both parts of one side combined, for the sources of ``needed`` only: disjoint peer
    sets with the ports they get."""
    if needed.bit_count() <= _FEW:
        return _few(table, group, policy, needed)
    found: dict[PortSet, int] = defaultdict(int)
    admin_only = 0  # not isolated, or NetworkPolicy admits nothing: the admin tiers' verdict
    by_state = [(state, bits) for state, bits in table.by_state(group).items() if bits & needed]
    result = table.result
    for verdict, policy_bits in policy.items():
        policy_bits &= needed
        if not policy_bits:
            continue
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
        _admin_only_cells(table, group, by_state, admin_only, found)
    return [(bits, ports) for ports, bits in found.items()]


def _admin_only_cells(
    table: TierTable,
    group: int,
    by_state: list[tuple[int, int]],
    admin_only: int,
    found: dict[PortSet, int],
) -> None:
    """The sources of ``admin_only`` (a subset of those of ``by_state``) into ``found``
    by the ports the admin tiers alone let through, in :meth:`TierTable.allowed_rank`
    order (ranked without building the port sets of states no source needs)."""
    states, allows, kinds = table.states, table.states.allows, table.states.allowed_kind
    rank = table.allowed_rank(group)
    hits = [
        (rank[kinds[state]], state, bits & admin_only)
        for state, bits in by_state
        if allows[state] and bits & admin_only
    ]
    hits.sort()
    for _, state, bits in hits:
        found[states[state].allowed] |= bits


def _few(table: TierTable, group: int, policy: PolicyCells, needed: int) -> Side:
    """As :func:`_side`, one source at a time (the same cells, in the same order: those
    NetworkPolicy admits something by verdict then state, then the others in the order of
    :meth:`TierTable.allowed_rank`)."""
    states = table.states
    state_of = table.state_of(group)
    admitted: list[tuple[int, int, PortSet, int]] = []  # (cell, state, ports, source bit)
    admin_only: list[tuple[int, PortSet, int]] = []  # (rank of the ports, ports, bit)
    rank: dict[int, int] | None = None
    kinds = table.states.allowed_kind
    for cell, (verdict, cell_bits) in enumerate(policy.items()):
        rest = cell_bits & needed  # the cells cover every source
        if not rest:
            continue
        results = table.results(verdict) if verdict else None
        while rest:
            bit = rest & -rest
            rest ^= bit
            state = state_of(bit.bit_length() - 1)
            if results is not None:
                ports = results.get(state)
                if ports is None:
                    ports = table.result(state, verdict)
                if ports:
                    admitted.append((cell, state, ports, bit))
                continue
            ports = states[state].allowed
            if ports:
                if rank is None:
                    rank = table.allowed_rank(group)
                admin_only.append((rank[kinds[state]], ports, bit))
    found: dict[PortSet, int] = defaultdict(int)
    if len(admitted) > 1:
        admitted.sort(key=lambda entry: (entry[0], entry[1]))
    for _, _, ports, bit in admitted:
        found[ports] |= bit
    if len(admin_only) > 1:
        admin_only.sort(key=lambda entry: entry[0])
    for _, ports, bit in admin_only:
        found[ports] |= bit
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


SideKey = tuple[bool, int, int]  # (ingress, admin group, id of NetworkPolicy's verdict)
Plan = tuple[SideKey, SideKey | None, bool] | None  # sides (ingress None: all), external


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
    the same NetworkPolicy verdict share their side, and both passes share the tables.
    Every destination's sides are named first, with the sources that could reach it
    through both (bounds: cheap, per side); each side is then computed once, over only the
    sources some destination of it needs (most of a guarded cluster's are needed by none),
    and the destinations' sides are combined last."""
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

    verdicts: dict[tuple[object, ...], PolicyCells] = {}
    by_ports: dict[tuple[object, ...], PolicyCells] = {}  # ingress: policies, resolved ports
    by_entries: dict[tuple[int, frozenset[tuple[PortSet, int]]], PolicyCells] = {}
    same: dict[frozenset[tuple[PortSet | None, int]], PolicyCells] = {}
    of_key: dict[SideKey, PolicyCells] = {}  # each side's verdict
    needed: dict[SideKey, int] = defaultdict(int)  # each side's sources some destination needs

    def intern(cells: PolicyCells) -> PolicyCells:
        """One object per distinct verdict: sides are shared by (group, verdict)."""
        return same.setdefault(frozenset(cells.items()), cells)

    def verdict_of(entries: dict[PortSet, int], isolated: int) -> PolicyCells:
        """NetworkPolicy's verdict from what its rules admit (``entries``), made once per
        distinct entries: rules that differ often admit alike, and the cells are the same
        whatever the entries' order."""
        key = (isolated, frozenset(entries.items()))
        found = by_entries.get(key)
        if found is None:
            found = by_entries[key] = intern(_policy_cells(entries, isolated, everyone))
        return found

    all_classes = compiled.all_classes
    named_of = [compiled.named_ports_of(t) for t in range(compiled.peer_count)]
    subject = [compiled.is_subject(t) for t in range(compiled.peer_count)]

    bounds: dict[SideKey, int] = {}
    split_cells: dict[int, tuple[int, int]] = {}

    def bound(table: TierTable, key: SideKey, verdict: PolicyCells) -> int:
        """Every source a side can hold: those NetworkPolicy lets some port through, and
        of the others those the admin tiers alone let through."""
        found = bounds.get(key)
        if found is None:
            cells = split_cells.get(id(verdict))
            if cells is None:
                cells = split_cells[id(verdict)] = _split_cells(verdict)
            admitted, admin_only = cells
            found = bounds[key] = admitted | (admin_only & table.allowed_sources(key[1]))
            of_key[key] = verdict
        return found

    uppers: dict[tuple[int, ...], int] = {}

    def upper(policies: list[CompiledPolicy], key: tuple[int, ...]) -> int:
        """Every source some ingress rule of ``policies`` (whose ids are ``key``) names
        (NetworkPolicy admits no other)."""
        found = uppers.get(key)
        if found is None:
            found = 0
            for policy in policies:
                for rule in policy.ingress:
                    found |= rule.bits
            uppers[key] = found
        return found

    def egress_verdict(target: int, named: NamedPorts | None) -> PolicyCells:
        np_key = (False, named, *map(id, reaching[target]))
        verdict = verdicts.get(np_key)
        if verdict is None:
            entries: dict[PortSet, int] = defaultdict(int)
            for g in (*reaching[target], *universal):
                entries[g.rule.ports_for(named)] |= g.sources
            verdict = verdicts[np_key] = verdict_of(entries, egress_isolated)
        return verdict

    def ingress_verdict(
        named: NamedPorts | None, policies: list[CompiledPolicy], ids: tuple[int, ...]
    ) -> PolicyCells:
        np_key = (True, named, ids)
        verdict = verdicts.get(np_key)
        if verdict is None:
            # named ports differ far more often than the ports they resolve to
            rules = [rule for policy in policies for rule in policy.ingress]
            resolved = tuple(rule.ports_for(named) for rule in rules)
            ports_key = (ids, *resolved)
            verdict = by_ports.get(ports_key)
            if verdict is None:
                entries: dict[PortSet, int] = defaultdict(int)
                for rule, rule_ports in zip(rules, resolved, strict=True):
                    entries[rule_ports] |= rule.bits
                verdict = by_ports[ports_key] = verdict_of(entries, everyone if policies else 0)
            verdicts[np_key] = verdict
        return verdict

    def plan(target: int, dns: bool) -> Plan:
        """One destination's sides, the sources it needs of them noted; None when no
        source can reach it (most destinations of a guarded cluster)."""
        named = named_of[target]
        external = target >= classes
        verdict = egress_verdict(target, named)
        leaving: SideKey = (False, egress.group(target, dns=dns), id(verdict))
        if subject[target]:
            policies = applied[target]
            group = ingress.group(target)
            # every source the destination could admit: those some ingress rule names, and
            # those the admin tiers alone let in
            ids = tuple(map(id, policies))
            admits = ingress.allowed_sources(group) | upper(policies, ids)
        else:
            admits = everyone
        if external:
            admits &= all_classes  # external to external: no policy
        may_leave = bound(egress, leaving, verdict) & admits
        if not may_leave:
            return None
        if not subject[target]:
            needed[leaving] |= may_leave
            return (leaving, None, external)
        verdict = ingress_verdict(named, policies, ids)
        admitted: SideKey = (True, group, id(verdict))
        meets = bound(ingress, admitted, verdict) & may_leave
        if not meets:
            return None
        needed[leaving] |= meets
        needed[admitted] |= meets
        return (leaving, admitted, external)

    plans: list[list[Plan]] = []
    for dns, order in ((False, targets), (True, dns_targets)):
        planned = []
        for target in order:
            deadline.check(lambda: map_stage(target, compiled))  # noqa: B023  (called now)
            planned.append(plan(target, dns))
        plans.append(planned)

    sides: dict[SideKey, Side] = {}
    for key, bits in needed.items():
        deadline.check("connectivity map: admin tiers (sides)")
        sides[key] = _side(ingress if key[0] else egress, key[1], of_key[key], bits)

    pairs: dict[tuple[SideKey, SideKey | None, bool], list[tuple[int, PortSet]]] = {}
    both: dict[tuple[PortSet, PortSet], PortSet] = {}

    def combined(leaving: Side, admitted: Side, external: bool) -> list[tuple[int, PortSet]]:
        found: dict[PortSet, int] = defaultdict(int)
        meets = 0  # every source the destination side admits
        for bits, _ in admitted:
            meets |= bits
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
        return [(bits, ports) for ports, bits in found.items()]

    everything: Side = [(everyone, _ALL)]
    passes: list[list[list[tuple[int, PortSet]]]] = []
    for planned, order in zip(plans, (targets, dns_targets), strict=True):
        rows: list[list[tuple[int, PortSet]]] = []
        for target, step in zip(order, planned, strict=True):
            deadline.check(lambda: map_stage(target, compiled))  # noqa: B023  (called now)
            if step is None:
                rows.append([])
                continue
            found = pairs.get(step)
            if found is None:
                leaving_key, admitted_key, external = step
                admitted = everything if admitted_key is None else sides[admitted_key]
                found = pairs[step] = combined(sides[leaving_key], admitted, external)
            rows.append(list(found))
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
