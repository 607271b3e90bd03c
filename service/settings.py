"""Settings from the environment (prefix ``NETREACH_``), each with a laptop default.

Never read at import time: call :func:`get_settings` (cached), or build ``Settings(...)``
directly (tests do).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.engine.parse.counts import DEFAULT_COUNTS, CountLimits
from service.store.location import default_database_url

if TYPE_CHECKING:
    from service.store.database import DatabaseTimeouts

MiB = 1024 * 1024
GiB = 1024 * MiB


def default_cache_dir() -> Path:
    """``~/.cache/netreach`` on Linux, ``~/Library/Caches/netreach`` on macOS,
    ``%LOCALAPPDATA%\\netreach\\Cache`` on Windows."""
    from platformdirs import user_cache_path

    return user_cache_path("netreach")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NETREACH_", extra="ignore")

    database_url: str = Field(
        default_factory=default_database_url,
        description="SQLAlchemy URL: netreach.db in the user's data directory by default; "
        "postgresql+psycopg://... in prod",
    )
    host: str = Field("127.0.0.1", description="address `netreach serve` binds")
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, description="uvicorn worker processes")
    insecure: bool = Field(
        False, description="serve without tokens on a non-loopback address (never in prod)"
    )
    max_body_bytes: int = Field(
        GiB,
        ge=1024,
        description="largest accepted request body, after decoding a compressed one",
    )
    cache_size: int = Field(8, ge=1, description="compiled snapshots kept per process (LRU)")
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="where resolved snapshots are kept across processes (the service's own)",
    )
    cache_dir_max_bytes: int = Field(
        2 * GiB, ge=0, description="size bound of cache_dir (least recently used go); 0: off"
    )
    prepare_after_upload: bool = Field(
        True,
        description="after an upload is answered, compile and map the snapshot in the "
        "background and keep both in cache_dir, so that its first what-if or diff, even in a "
        "fresh process, skips that work (needs cache_dir)",
    )
    page_size: int = Field(100, ge=1, description="default page size")
    max_page_size: int = Field(1000, ge=1, description="largest page size a client may ask for")
    log_level: str = Field("info", description="debug, info, warning or error")
    log_json: bool = Field(True, description="JSON logs (one object per line)")
    migrate_on_start: bool = Field(
        True, description="upgrade the database schema to head when the service starts"
    )
    database_connect_timeout: float = Field(
        2.0, gt=0, description="seconds to open a database connection (PostgreSQL; 2 s at least)"
    )
    database_statement_timeout: float = Field(
        30.0, ge=0, description="PostgreSQL statement_timeout in seconds (0: none)"
    )
    database_lock_timeout: float = Field(
        10.0, ge=0, description="PostgreSQL lock_timeout in seconds (0: none)"
    )
    database_pool_timeout: float = Field(
        2.0, gt=0, description="seconds a request waits for a free connection of the pool"
    )
    database_busy_timeout: float = Field(
        30.0, ge=0, description="SQLite: seconds a write waits for another's write lock"
    )

    # -- the API: in-process caches, answer sizes, connection limits ---------------------
    token_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="how long a replica trusts a verified token without asking the database "
        "again: a revocation takes effect on every replica within this time (0: ask each time)",
    )
    ref_cache_seconds: float = Field(
        1.0,
        ge=0,
        description="how long a replica keeps what a snapshot reference (`latest`, a version) "
        "resolves to; its own uploads and deletes are seen at once, other replicas' within "
        "this time (0: ask each time)",
    )
    max_unpaged_connections: int = Field(
        200_000,
        ge=1,
        description="largest connectivity map returned whole as JSON without `limit`; a "
        "larger one is answered with its first page and a `next_cursor`",
    )
    timeout_keep_alive: float = Field(
        5.0, gt=0, description="seconds an idle keep-alive connection stays open"
    )
    timeout_request_head: float = Field(
        10.0,
        gt=0,
        description="seconds a client has to send a request's headers, and then between two "
        "chunks of its body, before the connection is closed",
    )
    limit_concurrency: int | None = Field(
        1000,
        ge=1,
        description="connections (and tasks) a worker serves at once; more are answered 503",
    )

    # -- analyses: time budget and concurrency ---------------------------------------------
    analysis_timeout_seconds: float | None = Field(
        30.0,
        gt=0,
        description="time budget of one analysis (map, query, diff, what-if, lint): past it "
        "the analysis stops and the request is answered 503 analysis_timeout (unset: none)",
    )
    max_concurrent_analyses: int = Field(
        8,
        ge=1,
        description="analyses computing at once per worker process; one more is answered "
        "503 analyses_busy at once (keep it well below the threadpool's 40 threads)",
    )

    # -- items per NetworkPolicy: netreach's own limits (the API server has none) ---------
    max_policy_rules: int = Field(
        DEFAULT_COUNTS.max_policy_rules, ge=1, description="rules per direction of a policy"
    )
    max_rule_peers: int = Field(
        DEFAULT_COUNTS.max_rule_peers, ge=1, description="peers (from / to) of one rule"
    )
    max_rule_ports: int = Field(DEFAULT_COUNTS.max_rule_ports, ge=1, description="ports of a rule")
    max_policy_ip_blocks: int = Field(
        DEFAULT_COUNTS.max_policy_ip_blocks, ge=1, description="ipBlock peers of one policy"
    )
    max_ip_block_excepts: int = Field(
        DEFAULT_COUNTS.max_ip_block_excepts, ge=1, description="except CIDRs of one ipBlock"
    )

    def count_limits(self) -> CountLimits:
        """The limits above, as the parser takes them."""
        return CountLimits(
            self.max_policy_rules,
            self.max_rule_peers,
            self.max_rule_ports,
            self.max_policy_ip_blocks,
            self.max_ip_block_excepts,
        )

    def database_timeouts(self) -> DatabaseTimeouts:
        from service.store.database import DatabaseTimeouts

        return DatabaseTimeouts(
            connect=self.database_connect_timeout,
            statement=self.database_statement_timeout,
            lock=self.database_lock_timeout,
            pool=self.database_pool_timeout,
            busy=self.database_busy_timeout,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
