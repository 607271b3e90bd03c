"""Database problems as one line: what failed, which database (without its password), and
what to do; and the line that names the database a command opens.

Every command that opens the database (``serve``, ``demo``, ``db ...``, ``token ...``) goes
through :func:`opening` so that an absent database, a wrong port, a server that does not
answer or an unsupported URL is ``netreach: ...`` and exit 1, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from service.cli.app import EXIT_FAILED, fail

if TYPE_CHECKING:
    from service.settings import Settings


def database_help() -> str:
    """For ``--help``: where the database is (what ``service.settings`` defaults to,
    without loading the settings)."""
    from platformdirs import user_data_path

    return (
        "The database is NETREACH_DATABASE_URL, by default the SQLite file "
        f"{user_data_path('netreach') / 'netreach.db'}."
    )


# What to do, by a phrase of the driver's message.
_HINTS = (
    ("does not exist", "create it (createdb {database}) or point NETREACH_DATABASE_URL at one"),
    ("connection refused", "is the server running and listening on that host and port?"),
    ("timeout expired", "the server did not answer in time: check the host, port, network"),
    ("timed out", "the server did not answer in time: check the host, port, network"),
    ("password authentication failed", "check the user and password in the URL"),
    ("no password supplied", "give the password in the URL or a ~/.pgpass"),
    ("could not translate host name", "check the host name in the URL"),
    ("name or service not known", "check the host name in the URL"),
    ("unable to open database file", "check that the file's directory exists and is writable"),
    ("database is locked", "another process holds the write lock: retry"),
    ("no such table", "run `netreach db upgrade`"),
    ("undefinedtable", "run `netreach db upgrade`"),
    ("can't locate revision", "a newer netreach migrated this database: upgrade netreach"),
)


def describe(url: str, error: BaseException) -> str:
    """One line: ``cannot use the database URL: reason; what to do``."""
    from sqlalchemy.engine import make_url

    from service.store import UnsupportedDatabaseError, safe_url

    if isinstance(error, UnsupportedDatabaseError):
        return str(error)
    reason = _reason(error)
    lowered = f"{type(getattr(error, 'orig', None)).__name__} {reason}".lower()
    hint = next(
        (hint for phrase, hint in _HINTS if phrase in lowered),
        "check NETREACH_DATABASE_URL",
    )
    hint = hint.replace("{database}", make_url(url).database or "NAME")
    return f"cannot use the database {safe_url(url)}: {reason}; {hint}"


def _reason(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return first.removeprefix("connection failed: ").rstrip(".")


_announced: set[str] = set()


def announce(settings: Settings, *, structured: bool = False) -> None:
    """The first line of a command that opens the database names it (standard error), once
    per process (``demo`` opens it, then serves). ``structured``: as the server's first
    log line (JSON unless ``log_json`` is off), since every line a server writes is one."""
    from service.store import safe_url

    shown = safe_url(settings.database_url)
    if shown in _announced:
        return
    _announced.add(shown)
    if structured:
        import structlog

        from service.api.logging import configure_logging

        configure_logging(settings.log_level, json=settings.log_json)
        structlog.get_logger("netreach").info("database", database=shown)
    else:
        typer.echo(f"database: {shown}", err=True)


@contextmanager
def opening(settings: Settings, *, structured: bool = False) -> Iterator[None]:
    """Name the database (:func:`announce`), then turn its failures into one line and
    exit 1."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from service.store import UnsupportedDatabaseError

    announce(settings, structured=structured)
    try:
        yield
    except (SQLAlchemyError, UnsupportedDatabaseError, CommandError) as failure:
        fail(describe(settings.database_url, failure), EXIT_FAILED)
