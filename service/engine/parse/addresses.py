"""IP addresses and CIDRs from strings, with a fast path for dotted-quad IPv4."""

from __future__ import annotations

import ipaddress
import re

from service.engine.model import IPAddress, IPNetwork

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(r"\.".join([_OCTET] * 4))
_IPv4Address = ipaddress.IPv4Address


def parse_ip(text: str) -> IPAddress:
    """Like :func:`ipaddress.ip_address` (leading zeros are rejected), faster for IPv4.

    Raises ValueError for an invalid address.
    """
    match = _IPV4.fullmatch(text)
    if match is not None:
        a, b, c, d = match.groups()
        return _IPv4Address((int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d))
    return ipaddress.ip_address(text)


def parse_network(text: str) -> IPNetwork:
    """A CIDR; host bits are allowed (the API server accepts ``10.0.1.1/4``) and cleared.

    Raises ValueError for an invalid CIDR (including a bare address: a prefix is required).
    """
    if "/" not in text:
        raise ValueError("must be an address and a prefix length, such as 10.0.0.0/8")
    return ipaddress.ip_network(text, strict=False)
