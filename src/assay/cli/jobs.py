"""``assay worker`` and ``assay jobs``: run background jobs, queue them, watch and cancel them."""

from __future__ import annotations

import json
import multiprocessing as mp
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assay.cli.common import (
    DbOpt,
    HomeOpt,
    JsonOpt,
    console,
    err_console,
    new_app,
    open_cli_store,
    print_json,
    progress_bar,
    settings_for,
)

if TYPE_CHECKING:
    from assay.store.engine import Store

# Start-up: each command imports the services it runs in its body (tests/cli/test_startup.py).

app = new_app("jobs", "Background jobs: pre-labeling, judge runs, consensus, exports.")

ProjectOpt = Annotated[str | None, typer.Option("--project", "-p", help="Project name or id.")]


def _line(j: dict[str, Any]) -> str:
    total = j.get("total")
    prog = f"{j['done']}/{total}" if total else str(j["done"])
    extra = f"  failed {j['failed']}" if j["failed"] else ""
    err = f"  error: {j['error']}" if j.get("error") else ""
    return (
        f"{j['id']:>5}  {j['kind']:<10} {j['state']:<10} {prog:>12}{extra}  cost {j['cost']:.4f}"
        f"  attempts {j['attempts']}/{j['max_attempts']}{err}"
    )


