"""Consensus rows: one per record and question, replaced as answers come in."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from assay.store.statements import run
from assay.store.tables import consensus, records, responses, reviews
from assay.store.types import utcnow

__all__ = ["delete_record_consensus", "project_answers", "record_consensus", "upsert_consensus"]


_RECORD = sa.select(consensus).where(consensus.c.record_id == sa.bindparam("rid"))


def record_consensus(conn: Connection, record_id: int) -> dict[str, dict[str, Any]]:
    return {r.question: dict(r._mapping) for r in conn.execute(_RECORD, {"rid": record_id})}


def upsert_consensus(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    now = utcnow()
    for r in rows:
        r["updated_at"] = now

    def build(pg: bool) -> Any:
        insert = (postgresql.insert if pg else sqlite.insert)(consensus)
        keep = ("value", "confidence", "method", "response_ids", "details", "updated_at")
        return insert.on_conflict_do_update(
            index_elements=[consensus.c.record_id, consensus.c.question],
            set_={k: insert.excluded[k] for k in keep},
        )

    run(conn, "consensus.upsert", build, rows[0] if len(rows) == 1 else rows, defer=True)


def delete_record_consensus(conn: Connection, record_id: int, questions: list[str]) -> None:
    if questions:
        conn.execute(
            consensus.delete().where(consensus.c.record_id == record_id, consensus.c.question.in_(questions))
        )


def project_answers(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Every submitted answer of a project with its record's gold, in record order (for a full recompute)."""
    latest = (
        sa.select(reviews.c.response_id, sa.func.max(reviews.c.id).label("rid"))
        .group_by(reviews.c.response_id)
        .subquery()
    )
    q = (
        sa.select(
            responses.c.id,
            responses.c.record_id,
            responses.c.user_id,
            responses.c["values"],
            reviews.c.verdict.label("review_verdict"),
            reviews.c.corrected_values,
            records.c.is_gold,
            records.c.gold,
            records.c.fields,
        )
        .join(records, records.c.id == responses.c.record_id)
        .outerjoin(latest, latest.c.response_id == responses.c.id)
        .outerjoin(reviews, reviews.c.id == latest.c.rid)
        .where(responses.c.project_id == project_id, responses.c.status == "submitted")
        .order_by(responses.c.record_id, responses.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]
