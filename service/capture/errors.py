"""What can go wrong reading a cluster, each said in terms of what to do about it."""

from __future__ import annotations

from dataclasses import dataclass

from service.capture.resources import Resource


class CaptureError(Exception):
    """Base of the capture errors; ``str(error)`` is a complete sentence for the user."""


class ConfigError(CaptureError):
    """No usable kubeconfig or in-cluster configuration."""


class UnreachableError(CaptureError):
    """The API server did not answer (connection, TLS or timeout)."""


class UnauthorizedError(CaptureError):
    """401: the credentials are missing, invalid or expired."""


class ApiServerError(CaptureError):
    """An answer capture cannot use (a 5xx, a 429, a malformed body...)."""


@dataclass(frozen=True, slots=True)
class Denial:
    """A 403 on one resource, with the server's own words."""

    resource: Resource
    scope: str  # "cluster-wide", or "in namespace x"
    verb: str
    message: str


class ForbiddenError(CaptureError):
    """403 on one or more kinds: names each, with the RBAC rule it needs."""

    def __init__(self, denials: list[Denial]) -> None:
        self.denials = denials
        lines = [
            f"forbidden: the API server refused {len(denials)} request(s); netreach capture "
            "needs get/list on every kind it reads (a ClusterRole bound to this user or "
            "service account; with --namespace, a Role in each namespace is enough for the "
            "namespaced kinds):"
        ]
        for denial in denials:
            lines.append(
                f"  - {denial.verb} {denial.resource} {denial.scope}: {denial.message}\n"
                f"    needs the rule {denial.resource.rbac_rule((denial.verb,))}"
            )
        super().__init__("\n".join(lines))
