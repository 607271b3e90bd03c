"""A generic page envelope ``{"items", "next_cursor", "limit"}`` with a capped limit.

Cursors are opaque to clients: ``<kind>.<base64url(value)>``. Snapshot lists are keyset
paginated (the cursor holds the last version of the page, so pages stay stable while new
versions are added); immutable lists (a snapshot's objects, a connectivity map) use offsets.
A cursor of the wrong kind, or garbage, is a 422 naming the ``cursor`` parameter.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from service.api.deps import SettingsDep
from service.api.errors import InvalidParameterError

T = TypeVar("T")
S = TypeVar("S")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )
    limit: int = Field(description="the page size used (requested, capped)")


def encode_cursor(kind: str, value: int) -> str:
    token = base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")
    return f"{kind}.{token}"


# Versions are 32-bit integer columns: larger numbers are no version (and must not reach SQL).
MAX_VERSION = 2**31 - 1


def decode_cursor(kind: str, cursor: str, maximum: int = 10**15) -> int:
    prefix, _, token = cursor.partition(".")
    try:
        if prefix != kind:
            raise ValueError(prefix)
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        if not text.isdigit() or len(text) > 18 or int(text) > maximum:
            raise ValueError(text)
        return int(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameterError(
            "invalid cursor: pass back the next_cursor of a previous page of this list",
            [{"field": "query.cursor", "loc": ["query", "cursor"]}],
        ) from None


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    cursor: str | None
    limit_given: bool

    def offset(self, kind: str) -> int:
        return 0 if self.cursor is None else decode_cursor(kind, self.cursor)

    def after(self, kind: str) -> int | None:
        """The version a keyset cursor holds."""
        return None if self.cursor is None else decode_cursor(kind, self.cursor, MAX_VERSION)


def page_params(
    settings: SettingsDep,
    limit: Annotated[
        int | None,
        Query(ge=1, description="page size; capped at the server's max_page_size"),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page")
    ] = None,
) -> PageParams:
    size = settings.page_size if limit is None else limit
    return PageParams(min(size, settings.max_page_size), cursor, limit is not None)


PageDep = Annotated[PageParams, Depends(page_params)]


def offset_page(
    items: Sequence[S], params: PageParams, kind: str, convert: Callable[[S], T]
) -> Page[T]:
    """One page of an immutable list, converting only the items on the page."""
    start = params.offset(kind)
    stop = start + params.limit
    next_cursor = encode_cursor(kind, stop) if stop < len(items) else None
    return Page[T](
        items=[convert(item) for item in items[start:stop]],
        next_cursor=next_cursor,
        limit=params.limit,
    )
