"""Dialect-specific SQL shared by the repositories: upserts and large ``IN`` lists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, any_, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.expression import Insert

from service.store.errors import StoreError

T = TypeVar("T")

# Values per ``IN (...)`` list on SQLite (its limit on bound parameters is 32,766) and per
# array parameter on PostgreSQL.
CHUNK = 10_000


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def insert_ignoring_conflicts(session: Session, table: Table, *conflict_columns: str) -> Insert:
    """``INSERT .. ON CONFLICT (conflict_columns) DO NOTHING`` for SQLite and PostgreSQL."""
    name = dialect_name(session)
    if name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    if name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    raise StoreError(f"unsupported database dialect {name!r}")


def one_of(
    session: Session, column: InstrumentedAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """``column IN (values)``; one array parameter (``= ANY(:array)``) on PostgreSQL."""
    if dialect_name(session) == "postgresql":
        array_type = postgresql.ARRAY(column.type)
        return column == any_(literal(list(values), type_=array_type))
    return column.in_(values)


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
