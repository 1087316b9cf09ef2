"""PostgreSQL: real `assay worker` processes run the jobs through procrastinate; a worker killed with
SIGKILL in the middle of a job loses nothing: another worker retries it from its checkpoint and
every suggestion is written exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.services import imports, jobs
from assay.services.actors import SYSTEM
from assay.store.engine import Store
from assay.store.tables import suggestions
from tests.factories import TEXT_SCHEMA, make_project, make_user
from tests.rlhf.fake_llm import FakeLLM

N = 40


@pytest.fixture
def pg(store: Store) -> Store:
    if store.is_sqlite:
        pytest.skip("procrastinate workers run on PostgreSQL; SQLite runs jobs in process (test_jobs)")
    return store


class Workers:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "ASSAY_CALLABLE_MODULES": "tests.jobs.helpers"}

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        out = open(self.log, "ab")  # noqa: SIM115 (the process writes it; closed with it below)
        proc = subprocess.Popen(
            [sys.executable, "-m", "assay", "worker", "--db", self.url, "--heartbeat", "0.2",
             "--stalled-after", "1", *extra],
            stdout=out, stderr=subprocess.STDOUT, env=self.env,
        )  # fmt: skip
        out.close()
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def workers(pg: Store, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(pg.url.render_as_string(hide_password=False), tmp_path / "workers.log")
    try:
        yield w
    finally:
        w.stop_all()


def _wait_state(
    store: Store, job_id: int, states: tuple[str, ...], log: Path, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = jobs.get_job(store, SYSTEM, job_id)
        if job["state"] in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stayed {job['state']}: {job}\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def _project(store: Store, n: int) -> int:
    p = make_project(store, TEXT_SCHEMA)
    rows = [{"id": f"r{i}", "text": f"text {i} {'positive' if i % 2 else 'negative'}"} for i in range(n)]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    return int(p["id"])


def _spec(llm: FakeLLM) -> dict[str, Any]:
    return {
        "type": "openai",
        "model": "labeler",
        "base_url": llm.base_url,
        "max_concurrency": 1,
        "max_retries": 0,
    }


def test_a_worker_killed_mid_job_is_replaced_and_the_job_applies_once(
    pg: Store, workers: Workers, tmp_path: Path
) -> None:
    from tests.jobs.conftest import sentiment_answer

    llm = FakeLLM().start()
    try:
        llm.answerer = sentiment_answer
        llm.hold_after = 10  # the 11th call waits: the worker is then in the middle of its third step
        pid = _project(pg, N)
        job = jobs.enqueue(pg, SYSTEM, pid, "prelabel", {"connector": _spec(llm), "batch": 5})
        first = workers.start()
        assert llm.held.wait(120), workers.log.read_text()
        running = jobs.get_job(pg, SYSTEM, job["id"])
        assert running["state"] == "running" and running["done"] == 10
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        llm.hold_after = None
        llm.release.set()
        workers.start()
        done = _wait_state(pg, job["id"], ("succeeded", "failed"), workers.log)
        assert done["state"] == "succeeded", done
        assert done["attempts"] == 2 and done["done"] == N and done["failed"] == 0
        with pg.read() as conn:
            rows = conn.execute(sa.select(suggestions.c.record_id, suggestions.c.job_id)).all()
        assert len(rows) == N and len({r[0] for r in rows}) == N  # none lost, none doubled
    finally:
        llm.release.set()
        llm.stop()


def test_workers_share_the_queue_and_a_failing_job_is_retried_then_fails(
    pg: Store, workers: Workers, tmp_path: Path
) -> None:
    """Two worker processes (`--processes 2`) share the queue; a job that raises is retried up to
    its max_attempts, then fails with its error (here: the data directory is a file, so an export
    cannot write)."""
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("x")
    workers.env["ASSAY_HOME"] = str(blocked)
    pid = _project(pg, 6)
    queued = [jobs.enqueue(pg, SYSTEM, pid, "consensus") for _ in range(4)]
    bad = jobs.enqueue(pg, SYSTEM, pid, "export", {"format": "jsonl"}, max_attempts=2)
    workers.start("--processes", "2")
    for job in queued:
        got = _wait_state(pg, job["id"], ("succeeded", "failed"), workers.log)
        assert got["state"] == "succeeded" and got["attempts"] == 1
    failed = _wait_state(pg, bad["id"], ("succeeded", "failed"), workers.log)
    assert failed["state"] == "failed" and failed["attempts"] == 2, failed
    assert "Error" in failed["error"]
    assert len({jobs.get_job(pg, SYSTEM, j["id"])["worker"] for j in queued}) >= 1


def test_every_kind_of_job_runs_in_worker_processes(
    pg: Store, workers: Workers, tmp_path: Path, llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """judge (a jury of one), train, prelabel with the trained model, route, export: real workers."""
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path))
    workers.env["ASSAY_HOME"] = str(tmp_path)
    arena = make_project(
        pg,
        {
            "name": "w-arena",
            "fields": [{"name": "prompt", "type": "text"}, {"name": "candidates", "type": "comparison"}],
            "questions": [{"name": "preference", "type": "preference", "field": "candidates", "ties": True}],
            "workflow": {"overlap": 1},
        },
    )
    pairs = [
        {
            "id": f"c{i}",
            "prompt": f"q{i}",
            "candidates": [{"id": "x", "text": "x (q=3)"}, {"id": "y", "text": "y (q=1)"}],
        }
        for i in range(3)
    ]
    imports.import_rows(pg, SYSTEM, arena["id"], enumerate(pairs, 1))
    make_user(pg, "judge-w", kind="model")
    jury = [
        {"judge": "judge-w", "connector": {"type": "openai", "model": "judge-w", "base_url": llm.base_url}}
    ]
    texts = make_project(
        pg,
        {
            **TEXT_SCHEMA,
            "name": "w-texts",
            "workflow": {"overlap": 1, "ai_first": {"bar": 0.5, "min_evidence": 2, "audit_rate": 0.0}},
        },
    )
    rows = [
        {
            "id": f"t{i}",
            "text": f"{'great' if i % 2 else 'awful'} thing {i}",
            **({"gold": {"sentiment": "positive" if i % 2 else "negative"}} if i < 20 else {}),
        }
        for i in range(40)
    ]
    imports.import_rows(pg, SYSTEM, texts["id"], enumerate(rows, 1))
    workers.start()
    judge = jobs.enqueue(pg, SYSTEM, arena["id"], "judge", {"judges": jury})
    train = jobs.enqueue(pg, SYSTEM, texts["id"], "train", {"question": "sentiment", "name": "w-model"})
    assert _wait_state(pg, judge["id"], ("succeeded", "failed"), workers.log)["result"] == {"answered": 3}
    trained = _wait_state(pg, train["id"], ("succeeded", "failed"), workers.log)
    assert trained["state"] == "succeeded" and trained["result"]["trained_on"] == 20, trained
    spec = {"type": "embedding", "model": "w-model", "question": "sentiment"}
    pre = jobs.enqueue(pg, SYSTEM, texts["id"], "prelabel", {"connector": spec})
    assert _wait_state(pg, pre["id"], ("succeeded", "failed"), workers.log)["done"] == 40
    route = jobs.enqueue(pg, SYSTEM, texts["id"], "route")
    routed = _wait_state(pg, route["id"], ("succeeded", "failed"), workers.log)
    assert routed["state"] == "succeeded" and routed["result"]["settled"] > 0, routed
    export = jobs.enqueue(pg, SYSTEM, texts["id"], "export", {"format": "csv"})
    exported = _wait_state(pg, export["id"], ("succeeded", "failed"), workers.log)
    assert exported["result"]["rows"] == 40 and Path(exported["result"]["path"]).is_file()


def test_assay_worker_on_sqlite_runs_jobs_in_its_process(store: Store, tmp_path: Path) -> None:
    """`assay worker` on SQLite is one in-process runner: it runs jobs queued by another process
    (here, this test, with no runner of its own) and stops on SIGTERM."""
    if not store.is_sqlite:
        pytest.skip("SQLite's runner")
    w = Workers(store.url.render_as_string(hide_password=False), tmp_path / "worker.log")
    try:
        proc = w.start()
        pid = _project(store, 3)
        job = jobs.enqueue(store, SYSTEM, pid, "consensus")
        got = _wait_state(store, job["id"], ("succeeded", "failed"), w.log)
        assert got["state"] == "succeeded" and got["worker"] and got["worker"].split(":")[1] == str(proc.pid)
    finally:
        w.stop_all()
    assert proc.returncode == 0


def test_workers_queue_the_routing_people_made_due(pg: Store, workers: Workers) -> None:
    from assay.services import ai_first, dispatch

    workers.env["ASSAY_DUE_ROUTES_EVERY"] = "0.2"
    p = make_project(
        pg,
        {**TEXT_SCHEMA, "name": "due", "workflow": {"overlap": 1, "ai_first": {"reroute_after": 2}}},
    )
    imports.import_rows(
        pg, SYSTEM, p["id"], enumerate([{"id": f"r{i}", "text": f"t{i}"} for i in range(5)], 1)
    )
    person, _ = make_user(pg, "due-person")
    for _ in range(2):
        lease = dispatch.next_assignment(pg, person, p["id"])
        assert lease is not None
        dispatch.submit_response(pg, person, lease["assignment_id"], {"sentiment": "positive"})
    workers.start()
    deadline = time.monotonic() + 120
    while not (routes := [j for j in jobs.list_jobs(pg, SYSTEM, p["id"]) if j["kind"] == "route"]):
        assert time.monotonic() < deadline, workers.log.read_text()[-3000:]
        time.sleep(0.05)
    assert _wait_state(pg, routes[0]["id"], ("succeeded", "failed"), workers.log)["state"] == "succeeded"
    assert ai_first.queue_due_routes(pg, submit=False) == []


def test_workers_retrain_the_local_model_new_consensus_made_due(
    pg: Store, workers: Workers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.services import ai_first, dispatch

    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    workers.env["ASSAY_HOME"] = str(tmp_path / "home")
    workers.env["ASSAY_DUE_ROUTES_EVERY"] = "0.2"
    ai = {"reroute_after": None, "retrain_after": 2}
    p = make_project(pg, {**TEXT_SCHEMA, "name": "retrain", "workflow": {"overlap": 1, "ai_first": ai}})
    rows = [{"id": f"g{i}", "text": f"gold {i}", "gold": {"sentiment": ["positive", "negative"][i % 2]}}
            for i in range(2)] + [{"id": f"r{i}", "text": f"t{i}"} for i in range(5)]  # fmt: skip
    imports.import_rows(pg, SYSTEM, p["id"], enumerate(rows, 1))
    first = jobs.enqueue(
        pg, SYSTEM, p["id"], "train", {"question": "sentiment", "name": "due-model"}, submit=False
    )
    assert jobs.run_job(pg, first["id"]) == "succeeded"
    person, _ = make_user(pg, "retrain-person")
    for _ in range(2):
        lease = dispatch.next_assignment(pg, person, p["id"])
        assert lease is not None
        dispatch.submit_response(pg, person, lease["assignment_id"], {"sentiment": "positive"})
    workers.start()
    deadline = time.monotonic() + 120
    while not (
        again := [
            j for j in jobs.list_jobs(pg, SYSTEM, p["id"]) if j["kind"] == "train" and j["id"] != first["id"]
        ]
    ):
        assert time.monotonic() < deadline, workers.log.read_text()[-3000:]
        time.sleep(0.05)
    done = _wait_state(pg, again[0]["id"], ("succeeded", "failed"), workers.log)
    assert done["state"] == "succeeded" and done["result"]["trained_on"] == 4  # 2 gold + 2 people
    assert ai_first.queue_due(pg, submit=False) == []
