"""Dataset versions (immutable snapshots of a project) and the reads the evaluation services need."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import (
    assignments,
    consensus,
    dataset_versions,
    records,
    responses,
    reviews,
    suggestions,
    users,
)
from assay.store.types import IN_CHUNK, new_id, utcnow

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
    "snapshot_page",
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


def snapshot_page(
    conn: Connection,
    project_id: int,
    *,
    after: str | None,
    limit: int,
    where: list[sa.ColumnElement[bool]],
    collate_c: bool,
) -> list[dict[str, Any]]:
    """The next ``limit`` records after ``after`` in ``external_id`` order (code points: with
    ``collate_c`` the order is forced to ``COLLATE "C"``, which PostgreSQL cannot read off the
    index); JSON columns as text."""
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
        .limit(limit)
    )
    if after is not None:
        q = q.where(key > after)
    return [dict(r._mapping) for r in conn.execute(q)]


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), IN_CHUNK):
        yield ids[i : i + IN_CHUNK]


def responses_of(conn: Connection, record_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Submitted responses of the records (by record, in id order), with the contributor and the
    latest review (its verdict, corrected values, comment and reviewer)."""
    reviewer = users.alias("reviewer")
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(record_ids):
        latest = (
            sa.select(reviews.c.response_id, sa.func.max(reviews.c.id).label("review_id"))
            .join(responses, responses.c.id == reviews.c.response_id)
            .where(responses.c.record_id.in_(chunk))
            .group_by(reviews.c.response_id)
            .subquery()
        )
        q = (
            sa.select(
                responses.c.id,
                responses.c.record_id,
                responses.c["values"],
                responses.c.duration_ms,
                responses.c.schema_version,
                responses.c.guidelines_version,
                responses.c.gold_score,
                responses.c.suggestions_kept,
                responses.c.updated_at,
                users.c.name.label("user_name"),
                users.c.kind.label("user_kind"),
                reviews.c.verdict.label("review_verdict"),
                reviews.c.corrected_values.label("review_corrected"),
                reviews.c.comment.label("review_comment"),
                reviewer.c.name.label("reviewer_name"),
            )
            .join(users, users.c.id == responses.c.user_id)
            .outerjoin(latest, latest.c.response_id == responses.c.id)
            .outerjoin(reviews, reviews.c.id == latest.c.review_id)
            .outerjoin(reviewer, reviewer.c.id == reviews.c.reviewer_id)
            .where(responses.c.record_id.in_(chunk), responses.c.status == "submitted")
            .order_by(responses.c.record_id, responses.c.id)
        )
        for row in conn.execute(q):
            m = dict(row._mapping)
            out.setdefault(int(m["record_id"]), []).append(m)
    return out


def consensus_of(conn: Connection, record_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(record_ids):
        q = (
            sa.select(
                consensus.c.record_id,
                consensus.c.question,
                consensus.c.value,
                consensus.c.confidence,
                consensus.c.method,
                consensus.c.response_ids,
            )
            .where(consensus.c.record_id.in_(chunk))
            .order_by(consensus.c.record_id, consensus.c.question)
        )
        for row in conn.execute(q):
            m = dict(row._mapping)
            out.setdefault(int(m["record_id"]), []).append(m)
    return out


def suggestions_of(conn: Connection, record_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(record_ids):
        q = (
            sa.select(
                suggestions.c.record_id,
                suggestions.c.question,
                suggestions.c.value,
                suggestions.c.score,
                suggestions.c.model,
            )
            .where(suggestions.c.record_id.in_(chunk))
            .order_by(suggestions.c.record_id, suggestions.c.id)
        )
        for row in conn.execute(q):
            m = dict(row._mapping)
            out.setdefault(int(m["record_id"]), []).append(m)
    return out
