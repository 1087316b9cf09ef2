"""Records, their suggestions, and the reads that export and browse them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from assay.store.tables import consensus, records, responses, reviews, suggestions, users
from assay.store.types import utcnow

__all__ = [
    "consensus_for_records",
    "count_records",
    "existing_ids",
    "get_record",
    "get_record_by_external_id",
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
    for i in range(0, len(external_ids), 900):
        chunk = list(external_ids[i : i + 900])
        q = sa.select(records.c.external_id, records.c.id).where(
            records.c.project_id == project_id, records.c.external_id.in_(chunk)
        )
        out.update({str(e): int(r) for e, r in conn.execute(q)})
    return out


def upsert_records(conn: Connection, project_id: int, rows: list[dict[str, Any]]) -> list[int]:
    """Insert or update (by ``external_id``) a batch of records; returns their ids in row order."""
    if not rows:
        return []
    now = utcnow()
    for r in rows:
        r["project_id"] = project_id
        r["created_at"] = now
        r["updated_at"] = now
        r.setdefault("status", "open")
        r.setdefault("submitted", 0)
        r.setdefault("leased", 0)
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(records)
    stmt = insert.on_conflict_do_update(
        index_elements=[records.c.project_id, records.c.external_id],
        set_={name: insert.excluded[name] for name in _UPDATABLE},
    ).returning(records.c.id, sort_by_parameter_order=True)
    return [int(r[0]) for r in conn.execute(stmt, rows)]


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
) -> Iterator[list[dict[str, Any]]]:
    """Records of a project in id order, a page at a time (keyset paging: flat memory)."""
    seen = 0
    while True:
        size = page_size if limit is None else min(page_size, limit - seen)
        if size <= 0:
            return
        q = (
            sa.select(records)
            .where(records.c.project_id == project_id, records.c.id > after_id, *where)
            .order_by(records.c.id)
            .limit(size)
        )
        page = [dict(r._mapping) for r in conn.execute(q)]
        if not page:
            return
        yield page
        seen += len(page)
        after_id = page[-1]["id"]
        if len(page) < size:
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
    latest_review = (
        sa.select(reviews.c.response_id, sa.func.max(reviews.c.id).label("review_id"))
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
        .where(
            responses.c.project_id == project_id,
            responses.c.record_id.between(lo, hi),
            responses.c.status.in_(list(statuses)),
        )
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
        .where(consensus.c.project_id == project_id, consensus.c.record_id.between(lo, hi))
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
