"""Endpoints in Kubernetes vocabulary, as the API and the CLI show them."""

from __future__ import annotations

from typing import Any

from service.engine.connectivity import Endpoint
from service.engine.model import AddressRange, IPBlock


def endpoint_to_api(endpoint: Endpoint) -> dict[str, Any]:
    """``{"kind": "Pod", "namespace": "x", "name": "a"}``, a workload, a namespace, or an
    external ``{"kind": "IPBlock", "cidr": ..., "except": [...]}``."""
    if isinstance(endpoint, AddressRange):
        return IPBlock.from_range(endpoint).to_api()
    return endpoint.to_api()


def endpoint_label(endpoint: Endpoint) -> str:
    """Short text: ``x/a``, ``x/Deployment/web``, ``x``, or ``0.0.0.0/0 except 10.0.0.0/8``."""
    if isinstance(endpoint, AddressRange):
        return str(IPBlock.from_range(endpoint))
    return str(endpoint)
