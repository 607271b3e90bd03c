"""Store-level domain errors. No HTTP status in here: the API maps them."""


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class SnapshotNotFoundError(StoreError):
    """A snapshot id that does not exist (any more)."""

    def __init__(self, snapshot_id: int) -> None:
        super().__init__(f"snapshot {snapshot_id} does not exist")
        self.snapshot_id = snapshot_id


class TokenNameTakenError(StoreError):
    """A token of that name exists already (names stay taken after revocation)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a token named {name!r} exists already")
        self.name = name


class InvalidTokenError(StoreError):
    """A token definition that cannot be stored: empty name, unknown scope, bad pattern."""


class UnsupportedDatabaseError(StoreError):
    """A database URL netreach cannot use: not SQLite, not PostgreSQL through psycopg."""
