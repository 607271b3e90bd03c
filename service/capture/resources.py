"""The API resources ``netreach capture`` reads: every kind netreach analyses, where the
Kubernetes API serves it, and the RBAC rule that lets a client list it.

The order of :data:`RESOURCES` is the order of kinds in a captured List.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.engine.model import ADMIN_KIND, BASELINE_KIND, WORKLOAD_KINDS

POLICY_GROUP = "policy.networking.k8s.io"


@dataclass(frozen=True, slots=True)
class Resource:
    """One API resource: ``kind`` served as ``plural`` at ``group/version`` (``group`` is
    ``""`` for the core group, served under ``/api/v1``)."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    optional: bool = False  # a CRD: its absence is a note, nothing more

    @property
    def api_version(self) -> str:
        """``v1``, ``apps/v1``: the ``apiVersion`` of the kind's objects."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def rbac_rule(self, verbs: tuple[str, ...] = ("list",)) -> str:
        """The rule a (Cluster)Role needs, as it is written in YAML."""
        listed = ", ".join(verbs)
        return f'{{apiGroups: ["{self.group}"], resources: ["{self.plural}"], verbs: [{listed}]}}'

    def __str__(self) -> str:
        return f"{self.kind} ({self.plural}.{self.api_version})"


RESOURCES: tuple[Resource, ...] = (
    Resource("Namespace", "", "v1", "namespaces", namespaced=False),
    Resource("Node", "", "v1", "nodes", namespaced=False),
    Resource("Pod", "", "v1", "pods", namespaced=True),
    Resource("Deployment", "apps", "v1", "deployments", namespaced=True),
    Resource("StatefulSet", "apps", "v1", "statefulsets", namespaced=True),
    Resource("DaemonSet", "apps", "v1", "daemonsets", namespaced=True),
    Resource("ReplicaSet", "apps", "v1", "replicasets", namespaced=True),
    Resource("ReplicationController", "", "v1", "replicationcontrollers", namespaced=True),
    Resource("Job", "batch", "v1", "jobs", namespaced=True),
    Resource("CronJob", "batch", "v1", "cronjobs", namespaced=True),
    Resource("Service", "", "v1", "services", namespaced=True),
    Resource("NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", namespaced=True),
    Resource(ADMIN_KIND, POLICY_GROUP, "v1alpha1", "adminnetworkpolicies", False, True),
    Resource(BASELINE_KIND, POLICY_GROUP, "v1alpha1", "baselineadminnetworkpolicies", False, True),
    Resource(
        "ClusterNetworkPolicy", POLICY_GROUP, "v1alpha2", "clusternetworkpolicies", False, True
    ),
)
KIND_ORDER = {resource.kind: index for index, resource in enumerate(RESOURCES)}
assert set(WORKLOAD_KINDS) <= set(KIND_ORDER), "a workload kind has no resource to capture"
