"""Pods left open.

* NR008 pods selected by no ingress policy in a namespace where other pods are;
* NR009 an allow-all rule that cancels the namespace's default deny;
* NR010 an ipBlock that covers pod IPs of the cluster.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

from service.engine import bitsets
from service.engine.compile import CompiledPolicy, CompiledRule
from service.engine.lint.context import (
    LintContext,
    listing,
    plural,
    ref_key,
    rule_field,
    sorted_refs,
    subject_of,
)
from service.engine.lint.findings import Finding, Severity
from service.engine.model import Direction, IPBlock, ObjectRef, Pod


def check_unprotected(ctx: LintContext) -> list[Finding]:
    compiled = ctx.compiled
    isolated = compiled.isolated[Direction.INGRESS]
    findings: list[Finding] = []
    for namespace, bits in sorted(compiled.class_bits_by_namespace.items()):
        members = bits & ctx.subject_classes
        protected = members & isolated
        open_ = members & ~isolated
        if not protected or not open_:
            continue
        policies = sorted_refs(
            p.policy.ref
            for p in ctx.policies_by_namespace.get(namespace, [])
            if p.selected and Direction.INGRESS in p.policy.policy_types
        )
        _, guarded = ctx.subjects(protected)
        exposed: dict[ObjectRef, int] = defaultdict(int)
        pods = compiled.pods
        for c in bitsets.indices(open_).tolist():
            for i in ctx.classes[c].pods:
                exposed[subject_of(pods[i])] += 1
        for subject, count in sorted(exposed.items(), key=lambda item: ref_key(item[0])):
            what = "pod" if subject.kind == "Pod" else f"{subject.kind} {subject.name}"
            pods_note = "" if subject.kind == "Pod" else f" ({plural(count, 'pod')})"
            findings.append(
                Finding(
                    code="NR008",
                    severity=Severity.WARNING,
                    message=(
                        f"{what} {subject}{pods_note} is selected by no ingress policy, so it "
                        f"accepts traffic from everywhere, while "
                        f"{plural(guarded, 'workload or pod', 'workloads and pods')} of "
                        f"namespace {namespace} {'is' if guarded == 1 else 'are'} protected "
                        f"(by {listing(policies)})."
                    ),
                    objects=(subject, *policies),
                    suggestion=(
                        f"Add a default-deny ingress policy to namespace {namespace} "
                        "(podSelector: {}, policyTypes: [Ingress]) and allow what "
                        f"{subject.name} needs, or fix the labels so an existing policy "
                        "selects it."
                    ),
                    subjects=(subject,),
                    subject_count=1,
                )
            )
    return findings


def _default_denies(
    ctx: LintContext, policies: list[CompiledPolicy], direction: Direction
) -> list[CompiledPolicy]:
    return [
        p
        for p in policies
        if direction in p.policy.policy_types
        and p.policy.pod_selector.is_empty
        and not ctx.rules(p, direction)
    ]


def _allows_all(ctx: LintContext, rule: CompiledRule) -> str | None:
    """How a rule admits everything, or None."""
    if not rule.numeric_ports.is_all():
        return None
    if not rule.peer_sets:
        return "has no peers and no ports: it admits everything, in the cluster and outside"
    if rule.bits & ctx.subject_classes == ctx.subject_classes and ctx.subject_classes:
        if rule.bits & ctx.pieces == ctx.pieces:
            return "admits every pod and every address on every port"
        return "admits every pod of the cluster on every port"
    return None


def check_allow_all(ctx: LintContext) -> list[Finding]:
    findings: list[Finding] = []
    for _, policies in sorted(ctx.policies_by_namespace.items()):
        for direction in (Direction.INGRESS, Direction.EGRESS):
            denies = _default_denies(ctx, policies, direction)
            if not denies:
                continue
            for policy in policies:
                if not policy.selected:
                    continue
                for rule in ctx.rules(policy, direction):
                    how = _allows_all(ctx, rule)
                    if how is None:
                        continue
                    findings.append(_allow_all(ctx, policy, rule, how, denies))
    return findings


def _allow_all(
    ctx: LintContext,
    policy: CompiledPolicy,
    rule: CompiledRule,
    how: str,
    denies: list[CompiledPolicy],
) -> Finding:
    deny = denies[0]
    whole = policy.selected & deny.selected == deny.selected
    subjects, count = ctx.subjects(policy.selected)
    side = rule.direction.value.lower()
    scope = (
        f"every pod of namespace {policy.policy.namespace}"
        if whole
        else plural(count, "workload or pod", "workloads and pods")
    )
    return Finding(
        code="NR009",
        severity=Severity.ERROR if whole else Severity.WARNING,
        message=(
            f"{policy.policy.ref}: {rule_field(rule)} {how}, which cancels the default-deny "
            f"{side} policy {deny.policy.ref} for {scope}."
        ),
        objects=(policy.policy.ref, deny.policy.ref),
        suggestion=(
            f"Restrict {rule_field(rule)} to the peers ({'from' if side == 'ingress' else 'to'}) "
            "and ports actually needed, or delete it if the default deny is meant."
        ),
        field=rule_field(rule),
        subjects=subjects,
        subject_count=count,
    )


class _PodAddresses:
    """Pod IPs (not host-network) sorted per IP version, to count those inside a block."""

    def __init__(self, pods: tuple[Pod, ...]) -> None:
        found: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for index, pod in enumerate(pods):
            if pod.host_network:
                continue
            for ip in pod.ips:
                found[ip.version].append((int(ip), index))
        self.by_version = {v: sorted(entries) for v, entries in found.items()}
        self.keys = {v: [e[0] for e in entries] for v, entries in self.by_version.items()}

    def inside(self, block: IPBlock) -> list[int]:
        keys = self.keys.get(block.version)
        if not keys:
            return []
        entries = self.by_version[block.version]
        out: list[int] = []
        for span in block.ranges():
            lo = bisect.bisect_left(keys, span.start)
            hi = bisect.bisect_right(keys, span.end)
            out.extend(e[1] for e in entries[lo:hi])
        return out


def check_ipblocks(ctx: LintContext) -> list[Finding]:
    compiled = ctx.compiled
    addresses: _PodAddresses | None = None
    cache: dict[IPBlock, list[int]] = {}
    findings: list[Finding] = []
    for policy in compiled.policies:
        seen: set[IPBlock] = set()
        for direction in (Direction.INGRESS, Direction.EGRESS):
            for rule in ctx.rules(policy, direction):
                for j, peer in enumerate(rule.rule.peers):
                    block = peer.ip_block
                    if block is None or block in seen:
                        continue
                    seen.add(block)
                    if addresses is None:
                        addresses = _PodAddresses(compiled.pods)
                    inside = cache.get(block)
                    if inside is None:
                        inside = cache[block] = addresses.inside(block)
                    if inside:
                        findings.append(_ipblock(ctx, rule, j, block, inside))
    return findings


def _ipblock(
    ctx: LintContext, rule: CompiledRule, j: int, block: IPBlock, inside: list[int]
) -> Finding:
    pods = ctx.compiled.pods
    subjects = tuple(sorted_refs(subject_of(pods[i]) for i in inside))
    total = sum(1 for p in pods if p.ips and not p.host_network)
    share = "all" if len(inside) == total else f"{len(inside)} of {total}"
    side = "from" if rule.direction is Direction.INGRESS else "to"
    return Finding(
        code="NR010",
        severity=Severity.WARNING,
        message=(
            f"{rule.policy.ref}: the ipBlock {block} in {rule_field(rule, j)} contains the IPs "
            f"of {share} pods with an IP ({listing(subjects, 3)}). Whether it admits traffic "
            f"{side} those pods depends on the network plugin."
        ),
        objects=(rule.policy.ref,),
        suggestion=(
            "Select pods with podSelector / namespaceSelector instead, and add the cluster's "
            "pod CIDR to the ipBlock's except when only addresses outside the cluster are meant."
        ),
        field=rule_field(rule, j),
        subjects=subjects[:20],
        subject_count=len(subjects),
    )
