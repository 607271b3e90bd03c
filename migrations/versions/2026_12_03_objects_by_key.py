"""index objects by (kind, name, namespace)

A what-if reads only the stored versions of the objects it replaces or deletes: the rows
with those keys (a handful, across every snapshot), kept if the snapshot holds them,
instead of every member's key and hash.

Revision ID: 7c1f2e9a5b3d
Revises: 044fd2ff7791
Create Date: 2026-12-03 14:15:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7c1f2e9a5b3d"
down_revision: str | None = "044fd2ff7791"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_objects_kind_name_namespace", "objects", ["kind", "name", "namespace"])


def downgrade() -> None:
    op.drop_index("ix_objects_kind_name_namespace", table_name="objects")
