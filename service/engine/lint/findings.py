"""What lint reports: the checks (stable codes), their severities, and findings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.engine.model import ObjectRef


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe."""
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True, slots=True)
class Check:
    """One kind of mistake. ``code`` is stable: never reused, never renumbered."""

    code: str
    name: str
    severity: Severity
    summary: str
    help: str


CHECKS: tuple[Check, ...] = (
    Check(
        "NR001", "dns-unreachable", Severity.ERROR,
        "Pods isolated for egress cannot reach DNS on UDP 53",
        "Once a pod is selected by an egress policy, only the egress rules of those policies "
        "let traffic out. If none of them admits UDP port 53 towards the cluster DNS pods "
        "(kube-dns / CoreDNS, or any destination when the snapshot holds no DNS pods), and "
        "the DNS pods admit it, the pods cannot resolve any name: the most common outage "
        "after a default-deny-egress policy. Add an egress rule to the DNS pods on UDP and "
        "TCP port 53.",
    ),
    Check(
        "NR002", "dns-tcp-blocked", Severity.WARNING,
        "Pods isolated for egress reach DNS on UDP 53 but not on TCP 53",
        "DNS falls back to TCP for answers that do not fit in a UDP datagram (many records, "
        "DNSSEC, long names). Pods that may use UDP 53 but not TCP 53 fail on those lookups "
        "only, which is hard to diagnose. Admit TCP 53 next to UDP 53.",
    ),
    Check(
        "NR003", "policy-selects-nothing", Severity.WARNING,
        "A NetworkPolicy selects no pod",
        "The policy's podSelector matches no pod of its namespace in the snapshot, so the "
        "policy has no effect. Usually a typo in a label or the wrong namespace.",
    ),
    Check(
        "NR004", "peer-matches-nothing", Severity.WARNING,
        "A rule's podSelector, namespaceSelector or nodes peer matches nothing",
        "A peer that matches no pod (or no namespace, or an admin nodes peer that selects no "
        "Node) admits nothing: the traffic the rule was written for is denied (or, for an "
        "admin Deny rule, not denied). Usually a typo in a label key or value.",
    ),
    Check(
        "NR005", "named-port-undefined", Severity.WARNING,
        "A named port that no destination pod defines for that protocol",
        "A named port resolves against the container ports of the destination pods (by name "
        "and protocol). If none of them defines it, the port admits nothing; it never "
        "matches an address outside the cluster.",
    ),
    Check(
        "NR006", "redundant-rule", Severity.INFO,
        "A rule allows nothing the other rules do not already allow",
        "Every peer and port the rule admits, for every pod it applies to, is admitted by "
        "other rules that apply to the same pods. Removing it changes nothing; it makes the "
        "policies harder to review.",
    ),
    Check(
        "NR007", "redundant-policy", Severity.INFO,
        "A policy allows nothing the other policies do not already allow",
        "The pods the policy selects are isolated by other policies too, and everything its "
        "rules admit is admitted by theirs. Removing the policy changes nothing.",
    ),
    Check(
        "NR008", "pods-unprotected", Severity.WARNING,
        "Pods selected by no ingress policy in a namespace where other pods are",
        "A pod that no ingress policy selects accepts traffic from everywhere. In a namespace "
        "where other pods are protected, that is usually a forgotten workload or a label "
        "that does not match; a default-deny ingress policy covers every pod.",
    ),
    Check(
        "NR009", "allow-all-cancels-default-deny", Severity.WARNING,
        "An allow-all rule cancels the namespace's default deny",
        "A rule without peers and ports (or whose peers match every pod of the cluster) "
        "admits everything for the pods its policy selects, which undoes the default-deny "
        "policy of the namespace for them.",
    ),
    Check(
        "NR010", "ipblock-covers-pod-ips", Severity.WARNING,
        "An ipBlock covers pod IPs of the cluster",
        "Whether an ipBlock matches traffic of pods whose IP it contains depends on the "
        "network plugin (some match pod IPs, some only addresses outside the cluster, some "
        "only after NAT). Select pods with podSelector / namespaceSelector, and keep ipBlocks "
        "for addresses outside the cluster (except the pod CIDR).",
    ),
    Check(
        "NR011", "service-port-unreachable", Severity.WARNING,
        "No source may reach a Service's target port on any backend",
        "The ingress policies of every backend pod of the Service deny the target port to "
        "every source (or the sources they admit may not send to it): the Service is "
        "unusable through that port.",
    ),
    Check(
        "NR012", "namespace-absent", Severity.WARNING,
        "NetworkPolicies in a namespace absent from the snapshot",
        "The Namespace object is not in the snapshot, so its labels are unknown (only "
        "kubernetes.io/metadata.name is assumed) and namespaceSelectors may be evaluated "
        "wrongly; often the policy targets the wrong namespace.",
    ),
    Check(
        "NR013", "host-network-selected", Severity.WARNING,
        "A NetworkPolicy selects hostNetwork pods",
        "Pods with hostNetwork: true share the node's network namespace; NetworkPolicies do "
        "not apply to them in most network plugins, so the policy does not protect them.",
    ),
    Check(
        "NR014", "admin-rule-shadowed", Severity.WARNING,
        "An admin-tier rule that rules of higher precedence always decide first",
        "In ClusterNetworkPolicy, AdminNetworkPolicy and BaselineAdminNetworkPolicy the "
        "first matching rule decides (lower priority first, then rule order). A rule whose "
        "every peer and port is decided first (by earlier rules, by the Admin tier, or, for "
        "Baseline rules, because NetworkPolicies isolate every pod it applies to) never "
        "takes effect.",
    ),
    Check(
        "NR015", "admin-priority-ambiguous", Severity.WARNING,
        "Two admin policies of one tier share a priority and can match the same traffic",
        "The spec lets an implementation apply either of two policies of the same tier and "
        "priority that match a connection, and there is no way to tell which. Give the "
        "policies distinct priorities where their rules overlap.",
    ),
    Check(
        "NR016", "accept-denied-by-higher-tier", Severity.WARNING,
        "A Baseline Accept rule that the Admin tier always denies",
        "Admin-tier rules have precedence over NetworkPolicy and the Baseline tier. A "
        "Baseline Accept (or BaselineAdminNetworkPolicy Allow) rule whose every peer and "
        "port an Admin-tier Deny decides first never accepts anything.",
    ),
    Check(
        "NR017", "domain-names-depend-on-dns", Severity.INFO,
        "A ClusterNetworkPolicy rule matches domain names",
        "Which addresses a domain name stands for is decided by DNS when traffic flows, not "
        "by the manifests; connections only such a rule would decide are reported as "
        "depending on DNS, never as allowed or denied.",
    ),
    Check(
        "NR018", "domain-names-not-accept", Severity.WARNING,
        "domainNames in a rule whose action is not Accept",
        "The CRD supports domainNames peers only for Accept rules (an allow list, with a "
        "lower-precedence egress Deny for the rest); implementations may ignore them in "
        "Deny or Pass rules.",
    ),
)  # fmt: skip

CHECKS_BY_CODE: dict[str, Check] = {check.code: check for check in CHECKS}


@dataclass(frozen=True, slots=True)
class Finding:
    """One mistake. ``objects[0]`` is the object to change; the others are involved.

    ``field`` is the path inside that object (``spec.egress[0].to[1]``) when one part of it
    is concerned; ``subjects`` samples the pods or workloads affected (``subject_count`` of
    them in all).
    """

    code: str
    severity: Severity
    message: str
    objects: tuple[ObjectRef, ...]
    suggestion: str
    field: str | None = None
    subjects: tuple[ObjectRef, ...] = ()
    subject_count: int = 0

    @property
    def object(self) -> ObjectRef:
        return self.objects[0]

    @property
    def check(self) -> Check:
        return CHECKS_BY_CODE[self.code]

    def sort_key(self) -> tuple[str, tuple[tuple[str, str, str], ...], str, str]:
        refs = tuple((r.kind, r.namespace, r.name) for r in self.objects)
        return (self.code, refs, self.field or "", self.message)
