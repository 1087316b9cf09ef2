"""events: a hash chain (seq, hash) over the audit log; on PostgreSQL a trigger chains each new
event and another refuses UPDATE and DELETE

Each event's hash covers its content and the previous event's hash (``assay.store.audit_chain``
says how), so that ``assay audit verify`` finds an event changed, removed, inserted or moved.
The events already there are chained here, in ``id`` order.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assay.store.audit_chain import PG_FUNCTIONS, link

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_BATCH = 10_000


def upgrade() -> None:
    op.add_column("events", sa.Column("seq", _ID, nullable=True))
    op.add_column("events", sa.Column("hash", sa.String(64), nullable=True))
    conn = op.get_bind()
    pg = conn.dialect.name == "postgresql"
    at = "to_char(at, 'YYYY-MM-DD HH24:MI:SS.US')" if pg else "at"
    select = sa.text(
        f"SELECT id, {at}, CAST(actor_id AS TEXT), action, object_type, object_id, "
        "CAST(project_id AS TEXT), CAST(before AS TEXT), CAST(after AS TEXT) "
        "FROM events WHERE id > :after ORDER BY id LIMIT :n"
    )
    update = sa.text("UPDATE events SET seq = :seq, hash = :hash WHERE id = :id")
    prev, seq, after = "", 0, 0
    while True:
        rows = conn.execute(select, {"after": after, "n": _BATCH}).all()
        if not rows:
            break
        params = []
        for ev_id, *fields in rows:
            seq += 1
            prev = link(prev, seq, tuple(fields))
            params.append({"seq": seq, "hash": prev, "id": ev_id})
        conn.execute(update, params)
        after = rows[-1][0]
    op.create_index("ix_events_seq", "events", ["seq"], unique=True)
    if pg:
        conn.exec_driver_sql(PG_FUNCTIONS)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_chain ON events")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_append_only ON events")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS assay_events_chain(), assay_events_append_only()")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS assay_event_field(text)")
    op.drop_index("ix_events_seq", "events")
    op.drop_column("events", "hash")
    op.drop_column("events", "seq")
