"""Background jobs: their rows, claimed by one run at a time, written with that run's attempt number.

A run claims a job by raising its ``attempts`` (:func:`claim`); every later write of the run names
that attempt (:func:`checkpoint`, :func:`finish`) and changes nothing once another run has claimed
the job. So a run that a worker lost (killed, stalled) and that comes back cannot apply its work
after the retry started: the job's effects go in with the checkpoint, in one transaction, once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import jobs, records, suggestions
from assay.store.types import new_id, utcnow

__all__ = [
    "ACTIVE",
    "FINISHED",
    "ITEM_ERRORS_KEPT",
    "checkpoint",
    "claim",
    "finish",
    "get_job",
    "insert_job",
    "insert_suggestions",
    "list_jobs",
    "records_to_prelabel",
    "shard_size",
    "request_cancel",
    "requeue",
    "runnable_jobs",
]

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")
ITEM_ERRORS_KEPT = 20  # a job keeps the first errors of single items, and counts the rest


def insert_job(
    conn: Connection,
    *,
    kind: str,
    project_id: int | None,
    params: dict[str, Any],
    created_by: int | None,
    max_attempts: int,
    time_limit: int | None,
    total: int | None = None,
) -> int:
    return new_id(
        conn.execute(
            jobs.insert().values(
                kind=kind,
                project_id=project_id,
                state="queued",
                params=params,
                done=0,
                failed=0,
                total=total,
                cost=0.0,
                attempts=0,
                max_attempts=max_attempts,
                time_limit=time_limit,
                cancel_requested=False,
                created_by=created_by,
                created_at=utcnow(),
            )
        )
    )


def get_job(conn: Connection, job_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    q = sa.select(jobs).where(jobs.c.id == job_id)
    if for_update and conn.dialect.name != "sqlite":
        q = q.with_for_update()
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def list_jobs(
    conn: Connection,
    *,
    project_ids: list[int] | None = None,
    state: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Jobs newest first; ``project_ids`` None: every job."""
    q = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)
    if project_ids is not None:
        q = q.where(jobs.c.project_id.in_(project_ids))
    if state:
        q = q.where(jobs.c.state == state)
    if before_id:
        q = q.where(jobs.c.id < before_id)
    return [dict(r._mapping) for r in conn.execute(q)]


def claim(conn: Connection, job_id: int, worker: str, stale_after: float | None = None) -> int | None:
    """Start a run of the job: its attempt number, or None when the job is not to run now (finished,
    or running in a run that still beats, unless ``stale_after`` seconds passed since its beat)."""
    now = utcnow()
    runnable = jobs.c.state == "queued"
    if stale_after is not None:
        runnable = sa.or_(
            runnable,
            sa.and_(jobs.c.state == "running", jobs.c.heartbeat_at < now - timedelta(seconds=stale_after)),
        )
    row = conn.execute(
        jobs.update()
        .where(jobs.c.id == job_id, runnable)
        .values(
            state="running",
            attempts=jobs.c.attempts + 1,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
            error=None,
        )
        .returning(jobs.c.attempts)
    ).first()
    return int(row[0]) if row else None


def requeue(conn: Connection, job_id: int, attempt: int, error: str) -> bool:
    """Put the job back in the queue after its run ``attempt`` failed (it will be retried)."""
    r = conn.execute(
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.attempts == attempt, jobs.c.state == "running")
        .values(state="queued", error=error, heartbeat_at=utcnow(), worker=None)
    )
    return bool(r.rowcount)


def checkpoint(
    conn: Connection,
    job_id: int,
    attempt: int,
    *,
    done: int = 0,
    failed: int = 0,
    cost: float = 0.0,
    total: int | None = None,
    position: Any = None,
    item_errors: list[str] | None = None,
) -> dict[str, Any] | None:
    """Add a step's progress to the job as run ``attempt``; the job's row after it (None when another
    run has claimed the job since: the caller's transaction must then roll back)."""
    values: dict[str, Any] = {
        "done": jobs.c.done + done,
        "failed": jobs.c.failed + failed,
        "cost": jobs.c.cost + cost,
        "heartbeat_at": utcnow(),
    }
    if total is not None:
        values["total"] = total
    if position is not None:
        values["checkpoint"] = position
    row = conn.execute(
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.attempts == attempt, jobs.c.state == "running")
        .values(**values)
        .returning(jobs.c.cancel_requested, jobs.c.item_errors)
    ).first()
    if row is None:
        return None
    out = dict(row._mapping)
    if item_errors:
        kept = list(out["item_errors"] or [])
        if len(kept) < ITEM_ERRORS_KEPT:
            kept.extend(item_errors[: ITEM_ERRORS_KEPT - len(kept)])
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(item_errors=kept))
    return out


def finish(
    conn: Connection,
    job_id: int,
    attempt: int | None,
    state: str,
    *,
    result: Any = None,
    error: str | None = None,
) -> bool:
    """End the job in ``state``; ``attempt`` None ends it whatever run holds it (a cancel of a queued job)."""
    where = [jobs.c.id == job_id, jobs.c.state.in_(ACTIVE)]
    if attempt is not None:
        where.append(jobs.c.attempts == attempt)
    values: dict[str, Any] = {"state": state, "finished_at": utcnow(), "error": error}
    if result is not None:
        values["result"] = result
    r = conn.execute(jobs.update().where(*where).values(**values))
    return bool(r.rowcount)


def request_cancel(conn: Connection, job_id: int) -> None:
    conn.execute(jobs.update().where(jobs.c.id == job_id).values(cancel_requested=True))


def runnable_jobs(conn: Connection, *, stale_after: float, limit: int = 20) -> list[int]:
    """Jobs a runner may claim: queued ones, and running ones whose run stopped beating."""
    since: datetime = utcnow() - timedelta(seconds=stale_after)
    q = (
        sa.select(jobs.c.id)
        .where(
            sa.or_(
                jobs.c.state == "queued",
                sa.and_(jobs.c.state == "running", jobs.c.heartbeat_at < since),
            )
        )
        .order_by(jobs.c.id)
        .limit(limit)
    )
    return [int(r[0]) for r in conn.execute(q)]


def insert_suggestions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert suggestions (each with record_id, question, value, score, model, params, cost, job_id)."""
    if rows:
        now = utcnow()
        conn.execute(suggestions.insert(), [{**r, "created_at": now} for r in rows])


def records_to_prelabel(
    conn: Connection,
    project_id: int,
    after_id: int,
    model: str,
    questions: list[str],
    limit: int,
    shard: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """The project's next records after ``after_id`` (id order) that hold no suggestion of ``model``
    for any of ``questions``: what a pre-labeling run has still to do. ``shard=(k, n)``: only the
    records whose id is k modulo n (n jobs share a project between n workers)."""
    done = sa.exists().where(
        suggestions.c.record_id == records.c.id,
        suggestions.c.model == model,
        suggestions.c.question.in_(questions),
    )
    q = (
        sa.select(records.c.id, records.c.external_id, records.c.fields)
        .where(records.c.project_id == project_id, records.c.id > after_id, ~done)
        .order_by(records.c.id)
        .limit(limit)
    )
    if shard is not None:
        q = q.where(records.c.id % shard[1] == shard[0])
    return [dict(r._mapping) for r in conn.execute(q)]


def shard_size(conn: Connection, project_id: int, shard: tuple[int, int]) -> int:
    """How many of the project's records have an id that is k modulo n."""
    q = sa.select(sa.func.count()).where(
        records.c.project_id == project_id, records.c.id % shard[1] == shard[0]
    )
    return int(conn.execute(q).scalar() or 0)
