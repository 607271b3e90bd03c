"""How many items one object may hold: peers, ipBlocks, rules, ports.

AdminNetworkPolicy and BaselineAdminNetworkPolicy: the CRDs' own ``maxItems``
(policy.networking.k8s.io v1alpha1: 100 rules per direction, 100 peers and 100 ports per
rule, 25 ``networks`` per peer), so whatever the API server accepts, netreach accepts.

NetworkPolicy has no such limit in the API server (only the object's size bounds it), so
netreach sets its own, generous enough for any real policy and small enough that no single
object can make an analysis run for ever: :class:`CountLimits` (the service's settings
``NETREACH_MAX_POLICY_RULES`` ... override them; the command line uses the defaults).

>>> CountLimits().max_rule_peers
50000
"""

from __future__ import annotations

import sys
from collections.abc import Sized
from dataclasses import dataclass

from service.engine.parse.fields import Context

# policy.networking.k8s.io/v1alpha1 CRDs (AdminNetworkPolicy, BaselineAdminNetworkPolicy)
ADMIN_MAX_RULES = 100  # spec.ingress, spec.egress
ADMIN_MAX_PEERS = 100  # a rule's from / to
ADMIN_MAX_PORTS = 100  # a rule's ports
ADMIN_MAX_NETWORKS = 25  # an egress peer's networks


@dataclass(frozen=True, slots=True)
class CountLimits:
    """netreach's own limits on one NetworkPolicy (none exist in the API server)."""

    max_policy_rules: int = 1_000  # per direction (spec.ingress, spec.egress)
    max_rule_peers: int = 50_000  # a rule's from / to
    max_rule_ports: int = 1_000  # a rule's ports
    max_policy_ip_blocks: int = 50_000  # ipBlock peers of the whole policy
    max_ip_block_excepts: int = 1_000  # one ipBlock's except

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) < 1:
                raise ValueError(f"CountLimits.{name} must be at least 1")

    @classmethod
    def unbounded(cls) -> CountLimits:
        """No limit: for objects already validated when they were stored (the limits may
        have changed since; a stored snapshot must stay readable)."""
        return cls(*(sys.maxsize for _ in cls.__slots__))


DEFAULT_COUNTS = CountLimits()


def crd_limit(ctx: Context, path: str, items: Sized, limit: int) -> bool:
    """Whether ``items`` is within a CRD's ``maxItems`` (a problem naming it if not)."""
    if len(items) <= limit:
        return True
    ctx.error(path, f"must have at most {limit} items (the CRD's maxItems), got {len(items)}")
    return False


def own_limit(ctx: Context, path: str, count: int, limit: int, what: str, setting: str) -> bool:
    """Whether ``count`` is within one of netreach's own limits (a problem naming it and
    its setting if not)."""
    if count <= limit:
        return True
    ctx.error(
        path,
        f"holds {count} {what}: more than netreach's limit of {limit} (a NetworkPolicy has no "
        f"limit in the API server; the server's setting NETREACH_{setting.upper()})",
    )
    return False
