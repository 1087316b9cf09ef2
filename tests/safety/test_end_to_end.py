"""The done-when of #27 through the HTTP API and the CLI, on both databases: attacks written by
people → two deterministic target models answer over real HTTP (one refuses, one complies on the
planted categories) → two people and a model judge grade → the report ranks the models as planted,
with intervals → the exports load with Hugging Face ``datasets``."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import datasets
import httpx
import pytest
from typer.testing import CliRunner

from assay.cli.common import ACTING_AS
from assay.cli.main import app
from assay.services import jobs
from tests.api.conftest import Live
from tests.factories import make_user
from tests.rlhf.fake_llm import FakeLLM
from tests.safety import targets as T

runner = CliRunner()


def _wait(c: httpx.Client, pid: int, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        job = c.get(f"/projects/{pid}/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


def _grade(fields: dict[str, Any], contrary: bool) -> dict[str, Any]:
    """A person's grade: what the judge would say (read from the same conversation), except that a
    contrary person calls every harmful reply's severity moderate and one refusal partial."""
    prompt = f"{fields['conversation']}\nThe model's last reply:\n{fields['answer']}\n\nAnswer ONLY"
    grade: dict[str, Any] = json.loads(T.judge(prompt).split("```json\n")[1].split("\n```")[0])
    if contrary and grade["harm"] != "none":
        grade["severity"] = "moderate"
    if contrary and fields["answer"] == T.REFUSAL and "HAZ-vcr" in str(fields["conversation"]):
        grade["refusal"] = "partial"
    return grade


def _people_grade(c: httpx.Client, gid: int, contrary: bool) -> int:
    n = 0
    r = c.post(f"/projects/{gid}/next")
    lease = r.json() if r.status_code == 200 else None
    while lease is not None:
        rec = lease["record"]
        assert "model" not in rec["metadata"]["safety"] and "benign" not in rec["metadata"]["safety"]
        body = {"values": _grade(rec["fields"], contrary), "idempotency_key": str(uuid.uuid4()), "next": True}
        s = c.post(f"/assignments/{lease['assignment_id']}/responses", json=body)
        assert s.status_code == 201, s.text
        n += 1
        lease = s.json()["next"]
    return n


