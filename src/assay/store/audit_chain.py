"""The audit log's hash chain: each event's hash covers its content and the previous event's hash.

An event's ``seq`` numbers it in the chain (1, 2, 3 … without gaps) and its ``hash`` is

    sha256( prev_hash | f(seq) | f(at) | f(actor_id) | f(action) | f(object_type)
            | f(object_id) | f(project_id) | f(before) | f(after) )

(hex; ``prev_hash`` is the empty text for the first event), where ``f`` of a value is ``~`` for
NULL and ``len:text`` otherwise, over the text the database stores: ``at`` as
``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC), ``before``/``after`` as their JSON text. So anyone can
recompute the chain from the table alone (:func:`verify`).

Who computes it: on PostgreSQL a ``BEFORE INSERT`` trigger (migration 0008), under a transaction
advisory lock that serialises the writers of events until they commit, so the chain follows the
commit order whatever writes the row (the services, or the lease statement that writes its event in
SQL); on SQLite, whose writer is single (``BEGIN IMMEDIATE``), :func:`chain_rows` in Python before
the insert. On PostgreSQL a trigger also refuses UPDATE and DELETE on ``events``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import events
from assay.store.types import dumps

__all__ = [
    "ADVISORY_LOCK",
    "PG_FUNCTIONS",
    "Broken",
    "Verified",
    "chain_rows",
    "check_anchor",
    "head",
    "link",
    "verify",
]

# The key of the PostgreSQL advisory lock the chain's writers take (any constant; "assay" in hex).
ADVISORY_LOCK = 0x6173736179

_AT_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _f(value: str | None) -> str:
    return "~" if value is None else f"{len(value)}:{value}"


def link(prev: str, seq: int, fields: tuple[str | None, ...]) -> str:
    """The hash of the event numbered ``seq`` whose stored texts are ``fields`` (at, actor_id,
    action, object_type, object_id, project_id, before, after), after the event hashed ``prev``."""
    text = "|".join((prev, _f(str(seq)), *map(_f, fields)))
    return hashlib.sha256(text.encode()).hexdigest()


def _at_text(at: datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.strftime(_AT_FORMAT)


def _json_text(value: Any) -> str | None:
    # (SQLite stores JSON null for None: the JSON type's none_as_null is off there)
    return dumps(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def row_fields(row: dict[str, Any]) -> tuple[str | None, ...]:
    """The stored texts of an event about to be written on SQLite (a dict of events' columns)."""
    return (
        _at_text(row["at"]),
        _text(row.get("actor_id")),
        row["action"],
        row["object_type"],
        _text(row.get("object_id")),
        _text(row.get("project_id")),
        _json_text(row.get("before")),
        _json_text(row.get("after")),
    )


def head(conn: Connection) -> tuple[int, str]:
    """The last event's ``seq`` and hash (0 and the empty text before the first event)."""
    found = conn.execute(
        sa.select(events.c.seq, events.c.hash).order_by(events.c.seq.desc()).limit(1)
    ).first()
    return (0, "") if found is None else (int(found[0]), str(found[1]))


_HEAD_SQL = "SELECT seq, hash FROM events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"


def chain_rows(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with their ``seq`` and ``hash`` (SQLite: the writer holds the database's write lock).

    A database not yet migrated to the chain (revision 0008: a migration test writes through the
    services at an older revision) gets the rows as they are; 0008 chains them."""
    # (the driver's own cursor: SQLAlchemy's execution costs ten times the query, on every write)
    raw = conn.connection.driver_connection
    assert raw is not None
    try:
        found = raw.execute(_HEAD_SQL).fetchone()
    except sqlite3.OperationalError as e:
        if "no such column" not in str(e):
            raise
        return rows
    seq, prev = (0, "") if found is None else (int(found[0]), str(found[1]))
    out = []
    for row in rows:
        seq += 1
        prev = link(prev, seq, row_fields(row))
        out.append({**row, "seq": seq, "hash": prev})
    return out


@dataclass(frozen=True)
class Broken:
    """The first event where the chain does not hold, and why."""

    seq: int
    event_id: int | None
    reason: str


@dataclass(frozen=True)
class Verified:
    events: int
    head_seq: int
    head_hash: str
    broken: Broken | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _stored_columns(conn: Connection) -> list[Any]:
    """The columns as the texts the hash covers, read from the database as stored."""
    c = events.c
    at: Any
    if conn.dialect.name == "postgresql":
        at = sa.func.to_char(c.at, "YYYY-MM-DD HH24:MI:SS.US")
        before, after = sa.cast(c.before, sa.Text), sa.cast(c.after, sa.Text)
    else:
        at = sa.type_coerce(c.at, sa.Text)
        before, after = sa.cast(c.before, sa.Text), sa.cast(c.after, sa.Text)
    return [
        c.id,
        c.seq,
        c.hash,
        at,
        sa.cast(c.actor_id, sa.Text),
        c.action,
        c.object_type,
        c.object_id,
        sa.cast(c.project_id, sa.Text),
        before,
        after,
    ]


def verify(
    conn: Connection,
    *,
    limit: int | None = None,
    batch: int = 20_000,
    progress: Callable[[int, int | None], None] | None = None,
) -> Verified:
    """Recompute the chain over the events in ``seq`` order (the first ``limit`` only, if given)
    and name the first event where it breaks: a content changed, an event removed, inserted or
    moved. The events' count is checked against the last ``seq`` (an event removed at the end
    is caught only against an exported anchor: :func:`head`)."""
    total = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
    if limit is not None:
        total = min(total, limit)
    prev, expected, done = "", 1, 0
    for rows in _pages(conn, batch, limit):
        for ev_id, seq, stored, *fields in rows:
            if seq != expected:
                why = (
                    "an event is missing before it (or it was moved)"
                    if seq is not None and seq > expected
                    else "it is out of its place in the chain (inserted or moved)"
                )
                return Verified(done, expected - 1, prev, Broken(expected, ev_id, f"seq {seq}: {why}"))
            h = link(prev, seq, tuple(fields))
            if h != stored:
                reason = "its content or the chain before it was changed"
                return Verified(done, seq - 1, prev, Broken(seq, ev_id, reason))
            prev, expected, done = h, expected + 1, done + 1
        if progress is not None:
            progress(done, total)
    return Verified(done, expected - 1, prev, None)


def check_anchor(conn: Connection, found: Verified, seq: int, anchored: str) -> Broken | None:
    """Where a verified chain disagrees with an anchor (an earlier head: ``seq`` and its hash)."""
    if found.head_seq < seq:
        why = f"the chain ends at seq {found.head_seq}, before the anchor's seq {seq}: events were removed"
        return Broken(found.head_seq + 1, None, why)
    row = conn.execute(sa.select(events.c.id, events.c.hash).where(events.c.seq == seq)).first()
    if row is None or row[1] != anchored:
        why = "its hash is not the anchored one: the log was rewritten from this event or before it"
        return Broken(seq, None if row is None else int(row[0]), why)
    return None


def _pages(conn: Connection, batch: int, limit: int | None) -> Iterator[list[tuple[Any, ...]]]:
    """The events in ``seq`` order (NULL seq last: an event written around the chain), a page at a time."""
    cols = _stored_columns(conn)
    after: int | None = None
    left = limit
    while left is None or left > 0:
        n = batch if left is None else min(batch, left)
        q = sa.select(*cols).order_by(events.c.seq.nulls_last(), events.c.id).limit(n)
        if after is not None:
            q = q.where(sa.or_(events.c.seq > after, events.c.seq.is_(None)))
        rows = [tuple(r) for r in conn.execute(q)]
        if not rows:
            return
        yield rows
        if rows[-1][1] is None:  # a row without seq: verify stops on it
            return
        after = rows[-1][1]
        if left is not None:
            left -= len(rows)


# Created by migration 0008 on PostgreSQL: the chain's trigger and the refusal of UPDATE/DELETE.
PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION assay_event_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN v IS NULL THEN '~' ELSE length(v) || ':' || v END $$;

CREATE OR REPLACE FUNCTION assay_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  prev_seq bigint;
  prev_hash text;
BEGIN
  PERFORM pg_advisory_xact_lock({ADVISORY_LOCK});
  SELECT seq, hash INTO prev_seq, prev_hash FROM events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
  NEW.seq := coalesce(prev_seq, 0) + 1;
  NEW.hash := encode(sha256(convert_to(concat_ws('|',
      coalesce(prev_hash, ''),
      assay_event_field(NEW.seq::text),
      assay_event_field(to_char(NEW.at, 'YYYY-MM-DD HH24:MI:SS.US')),
      assay_event_field(NEW.actor_id::text),
      assay_event_field(NEW.action),
      assay_event_field(NEW.object_type),
      assay_event_field(NEW.object_id),
      assay_event_field(NEW.project_id::text),
      assay_event_field(NEW.before::text),
      assay_event_field(NEW.after::text)), 'UTF8')), 'hex');
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION assay_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: %% on events is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

DROP TRIGGER IF EXISTS events_chain ON events;
CREATE TRIGGER events_chain BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION assay_events_chain();
DROP TRIGGER IF EXISTS events_append_only ON events;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION assay_events_append_only();
"""
