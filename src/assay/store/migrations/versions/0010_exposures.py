"""exposures: how long each person had sensitive content revealed (content warnings, #27)

One row per stretch of time a person had a record's sensitive content revealed in the UI (the
workbench, review or the dashboard); the exposure report sums them per person and day.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assay.store.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "exposures",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("record_id", _ID, nullable=True),
        sa.Column("context", sa.String(12), nullable=False),
        sa.Column("ms", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_exposures_project_id_projects", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_exposures_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name="fk_exposures_record_id_records", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_exposures"),
    )
    op.create_index("ix_exposures_project_user", "exposures", ["project_id", "user_id", "created_at"])
    op.create_index("ix_exposures_user", "exposures", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_exposures_user", table_name="exposures")
    op.drop_index("ix_exposures_project_user", table_name="exposures")
    op.drop_table("exposures")
