"""Alembic environment for netreach.

The database URL comes from, in order: ``config.attributes["url"]`` (set by
``service.store.migrate``), ``alembic -x url=...``, the ``NETREACH_DATABASE_URL`` environment
variable, the SQLite default. A caller may also hand over an open connection in
``config.attributes["connection"]``.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from service.store.database import (
    DatabaseTimeouts,
    default_database_url,
    make_engine,
    normalise_url,
)
from service.store.models import Base, UTCDateTime

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
# Connecting is bounded as everywhere; a migration's statements may take their time.
MIGRATION_TIMEOUTS = DatabaseTimeouts(statement=0.0, lock=60.0)


def database_url() -> str:
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("NETREACH_DATABASE_URL")
        or default_database_url()
    )
    return normalise_url(url).render_as_string(hide_password=False)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render the models' own column types as plain SQLAlchemy types in migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        # service.store.database makes SQLAlchemy emit BEGIN on SQLite, so DDL is transactional
        # there too: a failed upgrade leaves the schema as it was.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        configure(connection)
        return
    engine = make_engine(database_url(), timeouts=MIGRATION_TIMEOUTS)
    try:
        with engine.connect() as new_connection:
            configure(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
