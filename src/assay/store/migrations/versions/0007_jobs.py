"""jobs: background jobs (pre-labeling, judge runs, consensus, exports); suggestions say what made them

A ``jobs`` row is a job's state whichever engine runs it (procrastinate workers on PostgreSQL, a
thread of ``assay serve`` on SQLite): progress, errors, cost so far, the attempt that runs it and
the checkpoint a retry resumes from. Suggestions gain ``params``, ``cost`` and ``job_id``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assay.store.types import JSON, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("project_id", _ID, nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("item_errors", JSON, nullable=True),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=True),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("time_limit", sa.Integer, nullable=True),
        sa.Column("checkpoint", JSON, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_jobs_project_id_projects", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_project", "jobs", ["project_id", "id"])
    op.create_index("ix_jobs_state", "jobs", ["state", "id"])
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("params", JSON, nullable=True))
        batch_op.add_column(sa.Column("cost", sa.Float, nullable=True))
        batch_op.add_column(sa.Column("job_id", _ID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_column("job_id")
        batch_op.drop_column("cost")
        batch_op.drop_column("params")
    op.drop_index("ix_jobs_state", table_name="jobs")
    op.drop_index("ix_jobs_project", table_name="jobs")
    op.drop_table("jobs")
