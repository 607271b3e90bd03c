"""Tokens: created with a secret shown once, stored hashed, authenticated, revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.store import InvalidTokenError, TokenNameTakenError, TokenRepository
from service.store.models import Token
from service.store.tokens import hash_secret


def test_create_returns_a_secret_that_is_never_stored(session: Session) -> None:
    tokens = TokenRepository(session)
    record, secret = tokens.create("ci", ["write", "read", "read"], ["prod-*"])
    assert secret.startswith("nr_")
    assert len(secret) > 40
    assert record.name == "ci"
    assert record.scopes == ("read", "write")
    assert record.clusters == ("prod-*",)
    assert record.revoked_at is None
    assert record.last_used_at is None
    assert record.created_at.tzinfo is not None

    row = session.scalars(select(Token).where(Token.name == "ci")).one()
    assert row.secret_hash == hash_secret(secret)
    stored = [str(value) for value in (row.name, row.secret_hash, row.scopes, row.clusters)]
    assert not any(secret in value for value in stored)


def test_authenticate_finds_active_tokens_only(session: Session) -> None:
    tokens = TokenRepository(session)
    record, secret = tokens.create("dashboard", ["read"], [])
    found = tokens.authenticate(secret)
    assert found is not None
    assert found.id == record.id
    assert found.last_used_at is not None
    assert tokens.authenticate(secret + "x") is None
    assert tokens.authenticate("not-a-token") is None

    assert tokens.revoke("dashboard") is True
    assert tokens.authenticate(secret) is None
    assert tokens.revoke("dashboard") is False
    assert tokens.revoke("nobody") is False


def test_last_used_at_is_written_at_most_once_a_minute(session: Session) -> None:
    tokens = TokenRepository(session)
    _, secret = tokens.create("bot", ["read"])
    first = tokens.authenticate(secret)
    assert first is not None
    again = tokens.authenticate(secret)
    assert again is not None
    assert again.last_used_at == first.last_used_at

    assert first.last_used_at is not None
    session.execute(
        update(Token)
        .where(Token.name == "bot")
        .values(last_used_at=first.last_used_at - timedelta(minutes=2))
    )
    session.expire_all()
    later = tokens.authenticate(secret)
    assert later is not None
    assert later.last_used_at is not None
    assert later.last_used_at > first.last_used_at - timedelta(minutes=1)


def test_list_and_any_active(session: Session) -> None:
    tokens = TokenRepository(session)
    assert tokens.list() == []
    assert tokens.any_active() is False
    tokens.create("b", ["admin"])
    tokens.create("a", ["read"], ["dev-?", "staging"])
    assert [t.name for t in tokens.list()] == ["a", "b"]
    assert tokens.any_active() is True
    tokens.revoke("a")
    tokens.revoke("b")
    assert tokens.any_active() is False
    listed = tokens.list()
    assert all(t.revoked_at is not None and not t.active for t in listed)
    assert tokens.get("a") == listed[0]
    assert tokens.get("zzz") is None


def test_names_are_unique_even_after_revocation(session: Session) -> None:
    tokens = TokenRepository(session)
    tokens.create("ci", ["read"])
    tokens.revoke("ci")
    with pytest.raises(TokenNameTakenError):
        tokens.create("ci", ["read"])
    # The session is still usable after the refused insert.
    assert [t.name for t in tokens.list()] == ["ci"]


@pytest.mark.parametrize(
    ("name", "scopes", "clusters"),
    [
        pytest.param("x", ["superuser"], [], id="unknown-scope"),
        pytest.param("x", [], [], id="no-scope"),
        pytest.param(" ", ["read"], [], id="blank-name"),
        pytest.param("x", ["read"], [""], id="blank-pattern"),
    ],
)
def test_invalid_tokens_are_refused(
    session: Session, name: str, scopes: list[str], clusters: list[str]
) -> None:
    with pytest.raises(InvalidTokenError):
        TokenRepository(session).create(name, scopes, clusters)
