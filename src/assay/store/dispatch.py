"""The SQL of dispatch: leases (assignments), slots on records, responses and reviews.

Invariants kept here, in single statements that check their own preconditions:

* a record's ``submitted + leased`` never exceeds its ``target`` (``take_slot`` only succeeds
  on an ``open`` record and flips it to ``full`` when the last slot goes);
* one contributor never gets a record twice (``assignments`` is unique on record and user);
* an expired lease gives its slot back (``expire_leases``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import assignments, records, responses, reviews, suggestions, users
from assay.store.types import new_id, utcnow

__all__ = [
    "active_lease",
    "expire_leases",
    "free_slot",
    "get_assignment",
    "gold_stats",
    "insert_assignment",
    "insert_response",
    "insert_review",
    "lock_user",
    "pick_record",
    "record_for_update",
    "record_responses",
    "record_suggestions",
    "response_by_key",
    "set_assignment_status",
    "settle_submit",
    "take_slot",
]

_FULL_OR_OPEN = sa.case(
    (records.c.is_gold, "open"),
    (records.c.submitted + records.c.leased >= sa.func.coalesce(records.c.target, 1), "full"),
    else_="open",
)


def lock_user(conn: Connection, user_id: int) -> None:
    """Serialise one contributor's dispatch calls (PostgreSQL; SQLite's write lock does it already)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(users.c.id).where(users.c.id == user_id).with_for_update())


def expire_leases(conn: Connection, project_id: int, now: datetime) -> list[dict[str, Any]]:
    """Mark overdue leases of a project expired and give their slots back; returns them."""
    expired = conn.execute(
        assignments.update()
        .where(
            assignments.c.project_id == project_id,
            assignments.c.status == "leased",
            assignments.c.expires_at < now,
        )
        .values(status="expired")
        .returning(assignments.c.id, assignments.c.record_id, assignments.c.user_id)
    ).all()
    for row in expired:
        free_slot(conn, row.record_id)
    return [dict(r._mapping) for r in expired]


def free_slot(conn: Connection, record_id: int) -> None:
    """A lease ended without an answer: one slot of the record is free again."""
    conn.execute(
        records.update()
        .where(records.c.id == record_id)
        .values(
            leased=records.c.leased - 1,
            status=sa.case((records.c.status == "full", "open"), else_=records.c.status),
        )
    )


def active_lease(conn: Connection, project_id: int, user_id: int, now: datetime) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(assignments)
        .where(
            assignments.c.user_id == user_id,
            assignments.c.project_id == project_id,
            assignments.c.status == "leased",
            assignments.c.expires_at >= now,
        )
        .order_by(assignments.c.id)
        .limit(1)
    ).first()
    return dict(row._mapping) if row else None


def pick_record(
    conn: Connection,
    project_id: int,
    user_id: int,
    *,
    gold: bool,
    skill_keys: Sequence[str],
    pivot: int | None = None,
) -> dict[str, Any] | None:
    """The next free record for this contributor: an index walk in priority order, never a scan.

    Records the contributor already had and records needing skills it lacks are passed over.
    On PostgreSQL the row is locked with ``FOR UPDATE SKIP LOCKED`` so that concurrent
    callers take different records. ``pivot`` starts the walk at a record id (gold is picked
    from a random place so that every contributor does not see the same gold first).
    """
    seen = sa.exists().where(assignments.c.record_id == records.c.id, assignments.c.user_id == user_id)
    q = sa.select(
        records.c.id, records.c.fields, records.c.metadata, records.c.external_id, records.c.is_gold
    ).where(
        records.c.project_id == project_id,
        records.c.status == "open",
        records.c.is_gold.is_(gold),
        ~seen,
    )
    if skill_keys:
        q = q.where(sa.or_(records.c.skills.is_(None), records.c.skills.in_(list(skill_keys))))
    else:
        q = q.where(records.c.skills.is_(None))
    if pivot is not None:
        q = q.where(records.c.id >= pivot).order_by(records.c.id)
    else:
        q = q.order_by(records.c.priority.desc(), records.c.id)
    q = q.limit(1)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True, of=records)
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def gold_id_range(conn: Connection, project_id: int) -> tuple[int, int] | None:
    row = conn.execute(
        sa.select(sa.func.min(records.c.id), sa.func.max(records.c.id)).where(
            records.c.project_id == project_id, records.c.is_gold.is_(True)
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])


def take_slot(conn: Connection, record_id: int) -> bool:
    """Lease one slot of an open record; False when it has none left (someone was quicker)."""
    result = conn.execute(
        records.update()
        .where(records.c.id == record_id, records.c.status == "open")
        .values(
            leased=records.c.leased + 1,
            status=sa.case(
                (records.c.is_gold, "open"),
                (records.c.submitted + records.c.leased + 1 >= sa.func.coalesce(records.c.target, 1), "full"),
                else_="open",
            ),
        )
    )
    return result.rowcount == 1


