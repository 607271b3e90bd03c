"""Admin-tier checks (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy):
shadowed rules, same-priority ambiguity, Accept rules a higher tier always denies, and
``domainNames`` rules.

The tiers are walked per direction and per group of subject classes that see the same rules
(never per pod pair): the peers are split into cells that every rule so far treats alike,
each cell carrying the ports already decided (and denied) by rules of higher precedence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from service.engine import bitsets
from service.engine.compile import CompiledAdminPolicy, CompiledAdminRule, NamedPorts
from service.engine.lint.context import LintContext, listing
from service.engine.lint.findings import Finding, Severity
from service.engine.model import AdminAction, Direction, ObjectRef, PortSet

_NONE = PortSet.empty()


def admin_rule_field(rule: CompiledAdminRule) -> str:
    side = "ingress" if rule.direction is Direction.INGRESS else "egress"
    return f"spec.{side}[{rule.index}]"


@dataclass(slots=True)
class _Cell:
    bits: int
    decided: PortSet = _NONE  # by earlier rules of the tier
    admin_decided: PortSet = _NONE  # by Accept/Deny of the Admin tier (for Baseline rules)
    admin_denied: PortSet = _NONE
    passed: PortSet = _NONE  # by Pass in the Admin tier: still open for the Baseline tier


@dataclass(slots=True)
class _Verdict:
    """What one rule does over every subject class it applies to."""

    classes: int = 0  # subject classes walked
    effective: int = 0  # classes where it decides something its tier had not
    reached: int = 0  # classes where that is not also decided by a higher tier
    denied_above: int = 0  # classes where an Admin Deny decided all of it
    isolated: int = 0  # classes a NetworkPolicy isolates: the Baseline tier never applies
    shadowing: dict[ObjectRef, None] = field(default_factory=dict)


def _refine(cells: list[_Cell], bits: int) -> tuple[list[_Cell], list[_Cell]]:
    """Split ``cells`` on ``bits``: all cells, and those inside."""
    out: list[_Cell] = []
    inside: list[_Cell] = []
    for cell in cells:
        common = cell.bits & bits
        if not common:
            out.append(cell)
            continue
        rest = cell.bits & ~bits
        if rest:
            out.append(
                _Cell(rest, cell.decided, cell.admin_decided, cell.admin_denied, cell.passed)
            )
        part = _Cell(common, cell.decided, cell.admin_decided, cell.admin_denied, cell.passed)
        out.append(part)
        inside.append(part)
    return out, inside


def _checkable(rule: CompiledAdminRule) -> bool:
    """Egress named ports resolve per destination: such rules are not judged here."""
    return not (rule.direction is Direction.EGRESS and rule.named_ports)


class _Walk:
    def __init__(self, ctx: LintContext) -> None:
        self.ctx = ctx
        self.verdicts: dict[int, _Verdict] = defaultdict(_Verdict)  # id(rule) -> verdict
        self.rules: dict[int, CompiledAdminRule] = {}
        self.decided_by: dict[int, dict[int, ObjectRef]] = {}

    def run(self) -> None:
        compiled = self.ctx.compiled
        for direction in Direction:
            groups: dict[tuple[object, ...], list[int]] = defaultdict(list)
            for c in bitsets.indices(self.ctx.subject_classes).tolist():
                admin = compiled.admin_rules[direction][c]
                baseline = compiled.baseline_rules[direction][c]
                if not admin and not baseline:
                    continue
                named = compiled.named_ports_of(c) if direction is Direction.INGRESS else None
                isolated = bitsets.contains(compiled.isolated[direction], c)
                key = (tuple(map(id, admin)), tuple(map(id, baseline)), named, isolated)
                groups[key].append(c)
            for classes in groups.values():
                self._group(direction, classes)

    def _group(self, direction: Direction, classes: list[int]) -> None:
        compiled = self.ctx.compiled
        c = classes[0]
        named = compiled.named_ports_of(c) if direction is Direction.INGRESS else None
        cells = [_Cell(compiled.all_peers)]
        for rule in compiled.admin_rules[direction][c]:
            cells = self._apply(rule, cells, named, len(classes), baseline=False)
        for cell in cells:  # the Admin tier is done: its decisions shadow the Baseline tier
            cell.admin_decided, cell.decided = cell.decided - cell.passed, _NONE
        if bitsets.contains(compiled.isolated[direction], c):
            for rule in compiled.baseline_rules[direction][c]:  # never reached: NetworkPolicy
                verdict = self.verdicts[id(rule)]
                self.rules[id(rule)] = rule
                verdict.classes += len(classes)
                verdict.isolated += len(classes)
            return
        for rule in compiled.baseline_rules[direction][c]:
            cells = self._apply(rule, cells, named, len(classes), baseline=True)

    def _apply(
        self,
        rule: CompiledAdminRule,
        cells: list[_Cell],
        named: NamedPorts | None,
        count: int,
        *,
        baseline: bool,
    ) -> list[_Cell]:
        self.rules[id(rule)] = rule
        verdict = self.verdicts[id(rule)]
        verdict.classes += count
        ports = rule.ports_for(named)
        cells, inside = _refine(cells, rule.bits)
        effective = reached = False
        denied_above = bool(inside)
        for cell in inside:
            fresh = ports - cell.decided
            if fresh:
                effective = True
                beyond = fresh - cell.admin_decided
                if beyond:
                    reached = True
                if not fresh <= cell.admin_denied:
                    denied_above = False
            cell.decided = cell.decided | ports
            if not baseline and rule.action is AdminAction.DENY:
                cell.admin_denied = cell.admin_denied | fresh
            if not baseline and rule.action is AdminAction.PASS:
                cell.passed = cell.passed | fresh
        if effective:
            verdict.effective += count
        if reached:
            verdict.reached += count
        if denied_above and effective and baseline:
            verdict.denied_above += count
        return cells


def _shadowing(ctx: LintContext, rule: CompiledAdminRule) -> list[str]:
    """The policies of higher precedence whose rules overlap ``rule``'s peers."""
    found: dict[str, None] = {}
    tiers = ctx.compiled.baseline_rules if rule.policy.baseline else ctx.compiled.admin_rules
    for c in bitsets.indices(ctx.subject_classes).tolist():
        rules = tiers[rule.direction][c]
        position = next((i for i, r in enumerate(rules) if r is rule), None)
        if position is None:
            continue
        for earlier in rules[:position]:
            if earlier.bits & rule.bits and earlier.policy is not rule.policy:
                found[str(earlier.policy)] = None
        break
    return list(found)


