"""Background jobs: enqueue, watch, cancel, and run (one set of job functions for every engine).

A job is a row of ``jobs`` (:mod:`assay.store.jobs`): its kind, parameters, state, progress, cost
so far and errors. Who runs it depends on the database (:mod:`assay.services.job_queue`):
procrastinate workers (``assay worker``) on PostgreSQL, a thread of ``assay serve``/``assay demo``
on SQLite. Either calls :func:`run_job`, which claims the job as a new attempt, runs its kind's
function with a :class:`JobContext`, and ends it.

Idempotent apply: a kind writes its effects in the same transaction as the step's progress
(:meth:`JobContext.step`), and that transaction names the run's attempt, so a run that lost the job
(its worker was killed, another run took over) commits nothing more; a retry resumes from the last
checkpoint. Cancellation and time limits are seen at the next step.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from assay.domain import events as ev
from assay.domain.errors import AssayError, NotFound, ValidationError
from assay.services.actors import SYSTEM, Actor, actor_from_row
from assay.services.audit import audit
from assay.services.policies import load_project, managed_workspace_ids
from assay.store import accounts as acc
from assay.store import jobs as job_store
from assay.store import projects as proj_store
from assay.store.engine import Store
from assay.store.tables import projects

__all__ = [
    "HEARTBEAT_SECONDS",
    "KINDS",
    "JobContext",
    "JobKind",
    "Superseded",
    "cancel_job",
    "enqueue",
    "get_job",
    "job_file",
    "job_kind",
    "list_jobs",
    "run_job",
    "worker_name",
]

HEARTBEAT_SECONDS = 5.0
clock = time.monotonic  # what time limits are measured with (a test moves it)  # a running job's heartbeat_at is refreshed this often


class Superseded(Exception):
    """Another run has claimed the job: this run stops and its open transaction rolls back."""


class Cancelled(Exception):
    """The job was cancelled: the run stops at the step that saw it."""


class TimeLimitExceeded(Exception):
    """The run went past the job's time limit."""


@dataclass(frozen=True)
class JobKind:
    """One kind of job: ``prepare`` checks the parameters when the job is enqueued (returns them
    normalised, and the item count when known); ``run`` does the work."""

    name: str
    run: Callable[[JobContext], dict[str, Any]]
    prepare: Callable[[Store, Actor, dict[str, Any], dict[str, Any]], tuple[dict[str, Any], int | None]]
    max_attempts: int = 3
    time_limit: int | None = 6 * 3600
    description: str = ""


KINDS: dict[str, JobKind] = {}


def job_kind(kind: JobKind) -> JobKind:
    """Register a kind of job (the job modules call this when imported)."""
    KINDS[kind.name] = kind
    return kind


def _kinds() -> dict[str, JobKind]:
    # The kinds live in their own modules; importing them registers them.
    from assay.services import job_kinds, safety_runs, synthesis  # noqa: F401

    return KINDS


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# --------------------------------------------------------------------------- the faces' side


def _public(job: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in job.items() if k not in ("checkpoint",)}
    total = job.get("total")
    out["progress"] = (job["done"] + job["failed"]) / total if total else None
    return out


def enqueue(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    max_attempts: int | None = None,
    time_limit: int | None = None,
    submit: bool = True,
) -> dict[str, Any]:
    """Queue a job of ``kind`` on a project (managers); returns the job. ``submit=False`` leaves it
    for a runner to find (the CLI then runs it itself on SQLite)."""
    kinds = _kinds()
    if kind not in kinds:
        raise ValidationError(f"unknown job kind {kind!r}; one of {', '.join(sorted(kinds))}", field="kind")
    spec = kinds[kind]
    if max_attempts is not None and not 1 <= max_attempts <= 20:
        raise ValidationError("must be from 1 to 20", field="max_attempts")
    if time_limit is not None and not 1 <= time_limit <= 7 * 24 * 3600:
        raise ValidationError("must be from 1 second to 7 days", field="time_limit")
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
    checked, total = spec.prepare(store, actor, project, dict(params or {}))
    with store.tx() as conn:
        job_id = job_store.insert_job(
            conn,
            kind=kind,
            project_id=int(project["id"]),
            params=checked,
            created_by=actor.id,
            max_attempts=max_attempts or spec.max_attempts,
            time_limit=time_limit if time_limit is not None else spec.time_limit,
            total=total,
        )
        audit(
            conn,
            actor,
            ev.JOB_CREATED,
            "job",
            job_id,
            project_id=int(project["id"]),
            after={"kind": kind, "params": checked},
        )
        job = job_store.get_job(conn, job_id)
    assert job is not None
    if submit:
        from assay.services import job_queue

        try:
            job_queue.submit(store, job_id)
        except Exception as e:  # the queue is unreachable: the job fails, saying so, not lingers
            with store.tx() as conn:
                job_store.finish(
                    conn, job_id, None, "failed", error=f"could not be queued: {type(e).__name__}: {e}"
                )
                job = job_store.get_job(conn, job_id) or job
    return _public(job)


