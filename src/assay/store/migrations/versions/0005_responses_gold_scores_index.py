"""responses: an index of gold answers that holds what reading them needs

Each answer the consensus reads carries its author's gold record in the project (count and sum
of its gold scores), and qualification and the quality bar read the same. The partial index
``ix_responses_gold`` held (project_id, user_id) of the gold answers only; but the query also
asks for ``status = 'submitted'``, and SQLite, which then matched three columns of
``ix_responses_project_user`` against two of this index, walked every answer the contributor had
given in the project, gold or not, for each answer it read: an import of 10,000 records each
answered by one contributor ran at 484 records/s, quadratic in the contributor's answers. The new
index ``ix_responses_gold_scores`` holds (project_id, user_id, status, gold_score) of the gold
answers: it matches the query wholly and answers it alone, on both databases. It replaces
``ix_responses_gold``.

Upgrading a large PostgreSQL database: building the index reads the whole ``responses`` table and
holds off writes to it meanwhile (it is small, but the read is of every answer). To build it
without that, run ``CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_responses_gold_scores ON responses
(project_id, user_id, status, gold_score) WHERE gold_score IS NOT NULL`` first; the migration
then finds it there, and dropping the old index is quick.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_GOLD = sa.text("gold_score IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_responses_gold_scores",
        "responses",
        ["project_id", "user_id", "status", "gold_score"],
        unique=False,
        sqlite_where=_GOLD,
        postgresql_where=_GOLD,
        if_not_exists=True,
    )
    op.drop_index("ix_responses_gold", table_name="responses", if_exists=True)


def downgrade() -> None:
    op.create_index(
        "ix_responses_gold",
        "responses",
        ["project_id", "user_id"],
        unique=False,
        sqlite_where=_GOLD,
        postgresql_where=_GOLD,
        if_not_exists=True,
    )
    op.drop_index("ix_responses_gold_scores", table_name="responses", if_exists=True)