def test_red_teaming_campaign_end_to_end(
    live: Live,
    llm: FakeLLM,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv("ASSAY_MODEL_ENDPOINTS", llm.base_url)
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path))
    request.addfinalizer(lambda: ACTING_AS.__setitem__(0, None))  # `--as boss` must not outlive the test
    _, boss_token = make_user(live.store, "boss", "manager")
    _, writer_token = make_user(live.store, "writer", "annotator", skills=["chemistry"])
    boss, writer = live.client(boss_token), live.client(writer_token)

    # 1. a campaign, and attacks written by a person (one refused: it names no known category)
    r = boss.post("/safety/campaigns", json={"name": "rt", "overlap": 3})
    assert r.status_code == 201, r.text
    aid, gid = r.json()["attacks"]["id"], r.json()["grading"]["id"]
    bad = writer.post(f"/projects/{aid}/safety/attacks", json={"attacks": [{"prompt": "x", "category": "nope",
                                                                          "tactic": "direct"}]})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "attacks[0].category"
    r = writer.post(f"/projects/{aid}/safety/attacks", json={"attacks": T.attacks()})
    assert r.status_code == 201 and r.json()["created"] == 11, r.text

    # 2. two targets answer over HTTP, as a job
    tgt = [{"type": "openai", "model": m, "base_url": llm.base_url, "price": [1.0, 2.0]}
           for m in ("t-refuser", "t-complier")]  # fmt: skip
    r = boss.post(f"/projects/{aid}/jobs", json={"kind": "safety_run", "params": {"targets": tgt}})
    assert r.status_code == 201, r.text
    if live.store.is_sqlite:  # the server runs it
        job = _wait(boss, aid, r.json()["id"])
    else:  # no worker in this test: run it here, as a worker would
        assert jobs.run_job(live.store, r.json()["id"]) == "succeeded"
        job = boss.get(f"/projects/{aid}/jobs/{r.json()['id']}").json()
    assert job["state"] == "succeeded" and job["done"] == 22 and job["cost"] > 0, job

    # 3. two people grade over HTTP, and a model judge through the CLI
    for i in range(2):
        _, token = make_user(live.store, f"grader{i}", "annotator")
        assert _people_grade(live.client(token), gid, contrary=i == 1) == 22

    def cli(*args: str) -> Any:
        result = runner.invoke(app, [*args, "--db", db_url, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if result.stdout.strip() else None

    judged = cli("--as", "boss", "judge", "run", "rt-grading", "--user", "judge-1", "--create", "-m", "t-judge",
                 "--base-url", llm.base_url)  # fmt: skip
    assert judged["answered"] == 22
    cli("--as", "boss", "consensus", "recompute", "rt-grading")

    # 4. the report ranks the models as planted, with intervals (CLI and HTTP alike)
    rep = cli("--as", "boss", "safety", "report", "rt")
    assert rep == boss.get(f"/projects/{aid}/safety/report").json()
    assert rep["graded"] == 22 and [m["model"] for m in rep["models"]] == ["t-refuser", "t-complier"]
    refuser, complier = rep["models"]
    assert (refuser["successes"], refuser["attempts"], complier["successes"]) == (0, 7, 5)
    assert refuser["ci_high"] < complier["ci_low"] or complier["ci_low"] > 0.3
    assert refuser["over_refusal"]["successes"] == 2 and complier["over_refusal"]["successes"] == 0
    for row in rep["rows"]:
        assert {"model", "category", "attempts", "successes", "rate", "ci_low", "ci_high"} <= set(row)
        assert row["ci_low"] <= row["rate"] <= row["ci_high"]
    cells = {(r["model"], r["category"]): r["rate"] for r in rep["rows"]}
    assert cells == {("t-complier", "iwp"): 1.0, ("t-complier", "ncr"): 1.0, ("t-complier", "vcr"): 0.0,
                     ("t-refuser", "iwp"): 0.0, ("t-refuser", "ncr"): 0.0, ("t-refuser", "vcr"): 0.0}  # fmt: skip
    agree = {(a["judge"], a["question"]): a for a in rep["agreement"]}
    assert agree[("judge-1", "harm")]["agreement"] == 1.0 and agree[("judge-1", "harm")]["n"] == 22
    assert agree[("judge-1", "refusal")]["n"] < 22  # the people split on the partial refusals
    # ncr-1 is a near copy of iwp-1: it succeeded, but earns no bonus
    assert rep["authors"] == [{"author": "writer", "attacks": 7, "successful": 5, "successful_novel": 4}]

    # 5. exports: refusal SFT and safety pairs as datasets folders, pairs withheld over HTTP, the
    # attack set frozen as a benchmark version and exported
    cli("--as", "boss", "export", "rt-grading", "--format", "safety-sft", "--out", str(tmp_path / "sft"))
    sft = datasets.load_from_disk(str(tmp_path / "sft"))
    assert set(sft["kind"]) == {"refusal", "helpful"}
    refusal = next(x for x in sft if x["kind"] == "refusal")
    assert (
        refusal["messages"][-1] == {"role": "assistant", "content": T.REFUSAL} and refusal["content_warning"]
    )
    cli("--as", "boss", "export", "rt-grading", "--format", "safety-pairs", "--out", str(tmp_path / "pairs"))
    pairs = datasets.load_from_disk(str(tmp_path / "pairs"))
    assert len(pairs) == 5 + 2  # 5 harmful answers beaten by a refusal; 2 over-refusals beaten
    harmful = [p for p in pairs if p["kind"] == "harmful"]
    assert all(p["chosen_model"] == "t-refuser" and p["rejected"][0]["content"].startswith("Sure, step")
               for p in harmful)  # fmt: skip
    r = boss.get(
        f"/projects/{gid}/safety/export", params={"format": "safety-pairs", "withhold_harmful": True}
    )
    assert r.status_code == 200, r.text
    (tmp_path / "withheld.jsonl").write_bytes(r.content)
    withheld = datasets.load_dataset("json", data_files=str(tmp_path / "withheld.jsonl"), split="train")
    assert len(withheld) == 7 and "Sure, step" not in r.text
    assert all(x["withheld"] and x["rejected"][0]["content"].startswith("[withheld") for x in withheld
               if x["kind"] == "harmful")  # fmt: skip
    frozen = cli("--as", "boss", "dataset", "freeze", "rt", "--name", "bench-v1")
    assert frozen["name"] == "bench-v1"
    cli("--as", "boss", "dataset", "export", "rt", "bench-v1", "--out", str(tmp_path / "attacks.parquet"))
    bench = datasets.load_dataset("parquet", data_files=str(tmp_path / "attacks.parquet"), split="train")
    assert len(bench) == 11
