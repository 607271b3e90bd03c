"""NR001 / NR002: pods isolated for egress that cannot reach DNS on UDP 53 / TCP 53.

Computed over pod classes with bitsets: for each DNS class ``d`` and protocol, the classes
whose egress policies admit ``d`` on port 53 (one pass over the egress policies) AND that
``d``'s ingress policies admit. When the snapshot holds no DNS pods, any destination will do
on the egress side.
"""

from __future__ import annotations

from collections import defaultdict

from service.engine import bitsets
from service.engine.lint.context import LintContext, listing, plural, sorted_refs
from service.engine.lint.findings import Finding, Severity
from service.engine.model import Direction, ObjectRef, Protocol

DNS_PORT = 53
DNS_LABELS = (
    ("k8s-app", "kube-dns"),
    ("k8s-app", "coredns"),
    ("app.kubernetes.io/name", "coredns"),
)


def _dns_classes(ctx: LintContext) -> tuple[int, tuple[str, str] | None, str | None]:
    """Bits of the classes holding DNS pods, the label that found them, their namespace."""
    bits = 0
    label: tuple[str, str] | None = None
    namespace: str | None = None
    pods, pod_class = ctx.compiled.pods, ctx.compiled.pod_class
    for index, pod in enumerate(pods):
        for key, value in DNS_LABELS:
            if pod.labels.get(key) == value:
                bits |= 1 << pod_class[index]
                if label is None:
                    label, namespace = (key, value), pod.namespace
                break
    return bits, label, namespace


def _ingress_admits(ctx: LintContext, d: int, protocol: Protocol) -> int:
    """Peers that ``d``'s ingress policies admit on ``protocol``/53 (all when not isolated)."""
    compiled = ctx.compiled
    if not compiled.is_subject(d) or not bitsets.contains(compiled.isolated[Direction.INGRESS], d):
        return ctx.all_peers
    named = compiled.named_ports_of(d)
    bits = 0
    for policy in compiled.applied[Direction.INGRESS][d]:
        for rule in ctx.rules(policy, Direction.INGRESS):
            if rule.ports_for(named).contains(protocol, DNS_PORT):
                bits |= rule.bits
    return bits


def _egress_reaches(ctx: LintContext, d: int | None, protocol: Protocol) -> int:
    """Classes whose egress admits ``d`` (None: any destination) on ``protocol``/53."""
    compiled = ctx.compiled
    bits = ctx.all_classes & ~compiled.isolated[Direction.EGRESS]
    named = None if d is None else compiled.named_ports_of(d)
    defines_53: dict[tuple[str, Protocol], int] = defaultdict(int)
    if d is None:
        for cls in ctx.classes:
            for name, proto, number in cls.named_ports:
                if number == DNS_PORT:
                    defines_53[(name, proto)] |= 1 << cls.index
    for policy in compiled.policies:
        if bits & policy.selected == policy.selected:
            continue
        for rule in ctx.rules(policy, Direction.EGRESS):
            if d is None:
                if rule.bits and (
                    rule.numeric_ports.contains(protocol, DNS_PORT)
                    or any(rule.bits & defines_53.get(n, 0) for n in rule.named_ports)
                ):
                    bits |= policy.selected
                    break
            elif rule.matches(d) and rule.ports_for(named).contains(protocol, DNS_PORT):
                bits |= policy.selected
                break
    return bits


