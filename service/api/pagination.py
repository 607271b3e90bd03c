"""A generic page envelope with a capped limit, and cursors bound to what they page.

Cursors are opaque to clients: ``<kind>.<base64url(payload)>``.

- Snapshot lists are keyset paginated (the cursor holds the last version of the page, so
  pages stay stable while new versions are added).
- Pages of one snapshot (its objects, its connectivity map) are bound to that snapshot:
  the cursor holds its version and content hash, the offset, and a digest of the query's
  other parameters. Paging ``latest`` while a new version is uploaded stays on the version
  the first page answered; a cursor used with other filters, or whose snapshot was deleted
  (or replaced by a cluster of the same name), is refused instead of mixing answers.

A cursor of the wrong kind, tampered with, or garbage, is a 422 naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from service.api.deps import SettingsDep
from service.api.errors import InvalidParameterError
from service.api.params import MAX_VERSION
from service.api.refs import SnapshotRefs
from service.store.records import SnapshotRecord
from service.usecases.errors import NotFoundError

T = TypeVar("T")

_CURSOR_FIELD = [{"field": "query.cursor", "loc": ["query", "cursor"]}]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )
    limit: int = Field(description="the page size used (requested, capped)")


def _invalid(reason: str = "") -> InvalidParameterError:
    return InvalidParameterError(
        "invalid cursor: pass back the next_cursor of a previous page of this list"
        + (f" ({reason})" if reason else ""),
        _CURSOR_FIELD,
    )


def _check(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def _encode(kind: str, value: Any) -> str:
    payload = json.dumps(value, separators=(",", ":"))
    token = base64.urlsafe_b64encode(f"{payload}|{_check(kind + payload)}".encode())
    return f"{kind}.{token.decode().rstrip('=')}"


def _decode(kind: str, cursor: str) -> Any:
    prefix, _, token = cursor.partition(".")
    if prefix != kind:
        raise _invalid()
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        payload, _, check = text.rpartition("|")
        if check != _check(kind + payload):
            raise ValueError("checksum")
        return json.loads(payload)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid() from None


def encode_version_cursor(version: int) -> str:
    """A keyset cursor over a cluster's versions (newest first)."""
    return _encode("v", version)


def decode_version_cursor(cursor: str) -> int:
    value = _decode("v", cursor)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_VERSION:
        raise _invalid()
    return value


def query_digest(params: Mapping[str, object]) -> str:
    """What a page cursor must be used with: the query's parameters besides paging."""
    return _check(json.dumps(sorted((k, str(v)) for k, v in params.items())))


@dataclass(frozen=True, slots=True)
class SnapshotCursor:
    """Where in which snapshot's list the next page starts."""

    version: int
    content_hash: str  # a prefix: enough to tell a replaced snapshot
    offset: int
    query: str

    def encode(self, kind: str) -> str:
        return _encode(kind, [self.version, self.content_hash, self.offset, self.query])

    @classmethod
    def decode(cls, kind: str, cursor: str) -> SnapshotCursor:
        value = _decode(kind, cursor)
        try:
            version, content_hash, offset, query = value
        except (TypeError, ValueError):
            raise _invalid() from None
        ints = (version, offset)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ints):
            raise _invalid()
        if not (0 < version <= MAX_VERSION and 0 <= offset < 10**15):
            raise _invalid()
        if not isinstance(content_hash, str) or not isinstance(query, str):
            raise _invalid()
        return cls(version, content_hash, offset, query)

    @classmethod
    def first(cls, record: SnapshotRecord, offset: int, query: str) -> SnapshotCursor:
        return cls(record.version, record.content_hash[:16], offset, query)

    def check(self, record: SnapshotRecord, query: str) -> None:
        """This cursor belongs to ``record`` and to a query with these parameters."""
        if query != self.query:
            raise _invalid("it was made for other query parameters")
        if record.version != self.version or not record.content_hash.startswith(self.content_hash):
            raise _invalid(f"the snapshot {record.cluster}@{self.version} it pages is gone")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    cursor: str | None
    limit_given: bool


async def page_params(
    settings: SettingsDep,
    limit: Annotated[
        int | None,
        Query(ge=1, description="page size; capped at the server's max_page_size"),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=300, description="next_cursor of the previous page of this list"),
    ] = None,
) -> PageParams:
    size = settings.page_size if limit is None else limit
    return PageParams(min(size, settings.max_page_size), cursor, limit is not None)


PageDep = Annotated[PageParams, Depends(page_params)]


def resume(
    refs: SnapshotRefs,
    record: SnapshotRecord,
    ref: str,
    cursor: str | None,
    kind: str,
    query: str,
) -> tuple[SnapshotRecord, int]:
    """The snapshot and offset a page answers: ``record`` from the start, or the snapshot
    the cursor is bound to (blocking: call it from the threadpool)."""
    if cursor is None:
        return record, 0
    bound = SnapshotCursor.decode(kind, cursor)
    if bound.version != record.version:
        if ref != "latest":
            raise _invalid(f"it pages version {bound.version}, not {record.version}")
        try:
            record = refs.cached(record.cluster, bound.version) or refs.resolve(
                record.cluster, bound.version
            )
        except NotFoundError:
            raise _invalid(
                f"the snapshot {record.cluster}@{bound.version} it pages is gone"
            ) from None
    bound.check(record, query)
    return record, bound.offset