@app.command("list")
def list_(
    project: ProjectOpt = None,
    state: Annotated[str | None, typer.Option(help="queued, running, succeeded, failed, cancelled")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Jobs, newest first: state, progress, cost so far, attempts, error."""
    from assay.services import jobs

    with open_cli_store(home, db) as (store, actor):
        rows = jobs.list_jobs(store, actor, project, state=state, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No jobs.")
    for j in rows:
        console.print(_line(j), markup=False, highlight=False)


@app.command("show")
def show(
    job_id: Annotated[int, typer.Argument(help="The job's id.")],
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One job in full: parameters, progress, errors, result."""
    from assay.services import jobs

    with open_cli_store(home, db) as (store, actor):
        job = jobs.get_job(store, actor, job_id)
    if as_json:
        print_json(job)
        return
    console.print(_line(job), markup=False, highlight=False)
    console.print_json(json.dumps({k: job[k] for k in ("params", "result", "item_errors")}, default=str))


@app.command("cancel")
def cancel(
    job_id: Annotated[int, typer.Argument(help="The job's id.")],
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a job: a queued one at once, a running one at its next step."""
    from assay.services import jobs

    with open_cli_store(home, db) as (store, actor):
        job = jobs.cancel_job(store, actor, job_id)
    if as_json:
        print_json(job)
    elif job["state"] == "cancelled":
        console.print(f"Job {job_id} is cancelled.")
    elif job["state"] == "running":
        console.print(f"Job {job_id} stops at its next step.")
    else:
        console.print(f"Job {job_id} had already ended ({job['state']}).")


def _follow(store: Store, actor: Any, job: dict[str, Any]) -> dict[str, Any]:
    """Run the job here (SQLite) or watch a worker run it (PostgreSQL) until it ends."""
    from assay.services import jobs

    if store.is_sqlite:
        from assay.services.job_queue import InProcessRunner

        runner = InProcessRunner(store)
        while jobs.get_job(store, actor, job["id"])["state"] in ("queued", "running"):
            if jobs.run_job(store, job["id"], stale_after=runner.stale_after) == "skipped":
                time.sleep(0.5)  # another process (a running `assay serve`) runs it: watch it
        return jobs.get_job(store, actor, job["id"])
    with progress_bar(f"job {job['id']} ({job['kind']})") as update:
        while True:
            job = jobs.get_job(store, actor, job["id"])
            update(job["done"] + job["failed"], job["total"])
            if job["state"] not in ("queued", "running"):
                return job
            time.sleep(0.5)


def start_job(
    kind: str,
    project: str,
    params: dict[str, Any],
    *,
    home: Any,
    db: Any,
    detach: bool,
    as_json: bool,
    max_attempts: int | None = None,
) -> None:
    from assay.services import jobs

    with open_cli_store(home, db) as (store, actor):
        job = jobs.enqueue(store, actor, project, kind, params, max_attempts=max_attempts)
        if not detach:
            job = _follow(store, actor, job)
    if as_json:
        print_json(job)
    else:
        console.print(_line(job), markup=False, highlight=False)
        if job.get("result"):
            console.print_json(json.dumps(job["result"], default=str))
    if job["state"] == "failed":
        raise typer.Exit(1)
    if job["state"] == "succeeded" and not job.get("done") and job.get("failed"):
        # every item failed (a model server down, say): say why and exit 1, as model commands do
        err_console.print(f"error: every item of job {job['id']} failed", markup=False, highlight=False)
        for e in (job.get("item_errors") or [])[:5]:
            err_console.print(f"  {e}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@app.command("start")
def start(
    kind: Annotated[str, typer.Argument(help="prelabel, judge, consensus or export.")],
    project: Annotated[str, typer.Option("--project", "-p", help="Project name or id.")],
    params: Annotated[str, typer.Option(help="The job's parameters as a JSON object.")] = "{}",
    max_attempts: Annotated[int | None, typer.Option(min=1, max=20, help="Runs before it fails.")] = None,
    detach: Annotated[
        bool, typer.Option(help="Queue it and return (a worker or `assay serve` runs it).")
    ] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue a job and follow it to its end (on SQLite it runs in this process)."""
    from assay.domain.errors import ValidationError

    try:
        parsed = json.loads(params)
    except ValueError as e:
        raise ValidationError(f"--params is not JSON: {e}", field="params") from None
    if not isinstance(parsed, dict):
        raise ValidationError("--params must be a JSON object", field="params")
    start_job(
        kind, project, parsed, home=home, db=db, detach=detach, as_json=as_json, max_attempts=max_attempts
    )


# --------------------------------------------------------------------------- assay worker


def _one_worker(url: str, name: str, heartbeat: float, stalled_after: float) -> None:
    from assay.services.job_queue import run_procrastinate_worker

    run_procrastinate_worker(url, name=name, heartbeat=heartbeat, stalled_after=stalled_after)


def worker(
    processes: Annotated[int, typer.Option(min=1, max=64, help="Worker processes on this machine.")] = 1,
    heartbeat: Annotated[
        float, typer.Option(min=0.1, help="Seconds between a worker's heartbeats (PostgreSQL).")
    ] = 10.0,
    stalled_after: Annotated[
        float,
        typer.Option(min=0.5, help="A worker silent this long is taken for dead; its job is retried."),
    ] = 30.0,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Run background jobs until stopped (Ctrl-C): procrastinate workers on PostgreSQL, any number of
    them on any number of machines; on SQLite one runner (`assay serve` runs one too)."""
    settings = settings_for(home, db)
    url = settings.db_url
    if url.startswith("sqlite"):
        from assay.services.job_queue import InProcessRunner
        from assay.store.engine import open_store

        store = open_store(url)
        runner = InProcessRunner(store).start()
        console.print(f"assay worker: running jobs of {url} in this process (Ctrl-C stops)")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        signal.signal(signal.SIGINT, lambda *_: stopped.set())
        try:
            stopped.wait()
        finally:
            runner.stop()
            store.dispose()
        return
    from assay.store.engine import open_store

    open_store(url).dispose()  # migrate once, before the workers start
    console.print(f"assay worker: {processes} procrastinate worker(s) on {settings.db_url}")
    if processes == 1:
        _one_worker(url, "assay-worker-1", heartbeat, stalled_after)
        return
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_one_worker, args=(url, f"assay-worker-{i + 1}", heartbeat, stalled_after))
        for i in range(processes)
    ]
    for p in procs:
        p.start()

    def stop(*_: Any) -> None:
        for p in procs:
            if p.is_alive() and p.pid:
                import os

                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.join()
    sys.exit(max((p.exitcode or 0) for p in procs))


def prelabel(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    model: Annotated[str | None, typer.Option(help="Model name at an OpenAI-compatible endpoint.")] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="Base URL of the endpoint, e.g. http://127.0.0.1:8000/v1.")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option(help="A JSON file of grading rules (a rule-based grader instead).")
    ] = None,
    function: Annotated[
        str | None,
        typer.Option("--callable", help="module:function (its module listed in $ASSAY_CALLABLE_MODULES)."),
    ] = None,
    questions: Annotated[str | None, typer.Option(help="Comma-separated questions (default: all).")] = None,
    template: Annotated[
        Path | None, typer.Option(help="A prompt template file ({{field}} placeholders).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Calls in flight at once.")] = 4,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Records per checkpoint.")] = 32,
    price: Annotated[
        str | None, typer.Option(help="prompt,completion prices per million tokens, e.g. 0.15,0.6.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="A model parameter name=JSON value (repeatable).")
    ] = None,
    detach: Annotated[bool, typer.Option(help="Queue it and return.")] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pre-label a project's records as a job: a model endpoint, a Python function or a rule grader
    suggests answers (with model, parameters, cost and score). A rerun skips what is done."""
    from assay.domain.errors import ValidationError

    spec: dict[str, Any]
    if rules is not None:
        spec = {"type": "rules", "name": model or rules.stem, **json.loads(rules.read_text(encoding="utf-8"))}
    elif function is not None:
        spec = {"type": "callable", "ref": function, "model": model or function.rpartition(":")[2]}
    elif model is not None:
        spec = {"type": "openai", "model": model}
        if endpoint:
            spec["base_url"] = endpoint
        if price:
            spec["price"] = [float(x) for x in price.split(",")]
    else:
        raise ValidationError("name a --model (with --endpoint), --rules or --callable", field="model")
    spec["max_concurrency"] = concurrency
    if param:
        spec["params"] = {k: json.loads(v) for k, _, v in (p.partition("=") for p in param)}
    params: dict[str, Any] = {"connector": spec, "batch": batch}
    if questions:
        params["questions"] = [q.strip() for q in questions.split(",") if q.strip()]
    if template is not None:
        params["template"] = template.read_text(encoding="utf-8")
    start_job("prelabel", project, params, home=home, db=db, detach=detach, as_json=as_json)


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="jobs")
    main.command("worker")(worker)
    main.command("prelabel")(prelabel)