def insert_assignment(
    conn: Connection,
    *,
    project_id: int,
    record_id: int,
    user_id: int,
    expires_at: datetime,
    view: dict[str, Any] | None,
) -> int:
    return new_id(
        conn.execute(
            assignments.insert().values(
                project_id=project_id,
                record_id=record_id,
                user_id=user_id,
                status="leased",
                leased_at=utcnow(),
                expires_at=expires_at,
                view=view,
            )
        )
    )


def get_assignment(
    conn: Connection, assignment_id: int, *, for_update: bool = False
) -> dict[str, Any] | None:
    q = sa.select(assignments).where(assignments.c.id == assignment_id)
    if for_update and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def set_assignment_status(
    conn: Connection, assignment_id: int, status: str, *, reason: str | None = None
) -> None:
    values: dict[str, Any] = {"status": status}
    if reason is not None:
        values["reason"] = reason
    conn.execute(assignments.update().where(assignments.c.id == assignment_id).values(**values))


def delete_assignment(conn: Connection, assignment_id: int) -> None:
    conn.execute(
        responses.delete().where(responses.c.assignment_id == assignment_id, responses.c.status == "draft")
    )
    conn.execute(assignments.delete().where(assignments.c.id == assignment_id))


def extend_lease(conn: Connection, assignment_id: int, expires_at: datetime) -> None:
    conn.execute(assignments.update().where(assignments.c.id == assignment_id).values(expires_at=expires_at))


