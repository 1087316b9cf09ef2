"""one lease per contributor and project; one index fewer on responses

A partial unique index on assignments (project_id, user_id) where status = 'leased'. Dispatch
kept this rule before by locking the contributor's row on every ``next``; the index keeps it
without the lock. Databases made by 0001 hold at most one lease per contributor and project
already (that lock saw to it), so the index builds on them as they are.

ix_responses_user_id goes: the unique (user_id, idempotency_key) index starts with user_id and
serves the same lookups, and every answer wrote both.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ux_assignments_one_lease",
            ["project_id", "user_id"],
            unique=True,
            sqlite_where=sa.text("status = 'leased'"),
            postgresql_where=sa.text("status = 'leased'"),
        )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index("ix_responses_user_id")


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.create_index("ix_responses_user_id", ["user_id"], unique=False)
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ux_assignments_one_lease")
