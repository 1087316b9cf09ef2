"""Jobs over HTTP (the server runs them itself on SQLite; a worker on PostgreSQL) and in the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from assay.cli.main import app
from assay.services import imports, jobs
from assay.services.actors import SYSTEM
from tests.api.conftest import Live
from tests.factories import TEXT_SCHEMA, make_project, make_user
from tests.rlhf.fake_llm import FakeLLM

runner = CliRunner()


def _wait(c: httpx.Client, pid: int, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job = c.get(f"/projects/{pid}/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


def test_jobs_over_http(live: Live, llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_project(live.store, TEXT_SCHEMA)
    imports.import_rows(
        live.store,
        SYSTEM,
        p["id"],
        enumerate([{"id": f"r{i}", "text": f"positive {i}"} for i in range(5)], 1),
    )
    _, token = make_user(live.store, "boss", role="manager")
    c = live.client(token)
    spec = {"type": "openai", "model": "labeler", "base_url": llm.base_url}
    refused = c.post(f"/projects/{p['id']}/jobs", json={"kind": "prelabel", "params": {"connector": spec}})
    assert refused.status_code == 422 and "ASSAY_MODEL_ENDPOINTS" in refused.text  # none listed
    monkeypatch.setenv("ASSAY_MODEL_ENDPOINTS", f"http://10.0.0.1/v1,{llm.base_url}")
    other = {**spec, "base_url": llm.base_url.replace("/v1", "/other")}
    assert (
        c.post(
            f"/projects/{p['id']}/jobs", json={"kind": "prelabel", "params": {"connector": other}}
        ).status_code
        == 422
    )
    r = c.post(f"/projects/{p['id']}/jobs", json={"kind": "prelabel", "params": {"connector": spec}})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["state"] == "queued" and job["total"] == 5
    if live.store.is_sqlite:  # the server runs it
        done = _wait(c, p["id"], job["id"])
        assert done["state"] == "succeeded" and done["done"] == 5, done
        listed = c.get(f"/projects/{p['id']}/jobs").json()
        assert [j["id"] for j in listed["items"]] == [job["id"]]
        record = c.get(f"/projects/{p['id']}/records").json()["items"][0]
        full = c.get(f"/records/{record['id']}").json()
        assert full["suggestions"][0]["model"] == "labeler"
    else:  # no worker here: it waits in the queue, and a cancel ends it
        got = c.post(f"/projects/{p['id']}/jobs/{job['id']}/cancel").json()
        assert got["state"] == "cancelled"
    bad = c.post(
        f"/projects/{p['id']}/jobs", json={"kind": "prelabel", "params": {"connector": {"type": "x"}}}
    )
    assert bad.status_code == 422 and "connector" in bad.text
    assert c.get(f"/projects/{p['id']}/jobs/999999").status_code == 404
    assert c.get(f"/projects/{p['id']}/jobs", params={"state": "nope"}).status_code == 422


def test_cli_prelabel_and_jobs(db_url: str, tmp_path: Path) -> None:
    def run(*args: str) -> Any:
        result = runner.invoke(app, [*args, "--db", db_url, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(TEXT_SCHEMA))
    runner.invoke(app, ["project", "create", "--schema", str(schema), "--db", db_url])
    data = tmp_path / "r.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": f"so positive {i}"}) + "\n" for i in range(4)))
    assert runner.invoke(app, ["import", "sentiment", str(data), "--db", db_url]).exit_code == 0
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            {
                "rules": [
                    {"question": "sentiment", "field": "text", "pattern": "positive", "value": "positive"}
                ]
            }
        )
    )
    if db_url.startswith("sqlite"):
        job = run("prelabel", "sentiment", "--rules", str(rules))
        assert job["state"] == "succeeded" and job["done"] == 4 and job["result"]["model"] == "rules"
        again = run("prelabel", "sentiment", "--rules", str(rules))
        assert again["done"] == 0  # a rerun skips what is done
    else:
        job = run("prelabel", "sentiment", "--rules", str(rules), "--detach")
        assert job["state"] == "queued"
        assert run("jobs", "cancel", str(job["id"]))["state"] == "cancelled"
    listed = run("jobs", "list", "--project", "sentiment")
    assert job["id"] in [j["id"] for j in listed]
    assert run("jobs", "show", str(job["id"]))["kind"] == "prelabel"
    plain = runner.invoke(app, ["jobs", "list", "--db", db_url])
    assert plain.exit_code == 0 and "prelabel" in plain.output


AI_SCHEMA = {
    "name": "ai-sentiment",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "sentiment", "type": "label", "options": ["positive", "negative"]}],
    "workflow": {
        "overlap": 2,
        "ai_first": {"bar": 0.8, "min_evidence": 5, "confidence": 0.9, "audit_rate": 0.1},
    },
}


def ai_rows(n: int, gold: int) -> list[dict[str, Any]]:
    """Records whose model suggestion is always right; the first ``gold`` are gold."""
    rows = []
    for i in range(n):
        label = "positive" if i % 2 else "negative"
        row: dict[str, Any] = {
            "id": f"r{i}",
            "text": f"text {i}",
            "suggestions": [{"question": "sentiment", "value": label, "score": 0.9, "model": "m1"}],
        }
        if i < gold:
            row["gold"] = {"sentiment": label}
        rows.append(row)
    return rows


def test_trust_and_savings_over_http(live: Live) -> None:
    p = make_project(live.store, AI_SCHEMA)
    imports.import_rows(live.store, SYSTEM, p["id"], enumerate(ai_rows(60, 30), 1))
    _, token = make_user(live.store, "ai-boss", role="manager")
    c = live.client(token)
    t = c.get(f"/projects/{p['id']}/trust").json()
    assert t["bar"] == 0.8 and all(r["trusted"] for r in t["models"]) and len(t["models"]) == 2
    before = c.get(f"/projects/{p['id']}/savings").json()
    assert before["settled_by_models"] == 0 and before["human_answers_all_human"] == 60
    job = c.post(f"/projects/{p['id']}/jobs", json={"kind": "route"}).json()
    if live.store.is_sqlite:
        assert _wait(c, p["id"], job["id"])["state"] == "succeeded"
    else:
        assert jobs.run_job(live.store, job["id"]) == "succeeded"
    after = c.get(f"/projects/{p['id']}/savings").json()
    assert after["settled_by_models"] > 20 and after["accuracy_on_gold"]["models"] == 1.0
    left = 30 - after["settled_by_models"]  # audited: each still needs 2 answers from people
    assert after["human_answers_to_come"] == 2 * left
    assert after["human_answers_saved"] == 60 - 2 * left


def test_cli_ai_first(db_url: str, tmp_path: Path) -> None:
    def run(*args: str, as_json: bool = True) -> Any:
        result = runner.invoke(app, [*args, "--db", db_url, *(["--json"] if as_json else [])])
        assert result.exit_code == 0, result.output
        return json.loads(result.output) if as_json else result.output

    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(AI_SCHEMA))
    run("project", "create", "--schema", str(schema))
    data = tmp_path / "r.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ai_rows(40, 20)))
    assert runner.invoke(app, ["import", "ai-sentiment", str(data), "--db", db_url]).exit_code == 0
    assert "trusted" in run("ai-first", "trust", "ai-sentiment", as_json=False)
    if db_url.startswith("sqlite"):
        job = run("ai-first", "route", "ai-sentiment")
        assert job["state"] == "succeeded" and job["result"]["settled"] > 10
    else:
        job = run("ai-first", "route", "ai-sentiment", "--detach")
        assert job["state"] == "queued"
        from assay.store.engine import open_store

        store = open_store(db_url, migrate=False)
        try:
            assert jobs.run_job(store, job["id"]) == "succeeded"
        finally:
            store.dispose()
    report = run("savings", "ai-sentiment")
    assert report["settled_by_models"] > 10 and report["records"] == 20
    assert "human answers" in run("savings", "ai-sentiment", as_json=False)


def test_an_export_job_file_downloads(live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path))
    p = make_project(live.store, TEXT_SCHEMA)
    imports.import_rows(
        live.store, SYSTEM, p["id"], enumerate([{"id": f"r{i}", "text": f"t{i}"} for i in range(7)], 1)
    )
    _, token = make_user(live.store, "exporter", role="manager")
    c = live.client(token)
    job = c.post(f"/projects/{p['id']}/jobs", json={"kind": "export", "params": {"format": "csv"}}).json()
    other = c.post(f"/projects/{p['id']}/jobs", json={"kind": "consensus"}).json()
    if live.store.is_sqlite:
        assert _wait(c, p["id"], job["id"])["state"] == "succeeded"
        assert _wait(c, p["id"], other["id"])["state"] == "succeeded"
    else:
        assert jobs.run_job(live.store, job["id"]) == "succeeded"
        assert jobs.run_job(live.store, other["id"]) == "succeeded"
    r = c.get(f"/projects/{p['id']}/jobs/{job['id']}/file")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert len(r.text.strip().splitlines()) == 8  # a header and 7 records
    assert c.get(f"/projects/{p['id']}/jobs/{other['id']}/file").status_code == 409


def test_the_sdk_starts_watches_and_cancels_jobs_and_reads_savings(live: Live) -> None:
    from assay.sdk import Client

    p = make_project(live.store, AI_SCHEMA)
    imports.import_rows(live.store, SYSTEM, p["id"], enumerate(ai_rows(40, 20), 1))
    _, token = make_user(live.store, "sdk-boss", role="manager")
    with Client(live.url, token) as client:
        job = client.start_job("ai-sentiment", "route")
        assert job["kind"] == "route" and job["state"] == "queued"
        if live.store.is_sqlite:
            assert client.wait_job("ai-sentiment", job["id"], timeout=60, poll=0.05)["state"] == "succeeded"
        else:
            assert jobs.run_job(live.store, job["id"]) == "succeeded"
        assert [j["id"] for j in client.jobs("ai-sentiment")] == [job["id"]]
        assert client.savings("ai-sentiment")["settled_by_models"] > 0
        assert client.trust("ai-sentiment")["models"][0]["model"] == "m1"
        queued = client.start_job("ai-sentiment", "consensus")
        got = client.cancel_job("ai-sentiment", queued["id"])
        assert got["state"] in ("cancelled", "succeeded", "running")  # the server may have run it already
