"""Bearer tokens, scopes and cluster patterns, and the one place that decides open or closed.

- Scopes: ``read`` (GET, reachability queries), ``write`` (upload and delete snapshots),
  ``admin`` (everything). ``admin`` implies ``write``, which implies ``read``.
- A token's cluster patterns (fnmatch, case-sensitive) limit the clusters it may touch;
  a token without patterns may touch every cluster.
- Open mode (``/v1`` without a token) only while no token was *ever* created (revoking the
  last token does not reopen the API), and then only with ``insecure``, or for a request
  that arrived on a loopback address from a loopback client of a server configured for a
  loopback address. However the app is started (``netreach serve``, ``uvicorn --factory``
  on 0.0.0.0), a request from another machine is never served open. A start with a
  non-loopback ``host`` and no token is refused (:func:`open_refusal`).
- Verified tokens are cached per process for ``token_cache_seconds``: a revoked token is
  refused by every replica within that time. Unknown secrets are never cached (a token
  created a moment ago works at once), and once a token is known to exist that fact is kept
  for good, so a request without a token is refused without asking the database.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from service.api.errors import UnauthorizedError
from service.settings import Settings
from service.store import TokenRepository

Scope = Literal["read", "write", "admin"]
_RANK: dict[str, int] = {"read": 1, "write": 2, "admin": 3}
_CACHE_LIMIT = 10_000  # verified tokens kept per process (a bound, not a tuning knob)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.1")]
    [True, True, True, False, False]
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _address_is_loopback(address: Any) -> bool:
    """An ASGI ``server`` / ``client`` pair ``(host, port)``; anything else is not."""
    if not isinstance(address, list | tuple) or not address:
        return False
    return isinstance(address[0], str) and is_loopback(address[0])


def arrived_locally(scope: Mapping[str, Any]) -> bool:
    """Did this request reach a loopback address of the server, from a loopback client?

    ``server`` is the local end of the connection, so a server bound to 0.0.0.0 sees its
    public address here for a remote caller. Behind a local reverse proxy, uvicorn's proxy
    headers make ``client`` the real caller's address, so proxied requests are not local.
    """
    return _address_is_loopback(scope.get("server")) and _address_is_loopback(scope.get("client"))


def open_refusal(settings: Settings, *, tokens_ever_created: bool) -> str | None:
    """Why a server with these settings must not start (``None``: it may)."""
    if tokens_ever_created or settings.insecure or is_loopback(settings.host):
        return None
    return (
        f"refusing to serve on {settings.host}:{settings.port} (not a loopback address) while "
        "no API token exists: create one with `netreach token create NAME --scope admin`, or "
        "pass --insecure (NETREACH_INSECURE=true) to serve /v1 open to anyone who can reach it"
    )


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


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class Gatekeeper:
    """Authenticates requests for one process: the token cache and the open-mode rule."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session_factory = session_factory
        self.ttl = settings.token_cache_seconds
        self.insecure = settings.insecure
        self.configured_loopback = is_loopback(settings.host)
        self.clock = clock
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()
        self.tokens_exist = False  # once true, true for good: tokens are never deleted

    def cached(self, secret: str | None) -> Principal | None:
        """The caller, if answering needs no database: a recently verified token."""
        if not secret:
            if self.tokens_exist:
                raise UnauthorizedError(
                    "a bearer token is required (Authorization: Bearer <token>)"
                )
            return None
        with self._lock:
            hit = self._verified.get(_digest(secret))
        if hit is not None and hit[1] > self.clock():
            return hit[0]
        return None

    def authenticate(self, secret: str | None, *, local: bool) -> Principal:
        """The caller behind ``secret``, asking the database (in a unit of work of its own:
        using a token records its last use). Raises UnauthorizedError."""
        with self.session_factory() as session, session.begin():
            tokens = TokenRepository(session)
            record = tokens.authenticate(secret) if secret else None
            ever = record is not None or tokens.ever_created()
        if record is not None:
            principal = Principal(record.name, frozenset(record.scopes), record.clusters)
            self._remember(secret or "", principal)
            return principal
        if ever:
            self.tokens_exist = True
            if secret:
                raise UnauthorizedError("invalid or revoked token")
            raise UnauthorizedError("a bearer token is required (Authorization: Bearer <token>)")
        if self.insecure or (self.configured_loopback and local):
            return OPEN
        raise UnauthorizedError(
            "this server is not reached on a loopback address and has no tokens: create one "
            "with `netreach token create`, or start it with --insecure"
        )

    def _remember(self, secret: str, principal: Principal) -> None:
        self.tokens_exist = True
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._verified) >= _CACHE_LIMIT:
                now = self.clock()
                self._verified = {k: v for k, v in self._verified.items() if v[1] > now}
                if len(self._verified) >= _CACHE_LIMIT:
                    self._verified.clear()
            self._verified[_digest(secret)] = (principal, self.clock() + self.ttl)
