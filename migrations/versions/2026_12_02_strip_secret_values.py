"""strip the values (data, stringData) of stored Secrets

netreach never reads a Secret's values, and stores none from now on
(``service.store.canonical.strip_secret_values``). This removes those already stored. A
stripped Secret has a new content hash: the row is rewritten under it, or, when an object
with that hash is stored already (the same Secret uploaded with other values), dropped in
favour of that one. Every snapshot holding a rewritten or dropped object gets its member
list remapped and its content hash recomputed. The values are gone for good: the downgrade
changes nothing.

Revision ID: 044fd2ff7791
Revises: 4a8ac8a22d2f
Create Date: 2026-12-02 14:00:00.000000+00:00
"""

import json
import zlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from service.store.canonical import (
    canonical_json,
    object_hash,
    snapshot_hash,
    strip_secret_values,
)
from service.store.members import pack_members, unpack_members

revision: str = "044fd2ff7791"
down_revision: str | None = "4a8ac8a22d2f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 10_000  # ids per IN list (SQLite allows 32,766 parameters)

objects = sa.table(
    "objects",
    sa.column("id", sa.BigInteger()),
    sa.column("content_hash", sa.String()),
    sa.column("kind", sa.Text()),
    sa.column("namespace", sa.Text()),
    sa.column("name", sa.Text()),
    sa.column("body", sa.LargeBinary()),
    sa.column("size", sa.Integer()),
)
snapshots = sa.table(
    "snapshots",
    sa.column("id", sa.Integer()),
    sa.column("content_hash", sa.String()),
    sa.column("object_count", sa.Integer()),
    sa.column("members", sa.LargeBinary()),
)


def _decode(body: bytes) -> Any:
    return json.loads(zlib.decompress(body))  # json: integers of any size


def upgrade() -> None:
    connection = op.get_bind()
    # 1. Rewrite each Secret that holds values under its new hash, or drop it for the
    #    object that already has that hash.
    replaced: dict[int, int] = {}  # dropped id -> surviving id
    rewritten: set[int] = set()
    secrets = connection.execute(
        sa.select(objects.c.id, objects.c.namespace, objects.c.name, objects.c.body).where(
            objects.c.kind == "Secret"
        )
    ).all()
    for id_, namespace, name, body in secrets:
        decoded = _decode(body)
        if not isinstance(decoded, dict):
            continue
        stripped = strip_secret_values(decoded)
        if stripped is decoded:
            continue
        canonical = canonical_json(stripped)
        digest = object_hash("Secret", namespace, name, canonical)
        existing = connection.execute(
            sa.select(objects.c.id).where(objects.c.content_hash == digest)
        ).scalar_one_or_none()
        if existing is not None:
            replaced[id_] = existing
            connection.execute(sa.delete(objects).where(objects.c.id == id_))
            continue
        connection.execute(
            sa.update(objects)
            .where(objects.c.id == id_)
            .values(content_hash=digest, body=zlib.compress(canonical), size=len(canonical))
        )
        rewritten.add(id_)
    changed = rewritten | set(replaced)
    if not changed:
        return
    # 2. Remap the snapshots that hold a changed object; their content hash follows.
    for snapshot_id, members in connection.execute(
        sa.select(snapshots.c.id, snapshots.c.members)
    ).all():
        ids = unpack_members(members).tolist()
        if changed.isdisjoint(ids):
            continue
        new_ids = sorted({replaced.get(i, i) for i in ids})
        hashes: list[str] = []
        for start in range(0, len(new_ids), CHUNK):
            chunk = new_ids[start : start + CHUNK]
            hashes.extend(
                connection.execute(
                    sa.select(objects.c.content_hash).where(objects.c.id.in_(chunk))
                ).scalars()
            )
        connection.execute(
            sa.update(snapshots)
            .where(snapshots.c.id == snapshot_id)
            .values(
                members=pack_members(new_ids),
                object_count=len(new_ids),
                content_hash=snapshot_hash(hashes),
            )
        )


def downgrade() -> None:
    pass  # the values were removed for good
