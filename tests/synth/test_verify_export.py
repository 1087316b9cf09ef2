"""People verify synthetic items through normal dispatch (accept, edit, reject); training exports
state each example's origin, teacher and verifiers, cap the synthetic share and print the shares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from assay.cli.main import app
from assay.services import (
    blind,
    datacard,
    dispatch,
    evaluation,
    generation,
    imports,
    jobs,
    records,
    synthesis,
    training_exports,
)
from assay.services.actors import SYSTEM, Actor
from assay.services.exports import iter_export_rows
from assay.services.synthesis import synth_schema
from assay.services.training_exports import TrainingOptions, cap_synthetic
from assay.store.engine import Store
from tests.api.conftest import Live
from tests.factories import make_user
from tests.rlhf.fake_llm import FakeLLM
from tests.synth.test_synth import PROMPTS, teacher

runner = CliRunner()


def _synth(store: Store, llm: FakeLLM, name: str, n: int, *, pairs: bool = False) -> dict[str, Any]:
    p = generation.ensure_project(store, SYSTEM, name, synth_schema(name, pairs=pairs))
    params = {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")], "prompts": PROMPTS[:n],
              "mode": "pairs" if pairs else "answers"}  # fmt: skip
    job = jobs.enqueue(store, SYSTEM, p["id"], "synth", params, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    return p


def _verify(store: Store, who: Actor, project: str, values: list[dict[str, Any]]) -> dict[str, str]:
    """``who`` answers the next leases with ``values`` in turn; returns external id → verdict."""
    out = {}
    for v in values:
        a = dispatch.next_assignment(store, who, project)
        assert a is not None
        value = dict(v)
        if "preference" in value:  # choose the letter shown for the named teacher
            shown = blind.reveal(store, int(a["assignment_id"]))["candidates"]
            value["preference"] = {"choice": next(k for k, c in shown.items() if c["id"] == v["preference"])}
        dispatch.submit_response(store, who, a["assignment_id"], value, duration_ms=500)
        out[records.get_record(store, SYSTEM, int(a["record"]["id"]))["external_id"]] = v["verdict"]
    return out


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_verified_edited_rejected_items_and_the_synthetic_share(store: Store, db_url: str, llm: FakeLLM,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    _synth(store, llm, "answers", 3)
    imports.import_rows(store, SYSTEM, "answers", enumerate(
        [{"id": "h1", "prompt": "Say hi.", "response": "Hi! A person wrote this."}], 1))  # fmt: skip
    ann, _ = make_user(store, "verifier")
    verdicts = _verify(store, ann, "answers", [
        {"verdict": "accept"}, {"verdict": "edit", "rewrite": "Corrected by a person."}, {"verdict": "reject"}])  # fmt: skip
    out = tmp_path / "sft.jsonl"
    assert (
        training_exports.export_training(store, SYSTEM, "answers", out, "sft") == 6
    )  # 7 records, 1 rejected
    rows = _lines(out)
    by_origin: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_origin.setdefault(r["origin"], []).append(r)
    assert {k: len(v) for k, v in by_origin.items()} == {
        "human": 1,
        "synthetic-verified": 2,
        "synthetic-unverified": 3,
    }
    assert by_origin["human"][0]["teacher"] is None
    assert by_origin["human"][0]["messages"][-1]["content"] == "Hi! A person wrote this."
    answers = {r["messages"][-1]["content"] for r in by_origin["synthetic-verified"]}
    assert "Corrected by a person." in answers
    assert all(r["verified_by"] == ["verifier"] for r in by_origin["synthetic-verified"])
    assert all(r["teacher"] in ("t-alpha", "t-beta") for r in rows if r["origin"] != "human")
    assert all(r["verified_by"] == [] for r in by_origin["synthetic-unverified"])
    assert len([v for v in verdicts.values() if v == "reject"]) == 1

    # the cap: synthetic at most half, verified kept first
    report = training_exports.export_training_report(
        store, SYSTEM, "answers", out, "sft", TrainingOptions(max_synthetic_share=0.5)
    )
    assert (report.rows, report.capped) == (2, 4)
    assert report.origins == {"human": 1, "synthetic-verified": 1}
    assert report.shares() == {"human": 0.5, "synthetic-verified": 0.5}
    # the diversity of the synthetic answers the file holds
    assert report.diversity["synthetic_answers"] == 1 and report.diversity["distinct_1"] is not None
    assert report.to_dict()["diversity"] == report.diversity and "distinct-2" in report.summary()
    # the data card states the synthetic data's teachers and diversity
    card, figures = datacard.datacard(store, SYSTEM, "answers")
    assert figures["synthetic"]["teacher_shares"] == {"t-alpha": 0.5, "t-beta": 0.5}
    assert "## Synthetic data" in card and "| t-alpha | 50.0 % |" in card and "Distinct-1 / 2 / 3" in card
    # and in the terminal
    result = runner.invoke(app, ["export", "answers", "--out", str(tmp_path / "c.jsonl"), "--format", "sft",
                                 "--max-synthetic-share", "0.75", "--db", db_url])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "human 25.0 %, synthetic-verified 50.0 %, synthetic-unverified 25.0 %" in result.output
    assert "teachers:" in result.output and "2 synthetic examples left out by the share cap" in result.output


def test_dpo_pairs_from_two_teachers_state_the_chosen_teacher(
    store: Store, llm: FakeLLM, tmp_path: Path
) -> None:
    _synth(store, llm, "pairs", 3, pairs=True)
    ann, _ = make_user(store, "verifier")
    _verify(store, ann, "pairs", [{"verdict": "accept", "preference": "t-beta"},
                                  {"verdict": "reject", "preference": "t-alpha"}])  # fmt: skip
    out = tmp_path / "dpo.jsonl"
    assert training_exports.export_training(store, SYSTEM, "pairs", out, "dpo") == 1
    (row,) = _lines(out)
    assert row["origin"] == "synthetic-verified" and row["teacher"] == "t-beta"
    assert row["chosen"].startswith("Topic") and " by t-beta" in row["chosen"]
    assert row["verified_by"] == ["verifier"]


def test_cap_synthetic_keeps_order_and_verified_first() -> None:
    ex = [{"origin": o, "n": i} for i, o in enumerate(
        ["synthetic-unverified", "human", "synthetic-verified", "synthetic-unverified", "human", "synthetic-verified"])]  # fmt: skip
    kept, dropped = cap_synthetic(ex, 0.5)
    assert [e["n"] for e in kept] == [1, 2, 4, 5] and dropped == 2
    assert cap_synthetic(ex, 0.0)[1] == 4 and cap_synthetic(ex, 1.0)[1] == 0


def test_the_diversity_report_in_the_service_the_terminal_and_over_http(
    live: Live, db_url: str, llm: FakeLLM
) -> None:
    store = live.store
    p = _synth(store, llm, "report", 6)
    ann, _ = make_user(store, "verifier")
    _verify(store, ann, "report", [{"verdict": "accept"}, {"verdict": "reject"}])
    rep = synthesis.project_report(store, SYSTEM, "report")
    # 12 answers, beta's q3 (an exact copy) and q5 (a near copy) removed, the cap 4 + 4
    assert rep["records"] == 8 and rep["answers"] == 8
    assert rep["origins"] == {"synthetic-verified": 1, "rejected": 1, "synthetic-unverified": 6}
    assert rep["teacher_shares"] == {"t-alpha": 0.5, "t-beta": 0.5}
    assert rep["near_duplicate_rate"] == 0.0 and 0 < rep["distinct_1"] < rep["distinct_2"] <= 1
    (run,) = rep["runs"]
    assert run["generated"] == 12 and run["accepted"] == 8
    assert run["removed"]["exact_duplicate"] == 1 and run["removed"]["near_duplicate"] == 1
    assert run["diversity"]["near_duplicate_rate"] == round(2 / 12, 4)
    _, token = make_user(store, "lead", role="manager")
    got = live.client(token).get(f"/projects/{p['id']}/synthetic")
    assert got.status_code == 200 and got.json()["origins"] == rep["origins"]
    # of a frozen version, over HTTP; an unknown version or embedder is refused
    assert live.home is not None
    evaluation.freeze_version(store, SYSTEM, "report", name="v1", home=live.home)
    got = live.client(token).get(
        f"/projects/{p['id']}/synthetic", params={"version": "v1", "embedder": "hashing"}
    )
    assert got.status_code == 200 and got.json()["version"]["records"] == 8
    assert got.json()["embedding"]["model"] == "hashing"
    assert (
        live.client(token).get(f"/projects/{p['id']}/synthetic", params={"version": "v9"}).status_code == 404
    )
    assert (
        live.client(token).get(f"/projects/{p['id']}/synthetic", params={"embedder": "bert"}).status_code
        == 422
    )
    _, atoken = make_user(store, "someone")
    assert live.client(atoken).get(f"/projects/{p['id']}/synthetic").status_code == 403
    text = runner.invoke(app, ["synth-report", "report", "--db", db_url])
    assert text.exit_code == 0, text.output
    assert "teacher shares: t-alpha 50.0 %, t-beta 50.0 %" in text.output
    assert "removed exact_duplicate 1, near_duplicate 1, teacher_cap 2" in text.output


def test_kto_and_rm_rows_state_origin_and_teacher(store: Store, llm: FakeLLM, tmp_path: Path) -> None:
    _synth(store, llm, "pairs3", 2, pairs=True)
    ann, _ = make_user(store, "verifier")
    _verify(store, ann, "pairs3", [{"verdict": "accept", "preference": "t-alpha"}])
    for fmt in ("kto", "rm"):
        out = tmp_path / f"{fmt}.jsonl"
        training_exports.export_training(store, SYSTEM, "pairs3", out, fmt)
        rows = _lines(out)
        assert rows and all(r["origin"] == "synthetic-verified" for r in rows)
        if fmt == "rm":
            assert [r["teacher"] for r in rows] == ["t-alpha"]
        else:
            assert {(r["label"], r["teacher"]) for r in rows} == {(True, "t-alpha"), (False, "t-beta")}


def test_a_sample_goes_to_people_first(store: Store, llm: FakeLLM) -> None:
    p = generation.ensure_project(store, SYSTEM, "sampled", synth_schema("sampled"))
    params = {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")], "prompts": PROMPTS[:2] + PROMPTS[6:9],
              "verify_sample": 0.4, "seed": 3}  # fmt: skip
    assert (
        jobs.run_job(store, jobs.enqueue(store, SYSTEM, p["id"], "synth", params, submit=False)["id"])
        == "succeeded"
    )
    with store.read() as conn:
        rows = list(iter_export_rows(conn, p["id"]))
    sampled = {r["external_id"] for r in rows if r["metadata"]["synth"]["sampled"]}
    assert len(rows) == 10 and len(sampled) == 4
    assert all(r["priority"] == (1 if r["external_id"] in sampled else 0) for r in rows)
    ann, _ = make_user(store, "verifier")
    got = set(_verify(store, ann, "sampled", [{"verdict": "accept"}] * 4))
    assert got == sampled
