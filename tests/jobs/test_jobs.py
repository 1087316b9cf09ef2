"""The job tier on both databases: each kind of job, retries, fencing, cancellation, time limits,
and the in-process runner (SQLite's engine; PostgreSQL's procrastinate workers are in test_worker)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.domain.errors import NotFound, ValidationError
from assay.services import dispatch, imports, jobs
from assay.services.actors import SYSTEM
from assay.services.jobs import JobContext, JobKind, job_kind
from assay.store import jobs as job_store
from assay.store.engine import Store
from assay.store.tables import suggestions
from tests.factories import TEXT_SCHEMA, make_project, make_user
from tests.jobs import helpers
from tests.rlhf.fake_llm import FakeLLM

TEXTS = ["a positive day", "so negative", "neutral talk", "nothing named", "positive again", "meh"]


@pytest.fixture(autouse=True)
def _callables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ASSAY_CALLABLE_MODULES", "tests.jobs.helpers")
    helpers.CALLS.clear()
    helpers.HOOKS.clear()
    yield
    helpers.HOOKS.clear()


def _project(store: Store, n: int = len(TEXTS), **schema: Any) -> dict[str, Any]:
    p = make_project(store, {**TEXT_SCHEMA, **schema})
    rows = [{"id": f"r{i}", "text": TEXTS[i % len(TEXTS)] + f" #{i}"} for i in range(n)]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    return p


def _openai(llm: FakeLLM, **kw: Any) -> dict[str, Any]:
    return {"type": "openai", "model": "labeler-1", "base_url": llm.base_url, "price": [1.0, 2.0], **kw}


def _suggestions(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(suggestions).order_by(suggestions.c.id))]


def test_prelabel_writes_suggestions_with_provenance_once_and_a_rerun_skips_them(
    store: Store, llm: FakeLLM
) -> None:
    p = _project(store)
    spec = _openai(llm, params={"temperature": 0})
    job = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": spec, "batch": 4}, submit=False)
    assert job["state"] == "queued" and job["total"] == len(TEXTS)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    done = jobs.get_job(store, SYSTEM, job["id"])
    assert (done["done"], done["failed"], done["attempts"]) == (len(TEXTS), 0, 1)
    rows = _suggestions(store)
    assert len(rows) == len(TEXTS)
    by_text = {r["record_id"]: r for r in rows}
    assert len(by_text) == len(TEXTS)
    assert {r["value"] for r in rows} == {"positive", "negative", "neutral"}
    first = rows[0]
    assert first["model"] == "labeler-1" and first["score"] == 0.75 and first["job_id"] == job["id"]
    assert first["params"] == {"temperature": 0} and first["cost"] > 0
    assert done["cost"] == pytest.approx(sum(r["cost"] for r in rows))
    calls = llm.ok_calls

    again = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": spec}, submit=False)
    assert jobs.run_job(store, again["id"]) == "succeeded"
    assert jobs.get_job(store, SYSTEM, again["id"])["done"] == 0
    assert llm.ok_calls == calls and len(_suggestions(store)) == len(TEXTS)


def test_prelabel_counts_unparseable_answers_as_failed_items(store: Store, llm: FakeLLM) -> None:
    p = _project(store, 4)
    llm.answerer = lambda model, prompt: "no idea" if "#2" in prompt else '{"sentiment": "neutral"}'
    job = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": _openai(llm)}, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    got = jobs.get_job(store, SYSTEM, job["id"])
    assert (got["done"], got["failed"]) == (3, 1)
    assert "r2" in got["item_errors"][0] and "unparseable" in got["item_errors"][0]


def test_rule_grader_prelabels_and_unsafe_patterns_are_refused(store: Store) -> None:
    p = _project(store)
    rules = {
        "type": "rules",
        "name": "keywords",
        "rules": [
            {"question": "sentiment", "field": "text", "pattern": r"\bpositive\b", "value": "positive"},
            {"question": "sentiment", "field": "text", "pattern": r"\bnegative\b", "value": "negative"},
        ],
        "defaults": {"sentiment": "neutral"},
    }
    job = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": rules}, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    values = sorted(r["value"] for r in _suggestions(store))
    assert values == sorted(["positive", "negative", "neutral", "neutral", "positive", "neutral"])
    assert {r["model"] for r in _suggestions(store)} == {"keywords"}
    for bad in [r"(a+)+$", r"(\w*)*x", r"(x)\1", "[", "a" * 501]:
        spec = {**rules, "rules": [{"question": "sentiment", "field": "text", "pattern": bad}]}
        with pytest.raises(ValidationError):
            jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": spec}, submit=False)


def test_a_callable_connector_must_be_in_an_allowed_module(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _project(store, 2)
    spec = {"type": "callable", "ref": "tests.jobs.helpers:echo_label"}
    job = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": spec}, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    assert jobs.get_job(store, SYSTEM, job["id"])["cost"] == pytest.approx(0.02)
    for ref in ("os:system", "tests.jobsX:f"):
        with pytest.raises(ValidationError):
            jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": {"type": "callable", "ref": ref}})


def test_a_run_that_lost_the_job_writes_nothing(store: Store, llm: FakeLLM) -> None:
    """Fencing: once another run has claimed the job, the old run's step rolls back."""
    p = _project(store, 2)
    job = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": _openai(llm)}, submit=False)
    with store.tx() as conn:
        first = job_store.claim(conn, job["id"], "w1")
        assert job_store.claim(conn, job["id"], "w2") is None  # running, beating: not taken
        second = job_store.claim(conn, job["id"], "w2", stale_after=0)
    assert (first, second) == (1, 2)
    row = jobs.get_job(store, SYSTEM, job["id"])
    ctx = JobContext(store, {**row, "checkpoint": None}, 1, SYSTEM)
    with pytest.raises(jobs.Superseded), ctx.step() as conn:
        job_store.insert_suggestions(
            conn, [{"record_id": 1, "question": "sentiment", "value": "positive", "model": "m"}]
        )
        ctx.record(conn, done=1)
    assert _suggestions(store) == []


