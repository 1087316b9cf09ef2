"""Who runs the jobs: procrastinate workers on PostgreSQL, a thread of the server on SQLite.

PostgreSQL: a queued job is deferred to procrastinate (its own tables, beside assay's, made on
first use); ``assay worker --processes N`` runs N worker processes, on any number of machines.
A worker that dies (killed, its machine lost) stops beating; the other workers find its job
stalled and queue it again, and the retry resumes from the job's checkpoint
(:func:`assay.services.jobs.run_job`). A job that fails is retried up to its ``max_attempts``.

SQLite: :class:`InProcessRunner` is a thread of ``assay serve``/``assay demo`` (or of ``assay
worker``) that runs queued jobs one at a time, and takes over a job whose run stopped beating
(the process that ran it was stopped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from typing import Any

import sqlalchemy as sa

from assay.services import jobs
from assay.store import jobs as job_store
from assay.store.engine import Store, open_store

__all__ = [
    "InProcessRunner",
    "ensure_queue_schema",
    "procrastinate_app",
    "run_procrastinate_worker",
    "submit",
]

log = logging.getLogger("assay.jobs")

TASK = "assay.run_job"
QUEUE = "assay"
# A SQLite run that has not beaten for this long is taken over (its process is gone).
STALE_AFTER = 60.0
# How often the runners look for AI-first projects due for routing or retraining
# (ai_first.reroute_after, ai_first.retrain_after), in seconds ($ASSAY_DUE_ROUTES_EVERY).
DUE_ROUTES_EVERY = float(os.environ.get("ASSAY_DUE_ROUTES_EVERY", "30"))

_RUNNERS: dict[str, InProcessRunner] = {}
_RUNNERS_LOCK = threading.Lock()


def submit(store: Store, job_id: int) -> None:
    """Hand a queued job to whoever runs jobs on this database."""
    if store.is_sqlite:
        runner = _RUNNERS.get(store.key)
        if runner is not None:
            runner.wake()
        return
    defer(store, job_id)


# --------------------------------------------------------------------------- SQLite: in process


class InProcessRunner:
    """Runs the jobs of a SQLite database in a thread of this process, one at a time."""

    def __init__(self, store: Store, *, poll: float = 2.0, stale_after: float = STALE_AFTER) -> None:
        self.store = store
        self.poll = poll
        self.stale_after = stale_after
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="assay-jobs", daemon=True)

    def start(self) -> InProcessRunner:
        with _RUNNERS_LOCK:
            _RUNNERS[self.store.key] = self
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        with _RUNNERS_LOCK:
            if _RUNNERS.get(self.store.key) is self:
                del _RUNNERS[self.store.key]
        self._thread.join(timeout)

    def run_pending(self) -> int:
        """Run every job there is to run now; how many runs were made."""
        runs = 0
        while not self._stop.is_set():
            with self.store.read() as conn:
                ids = job_store.runnable_jobs(conn, stale_after=self.stale_after)
            made = 0
            for job_id in ids:
                if self._stop.is_set():
                    break
                if jobs.run_job(self.store, job_id, stale_after=self.stale_after) != "skipped":
                    made += 1
            runs += made
            if not made:
                return runs
        return runs

    def _loop(self) -> None:
        from assay.services import ai_first

        next_due = 0.0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                if time.monotonic() >= next_due:
                    next_due = time.monotonic() + DUE_ROUTES_EVERY
                    ai_first.queue_due(self.store)
                self.run_pending()
            except Exception:  # a database hiccup must not end the runner
                log.exception("the job runner failed; it goes on")
            self._wake.wait(self.poll)


# --------------------------------------------------------------------------- PostgreSQL: procrastinate


def _conninfo(store: Store) -> str:
    url = store.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


_SCHEMA_READY: set[str] = set()
_SCHEMA_LOCK_KEY = 0x61737361795F71  # "assay_q": one process at a time makes procrastinate's tables


def ensure_queue_schema(store: Store) -> None:
    """Make procrastinate's tables in the database when they are not there yet."""
    if store.key in _SCHEMA_READY:
        return
    from procrastinate.schema import SchemaManager

    with store.engine.connect() as conn, conn.begin():
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK_KEY})
        there = conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar()
        if there is None:
            raw: Any = conn.connection.driver_connection
            raw.execute(SchemaManager.get_schema())
    _SCHEMA_READY.add(store.key)


_APPS: dict[str, Any] = {}
_APPS_LOCK = threading.Lock()


def procrastinate_app(store: Store) -> Any:
    """The procrastinate application of this database (one per process), with assay's task."""
    with _APPS_LOCK:
        app = _APPS.get(store.key)
        if app is not None:
            return app
        import procrastinate

        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=_conninfo(store)))

        @app.task(
            name=TASK,
            queue=QUEUE,
            pass_context=True,
            retry=procrastinate.RetryStrategy(max_attempts=50, wait=1),
        )
        def run(context: Any, job_id: int) -> str:
            worker = f"procrastinate:{context.worker_name}:{context.job.id}"
            state = jobs.run_job(store, job_id, worker=worker, stale_after=0)
            if state == "retry":  # procrastinate retries it; the job's own max_attempts bounds it
                raise RuntimeError(f"job {job_id} failed; it is retried")
            return state

        _APPS[store.key] = app
        return app


def defer(store: Store, job_id: int) -> None:
    """Queue the job for the procrastinate workers."""
    ensure_queue_schema(store)
    app = procrastinate_app(store)
    with app.open():
        app.tasks[TASK].configure(queueing_lock=f"assay-job-{job_id}").defer(job_id=job_id)


async def _rescue(app: Any, store: Store, every: float, stalled_after: float) -> None:
    """Queue again the jobs of workers that stopped beating (killed, lost); now and then, queue the
    routing of AI-first projects that people's answers made due."""
    from assay.services import ai_first

    next_due = 0.0
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
                log.warning("job %s of a stalled worker is queued again", job.id)
                await app.job_manager.retry_job(job)
        if time.monotonic() >= next_due:
            next_due = time.monotonic() + DUE_ROUTES_EVERY
            with contextlib.suppress(Exception):
                for job_id in await asyncio.to_thread(ai_first.queue_due, store, submit=False):
                    await (
                        app.tasks[TASK]
                        .configure(queueing_lock=f"assay-job-{job_id}")
                        .defer_async(job_id=job_id)
                    )


def run_procrastinate_worker(
    url: str, *, name: str = "assay-worker", heartbeat: float = 10.0, stalled_after: float = 30.0
) -> None:
    """Run one procrastinate worker in this process until it is stopped (SIGINT, SIGTERM)."""
    store = open_store(url)
    ensure_queue_schema(store)
    app = procrastinate_app(store)

    async def main() -> None:
        async with app.open_async():
            rescue = asyncio.create_task(_rescue(app, store, heartbeat, stalled_after))
            try:
                await app.run_worker_async(
                    queues=[QUEUE],
                    name=name,
                    concurrency=1,
                    update_heartbeat_interval=heartbeat,
                    stalled_worker_timeout=stalled_after,
                    fetch_job_polling_interval=max(0.5, heartbeat),
                )
            finally:
                rescue.cancel()

    try:
        asyncio.run(main())
    finally:
        store.dispose()
