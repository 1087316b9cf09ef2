"""Dataset versions (immutable snapshots of a project) and the reads the evaluation services need."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import (
    assignments,
    dataset_versions,
    records,
    responses,
    users,
)
from assay.store.types import IN_CHUNK, loads, new_id, utcnow

__all__ = [
    "code_point_order",
    "consensus_of",
    "count_versions",
    "get_version",
    "insert_version",
    "list_versions",
    "repeatable_read",
    "response_views",
    "responses_of",
    "snapshot_pages",
    "suggestions_of",
]

# Pairs whose order differs between code-point order and the usual language collations.
_PROBES = [("a", "B"), ("a-b", "ab"), ("Z", "a"), ("\u00e9", "f"), ("item_1", "item-10"), ("A1", "a")]


def insert_version(conn: Connection, **values: Any) -> int:
    values.setdefault("created_at", utcnow())
    return new_id(conn.execute(dataset_versions.insert().values(**values)))


def get_version(conn: Connection, project_id: int, name: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(dataset_versions).where(
            dataset_versions.c.project_id == project_id, dataset_versions.c.name == name
        )
    ).first()
    return dict(row._mapping) if row else None


def list_versions(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    q = (
        sa.select(dataset_versions)
        .where(dataset_versions.c.project_id == project_id)
        .order_by(dataset_versions.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def count_versions(conn: Connection, project_id: int) -> int:
    q = (
        sa.select(sa.func.count())
        .select_from(dataset_versions)
        .where(dataset_versions.c.project_id == project_id)
    )
    return int(conn.execute(q).scalar_one())


def response_views(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Submitted responses with the view their assignment showed (candidate order), for bias analyses."""
    q = (
        sa.select(
            responses.c.id,
            responses.c.record_id,
            responses.c["values"],
            assignments.c.view,
            users.c.name.label("user_name"),
            users.c.kind.label("user_kind"),
        )
        .join(assignments, assignments.c.id == responses.c.assignment_id)
        .join(users, users.c.id == responses.c.user_id)
        .where(responses.c.project_id == project_id, responses.c.status == "submitted")
        .order_by(responses.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def code_point_order(conn: Connection) -> bool:
    """Whether the database orders ``external_id`` by code point (as Python compares text).

    SQLite's default (BINARY, on UTF-8) always does; on PostgreSQL the database's collation
    decides (``C`` and ``C.UTF-8`` do, ``en_US.UTF-8`` does not)."""
    if conn.dialect.name != "postgresql":
        return True
    probes = " , ".join(f"(%(a{i})s::varchar < %(b{i})s::varchar)" for i in range(len(_PROBES)))
    params = {f"a{i}": a for i, (a, _) in enumerate(_PROBES)} | {
        f"b{i}": b for i, (_, b) in enumerate(_PROBES)
    }
    got = conn.exec_driver_sql(f"SELECT {probes}", params).one()
    return all(bool(x) == (a < b) for x, (a, b) in zip(got, _PROBES, strict=True))


def repeatable_read(conn: Connection) -> None:
    """Make the transaction just begun one snapshot on PostgreSQL (REPEATABLE READ, read only):
    its reads, page after page, see the database as it was at the first. (SQLite's read
    transactions are one snapshot already.)"""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


def snapshot_pages(
    conn: Connection,
    project_id: int,
    *,
    page: int,
    where: list[sa.ColumnElement[bool]],
    collate_c: bool,
) -> Iterator[list[dict[str, Any]]]:
    """The records (those ``where`` keeps) in ``external_id`` order by code point, ``page`` at a
    time; JSON columns as text. Keyset pages along the unique index; with ``collate_c`` (a
    PostgreSQL database whose collation is not code-point order) one query ordered by
    ``COLLATE "C"`` read through a server-side cursor (sorted once, not per page)."""
    key = records.c.external_id.collate("C") if collate_c else records.c.external_id
    q = (
        sa.select(
            records.c.id,
            records.c.external_id,
            sa.cast(records.c.fields, sa.Text).label("fields"),
            sa.cast(records.c.metadata, sa.Text).label("metadata"),
            records.c.priority,
            sa.cast(records.c.gold, sa.Text).label("gold"),
            records.c.is_gold,
            records.c.status,
        )
        .where(records.c.project_id == project_id, *where)
        .order_by(key)
    )
    if collate_c:
        result = conn.execution_options(stream_results=True, max_row_buffer=page).execute(q)
        names = list(result.keys())
        while chunk := result.fetchmany(page):
            yield [dict(zip(names, row, strict=True)) for row in chunk]
        return
    after: str | None = None
    while True:
        paged = q.limit(page) if after is None else q.where(key > after).limit(page)
        rows = _dicts(conn.execute(paged))
        if not rows:
            return
        yield rows
        if len(rows) < page:
            return
        after = str(rows[-1]["external_id"])


def _dicts(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    """Rows as dicts, the column names taken once (``Row._mapping`` costs more per row than the read)."""
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _by_ids(conn: Connection, sql: str, table: str, record_ids: list[int]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` for the records ``record_ids``, through the driver's cursor. ``{src}`` in
    ``sql`` stands for ``table`` (``name alias``) and ``{cond}`` for the condition on its
    ``record_id``; ``{cast}`` for a cast of JSON to text. PostgreSQL joins the ids as an array
    (``unnest``: the index on ``record_id`` leads, whatever the table's statistics say); SQLite
    takes them as ``IN`` lists."""
    raw = conn.connection.driver_connection
    alias = table.split()[-1]
    pg = conn.dialect.name == "postgresql"
    chunks = (
        [record_ids] if pg else [record_ids[i : i + IN_CHUNK] for i in range(0, len(record_ids), IN_CHUNK)]
    )
    for chunk in chunks:
        params: tuple[Any, ...]
        if pg:
            src = f"unnest(%s::bigint[]) AS ids(rid) JOIN {table} ON {alias}.record_id = ids.rid"
            cond, params = "TRUE", (chunk,)
        else:
            src, cond, params = table, f"{alias}.record_id IN ({', '.join('?' * len(chunk))})", tuple(chunk)
        cur = raw.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(sql.format(src=src, cond=cond, cast="::text" if pg else ""), params)
            yield from cur.fetchall()
        finally:
            cur.close()


def _json(text: Any) -> Any:
    return None if text is None else loads(text)


def _utc(v: Any) -> datetime:
    """A stored naive-UTC timestamp (text on SQLite, datetime on PostgreSQL) as an aware UTC datetime."""
    at = datetime.fromisoformat(v) if isinstance(v, str) else v
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


_RESPONSES = (
    'SELECT s.id, s.record_id, s."values"{cast}, s.duration_ms, s.schema_version, s.guidelines_version, '
    "s.gold_score, s.suggestions_kept{cast}, s.updated_at, u.name, u.kind, v.verdict, "
    "v.corrected_values{cast}, v.comment, ru.name "
    "FROM {src} JOIN users u ON u.id = s.user_id "
    "LEFT JOIN reviews v ON v.id = (SELECT max(x.id) FROM reviews x WHERE x.response_id = s.id) "
    "LEFT JOIN users ru ON ru.id = v.reviewer_id "
    "WHERE {cond} AND s.status = 'submitted' ORDER BY s.record_id, s.id"
)


def responses_of(conn: Connection, record_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Submitted responses of the records (by record, in id order), with the contributor and the
    latest review (its verdict, corrected values, comment and reviewer)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for row in _by_ids(conn, _RESPONSES, "responses s", record_ids):
        (rid, rec, values, dur, sv, gv, gold, kept, at, name, kind, verdict, corrected, comment, reviewer) = (
            row
        )
        out.setdefault(int(rec), []).append(
            {
                "id": rid,
                "values": _json(values),
                "duration_ms": dur,
                "schema_version": sv,
                "guidelines_version": gv,
                "gold_score": gold,
                "suggestions_kept": _json(kept),
                "updated_at": _utc(at),
                "user_name": name,
                "user_kind": kind,
                "review_verdict": verdict,
                "review_corrected": _json(corrected),
                "review_comment": comment,
                "reviewer_name": reviewer,
            }
        )
    return out


_CONSENSUS = (
    "SELECT c.record_id, c.question, c.value{cast}, c.confidence, c.method, c.response_ids{cast} FROM {src} "
    "WHERE {cond} ORDER BY c.record_id, c.question"
)


def consensus_of(conn: Connection, record_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for rec, question, value, conf, method, ids in _by_ids(conn, _CONSENSUS, "consensus c", record_ids):
        out.setdefault(int(rec), []).append(
            {
                "question": question,
                "value": _json(value),
                "confidence": conf,
                "method": method,
                "response_ids": _json(ids) or [],
            }
        )
    return out


_SUGGESTIONS = (
    "SELECT g.record_id, g.question, g.value{cast}, g.score, g.model FROM {src} "
    "WHERE {cond} ORDER BY g.record_id, g.id"
)


def suggestions_of(conn: Connection, record_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for rec, question, value, score, model in _by_ids(conn, _SUGGESTIONS, "suggestions g", record_ids):
        out.setdefault(int(rec), []).append(
            {"question": question, "value": _json(value), "score": score, "model": model}
        )
    return out
