"""Where the default SQLite database lives: the user's data directory, never the current one."""

from __future__ import annotations

from pathlib import Path


def default_database_path() -> Path:
    """``netreach.db`` in the user's data directory (``~/.local/share/netreach`` on Linux,
    ``~/Library/Application Support/netreach`` on macOS, ``%LOCALAPPDATA%\\netreach`` on
    Windows), never the current directory."""
    from platformdirs import user_data_path

    return user_data_path("netreach") / "netreach.db"


def default_database_url() -> str:
    return f"sqlite:///{default_database_path()}"
