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
    """Short text: ``x/a``, ``x/Deployment/web``, ``x``, ``10.0.0.0/8`` or, for a range that
    is no single CIDR, ``0.0.0.0-9.255.255.255``."""
    if isinstance(endpoint, AddressRange):
        networks = endpoint.networks()
        return str(networks[0]) if len(networks) == 1 else str(endpoint)
    return str(endpoint)
