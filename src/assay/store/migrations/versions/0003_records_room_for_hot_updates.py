"""records: room on each page for in-place (HOT) updates on PostgreSQL

Dispatch updates a record's row on every lease and every answer (its counters and, now and
then, its status). With full pages each such update writes a new row version on another page
and a new entry in each of the table's four indexes, which the next ``next`` has to step over.
With a fillfactor of 70 the new version fits on the same page, and an update that leaves the
indexed columns alone (most: the counters) touches no index at all. New pages get the room;
rows written before the upgrade get it as pages are rewritten (VACUUM FULL makes it at once).

Nothing changes on SQLite.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 07:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE records SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE records RESET (fillfactor)")
