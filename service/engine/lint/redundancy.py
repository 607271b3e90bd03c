"""NR006 / NR007: rules and policies that allow nothing the others do not already allow.

A rule admits ``peers x ports`` for the classes its policy selects. It is redundant when,
for the same classes, the union of other rules of that direction covers the product: the
rule's peer bitset is split into regions, each with the ports still uncovered, by every
candidate rule in turn; the rule is covered when no region is left. Candidates are the rules
of policies that select every class the rule's policy selects (found from the policies
applied to one of those classes), so the check is sound: it never calls a rule redundant that
is not. Named ports are compared by name (a name is covered by the same name, or by every
port of its protocol).

Greedy and deterministic: policies are examined from the last (by namespace and name) to the
first, so of two duplicates the later one is reported and the earlier one kept; likewise
for rules within a policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.engine.compile import CompiledPolicy, CompiledRule
from service.engine.lint.context import LintContext, listing, plural, rule_field, sorted_refs
from service.engine.lint.findings import Finding, Severity
from service.engine.model import Direction, PortSet, Protocol

MAX_REGIONS = 64


@dataclass(frozen=True, slots=True)
class _Ports:
    numeric: PortSet
    named: frozenset[tuple[str, Protocol]]

    @classmethod
    def of(cls, rule: CompiledRule) -> _Ports:
        return cls(rule.numeric_ports, frozenset(rule.named_ports))

    def minus(self, other: _Ports) -> _Ports:
        named = frozenset(
            n
            for n in self.named
            if n not in other.named and not PortSet.protocol_all(n[1]).issubset(other.numeric)
        )
        return _Ports(self.numeric - other.numeric, named)

    def __bool__(self) -> bool:
        return bool(self.numeric) or bool(self.named)


def covering(rule: CompiledRule, candidates: list[CompiledRule]) -> list[CompiledRule] | None:
    """The candidates that together admit everything ``rule`` admits, or None."""
    regions: list[tuple[int, _Ports]] = [(rule.bits, _Ports.of(rule))]
    used: list[CompiledRule] = []
    for candidate in candidates:
        ports = _Ports.of(candidate)
        split: list[tuple[int, _Ports]] = []
        touched = False
        for bits, needed in regions:
            inside = bits & candidate.bits
            if not inside:
                split.append((bits, needed))
                continue
            rest = needed.minus(ports)
            if rest == needed:
                split.append((bits, needed))
                continue
            touched = True
            outside = bits & ~candidate.bits
            if outside:
                split.append((outside, needed))
            if rest:
                split.append((inside, rest))
        if touched:
            used.append(candidate)
        regions = split
        if not regions:
            return used
        if len(regions) > MAX_REGIONS:
            return None
    return None


def _lowest(bits: int) -> int:
    return (bits & -bits).bit_length() - 1


def _is_pure_deny(ctx: LintContext, policy: CompiledPolicy) -> bool:
    return not any(ctx.rules(policy, d) for d in Direction)


class _Redundancy:
    def __init__(self, ctx: LintContext) -> None:
        self.ctx = ctx
        self.flagged_policies: set[int] = set()  # id() of CompiledPolicy
        self.flagged_rules: set[int] = set()  # id() of CompiledRule

    def others(self, policy: CompiledPolicy, direction: Direction) -> list[CompiledPolicy]:
        """Unflagged policies of ``direction`` selecting every class ``policy`` selects."""
        selected = policy.selected
        out = []
        for other in self.ctx.compiled.applied[direction][_lowest(selected)]:
            if other is policy or id(other) in self.flagged_policies:
                continue
            if other.selected & selected == selected:
                out.append(other)
        return out

    def redundant_policy(self, policy: CompiledPolicy) -> list[CompiledPolicy] | None:
        ctx = self.ctx
        pure_deny = _is_pure_deny(ctx, policy)
        involved: dict[int, CompiledPolicy] = {}
        for direction in sorted(policy.policy.policy_types):
            others = self.others(policy, direction)
            rules = ctx.rules(policy, direction)
            if not rules:
                denies = [o for o in others if not ctx.rules(o, direction)] if pure_deny else others
                if not denies:
                    return None
                involved.setdefault(id(denies[0]), denies[0])
                continue
            candidates = [r for o in others for r in ctx.rules(o, direction)]
            for rule in rules:
                if not rule.bits:
                    return None  # admits nothing: NR004 says why
                used = covering(rule, candidates)
                if used is None:
                    return None
                for r in used:
                    owner = next(o for o in others if o.policy is r.policy)
                    involved.setdefault(id(owner), owner)
        return list(involved.values())

    def run(self) -> list[Finding]:
        ctx = self.ctx
        findings: list[Finding] = []
        ordered = sorted(
            (p for p in ctx.compiled.policies if p.selected),
            key=lambda p: (p.policy.namespace, p.policy.name),
            reverse=True,
        )
        for policy in ordered:
            if not policy.policy.policy_types:
                continue
            involved = self.redundant_policy(policy)
            if involved is None:
                continue
            self.flagged_policies.add(id(policy))
            findings.append(self._policy_finding(policy, involved))
        for policy in ordered:
            if id(policy) in self.flagged_policies:
                continue
            for direction in sorted(policy.policy.policy_types):
                findings.extend(self._rules(policy, direction))
        return findings

    def _rules(self, policy: CompiledPolicy, direction: Direction) -> list[Finding]:
        ctx = self.ctx
        own = ctx.rules(policy, direction)
        if not own:
            return []
        foreign = [r for o in self.others(policy, direction) for r in ctx.rules(o, direction)]
        findings = []
        for rule in reversed(own):
            if not rule.bits:
                continue
            candidates = [
                r
                for r in (*own, *foreign)
                if r is not rule and id(r) not in self.flagged_rules and r.bits
            ]
            used = covering(rule, candidates)
            if used is None:
                continue
            self.flagged_rules.add(id(rule))
            findings.append(self._rule_finding(policy, rule, used))
        return findings

    def _policy_finding(self, policy: CompiledPolicy, involved: list[CompiledPolicy]) -> Finding:
        refs = sorted_refs(p.policy.ref for p in involved)
        subjects, count = self.ctx.subjects(policy.selected)
        return Finding(
            code="NR007",
            severity=Severity.INFO,
            message=(
                f"{policy.policy.ref} allows nothing that {listing(str(r) for r in refs)} "
                f"{'does' if len(refs) == 1 else 'do'} not already allow to the "
                f"{plural(count, 'workload or pod', 'workloads and pods')} it selects, and "
                "they isolate them too: removing it changes nothing."
            ),
            objects=(policy.policy.ref, *refs),
            suggestion=f"Delete {policy.policy.ref}, or merge what it means to say into {refs[0]}.",
            subjects=subjects,
            subject_count=count,
        )

    def _rule_finding(
        self, policy: CompiledPolicy, rule: CompiledRule, used: list[CompiledRule]
    ) -> Finding:
        def where(r: CompiledRule) -> str:
            own = r.policy is policy.policy
            return rule_field(r) + ("" if own else f" of {r.policy.ref}")

        others = sorted_refs(r.policy.ref for r in used if r.policy is not policy.policy)
        return Finding(
            code="NR006",
            severity=Severity.INFO,
            message=(
                f"{policy.policy.ref}: {rule_field(rule)} allows nothing that "
                f"{listing(where(r) for r in used)} "
                f"{'does' if len(used) == 1 else 'do'} not already allow to the same pods."
            ),
            objects=(policy.policy.ref, *others),
            suggestion=f"Remove {rule_field(rule)} from {policy.policy.ref}.",
            field=rule_field(rule),
        )


def check_redundancy(ctx: LintContext) -> list[Finding]:
    return _Redundancy(ctx).run()
