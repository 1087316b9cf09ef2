"""The append-only audit log: one row per change, never updated or deleted, each chained by hash
to the one before it (:mod:`assay.store.audit_chain`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.audit_chain import chain_rows
from assay.store.statements import run
from assay.store.tables import events
from assay.store.types import utcnow

__all__ = ["PENDING", "flush_events", "list_events", "write_event"]


_INSERT = events.insert()  # built once: the audit log is written on every change

# A connection whose ``info`` holds this key collects its events there and writes them in one
# statement just before its transaction commits (``Store.tx``): a dispatch call writes two or
# three events, and each statement is a round trip to PostgreSQL.
PENDING = "assay_pending_events"


def write_event(
    conn: Connection,
    action: str,
    object_type: str,
    object_id: object = None,
    *,
    actor_id: int | None = None,
    project_id: int | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    row = {
        "at": utcnow(),
        "actor_id": actor_id,
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "project_id": project_id,
        "before": before,
        "after": after,
    }
    pending = conn.info.get(PENDING)
    if pending is not None:
        pending.append(row)
    elif conn.dialect.name == "sqlite":  # (PostgreSQL chains events in a trigger)
        conn.execute(_INSERT, chain_rows(conn, [row]))
    else:
        conn.execute(_INSERT, row)


def flush_events(conn: Connection, *, defer: bool = False, name: str | None = None) -> None:
    """Write the events the connection collected (inside its transaction, before it commits),
    taking the writes still waiting along (:mod:`assay.store.statements`). ``defer``: let them
    wait in turn, to go out with the next statement that carries writes (on PostgreSQL), as the
    ``WITH`` part ``name`` when given (it returns the events' ids, so that a later part of that
    statement can be made to wait for them)."""
    pending = conn.info.get(PENDING)
    if pending:
        if conn.dialect.name == "sqlite":  # (PostgreSQL chains events in a trigger)
            pending[:] = chain_rows(conn, pending)
        rows = pending[0] if len(pending) == 1 else pending
        returning = name is not None
        run(
            conn,
            f"events.insert:{returning}",
            lambda pg: _INSERT.returning(events.c.id) if returning else _INSERT,
            rows,
            defer=defer,
            carry=not defer,
            name=name,
        )
        pending.clear()


def list_events(
    conn: Connection,
    *,
    project_id: int | None = None,
    object_type: str | None = None,
    object_id: object = None,
    action: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    q = sa.select(events).where(events.c.id > after_id).order_by(events.c.id).limit(limit)
    if project_id is not None:
        q = q.where(events.c.project_id == project_id)
    if object_type is not None:
        q = q.where(events.c.object_type == object_type)
    if object_id is not None:
        q = q.where(events.c.object_id == str(object_id))
    if action is not None:
        q = q.where(events.c.action == action)
    return [dict(r._mapping) for r in conn.execute(q)]
