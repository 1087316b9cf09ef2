"""records: an index of each project's gold records by id

Dispatch looks for gold from a random record between the project's first and last gold
record, and asked for those two with ``min(id)`` and ``max(id)`` over the project's gold rows.
PostgreSQL answered that by walking the primary key from each end until it met one: through
every record of the projects imported after it (about 8 ms per gold lease with 50,000 records
of another project after it). This partial index holds the gold rows only (small) and answers
both ends with one lookup each, and the walk for gold from a random record passes gold rows
only.

Upgrading a large PostgreSQL database: building the index reads the whole ``records`` table and
holds off writes to it meanwhile (a few seconds per million records). To build it without that,
run ``CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_records_gold ON records (project_id, id) WHERE
is_gold`` first; the migration then finds it there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_records_gold",
        "records",
        ["project_id", "id"],
        unique=False,
        sqlite_where=sa.text("is_gold = 1"),
        postgresql_where=sa.text("is_gold"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_records_gold", table_name="records", if_exists=True)
