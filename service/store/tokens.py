"""API tokens: bearer secrets stored as sha256 only, with scopes and cluster patterns."""

from __future__ import annotations

import builtins
import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from service.store.errors import InvalidTokenError, TokenNameTakenError
from service.store.models import Token, utcnow
from service.store.records import TokenRecord

SCOPES = ("read", "write", "admin")
SECRET_PREFIX = "nr_"
MIN_GIVEN_SECRET = len(SECRET_PREFIX) + 32  # a secret chosen by the caller, not generated
# last_used_at is written at most this often per token, so reads stay reads.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        name: str,
        scopes: Iterable[str],
        clusters: Iterable[str] = (),
        *,
        secret: str | None = None,
    ) -> tuple[TokenRecord, str]:
        """A new token and its secret. The secret is returned once and never stored.

        ``clusters`` are fnmatch-style patterns of the cluster names the token may touch;
        none means every cluster. ``secret`` is one chosen by the caller (a bootstrap token
        kept in a Kubernetes Secret) instead of a generated one.
        """
        if secret is not None and (
            not secret.startswith(SECRET_PREFIX) or len(secret.strip()) < MIN_GIVEN_SECRET
        ):
            raise InvalidTokenError(
                f"a given secret must be {SECRET_PREFIX!r} followed by at least "
                f"{MIN_GIVEN_SECRET - len(SECRET_PREFIX)} characters"
            )
        if not name.strip():
            raise InvalidTokenError("a token needs a name")
        wanted = set(scopes)
        unknown = wanted - set(SCOPES)
        if unknown:
            raise InvalidTokenError(
                f"unknown scope(s) {sorted(unknown)}; known scopes: {', '.join(SCOPES)}"
            )
        if not wanted:
            raise InvalidTokenError(f"a token needs at least one scope of {', '.join(SCOPES)}")
        patterns = builtins.list(dict.fromkeys(clusters))
        if any(not pattern.strip() for pattern in patterns):
            raise InvalidTokenError("cluster patterns cannot be empty")
        secret = secret.strip() if secret else SECRET_PREFIX + secrets.token_urlsafe(32)
        token = Token(
            name=name,
            secret_hash=hash_secret(secret),
            scopes=[scope for scope in SCOPES if scope in wanted],
            clusters=patterns,
            created_at=utcnow(),
        )
        try:
            with self.session.begin_nested():
                self.session.add(token)
        except IntegrityError as error:
            raise TokenNameTakenError(name) from error
        return _record(token), secret

    def list(self) -> builtins.list[TokenRecord]:
        """Every token by name, revoked ones included."""
        return [_record(t) for t in self.session.scalars(select(Token).order_by(Token.name))]

    def get(self, name: str) -> TokenRecord | None:
        token = self.session.scalars(select(Token).where(Token.name == name)).one_or_none()
        return None if token is None else _record(token)

    def revoke(self, name: str) -> bool:
        """Revoke an active token; ``False`` if there is no active token of that name."""
        result = self.session.execute(
            update(Token)
            .where(Token.name == name, Token.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
        return bool(getattr(result, "rowcount", 0))

    def authenticate(self, secret: str) -> TokenRecord | None:
        """The active token whose secret this is, or ``None``. Records the use (coarsely)."""
        if not secret.startswith(SECRET_PREFIX):
            return None
        token = self.session.scalars(
            select(Token).where(
                Token.secret_hash == hash_secret(secret), Token.revoked_at.is_(None)
            )
        ).one_or_none()
        if token is None:
            return None
        now = utcnow()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            try:
                with self.session.begin_nested():
                    token.last_used_at = now
            except OperationalError:
                # SQLite refuses the write lock to this read transaction while another
                # writes: the use is recorded next time, the request goes on.
                pass
        return _record(token)

    def any_active(self) -> bool:
        return bool(self.session.scalar(select(exists().where(Token.revoked_at.is_(None)))))

    def ever_created(self) -> bool:
        """Was any token ever created? Revoked tokens stay as rows, so revoking the last
        one does not make this false again."""
        return bool(self.session.scalar(select(exists().where(Token.id.is_not(None)))))


def _record(token: Token) -> TokenRecord:
    return TokenRecord(
        id=token.id,
        name=token.name,
        scopes=tuple(token.scopes),
        clusters=tuple(token.clusters),
        created_at=token.created_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )
