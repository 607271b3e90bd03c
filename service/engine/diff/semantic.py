"""A semantic diff: connectivity and objects together, and the findings a CI gate checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from service.engine.diff.causes import Causes
from service.engine.diff.connections import ConnectivityDiff
from service.engine.diff.objects import ObjectDiff
from service.engine.diff.services import ServiceChange


class Finding(StrEnum):
    """What a CI gate can fail on (``--fail-on``)."""

    EXTERNAL_EXPOSURE = "external-exposure"  # a cluster endpoint gained ports from outside
    CROSS_NAMESPACE = "cross-namespace"  # a new path between namespaces
    LOST_INGRESS = "lost-ingress"  # an endpoint that lost all its ingress
    LOST_EGRESS = "lost-egress"  # an endpoint that lost all its egress
    NARROWED_EGRESS = "narrowed-egress"  # an endpoint that lost some of its egress, not all
    LOST_DNS = "lost-dns"  # an endpoint that lost UDP 53 or TCP 53 to kube-dns
    ANY = "any"  # any connection added, removed or changed (through a Service too)


@dataclass(frozen=True, slots=True)
class SemanticDiff:
    connections: ConnectivityDiff
    objects: ObjectDiff
    causes: Causes | None = field(default=None)  # why each connection changed
    services: tuple[ServiceChange, ...] = ()  # reach into Services that were retargeted
    # with ClusterNetworkPolicy domainNames rules on either side: how the connections that
    # only DNS decides changed (a connection leaving ``connections`` for DNS is listed here)
    depends_on_dns: ConnectivityDiff | None = None

    @property
    def why(self) -> Causes:
        return self.causes if self.causes is not None else Causes.none(self.connections)

    @property
    def is_empty(self) -> bool:
        dns = self.depends_on_dns
        return (
            self.connections.is_empty
            and self.objects.is_empty
            and not self.services
            and (dns is None or dns.is_empty)
        )

    def findings(self) -> dict[Finding, int]:
        """How many of each finding (``any``: connections added, removed or changed)."""
        h = self.connections.highlights
        return {
            Finding.EXTERNAL_EXPOSURE: len(h.exposed),
            Finding.CROSS_NAMESPACE: len(h.cross_namespace),
            Finding.LOST_INGRESS: len(h.lost_ingress),
            Finding.LOST_EGRESS: len(h.lost_egress),
            Finding.NARROWED_EGRESS: len(h.narrowed_egress),
            Finding.LOST_DNS: len(h.lost_dns),
            Finding.ANY: sum(self.connections.counts().values())
            + len(self.services)
            + (sum(self.depends_on_dns.counts().values()) if self.depends_on_dns else 0),
        }

    def gated(self, fail_on: frozenset[Finding]) -> dict[Finding, int]:
        """The findings of the categories in ``fail_on`` that occurred."""
        return {f: n for f, n in self.findings().items() if f in fail_on and n}
