"""Records, their suggestions, and the reads that export and browse them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import assignments, consensus, records, responses, reviews, suggestions, users
from assay.store.types import IN_CHUNK, dumps, loads, utcnow

__all__ = [
    "consensus_for_records",
    "count_open_for",
    "count_records",
    "existing_ids",
    "get_record",
    "get_record_by_external_id",
    "iter_export_pages",
    "iter_record_pages",
    "replace_suggestions",
    "responses_for_records",
    "suggestions_for_records",
    "upsert_records",
]

_UPDATABLE = ("fields", "metadata", "priority", "gold", "is_gold", "skills", "updated_at")


def existing_ids(conn: Connection, project_id: int, external_ids: Sequence[str]) -> dict[str, int]:
    """Map the given external ids that already exist in the project to their record ids."""
    out: dict[str, int] = {}
    for i in range(0, len(external_ids), IN_CHUNK):
        chunk = list(external_ids[i : i + IN_CHUNK])
        q = sa.select(records.c.external_id, records.c.id).where(
            records.c.project_id == project_id, records.c.external_id.in_(chunk)
        )
        out.update({str(e): int(r) for e, r in conn.execute(q)})
    return out


_COLUMNS = ("external_id", "fields", "metadata", "priority", "gold", "is_gold", "skills", "target")


def upsert_records(
    conn: Connection, project_id: int, rows: list[dict[str, Any]], *, want_ids: Sequence[str] = ()
) -> tuple[list[int], dict[str, int]]:
    """Insert or update (by ``external_id``) a batch of records, each external id at most once.

    Returns the ids of the records that existed already (updated), and the ids of the external
    ids in ``want_ids``.

    This is the import hot path: it goes to the driver directly (``executemany`` on SQLite,
    ``COPY`` into a temporary table and one ``INSERT … ON CONFLICT`` on PostgreSQL) rather than
    through SQLAlchemy's per-row parameter processing, which costs more than the database.
    Dispatch state (status, counters) of an existing record is left as it is.
    """
    if not rows:
        return [], {}
    now = utcnow().replace(tzinfo=None)
    if conn.dialect.name == "postgresql":
        return _upsert_pg(conn, project_id, rows, now, want_ids)
    existing = existing_ids(conn, project_id, [r["external_id"] for r in rows])
    _upsert_sqlite(conn, project_id, rows, now)
    ids = existing_ids(conn, project_id, list(want_ids)) if want_ids else {}
    return list(existing.values()), ids


def _json_or_none(v: Any) -> str | None:
    return None if v is None else dumps(v)


def _upsert_sqlite(conn: Connection, project_id: int, rows: list[dict[str, Any]], now: datetime) -> None:
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    params = [
        (
            project_id,
            r["external_id"],
            dumps(r["fields"]),
            dumps(r["metadata"] or {}),
            r["priority"],
            _json_or_none(r["gold"]),
            1 if r["is_gold"] else 0,
            r["skills"],
            r["target"],
            stamp,
            stamp,
        )
        for r in rows
    ]
    sql = (
        "INSERT INTO records (project_id, external_id, fields, metadata, priority, gold, is_gold, skills, target,"
        " status, submitted, leased, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', 0, 0, ?, ?)"
        " ON CONFLICT (project_id, external_id) DO UPDATE SET fields = excluded.fields,"
        " metadata = excluded.metadata, priority = excluded.priority, gold = excluded.gold,"
        " is_gold = excluded.is_gold, skills = excluded.skills, updated_at = excluded.updated_at"
    )
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(sql, params)
    finally:
        cur.close()


def _upsert_pg(
    conn: Connection, project_id: int, rows: list[dict[str, Any]], now: datetime, want_ids: Sequence[str]
) -> tuple[list[int], dict[str, int]]:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _records_in (external_id text, fields text, metadata text,"
            " priority int, gold text, is_gold bool, skills text, target int) ON COMMIT DROP"
        )
        with cur.copy(
            "COPY _records_in (external_id, fields, metadata, priority, gold, is_gold, skills, target) FROM STDIN"
        ) as copy:
            for r in rows:
                copy.write_row(
                    (
                        r["external_id"],
                        dumps(r["fields"]),
                        dumps(r["metadata"] or {}),
                        r["priority"],
                        _json_or_none(r["gold"]),
                        r["is_gold"],
                        r["skills"],
                        r["target"],
                    )
                )
        # One row comes back, not one per record: the updated ids and the ids asked for.
        cur.execute(
            "WITH up AS (INSERT INTO records (project_id, external_id, fields, metadata, priority, gold, is_gold,"
            " skills, target, status, submitted, leased, created_at, updated_at)"
            " SELECT %s, external_id, fields::json, metadata::json, priority, gold::json, is_gold, skills,"
            " target, 'open', 0, 0, %s, %s FROM _records_in"
            " ON CONFLICT (project_id, external_id) DO UPDATE SET fields = excluded.fields,"
            " metadata = excluded.metadata, priority = excluded.priority, gold = excluded.gold,"
            " is_gold = excluded.is_gold, skills = excluded.skills, updated_at = excluded.updated_at"
            " RETURNING external_id, id, (xmax = 0) AS inserted)"
            " SELECT (SELECT coalesce(array_agg(id), '{}') FROM up WHERE NOT inserted),"
            " (SELECT coalesce(array_agg(external_id), '{}') FROM up WHERE external_id = ANY(%s)),"
            " (SELECT coalesce(array_agg(id), '{}') FROM up WHERE external_id = ANY(%s))",
            (project_id, now, now, list(want_ids), list(want_ids)),
        )
        updated, exts, ids = cur.fetchone()
        cur.execute("TRUNCATE _records_in")
    return [int(i) for i in updated], {str(e): int(i) for e, i in zip(exts, ids, strict=True)}


def replace_suggestions(
    conn: Connection, updated_record_ids: Sequence[int], rows: list[dict[str, Any]]
) -> None:
    """Drop the old suggestions of re-imported records, then insert the new batch."""
    for i in range(0, len(updated_record_ids), 900):
        chunk = list(updated_record_ids[i : i + 900])
        conn.execute(suggestions.delete().where(suggestions.c.record_id.in_(chunk)))
    if rows:
        now = utcnow()
        for r in rows:
            r["created_at"] = now
        conn.execute(suggestions.insert(), rows)


def count_records(conn: Connection, project_id: int, **where: Any) -> int:
    q = sa.select(sa.func.count()).select_from(records).where(records.c.project_id == project_id)
    for k, v in where.items():
        q = q.where(records.c[k] == v)
    return int(conn.execute(q).scalar_one())


def count_open_for(conn: Connection, project_id: int, user_id: int) -> int:
    """Records of the project that still want answers and that this contributor has not had,
    gold ones included (gold records stay open): so the count falls by one with each record it
    is given, gold or not, and does not tell which was gold."""
    seen = sa.exists().where(assignments.c.record_id == records.c.id, assignments.c.user_id == user_id)
    q = (
        sa.select(sa.func.count())
        .select_from(records)
        .where(
            records.c.project_id == project_id,
            records.c.status.in_(("open", "full")),
            ~seen,
        )
    )
    return int(conn.execute(q).scalar_one())


def get_record(conn: Connection, record_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(records).where(records.c.id == record_id)).first()
    return dict(row._mapping) if row else None


def get_record_by_external_id(conn: Connection, project_id: int, external_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(records).where(records.c.project_id == project_id, records.c.external_id == external_id)
    ).first()
    return dict(row._mapping) if row else None


def iter_record_pages(
    conn: Connection,
    project_id: int,
    *,
    page_size: int = 5000,
    after_id: int = 0,
    where: Sequence[sa.ColumnElement[bool]] = (),
    limit: int | None = None,
    columns: Sequence[str] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Records of a project in id order, a page at a time (keyset paging: flat memory).

    ``columns`` limits what is read (``id`` is always included); rows are plain dicts.
    """
    cols = [records.c.id, *(records.c[c] for c in columns if c != "id")] if columns else list(records.c)
    names = [c.name for c in cols]
    seen = 0
    while True:
        size = page_size if limit is None else min(page_size, limit - seen)
        if size <= 0:
            return
        q = (
            sa.select(*cols)
            .where(records.c.project_id == project_id, records.c.id > after_id, *where)
            .order_by(records.c.id)
            .limit(size)
        )
        page = [dict(zip(names, row, strict=True)) for row in conn.execute(q)]
        if not page:
            return
        yield page
        seen += len(page)
        after_id = page[-1]["id"]
        if len(page) < size:
            return


