"""Analysis options: the implementation-defined choices, explicit and documented.

Spelled the same on the CLI (``--pod-ips-in-ipblocks ignore``) and the API
(``pod_ips_in_ipblocks=ignore``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Granularity(StrEnum):
    """What an endpoint of a connectivity map is."""

    POD = "pod"
    WORKLOAD = "workload"
    NAMESPACE = "namespace"


class PodIPsInIPBlocks(StrEnum):
    MATCH = "match"  # default: ipBlocks match pod IPs too (what the upstream e2e tests expect)
    IGNORE = "ignore"  # ipBlocks match only addresses outside the cluster


class HostNetworkPods(StrEnum):
    # default: policies neither select nor match host-network pods; their traffic is the node's
    # (matched only by rules without peers, by ipBlocks holding the node address, and by
    # admin ``nodes`` peers selecting their node)
    EXEMPT = "exempt"
    AS_PODS = "as-pods"  # ordinary pods for NetworkPolicy (never for the admin tiers' selectors)


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    pod_ips_in_ipblocks: PodIPsInIPBlocks = PodIPsInIPBlocks.MATCH
    host_network_pods: HostNetworkPods = HostNetworkPods.EXEMPT

    def describe(self) -> dict[str, str]:
        return {
            "pod_ips_in_ipblocks": self.pod_ips_in_ipblocks.value,
            "host_network_pods": self.host_network_pods.value,
        }