def record_for_update(conn: Connection, record_id: int) -> dict[str, Any] | None:
    q = sa.select(records).where(records.c.id == record_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def record_suggestions(conn: Connection, record_id: int) -> list[dict[str, Any]]:
    q = (
        sa.select(suggestions.c.question, suggestions.c.value, suggestions.c.score, suggestions.c.model)
        .where(suggestions.c.record_id == record_id)
        .order_by(suggestions.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def response_by_key(conn: Connection, user_id: int, key: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(responses).where(responses.c.user_id == user_id, responses.c.idempotency_key == key)
    ).first()
    return dict(row._mapping) if row else None


def draft_for(conn: Connection, assignment_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(responses).where(responses.c.assignment_id == assignment_id, responses.c.status == "draft")
    ).first()
    return dict(row._mapping) if row else None


def insert_response(conn: Connection, **values: Any) -> int:
    now = utcnow()
    values.setdefault("created_at", now)
    values.setdefault("updated_at", now)
    return new_id(conn.execute(responses.insert().values(**values)))


def update_response(conn: Connection, response_id: int, **values: Any) -> None:
    values.setdefault("updated_at", utcnow())
    conn.execute(responses.update().where(responses.c.id == response_id).values(**values))


def get_response(conn: Connection, response_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(responses).where(responses.c.id == response_id)).first()
    return dict(row._mapping) if row else None


def settle_submit(conn: Connection, record_id: int, *, from_lease: bool) -> dict[str, Any]:
    """Count one more answer on the record (and one lease fewer); returns the record's counters."""
    values: dict[str, Any] = {"submitted": records.c.submitted + 1}
    if from_lease:
        values["leased"] = records.c.leased - 1
    conn.execute(records.update().where(records.c.id == record_id).values(**values))
    row = conn.execute(
        sa.select(
            records.c.submitted, records.c.leased, records.c.target, records.c.is_gold, records.c.status
        ).where(records.c.id == record_id)
    ).one()
    return dict(row._mapping)


def set_record_state(
    conn: Connection, record_id: int, *, status: str | None = None, target: int | None = None
) -> None:
    values: dict[str, Any] = {}
    if target is not None:
        values["target"] = target
    if status is not None:
        values["status"] = status
    elif target is not None:
        # The CASE sees the row's old target, so compare with the new one explicitly.
        values["status"] = sa.case(
            (records.c.is_gold, "open"),
            (records.c.submitted + records.c.leased >= target, "full"),
            else_="open",
        )
    if values:
        conn.execute(records.update().where(records.c.id == record_id).values(**values))


def refresh_status(conn: Connection, record_id: int) -> None:
    """Recompute open/full from the counters (a record that is done stays done)."""
    conn.execute(
        records.update()
        .where(records.c.id == record_id, records.c.status != "done")
        .values(status=_FULL_OR_OPEN)
    )


def withdraw_answer(conn: Connection, record_id: int) -> None:
    """A rejected answer no longer counts: the record gets a slot back (and is no longer done)."""
    conn.execute(
        records.update()
        .where(records.c.id == record_id)
        .values(submitted=records.c.submitted - 1, status=sa.case((records.c.is_gold, "open"), else_="open"))
    )


def record_responses(conn: Connection, record_id: int) -> list[dict[str, Any]]:
    """The submitted answers of one record, with their latest review verdict and corrections."""
    latest = (
        sa.select(reviews.c.response_id, sa.func.max(reviews.c.id).label("rid"))
        .group_by(reviews.c.response_id)
        .subquery()
    )
    q = (
        sa.select(
            responses.c.id,
            responses.c.user_id,
            responses.c["values"],
            responses.c.gold_score,
            reviews.c.verdict.label("review_verdict"),
            reviews.c.corrected_values,
        )
        .outerjoin(latest, latest.c.response_id == responses.c.id)
        .outerjoin(reviews, reviews.c.id == latest.c.rid)
        .where(responses.c.record_id == record_id, responses.c.status == "submitted")
        .order_by(responses.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def gold_stats(conn: Connection, project_id: int, user_id: int) -> tuple[int, float]:
    """How many gold records the contributor answered in the project, and the sum of its scores."""
    row = conn.execute(
        sa.select(
            sa.func.count(responses.c.gold_score), sa.func.coalesce(sa.func.sum(responses.c.gold_score), 0.0)
        ).where(
            responses.c.project_id == project_id,
            responses.c.user_id == user_id,
            responses.c.status == "submitted",
            responses.c.gold_score.is_not(None),
        )
    ).one()
    return int(row[0]), float(row[1])


def insert_review(conn: Connection, response_id: int, reason: str) -> int:
    return new_id(
        conn.execute(
            reviews.insert().values(
                response_id=response_id, verdict="pending", reason=reason, created_at=utcnow()
            )
        )
    )


def gold_stats_many(
    conn: Connection, project_id: int, user_ids: Sequence[int]
) -> dict[int, tuple[int, float]]:
    """Per contributor: gold records answered in the project and the sum of their scores."""
    if not user_ids:
        return {}
    q = (
        sa.select(
            responses.c.user_id,
            sa.func.count(responses.c.gold_score),
            sa.func.coalesce(sa.func.sum(responses.c.gold_score), 0.0),
        )
        .where(
            responses.c.project_id == project_id,
            responses.c.user_id.in_(list(user_ids)),
            responses.c.status == "submitted",
            responses.c.gold_score.is_not(None),
        )
        .group_by(responses.c.user_id)
    )
    return {int(u): (int(n), float(s)) for u, n, s in conn.execute(q)}


def pending_reviews(
    conn: Connection, project_id: int, *, after_id: int = 0, limit: int = 50, exclude_user: int | None = None
) -> list[dict[str, Any]]:
    q = (
        sa.select(
            reviews.c.id,
            reviews.c.reason,
            reviews.c.created_at,
            responses.c.id.label("response_id"),
            responses.c.record_id,
            responses.c.user_id,
            responses.c["values"],
            responses.c.gold_score,
            users.c.name.label("user_name"),
        )
        .join(responses, responses.c.id == reviews.c.response_id)
        .join(users, users.c.id == responses.c.user_id)
        .where(
            responses.c.project_id == project_id,
            reviews.c.verdict == "pending",
            responses.c.status == "submitted",
            reviews.c.id > after_id,
        )
        .order_by(reviews.c.id)
        .limit(limit)
    )
    if exclude_user is not None:
        q = q.where(responses.c.user_id != exclude_user)
    return [dict(r._mapping) for r in conn.execute(q)]


def get_review(conn: Connection, review_id: int) -> dict[str, Any] | None:
    q = (
        sa.select(
            reviews, responses.c.project_id, responses.c.record_id, responses.c.user_id.label("author_id")
        )
        .join(responses, responses.c.id == reviews.c.response_id)
        .where(reviews.c.id == review_id)
    )
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(of=reviews)
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def decide_review(
    conn: Connection,
    review_id: int,
    *,
    reviewer_id: int | None,
    verdict: str,
    corrected_values: Any = None,
    comment: str | None = None,
) -> None:
    conn.execute(
        reviews.update()
        .where(reviews.c.id == review_id)
        .values(
            verdict=verdict,
            reviewer_id=reviewer_id,
            corrected_values=corrected_values,
            comment=comment,
            decided_at=utcnow(),
        )
    )


def answered_by(conn: Connection, record_id: int) -> set[int]:
    """The contributors who have a submitted answer on the record."""
    q = sa.select(responses.c.user_id).where(
        responses.c.record_id == record_id, responses.c.status == "submitted"
    )
    return {int(u) for (u,) in conn.execute(q)}