FLAKY: dict[str, int] = {}


def _flaky(ctx: JobContext) -> dict[str, Any]:
    FLAKY[str(ctx.job_id)] = FLAKY.get(str(ctx.job_id), 0) + 1
    if ctx.params.get("fail_times", 0) >= ctx.attempt:
        raise RuntimeError(f"boom {ctx.attempt}")
    ctx.progress(done=1)
    return {"attempt": ctx.attempt}


job_kind(JobKind("test-flaky", _flaky, lambda s, a, p, params: (dict(params), 1), max_attempts=3))


def test_a_failing_job_is_retried_then_fails_for_good(store: Store) -> None:
    p = _project(store, 1)
    ok = jobs.enqueue(store, SYSTEM, p["id"], "test-flaky", {"fail_times": 2}, submit=False)
    assert [jobs.run_job(store, ok["id"]) for _ in range(3)] == ["retry", "retry", "succeeded"]
    assert jobs.get_job(store, SYSTEM, ok["id"])["result"] == {"attempt": 3}
    assert jobs.run_job(store, ok["id"]) == "skipped"  # a finished job never runs again
    bad = jobs.enqueue(store, SYSTEM, p["id"], "test-flaky", {"fail_times": 9}, max_attempts=2, submit=False)
    assert [jobs.run_job(store, bad["id"]) for _ in range(2)] == ["retry", "failed"]
    got = jobs.get_job(store, SYSTEM, bad["id"])
    assert got["state"] == "failed" and "boom 2" in got["error"] and got["attempts"] == 2


def test_cancel_a_queued_job_and_a_running_one(store: Store) -> None:
    p = _project(store, 6)
    queued = jobs.enqueue(store, SYSTEM, p["id"], "consensus", submit=False)
    assert jobs.cancel_job(store, SYSTEM, queued["id"])["state"] == "cancelled"
    assert jobs.run_job(store, queued["id"]) == "skipped"
    spec = {"type": "callable", "ref": "tests.jobs.helpers:echo_label", "max_concurrency": 1}
    running = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": spec, "batch": 2}, submit=False)
    helpers.HOOKS["on_call"] = lambda: jobs.cancel_job(store, SYSTEM, running["id"])
    assert jobs.run_job(store, running["id"]) == "cancelled"
    got = jobs.get_job(store, SYSTEM, running["id"])
    assert got["state"] == "cancelled" and got["done"] == 2  # the step under way was kept, no more
    assert len(helpers.CALLS) == 2


def test_a_job_past_its_time_limit_fails(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _project(store, 6)
    clock = [1000.0]
    monkeypatch.setattr(jobs, "clock", lambda: clock[0])

    def later() -> None:
        clock[0] += 100

    helpers.HOOKS["on_call"] = later
    spec = {"type": "callable", "ref": "tests.jobs.helpers:echo_label", "max_concurrency": 1}
    job = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": spec, "batch": 1}, time_limit=150)
    assert jobs.run_job(store, job["id"]) == "failed"
    got = jobs.get_job(store, SYSTEM, job["id"])
    assert "time limit" in got["error"] and got["done"] == 2


def test_consensus_and_export_jobs(store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path))
    p = _project(store, 3, workflow={"overlap": 1})
    ann, _ = make_user(store, "ann")
    while (lease := dispatch.next_assignment(store, ann, p["id"])) is not None:
        dispatch.submit_response(store, ann, lease["assignment_id"], {"sentiment": "positive"})
    c = jobs.enqueue(store, SYSTEM, p["id"], "consensus", {"method": "ds"}, submit=False)
    assert jobs.run_job(store, c["id"]) == "succeeded"
    assert jobs.get_job(store, SYSTEM, c["id"])["result"] == {"method": "ds", "records": 3}
    e = jobs.enqueue(store, SYSTEM, p["id"], "export", {"format": "jsonl"}, submit=False)
    assert jobs.run_job(store, e["id"]) == "succeeded"
    result = jobs.get_job(store, SYSTEM, e["id"])["result"]
    assert result["rows"] == 3
    lines = Path(result["path"]).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and result["path"].startswith(str(tmp_path))
    with pytest.raises(ValidationError):
        jobs.enqueue(store, SYSTEM, p["id"], "export", {"format": "exe"})