def check_admin_rules(ctx: LintContext) -> list[Finding]:
    """NR014 (shadowed rule) and NR016 (Accept that a higher tier always denies)."""
    walk = _Walk(ctx)
    walk.run()
    findings: list[Finding] = []
    for key, verdict in walk.verdicts.items():
        rule = walk.rules[key]
        if not verdict.classes or not rule.bits or not _checkable(rule):
            continue  # a rule whose peers match nothing is no shadowing question
        policy = rule.policy
        action = policy.action_name(rule.action)
        where = admin_rule_field(rule)
        named = f" ({rule.rule.name})" if rule.rule.name else ""
        subjects, count = ctx.subjects_of(
            c for c in bitsets.indices(_selected(ctx, rule.policy)).tolist()
        )
        if verdict.effective == 0 and verdict.isolated == 0:
            above = _shadowing(ctx, rule)
            by = f" by {listing(above)}" if above else ""
            findings.append(
                Finding(
                    "NR014", Severity.WARNING,
                    f"{policy} {where}{named} ({action}) never decides anything: every peer "
                    f"and port it matches is decided first by rules of higher precedence{by}",
                    (policy.ref,),
                    "Remove the rule, or move it before the rules that shadow it (a lower "
                    "priority number, or earlier in the policy).",
                    field=where, subjects=subjects, subject_count=count,
                )
            )  # fmt: skip
        elif (
            policy.baseline
            and rule.action is AdminAction.ALLOW
            and (0 < verdict.denied_above == verdict.classes)
        ):
            findings.append(
                Finding(
                    "NR016", Severity.WARNING,
                    f"{policy} {where}{named} ({action}) never takes effect: the Admin tier "
                    "denies everything it would accept",
                    (policy.ref,),
                    "An Admin-tier Deny has precedence over every Baseline rule; narrow the "
                    "Deny or Pass this traffic in the Admin tier.",
                    field=where, subjects=subjects, subject_count=count,
                )
            )  # fmt: skip
        elif policy.baseline and verdict.reached == 0:
            findings.append(
                Finding(
                    "NR014", Severity.WARNING,
                    f"{policy} {where}{named} ({action}) never decides anything: the Admin "
                    "tier or NetworkPolicies decide everything it matches first",
                    (policy.ref,),
                    "Baseline rules apply only to traffic the Admin tier passes or leaves "
                    "undecided, for pods no NetworkPolicy isolates; remove or retarget it.",
                    field=where, subjects=subjects, subject_count=count,
                )
            )  # fmt: skip
    return findings


