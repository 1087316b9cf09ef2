"""personal_data: what the import's personal-data detectors found in each record (never the value)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assay.store.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "personal_data",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "project_id",
            _ID,
            sa.ForeignKey("projects.id", ondelete="CASCADE", name="fk_personal_data_project_id_projects"),
            nullable=False,
        ),
        sa.Column(
            "record_id",
            _ID,
            sa.ForeignKey("records.id", ondelete="CASCADE", name="fk_personal_data_record_id_records"),
            nullable=False,
        ),
        sa.Column("field", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("span_start", sa.Integer, nullable=False),
        sa.Column("span_end", sa.Integer, nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_personal_data"),
    )
    op.create_index("ix_personal_data_record_id", "personal_data", ["record_id"])
    op.create_index("ix_personal_data_project", "personal_data", ["project_id", "kind"])


def downgrade() -> None:
    op.drop_table("personal_data")