def _visible_job(
    conn: Connection, actor: Actor, job_id: int, project_ref: int | str | None
) -> dict[str, Any]:
    job = job_store.get_job(conn, job_id)
    if job is None or job["project_id"] is None:
        raise NotFound(f"no job {job_id}")
    try:
        project = load_project(conn, actor, int(job["project_id"]), need="manager")
    except NotFound:
        raise NotFound(f"no job {job_id}") from None
    if project_ref is not None:
        named = load_project(conn, actor, project_ref, need="manager")
        if int(named["id"]) != int(project["id"]):
            raise NotFound(f"no job {job_id}")
    return job


def get_job(store: Store, actor: Actor, job_id: int, project_ref: int | str | None = None) -> dict[str, Any]:
    """One job (managers of its project); ``project_ref``: it must be that project's."""
    with store.read() as conn:
        return _public(_visible_job(conn, actor, job_id, project_ref))


def job_file(store: Store, actor: Actor, job_id: int, project_ref: int | str | None = None) -> Path:
    """The file an export job wrote (managers of its project); Conflict when there is none."""
    from assay.domain.errors import Conflict
    from assay.services.job_kinds import export_dir

    with store.read() as conn:
        job = _visible_job(conn, actor, job_id, project_ref)
    path = Path(str((job.get("result") or {}).get("path") or ""))
    root = export_dir().resolve()
    if job["kind"] != "export" or job["state"] != "succeeded" or not path.name:
        raise Conflict(f"job {job_id} wrote no file (only a finished export job has one)")
    path = path.resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Conflict(f"the file of job {job_id} is no longer there")
    return path


