"""Bearer tokens, scopes and cluster patterns.

- Scopes: ``read`` (GET, reachability queries), ``write`` (upload and delete snapshots),
  ``admin`` (everything). ``admin`` implies ``write``, which implies ``read``.
- A token's cluster patterns (fnmatch, case-sensitive) limit the clusters it may touch;
  a token without patterns may touch every cluster.
- Open mode: while no active token exists, ``/v1`` needs no token if the server is bound to
  a loopback address (development) or was started with ``insecure``. Once any token exists,
  every ``/v1`` request needs one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from service.api.errors import UnauthorizedError
from service.store import TokenRepository

Scope = Literal["read", "write", "admin"]
_RANK: dict[str, int] = {"read": 1, "write": 2, "admin": 3}


def is_loopback(host: str) -> bool:
    """>>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.1")]
    [True, True, True, False, False]
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token (by name), or nobody in open mode (``token is None``)."""

    token: str | None
    scopes: frozenset[str]
    clusters: tuple[str, ...] = ()

    @property
    def open_mode(self) -> bool:
        return self.token is None

    def has(self, scope: Scope) -> bool:
        return max((_RANK.get(s, 0) for s in self.scopes), default=0) >= _RANK[scope]

    def may_access(self, cluster: str) -> bool:
        return not self.clusters or any(fnmatchcase(cluster, p) for p in self.clusters)


OPEN = Principal(token=None, scopes=frozenset({"admin"}))


def authenticate(
    session_factory: sessionmaker[Session], secret: str | None, *, open_allowed: bool
) -> Principal:
    """The caller behind ``secret`` (a bearer token), in a unit of work of its own (using a
    token records its last use). Raises UnauthorizedError."""
    with session_factory() as session, session.begin():
        tokens = TokenRepository(session)
        if secret:
            record = tokens.authenticate(secret)
            if record is not None:
                return Principal(record.name, frozenset(record.scopes), record.clusters)
        if not tokens.any_active():
            if open_allowed:
                return OPEN
            raise UnauthorizedError(
                "this server is not on a loopback address and has no tokens: create one with "
                "`netreach token create`, or start it with --insecure"
            )
    if secret:
        raise UnauthorizedError("invalid or revoked token")
    raise UnauthorizedError("a bearer token is required (Authorization: Bearer <token>)")