def iter_export_pages(
    conn: Connection, project_id: int, *, page_size: int = 5000
) -> Iterator[list[dict[str, Any]]]:
    """The exported columns of a project's records, a page at a time, read through the driver.

    The export hot path: plain tuples from the DBAPI cursor and JSON decoded by orjson, without
    SQLAlchemy's per-row result processing (which costs more than the database read).
    """
    pg = conn.dialect.name == "postgresql"
    mark = "%s" if pg else "?"
    cast = "::text" if pg else ""
    sql = (
        f"SELECT id, external_id, fields{cast}, metadata{cast}, priority, gold{cast}, status FROM records"
        f" WHERE project_id = {mark} AND id > {mark} ORDER BY id LIMIT {mark}"
    )
    raw = conn.connection.driver_connection
    after = 0
    while True:
        cur = raw.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(sql, (project_id, after, page_size))
            rows = cur.fetchall()
        finally:
            cur.close()
        if not rows:
            return
        yield [
            {
                "id": rid,
                "external_id": ext,
                "fields": loads(fields),
                "metadata": loads(meta) if meta is not None else {},
                "priority": prio,
                "gold": loads(gold) if gold is not None else None,
                "status": status,
            }
            for rid, ext, fields, meta, prio, gold, status in rows
        ]
        after = rows[-1][0]
        if len(rows) < page_size:
            return


