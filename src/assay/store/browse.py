"""The reads behind browsing a project: record pages with filters, one record, its history,
response and consensus pages (keyset paging on ids; every page is an index range)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import assignments, consensus, events, records, responses, reviews, users

__all__ = [
    "FILTERS",
    "active_lease_on",
    "consensus_page",
    "filter_clauses",
    "record_event_rows",
    "records_page",
    "responses_page",
]

# Records a reviewer may list by: `low_confidence` (some consensus below 0.7, or sent to review as
# unsure), `gold_failed` (a gold record someone answered wrong), `flagged` (an annotator flagged
# it), `disagreement` (sent to review because its answers disagree), `done`, `open` (not done).
FILTERS = ("low_confidence", "gold_failed", "flagged", "disagreement", "done", "open")
LOW_CONFIDENCE = 0.7

_RECORD_COLUMNS = (
    records.c.id,
    records.c.project_id,
    records.c.external_id,
    records.c.fields,
    records.c.metadata,
    records.c.priority,
    records.c.gold,
    records.c.is_gold,
    records.c.skills,
    records.c.status,
    records.c.submitted,
    records.c.leased,
    records.c.target,
    records.c.created_at,
    records.c.updated_at,
)


def _reviewed_for(reason: str) -> sa.Exists:
    return sa.exists().where(
        responses.c.record_id == records.c.id,
        reviews.c.response_id == responses.c.id,
        reviews.c.reason == reason,
    )


def _filter(name: str | None) -> list[sa.ColumnElement[bool]]:
    if name is None:
        return []
    if name == "done":
        return [records.c.status == "done"]
    if name == "open":
        return [records.c.status != "done"]
    if name == "flagged":
        return [sa.exists().where(assignments.c.record_id == records.c.id, assignments.c.status == "flagged")]
    if name == "gold_failed":
        return [
            records.c.is_gold.is_(True),
            sa.exists().where(
                responses.c.record_id == records.c.id,
                responses.c.status == "submitted",
                responses.c.gold_score < 1,
            ),
        ]
    if name == "disagreement":
        return [_reviewed_for("disagreement")]
    if name == "low_confidence":
        unsure = sa.exists().where(
            consensus.c.record_id == records.c.id, consensus.c.confidence < LOW_CONFIDENCE
        )
        return [sa.or_(unsure, _reviewed_for("low_confidence"))]
    raise ValueError(name)


def filter_clauses(name: str) -> list[sa.ColumnElement[bool]]:
    """The conditions on ``records`` of one of :data:`FILTERS` (dataset versions freeze by them too)."""
    return _filter(name)


def records_page(
    conn: Connection, project_id: int, *, filter: str | None, after_id: int, limit: int
) -> list[dict[str, Any]]:
    q = (
        sa.select(*_RECORD_COLUMNS)
        .where(records.c.project_id == project_id, records.c.id > after_id, *_filter(filter))
        .order_by(records.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def active_lease_on(conn: Connection, record_id: int, user_id: int, now: datetime) -> dict[str, Any] | None:
    """The user's live lease on this record, if it holds one."""
    row = conn.execute(
        sa.select(assignments).where(
            assignments.c.record_id == record_id,
            assignments.c.user_id == user_id,
            assignments.c.status == "leased",
            assignments.c.expires_at >= now,
        )
    ).first()
    return dict(row._mapping) if row else None


def record_event_rows(conn: Connection, record_id: int) -> list[dict[str, Any]]:
    """The audit events about a record and about its leases, responses and reviews, oldest first."""
    a_ids = [
        str(i)
        for (i,) in conn.execute(sa.select(assignments.c.id).where(assignments.c.record_id == record_id))
    ]
    r_ids = [
        str(i) for (i,) in conn.execute(sa.select(responses.c.id).where(responses.c.record_id == record_id))
    ]
    v_ids = [
        str(i)
        for (i,) in conn.execute(
            sa.select(reviews.c.id)
            .join(responses, responses.c.id == reviews.c.response_id)
            .where(responses.c.record_id == record_id)
        )
    ]
    about = [sa.and_(events.c.object_type == "record", events.c.object_id == str(record_id))]
    for kind, ids in (("assignment", a_ids), ("response", r_ids), ("review", v_ids)):
        if ids:
            about.append(sa.and_(events.c.object_type == kind, events.c.object_id.in_(ids)))
    q = (
        sa.select(events, users.c.name.label("actor_name"))
        .outerjoin(users, users.c.id == events.c.actor_id)
        .where(sa.or_(*about))
        .order_by(events.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def responses_page(
    conn: Connection,
    project_id: int,
    *,
    user_id: int | None,
    after_id: int,
    limit: int,
    statuses: Sequence[str] = ("submitted", "discarded"),
) -> list[dict[str, Any]]:
    q = (
        sa.select(
            responses.c.id,
            responses.c.record_id,
            responses.c.assignment_id,
            responses.c.user_id,
            users.c.name.label("user_name"),
            users.c.kind.label("user_kind"),
            records.c.external_id,
            records.c.is_gold,
            responses.c["values"],
            responses.c.status,
            responses.c.duration_ms,
            responses.c.gold_score,
            responses.c.schema_version,
            responses.c.guidelines_version,
            responses.c.suggestions_kept,
            responses.c.created_at,
            responses.c.updated_at,
        )
        .join(users, users.c.id == responses.c.user_id)
        .join(records, records.c.id == responses.c.record_id)
        .where(
            responses.c.project_id == project_id,
            responses.c.id > after_id,
            responses.c.status.in_(list(statuses)),
        )
        .order_by(responses.c.id)
        .limit(limit)
    )
    if user_id is not None:
        q = q.where(responses.c.user_id == user_id)
    return [dict(r._mapping) for r in conn.execute(q)]


def consensus_page(conn: Connection, project_id: int, *, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Records (by id, after ``after_id``) that have consensus, each with its rows per question."""
    ids = [
        int(i)
        for (i,) in conn.execute(
            sa.select(consensus.c.record_id)
            .where(consensus.c.project_id == project_id, consensus.c.record_id > after_id)
            .group_by(consensus.c.record_id)
            .order_by(consensus.c.record_id)
            .limit(limit)
        )
    ]
    if not ids:
        return []
    rows = conn.execute(
        sa.select(consensus, records.c.external_id)
        .join(records, records.c.id == consensus.c.record_id)
        .where(consensus.c.record_id.in_(ids))
        .order_by(consensus.c.record_id, consensus.c.question)
    )
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        m = r._mapping
        item = out.setdefault(
            int(m["record_id"]),
            {"record_id": m["record_id"], "external_id": m["external_id"], "consensus": {}},
        )
        item["consensus"][m["question"]] = {
            "value": m["value"],
            "confidence": m["confidence"],
            "method": m["method"],
            "response_ids": m["response_ids"],
            "updated_at": m["updated_at"],
        }
    return [out[i] for i in ids if i in out]