def _selected(ctx: LintContext, policy: object) -> int:
    for compiled in ctx.compiled.admin_policies:
        if compiled.policy is policy:
            return compiled.selected & ctx.subject_classes
    return 0


def _overlap(a: CompiledAdminRule, b: CompiledAdminRule) -> bool:
    """Whether two rules can match one connection on one port: shared peers, and ports
    that overlap (named ports: possibly any port)."""
    if not a.bits & b.bits:
        return False
    if a.named_ports or b.named_ports:
        return True
    return bool(a.numeric_ports & b.numeric_ports)


def check_ambiguous_priorities(ctx: LintContext) -> list[Finding]:
    """NR015: two policies of one tier and one priority that can match one connection."""
    by_key: dict[tuple[bool, int], list[CompiledAdminPolicy]] = defaultdict(list)
    for compiled in ctx.compiled.admin_policies:
        if compiled.policy.has_priority and compiled.selected & ctx.subject_classes:
            by_key[compiled.policy.baseline, compiled.policy.priority].append(compiled)
    findings: list[Finding] = []
    for (_, priority), policies in by_key.items():
        for i, first in enumerate(policies):
            for second in policies[i + 1 :]:
                shared = first.selected & second.selected & ctx.subject_classes
                if not shared:
                    continue
                directions = [
                    d.value
                    for d in Direction
                    if any(_overlap(a, b) for a in first.rules(d) for b in second.rules(d))
                ]
                if not directions:
                    continue
                subjects, count = ctx.subjects(shared)
                tier = first.policy.tier
                findings.append(
                    Finding(
                        "NR015", Severity.WARNING,
                        f"{first.policy} and {second.policy} are both at priority {priority} "
                        f"of the {tier} tier and can match the same "
                        f"{' and '.join(d.lower() for d in directions)} traffic: which one "
                        "applies is not defined",
                        (first.policy.ref, second.policy.ref),
                        "Give them different priorities (the spec lets an implementation "
                        "apply either of two same-priority policies that match).",
                        field="spec.priority", subjects=subjects, subject_count=count,
                    )
                )  # fmt: skip
    return findings


def check_domain_names(ctx: LintContext) -> list[Finding]:
    """NR017 (a domainNames rule: decided by DNS) and NR018 (domainNames outside Accept)."""
    findings: list[Finding] = []
    for compiled in ctx.compiled.admin_policies:
        policy = compiled.policy
        for rule in compiled.egress:
            names = [n for p in rule.rule.peers for n in p.domain_names]
            if not names:
                continue
            where = admin_rule_field(rule)
            action = policy.action_name(rule.action)
            subjects, count = ctx.subjects(compiled.selected & ctx.subject_classes)
            findings.append(
                Finding(
                    "NR017", Severity.INFO,
                    f"{policy} {where} ({action}) matches domain names "
                    f"{listing(names)}: which addresses they are is decided by DNS when the "
                    "traffic flows, so the connections it would decide are reported as "
                    "depending on DNS",
                    (policy.ref,),
                    "Nothing to fix; pair a domainNames Accept with a lower-precedence "
                    "egress Deny to keep an allow list.",
                    field=where, subjects=subjects, subject_count=count,
                )
            )  # fmt: skip
            if rule.action is not AdminAction.ALLOW:
                findings.append(
                    Finding(
                        "NR018", Severity.WARNING,
                        f"{policy} {where} uses domainNames with action {action}: the CRD "
                        "supports domainNames only for Accept rules",
                        (policy.ref,),
                        "Use Accept with domainNames, and a lower-precedence Deny (for "
                        "example to 0.0.0.0/0) for everything else.",
                        field=where, subjects=subjects, subject_count=count,
                    )
                )  # fmt: skip
    return findings