def check_dns(ctx: LintContext) -> list[Finding]:
    compiled = ctx.compiled
    isolated = compiled.isolated[Direction.EGRESS] & ctx.subject_classes
    if not isolated:
        return []
    dns, label, dns_namespace = _dns_classes(ctx)
    targets = bitsets.indices(dns).tolist()
    ok: dict[Protocol, int] = {}
    egress_ok: dict[Protocol, int] = {}
    for protocol in (Protocol.UDP, Protocol.TCP):
        if not targets:
            ok[protocol] = egress_ok[protocol] = _egress_reaches(ctx, None, protocol)
            continue
        both = out = 0
        for d in targets:
            reaches = _egress_reaches(ctx, d, protocol)
            out |= reaches
            both |= reaches & _ingress_admits(ctx, d, protocol)
        ok[protocol], egress_ok[protocol] = both, out
    no_udp = isolated & ~ok[Protocol.UDP] & ~dns
    no_tcp = isolated & ~ok[Protocol.TCP] & ~dns & ~no_udp

    dns_policies: tuple[ObjectRef, ...] = ()
    if targets:
        dns_policies = tuple(
            sorted_refs(
                p.policy.ref
                for d in targets
                for p in compiled.applied[Direction.INGRESS][d]
                if Direction.INGRESS in p.policy.policy_types
            )
        )
    findings: list[Finding] = []
    cases = (("NR001", Protocol.UDP, no_udp), ("NR002", Protocol.TCP, no_tcp))
    for code, protocol, failing in cases:
        groups: dict[tuple[str, tuple[ObjectRef, ...], bool], int] = defaultdict(int)
        for c in bitsets.indices(failing).tolist():
            policies = tuple(
                sorted_refs(
                    p.policy.ref
                    for p in compiled.applied[Direction.EGRESS][c]
                    if Direction.EGRESS in p.policy.policy_types
                )
            )
            blocked_by_dns_side = bitsets.contains(egress_ok[protocol], c)
            groups[(ctx.classes[c].namespace, policies, blocked_by_dns_side)] |= 1 << c
        for (namespace, policies, dns_side), bits in groups.items():
            findings.append(
                _finding(
                    ctx, code, protocol, namespace, policies, dns_side, bits,
                    label, dns_namespace, dns_policies,
                )
            )  # fmt: skip
    return findings


def _finding(
    ctx: LintContext,
    code: str,
    protocol: Protocol,
    namespace: str,
    policies: tuple[ObjectRef, ...],
    dns_side: bool,
    bits: int,
    label: tuple[str, str] | None,
    dns_namespace: str | None,
    dns_policies: tuple[ObjectRef, ...],
) -> Finding:
    subjects, count = ctx.subjects(bits)
    who = f"{plural(count, 'workload or pod', 'workloads or pods')} in namespace {namespace}"
    are = "is" if count == 1 else "are"
    them = "it" if count == 1 else "them"
    names = listing(p.name for p in policies)
    if label is None:
        target = f"any destination on {protocol.value} 53 (the snapshot holds no DNS pods)"
        peer = ""
    else:
        target = f"the DNS pods ({label[0]}={label[1]} in {dns_namespace}) on {protocol.value} 53"
        peer = (
            f" to: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: "
            f"{dns_namespace}}}}}, podSelector: {{matchLabels: {{{label[0]}: {label[1]}}}}}}}]"
        )
    consequence = (
        f"{'it' if count == 1 else 'they'} cannot resolve names"
        if code == "NR001"
        else "lookups whose answers need TCP (large or truncated responses) fail"
    )
    if dns_side and dns_policies:
        message = (
            f"{who} may send to {target}, but the ingress policies of the DNS pods "
            f"({listing(str(r) for r in dns_policies)}) do not admit {them}: {consequence}."
        )
        suggestion = (
            f"Admit them on UDP and TCP port 53 in an ingress rule of {dns_policies[0]} "
            f"(for example from: [{{namespaceSelector: {{}}}}], ports: UDP 53 and TCP 53)."
        )
        objects = (*dns_policies, *policies)
    else:
        message = (
            f"{who} {are} isolated for egress by {names} and no egress rule admits {target}: "
            f"{consequence}."
        )
        ports = (
            "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]"
            if code == "NR001"
            else "ports: [{protocol: TCP, port: 53}] next to UDP 53"
        )
        suggestion = f"Add an egress rule to {policies[0]}:{peer} {ports}."
        objects = policies
    return Finding(
        code=code,
        severity=Severity.ERROR if code == "NR001" else Severity.WARNING,
        message=message,
        objects=objects,
        suggestion=suggestion,
        subjects=subjects,
        subject_count=count,
    )