def list_jobs(
    store: Store,
    actor: Actor,
    project_ref: int | str | None = None,
    *,
    state: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Jobs newest first: of one project, or of every project the actor manages."""
    if state is not None and state not in (*job_store.ACTIVE, *job_store.FINISHED):
        raise ValidationError(f"unknown state {state!r}", field="state")
    with store.read() as conn:
        if project_ref is not None:
            pids: list[int] | None = [int(load_project(conn, actor, project_ref, need="manager")["id"])]
        else:
            pids = _managed_projects(conn, actor)
        rows = job_store.list_jobs(
            conn, project_ids=pids, state=state, before_id=before_id, limit=max(1, min(limit, 1000))
        )
    return [_public(r) for r in rows]


def _managed_projects(conn: Connection, actor: Actor) -> list[int] | None:
    workspaces = managed_workspace_ids(conn, actor)
    if workspaces is None:
        return None
    import sqlalchemy as sa

    q = sa.select(projects.c.id).where(projects.c.workspace_id.in_(workspaces))
    return [int(r[0]) for r in conn.execute(q)]


def cancel_job(
    store: Store, actor: Actor, job_id: int, project_ref: int | str | None = None
) -> dict[str, Any]:
    """Cancel a job: a queued one at once, a running one at its next step; a finished one stays."""
    with store.tx() as conn:
        job = _visible_job(conn, actor, job_id, project_ref)
        if job["state"] == "queued":
            job_store.finish(conn, job_id, None, "cancelled", error="cancelled before it ran")
        elif job["state"] == "running":
            job_store.request_cancel(conn, job_id)
        if job["state"] in job_store.ACTIVE:
            audit(conn, actor, ev.JOB_CANCELLED, "job", job_id, project_id=job["project_id"])
        found = job_store.get_job(conn, job_id)
    assert found is not None
    return _public(found)


# --------------------------------------------------------------------------- the runner's side


class JobContext:
    """What a running job sees: its parameters, project, actor, and where it left off."""

    def __init__(self, store: Store, job: dict[str, Any], attempt: int, actor: Actor) -> None:
        self.store = store
        self.job_id = int(job["id"])
        self.kind = str(job["kind"])
        self.params: dict[str, Any] = dict(job["params"] or {})
        self.project_id: int | None = job["project_id"]
        self.attempt = attempt
        self.actor = actor
        self.position: Any = job.get("checkpoint")
        self.done = int(job["done"])
        self.failed = int(job["failed"])
        self.cost = float(job["cost"])
        limit = job.get("time_limit")
        self.deadline = clock() + float(limit) if limit else None

    @contextlib.contextmanager
    def step(self) -> Iterator[Connection]:
        """A transaction for one step's effects; end it with :meth:`record` (in the block)."""
        with self.store.tx() as conn:
            yield conn

    def record(
        self,
        conn: Connection,
        *,
        done: int = 0,
        failed: int = 0,
        cost: float = 0.0,
        total: int | None = None,
        position: Any = None,
        errors: list[str] | None = None,
    ) -> None:
        """Add a step's progress in the step's transaction; raises :class:`Superseded` (rolling it
        back) when another run has taken the job, :class:`Cancelled` when it was cancelled."""
        row = job_store.checkpoint(
            conn,
            self.job_id,
            self.attempt,
            done=done,
            failed=failed,
            cost=cost,
            total=total,
            position=position,
            item_errors=errors,
        )
        if row is None:
            raise Superseded(f"job {self.job_id}: another run took over from attempt {self.attempt}")
        self.done += done
        self.failed += failed
        self.cost += cost
        if position is not None:
            self.position = position
        if row["cancel_requested"]:
            self.cancel_seen = True

    cancel_seen = False

    def check_time(self) -> None:
        if self.cancel_seen:
            raise Cancelled()
        if self.deadline is not None and clock() > self.deadline:
            raise TimeLimitExceeded()

    def progress(
        self, *, done: int = 0, failed: int = 0, cost: float = 0.0, total: int | None = None
    ) -> None:
        """Record progress of work that wrote its effects itself (idempotent work, such as dispatch's)."""
        with self.step() as conn:
            self.record(conn, done=done, failed=failed, cost=cost, total=total)
        self.check_time()


def _job_actor(conn: Connection, job: dict[str, Any]) -> Actor:
    uid = job.get("created_by")
    if uid is None:
        return SYSTEM
    row = acc.get_user(conn, int(uid))
    if row is None or not row.get("active", True):
        raise ValidationError("the user who queued this job no longer exists or is deactivated")
    return actor_from_row(row)


def _beat(store: Store, job_id: int, attempt: int, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        with contextlib.suppress(Exception), store.tx() as conn:
            if job_store.checkpoint(conn, job_id, attempt) is None:
                return


def run_job(store: Store, job_id: int, *, worker: str | None = None, stale_after: float | None = None) -> str:
    """Run the job once; returns what became of it: ``succeeded``, ``failed``, ``cancelled``,
    ``retry`` (it failed and is queued again), ``superseded`` (another run took it over) or
    ``skipped`` (it was not to run: finished, or running elsewhere).

    ``stale_after``: take over a ``running`` job whose run has not beaten for that many seconds
    (0: at once, for an engine that knows the previous run's worker is dead).
    """
    kinds = _kinds()
    with store.tx() as conn:
        attempt = job_store.claim(conn, job_id, worker or worker_name(), stale_after)
        if attempt is None:
            return "skipped"
        job = job_store.get_job(conn, job_id)
        assert job is not None
        if job["cancel_requested"]:
            job_store.finish(conn, job_id, attempt, "cancelled", error="cancelled")
            return "cancelled"
        if attempt > int(job["max_attempts"]):
            job_store.finish(conn, job_id, attempt, "failed", error=_gave_up(job))
            return "failed"
        kind = kinds.get(str(job["kind"]))
        if kind is None:
            job_store.finish(conn, job_id, attempt, "failed", error=f"unknown job kind {job['kind']!r}")
            return "failed"
        try:
            actor = _job_actor(conn, job)
        except AssayError as e:
            job_store.finish(conn, job_id, attempt, "failed", error=e.message)
            return "failed"
    ctx = JobContext(store, job, attempt, actor)
    stop = threading.Event()
    beat = threading.Thread(target=_beat, args=(store, job_id, attempt, stop), daemon=True)
    beat.start()
    try:
        result = kind.run(ctx)
    except Superseded:
        return "superseded"
    except Cancelled:
        return _end(store, ctx, "cancelled", error="cancelled")
    except TimeLimitExceeded:
        return _end(store, ctx, "failed", error=f"time limit of {job['time_limit']} s exceeded")
    except AssayError as e:  # a refusal (bad parameters, no permission): retrying changes nothing
        return _end(store, ctx, "failed", error=e.message)
    except Exception as e:
        error = f"{type(e).__name__}: {e}"[:2000]
        if attempt < int(job["max_attempts"]):
            with store.tx() as conn:
                job_store.requeue(conn, job_id, attempt, error)
            return "retry"
        return _end(store, ctx, "failed", error=f"attempt {attempt} of {job['max_attempts']}: {error}")
    finally:
        stop.set()
    return _end(store, ctx, "succeeded", result=result)


def _gave_up(job: dict[str, Any]) -> str:
    last = f"; last error: {job['error']}" if job.get("error") else ""
    return f"gave up after {job['max_attempts']} attempts (a worker stopped or the job failed){last}"


def _end(store: Store, ctx: JobContext, state: str, *, result: Any = None, error: str | None = None) -> str:
    with store.tx() as conn:
        if not job_store.finish(conn, ctx.job_id, ctx.attempt, state, result=result, error=error):
            return "superseded"
        action = ev.JOB_FINISHED
        audit(
            conn,
            ctx.actor,
            action,
            "job",
            ctx.job_id,
            project_id=ctx.project_id,
            after={"state": state, "done": ctx.done, "failed": ctx.failed, "cost": ctx.cost, "error": error},
        )
    return state


def project_of(store: Store, project_id: int) -> dict[str, Any]:
    with store.read() as conn:
        project = proj_store.get_project(conn, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    return project
