"""What AI-first routing reads (models' suggestions, people's answers, records) and writes (records
settled by models, the people's queue order)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import consensus, events, records, responses, suggestions, users
from assay.store.types import IN_CHUNK, utcnow

__all__ = [
    "audited_records",
    "answers_since",
    "consensus_since",
    "last_job",
    "record_fields",
    "human_answers",
    "labelled_records",
    "model_costs",
    "model_suggestions",
    "project_records",
    "set_priorities",
    "settle_by_models",
    "settled_by_models",
]


def project_records(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    q = (
        sa.select(
            records.c.id,
            records.c.is_gold,
            records.c.gold,
            records.c.status,
            records.c.submitted,
            records.c.leased,
            records.c.priority,
        )
        .where(records.c.project_id == project_id)
        .order_by(records.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def model_suggestions(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    q = (
        sa.select(
            suggestions.c.record_id,
            suggestions.c.model,
            suggestions.c.question,
            suggestions.c.value,
            suggestions.c.score,
        )
        .join(records, records.c.id == suggestions.c.record_id)
        .where(records.c.project_id == project_id, suggestions.c.model.is_not(None))
        .order_by(suggestions.c.record_id, suggestions.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def human_answers(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Submitted answers of people (not model users), with what each person costs."""
    q = (
        sa.select(
            responses.c.record_id,
            responses.c.user_id,
            responses.c["values"],
            responses.c.duration_ms,
            users.c.cost_per_item,
            users.c.cost_per_hour,
        )
        .join(users, users.c.id == responses.c.user_id)
        .where(
            responses.c.project_id == project_id,
            responses.c.status == "submitted",
            users.c.kind == "human",
        )
        .order_by(responses.c.record_id, responses.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def model_costs(conn: Connection, project_id: int) -> float:
    """What the models' suggestions of the project cost."""
    q = (
        sa.select(sa.func.coalesce(sa.func.sum(suggestions.c.cost), 0.0))
        .join(records, records.c.id == suggestions.c.record_id)
        .where(records.c.project_id == project_id)
    )
    return float(conn.execute(q).scalar() or 0.0)


def settle_by_models(conn: Connection, project_id: int, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Mark records done with the models' consensus (each row: ``record_id`` and ``consensus``:
    ``[{question, value, confidence, details}]``), only where nobody answers or holds them; the
    ids settled."""
    settled: list[int] = []
    by_id = {int(r["record_id"]): r for r in rows}
    ids = list(by_id)
    for i in range(0, len(ids), IN_CHUNK):
        chunk = ids[i : i + IN_CHUNK]
        done = conn.execute(
            records.update()
            .where(
                records.c.id.in_(chunk),
                records.c.status == "open",
                records.c.submitted == 0,
                records.c.leased == 0,
                ~records.c.is_gold,
            )
            .values(status="done", updated_at=utcnow())
            .returning(records.c.id)
        ).all()
        settled += [int(r[0]) for r in done]
    now = utcnow()
    values = [
        {
            "project_id": project_id,
            "record_id": rid,
            "question": c["question"],
            "value": c["value"],
            "confidence": c["confidence"],
            "method": "ai_first",
            "response_ids": [],
            "details": c["details"],
            "updated_at": now,
        }
        for rid in settled
        for c in by_id[rid]["consensus"]
    ]
    if values:
        conn.execute(consensus.insert(), values)
    return settled


def set_priorities(conn: Connection, priorities: dict[int, int]) -> None:
    """The people's queue order: each record's priority (dispatch hands out the highest first)."""
    if priorities:
        conn.execute(
            records.update().where(records.c.id == sa.bindparam("rid")).values(priority=sa.bindparam("p")),
            [{"rid": rid, "p": p} for rid, p in priorities.items()],
        )


def settled_by_models(conn: Connection, project_id: int) -> set[int]:
    q = sa.select(consensus.c.record_id).where(
        consensus.c.project_id == project_id, consensus.c.method == "ai_first"
    )
    return {int(r[0]) for r in conn.execute(q)}


def audited_records(conn: Connection, project_id: int, action: str) -> set[int]:
    q = sa.select(events.c.object_id).where(events.c.project_id == project_id, events.c.action == action)
    return {int(r[0]) for r in conn.execute(q) if r[0] is not None}


def labelled_records(conn: Connection, project_id: int, question: str) -> list[dict[str, Any]]:
    """Records with a label for ``question`` from gold or from people (not the models' own
    consensus): ``{id, fields, gold, value}``, what a local model is trained on."""
    people = (
        sa.select(consensus.c.record_id, consensus.c.value)
        .where(
            consensus.c.project_id == project_id,
            consensus.c.question == question,
            consensus.c.method != "ai_first",
        )
        .subquery()
    )
    q = (
        sa.select(records.c.id, records.c.fields, records.c.gold, records.c.is_gold, people.c.value)
        .outerjoin(people, people.c.record_id == records.c.id)
        .where(records.c.project_id == project_id, sa.or_(records.c.is_gold, people.c.value.is_not(None)))
        .order_by(records.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def answers_since(conn: Connection, project_id: int, action: str) -> tuple[int, bool]:
    """People's answers in the project since its last event ``action`` (all when none), and whether
    a ``route`` job of the project is queued or running."""
    from assay.store.tables import jobs

    last = (
        sa.select(sa.func.max(events.c.at))
        .where(events.c.project_id == project_id, events.c.action == action)
        .scalar_subquery()
    )
    q = (
        sa.select(sa.func.count())
        .select_from(responses.join(users, users.c.id == responses.c.user_id))
        .where(
            responses.c.project_id == project_id,
            responses.c.status == "submitted",
            users.c.kind == "human",
            sa.or_(last.is_(None), responses.c.created_at > last),
        )
    )
    n = int(conn.execute(q).scalar() or 0)
    busy = conn.execute(
        sa.select(sa.func.count()).where(
            jobs.c.project_id == project_id, jobs.c.kind == "route", jobs.c.state.in_(("queued", "running"))
        )
    ).scalar()
    return n, bool(busy)


def last_job(conn: Connection, project_id: int, kind: str) -> dict[str, Any] | None:
    """The project's last succeeded job of that kind (``params``, ``result``, ``created_at``)."""
    from assay.store.tables import jobs

    row = conn.execute(
        sa.select(jobs.c.id, jobs.c.params, jobs.c.result, jobs.c.created_at)
        .where(jobs.c.project_id == project_id, jobs.c.kind == kind, jobs.c.state == "succeeded")
        .order_by(jobs.c.id.desc())
        .limit(1)
    ).first()
    return dict(row._mapping) if row is not None else None


def consensus_since(conn: Connection, project_id: int, kind: str, at: Any) -> tuple[int, bool]:
    """Records whose consensus of people (not the models' own) changed after ``at``, and whether a
    job of that kind of the project is queued or running."""
    from assay.store.tables import jobs

    n = conn.execute(
        sa.select(sa.func.count()).where(
            consensus.c.project_id == project_id,
            consensus.c.method != "ai_first",
            consensus.c.updated_at > at,
        )
    ).scalar()
    busy = conn.execute(
        sa.select(sa.func.count()).where(
            jobs.c.project_id == project_id, jobs.c.kind == kind, jobs.c.state.in_(("queued", "running"))
        )
    ).scalar()
    return int(n or 0), bool(busy)


def record_fields(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The fields of the records named."""
    out: dict[int, dict[str, Any]] = {}
    ids = list(ids)
    for i in range(0, len(ids), IN_CHUNK):
        q = sa.select(records.c.id, records.c.fields).where(records.c.id.in_(ids[i : i + IN_CHUNK]))
        out.update({int(r[0]): r[1] or {} for r in conn.execute(q)})
    return out