def _by_record(
    conn: Connection, q: sa.Select[Any], key: str = "record_id"
) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(q):
        m = dict(row._mapping)
        out.setdefault(m[key], []).append(m)
    return out


def _id_range(record_ids: Sequence[int]) -> tuple[int, int]:
    return min(record_ids), max(record_ids)


def responses_for_records(
    conn: Connection, project_id: int, record_ids: Sequence[int], *, statuses: Sequence[str] = ("submitted",)
) -> dict[int, list[dict[str, Any]]]:
    """Responses of the given records (with the contributor's name and kind and any review), by record."""
    if not record_ids:
        return {}
    lo, hi = _id_range(record_ids)
    # Filters lead with record ids (an id range is a small index range; records are one project's).
    in_range = sa.select(responses.c.id).where(responses.c.record_id.between(lo, hi))
    latest_review = (
        sa.select(reviews.c.response_id, sa.func.max(reviews.c.id).label("review_id"))
        .where(reviews.c.response_id.in_(in_range))
        .group_by(reviews.c.response_id)
        .subquery()
    )
    q = (
        sa.select(
            responses,
            users.c.name.label("user_name"),
            users.c.kind.label("user_kind"),
            reviews.c.verdict.label("review_verdict"),
            reviews.c.corrected_values.label("review_corrected"),
        )
        .join(users, users.c.id == responses.c.user_id)
        .outerjoin(latest_review, latest_review.c.response_id == responses.c.id)
        .outerjoin(reviews, reviews.c.id == latest_review.c.review_id)
        .where(responses.c.record_id.between(lo, hi), responses.c.status.in_(list(statuses)))
        .order_by(responses.c.record_id, responses.c.id)
    )
    wanted = set(record_ids)
    return {k: v for k, v in _by_record(conn, q).items() if k in wanted}


def consensus_for_records(
    conn: Connection, project_id: int, record_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    if not record_ids:
        return {}
    lo, hi = _id_range(record_ids)
    q = (
        sa.select(consensus)
        .where(consensus.c.record_id.between(lo, hi))
        .order_by(consensus.c.record_id, consensus.c.question)
    )
    wanted = set(record_ids)
    return {k: v for k, v in _by_record(conn, q).items() if k in wanted}


def suggestions_for_records(conn: Connection, record_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    if not record_ids:
        return {}
    lo, hi = _id_range(record_ids)
    q = (
        sa.select(suggestions)
        .where(suggestions.c.record_id.between(lo, hi))
        .order_by(suggestions.c.record_id, suggestions.c.id)
    )
    wanted = set(record_ids)
    return {k: v for k, v in _by_record(conn, q).items() if k in wanted}


def records_stamp(conn: Connection, project_id: int) -> tuple[Any, ...]:
    """What changes whenever a project's records do: their count, last id and last update (for
    caches built from them)."""
    q = sa.select(sa.func.count(), sa.func.max(records.c.id), sa.func.max(records.c.updated_at)).where(
        records.c.project_id == project_id
    )
    return tuple(conn.execute(q).one())
