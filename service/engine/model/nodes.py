"""Nodes (v1, cluster-scoped): their labels and the IP addresses of ``status.addresses``.

Two things read them: ``nodes`` peers of the admin tiers, which select Nodes by label and
match the IPs of their ``status.addresses``, and host-network pods, whose addresses are
their node's (the kubelet reports the node's host IPs as their ``status.podIPs``).
"""

from __future__ import annotations

from dataclasses import dataclass

from service.engine.model.addresses import IPAddress
from service.engine.model.labels import Labels
from service.engine.model.objects import ObjectRef

NODE_KIND = "Node"
INTERNAL_IP = "InternalIP"
EXTERNAL_IP = "ExternalIP"
IP_ADDRESS_TYPES = (INTERNAL_IP, EXTERNAL_IP)  # the other types (Hostname, *DNS) are names


@dataclass(frozen=True, slots=True, order=True)
class NodeAddress:
    """One IP entry of ``status.addresses``: its type (InternalIP or ExternalIP) and IP."""

    type: str
    ip: IPAddress

    def __str__(self) -> str:
        return f"{self.ip} ({self.type})"


@dataclass(frozen=True, slots=True)
class Node:
    """A Node; ``addresses`` keeps the IP entries of ``status.addresses`` in their order.

    >>> from ipaddress import ip_address as ip
    >>> node = Node("n1", Labels({}), (NodeAddress(EXTERNAL_IP, ip("203.0.113.9")),
    ...     NodeAddress(INTERNAL_IP, ip("10.0.0.5")), NodeAddress(INTERNAL_IP, ip("fd00::5")),
    ...     NodeAddress(INTERNAL_IP, ip("10.0.0.6"))))
    >>> [str(a) for a in node.host_ips]
    ['10.0.0.5', 'fd00::5']
    >>> len(node.ips)
    4
    """

    name: str
    labels: Labels
    addresses: tuple[NodeAddress, ...] = ()

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(NODE_KIND, "", self.name)

    @property
    def ips(self) -> tuple[IPAddress, ...]:
        """Every IP of ``status.addresses``: what a ``nodes`` peer selecting this node matches."""
        return tuple(dict.fromkeys(a.ip for a in self.addresses))

    @property
    def host_ips(self) -> tuple[IPAddress, ...]:
        """The node's host IPs, as the kubelet reports them as a host-network pod's
        ``status.podIPs``: the first InternalIP (else the first ExternalIP), then the first
        IP of the other family, InternalIPs before ExternalIPs."""
        ordered = [a.ip for a in self.addresses if a.type == INTERNAL_IP]
        ordered += [a.ip for a in self.addresses if a.type == EXTERNAL_IP]
        if not ordered:
            return ()
        first = ordered[0]
        other = next((ip for ip in ordered if ip.version != first.version), None)
        return (first,) if other is None else (first, other)

    def __str__(self) -> str:
        return self.name