def test_judge_jury_job_answers_through_dispatch(store: Store, llm: FakeLLM) -> None:
    schema = {
        "name": "arena",
        "fields": [{"name": "prompt", "type": "text"}, {"name": "candidates", "type": "comparison"}],
        "questions": [{"name": "preference", "type": "preference", "field": "candidates", "ties": True}],
        "workflow": {"overlap": 2},
    }
    p = make_project(store, schema)
    rows = [
        {
            "id": f"c{i}",
            "prompt": f"q{i}",
            "candidates": [{"id": "x", "text": "x answer (q=3)"}, {"id": "y", "text": "y answer (q=1)"}],
        }
        for i in range(3)
    ]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    for name in ("judge-a", "judge-b"):
        make_user(store, name, kind="model")
    jury = [
        {"judge": n, "connector": {"type": "openai", "model": n, "base_url": llm.base_url}}
        for n in ("judge-a", "judge-b")
    ]
    job = jobs.enqueue(store, SYSTEM, p["id"], "judge", {"judges": jury, "batch": 2}, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    got = jobs.get_job(store, SYSTEM, job["id"])
    assert got["result"] == {"answered": 6} and got["done"] == 6
    with pytest.raises(ValidationError):
        jobs.enqueue(
            store,
            SYSTEM,
            p["id"],
            "judge",
            {"judges": [{"judge": "nobody", "connector": jury[0]["connector"]}]},
        )


def test_only_managers_of_the_project_see_and_queue_its_jobs(store: Store) -> None:
    p = _project(store, 1)
    ann, _ = make_user(store, "ann2")
    boss, _ = make_user(store, "boss", role="manager")
    job = jobs.enqueue(store, boss, p["id"], "consensus", submit=False)
    assert [j["id"] for j in jobs.list_jobs(store, boss)] == [job["id"]]
    with pytest.raises(Exception) as e:
        jobs.enqueue(store, ann, p["id"], "consensus", submit=False)
    assert type(e.value).__name__ == "PermissionDenied"
    with pytest.raises(Exception) as e:
        jobs.get_job(store, ann, job["id"])
    assert type(e.value).__name__ in ("PermissionDenied", "NotFound")
    with pytest.raises(NotFound):
        jobs.get_job(store, boss, job["id"] + 100)
    with pytest.raises(ValidationError):
        jobs.enqueue(store, boss, p["id"], "nope", submit=False)


def test_the_in_process_runner_runs_queued_jobs(store: Store) -> None:
    if not store.is_sqlite:
        pytest.skip("PostgreSQL runs jobs in procrastinate workers (test_worker.py)")
    from assay.services.job_queue import InProcessRunner

    p = _project(store, 2)
    runner = InProcessRunner(store, poll=0.05).start()
    try:
        job = jobs.enqueue(store, SYSTEM, p["id"], "consensus")
        deadline = time.monotonic() + 30
        while jobs.get_job(store, SYSTEM, job["id"])["state"] != "succeeded":
            assert time.monotonic() < deadline, jobs.get_job(store, SYSTEM, job["id"])
            time.sleep(0.02)
    finally:
        runner.stop()


def test_sharded_prelabel_jobs_split_a_project(store: Store, llm: FakeLLM) -> None:
    p = _project(store, 10)
    spec = _openai(llm)
    shards = [
        jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": spec, "shard": [k, 3]}, submit=False)
        for k in range(3)
    ]
    assert sum(j["total"] for j in shards) == 10
    for j in shards:
        assert jobs.run_job(store, j["id"]) == "succeeded"
    rows = _suggestions(store)
    assert len(rows) == 10 and len({r["record_id"] for r in rows}) == 10
    with pytest.raises(ValidationError):
        jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": spec, "shard": [3, 3]}, submit=False)


def test_a_job_the_queue_cannot_take_fails_saying_so(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.services import job_queue

    def down(_store: Store, _job_id: int) -> None:
        raise ConnectionError("queue down")

    monkeypatch.setattr(job_queue, "submit", down)
    p = _project(store, 1)
    job = jobs.enqueue(store, SYSTEM, p["id"], "consensus")
    assert job["state"] == "failed" and "queue down" in job["error"]
