"""The reads behind workforce figures: per-contributor sums, submits per hour, answers and consensus."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.statements import run
from assay.store.tables import consensus, records, responses, reviews, users
from assay.store.types import UTCDateTime, utcnow

__all__ = [
    "answer_rows",
    "first_gold_stats",
    "released_gold_stats",
    "user_answers",
    "consensus_values",
    "contributor_sums",
    "hourly_submits",
    "pending_review_count",
    "record_counts",
    "user_project_sums",
]


def _sums() -> tuple[Any, ...]:
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        sa.func.count().label("answered"),
        sa.func.coalesce(
            sa.func.sum(sa.case((responses.c.updated_at >= sa.literal(today, UTCDateTime()), 1), else_=0)), 0
        ).label("answered_today"),
        sa.func.coalesce(sa.func.sum(responses.c.duration_ms), 0).label("time_ms"),
        sa.func.count(responses.c.gold_score).label("gold_answered"),
        sa.func.coalesce(sa.func.sum(responses.c.gold_score), 0.0).label("gold_right"),
        sa.func.min(responses.c.updated_at).label("first_at"),
        sa.func.max(responses.c.updated_at).label("last_at"),
    )


def contributor_sums(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Per contributor of the project: answers, time, gold answered and right, rates."""
    q = (
        sa.select(
            users.c.id.label("user_id"),
            users.c.name,
            users.c.kind,
            users.c.cost_per_hour,
            users.c.cost_per_item,
            *_sums(),
        )
        .join(users, users.c.id == responses.c.user_id)
        .where(responses.c.project_id == project_id, responses.c.status == "submitted")
        .group_by(users.c.id, users.c.name, users.c.kind, users.c.cost_per_hour, users.c.cost_per_item)
        .order_by(users.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def user_project_sums(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """Per project: one contributor's answers, time, gold answered and right."""
    q = (
        sa.select(responses.c.project_id, *_sums())
        .where(responses.c.user_id == user_id, responses.c.status == "submitted")
        .group_by(responses.c.project_id)
        .order_by(responses.c.project_id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


# The order a contributor gave its answers in: blocks of gold feedback follow it (domain.gold).
_GIVEN = (responses.c.updated_at, responses.c.id)


def user_answers(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """One contributor's submitted answers, per project in the order it gave them: the record,
    whether it is gold, the gold score and the values."""
    q = (
        sa.select(
            responses.c.project_id,
            responses.c.record_id,
            records.c.is_gold,
            responses.c.gold_score,
            responses.c["values"],
        )
        .join(records, records.c.id == responses.c.record_id)
        .where(responses.c.user_id == user_id, responses.c.status == "submitted")
        .order_by(responses.c.project_id, *_GIVEN)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def first_gold_stats(conn: Connection, project_id: int, user_id: int, count: int) -> tuple[int, float]:
    """Gold answered and the sum of gold scores among the contributor's first ``count`` gold
    answers in the project (a qualification set), in the order it gave them."""
    params = {"pid": project_id, "uid": user_id, "count": count}
    row = run(conn, "first_gold_stats", _first_gold, params).one()
    return int(row["n"]), float(row["total"])


def _first_gold(_pg: bool) -> Any:
    first = (
        sa.select(responses.c.gold_score)
        .where(
            responses.c.project_id == sa.bindparam("pid"),
            responses.c.user_id == sa.bindparam("uid"),
            responses.c.status == "submitted",
            responses.c.gold_score.is_not(None),
        )
        .order_by(*_GIVEN)
        .limit(sa.bindparam("count", type_=sa.Integer))
        .subquery()
    )
    return sa.select(
        sa.func.count(first.c.gold_score).label("n"),
        sa.func.coalesce(sa.func.sum(first.c.gold_score), 0.0).label("total"),
    )


def released_gold_stats(conn: Connection, project_id: int, user_id: int, block: int) -> tuple[int, float]:
    """Gold answered and the sum of gold scores among the contributor's answers in the project up
    to its last whole ``block`` of answers, in the order it gave them (domain.gold.released)."""
    params = {"pid": project_id, "uid": user_id, "block": block}
    row = run(conn, "released_gold_stats", _released_gold, params).one()
    return int(row["n"]), float(row["total"])


def _released_gold(_pg: bool) -> Any:
    mine = (
        sa.select(
            responses.c.gold_score,
            sa.func.row_number().over(order_by=_GIVEN).label("k"),
            sa.func.count().over().label("m"),
        )
        .where(
            responses.c.project_id == sa.bindparam("pid"),
            responses.c.user_id == sa.bindparam("uid"),
            responses.c.status == "submitted",
        )
        .subquery()
    )
    return sa.select(
        sa.func.count(mine.c.gold_score).label("n"),
        sa.func.coalesce(sa.func.sum(mine.c.gold_score), 0.0).label("total"),
    ).where(mine.c.k <= mine.c.m - mine.c.m.op("%")(sa.bindparam("block", type_=sa.Integer)))


def hourly_submits(conn: Connection, project_id: int) -> list[tuple[str, int]]:
    """``(hour, submits)`` pairs, oldest first; hours as ``YYYY-MM-DDTHH:00:00Z`` (UTC)."""
    if conn.dialect.name == "postgresql":
        hour: Any = sa.func.to_char(
            sa.func.date_trunc("hour", responses.c.updated_at), 'YYYY-MM-DD"T"HH24:00:00"Z"'
        )
    else:
        hour = sa.func.strftime("%Y-%m-%dT%H:00:00Z", responses.c.updated_at)
    q = (
        sa.select(hour.label("hour"), sa.func.count())
        .where(responses.c.project_id == project_id, responses.c.status == "submitted")
        .group_by(hour)
        .order_by(hour)
    )
    return [(str(h), int(n)) for h, n in conn.execute(q)]


def record_counts(conn: Connection, project_id: int) -> dict[str, int]:
    q = (
        sa.select(records.c.status, records.c.is_gold, sa.func.count())
        .where(records.c.project_id == project_id)
        .group_by(records.c.status, records.c.is_gold)
    )
    out = {"records": 0, "gold_records": 0, "done": 0, "open": 0, "full": 0}
    for status, is_gold, n in conn.execute(q):
        out["records"] += n
        if is_gold:
            out["gold_records"] += n
            continue
        out[str(status)] = out.get(str(status), 0) + n
    return out


def pending_review_count(conn: Connection, project_id: int) -> int:
    q = (
        sa.select(sa.func.count())
        .select_from(reviews)
        .join(responses, responses.c.id == reviews.c.response_id)
        .where(responses.c.project_id == project_id, reviews.c.verdict == "pending")
    )
    return int(conn.execute(q).scalar_one())


def answer_rows(conn: Connection, project_id: int, *, user_id: int | None = None) -> list[dict[str, Any]]:
    """Submitted answers on ordinary (not gold) records: record, contributor and values."""
    q = (
        sa.select(responses.c.record_id, responses.c.user_id, responses.c["values"])
        .join(records, records.c.id == responses.c.record_id)
        .where(
            responses.c.project_id == project_id,
            responses.c.status == "submitted",
            records.c.is_gold.is_(False),
        )
        .order_by(responses.c.record_id, responses.c.id)
    )
    if user_id is not None:
        q = q.where(responses.c.user_id == user_id)
    return [dict(r._mapping) for r in conn.execute(q)]


def consensus_values(conn: Connection, project_id: int) -> dict[tuple[int, str], Any]:
    q = sa.select(consensus.c.record_id, consensus.c.question, consensus.c.value).where(
        consensus.c.project_id == project_id
    )
    return {(int(r), str(qn)): v for r, qn, v in conn.execute(q)}
