"""Synthesis runs on both databases: two teachers over HTTP, planted duplicates, near-duplicates,
contamination and a short answer removed, the teacher cap held, lineage on every record, and the
two-teacher rule (its override recorded in the audit log)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from assay.domain.errors import ValidationError
from assay.services import generation, imports, jobs
from assay.services.actors import SYSTEM
from assay.services.exports import iter_export_rows
from assay.services.synthesis import cap_items, synth_schema
from assay.store.engine import Store
from assay.store.tables import events
from tests.factories import TEXT_SCHEMA, make_project
from tests.rlhf.fake_llm import FakeLLM
from tests.synth import teachers as T

PROMPTS = [{"id": f"q{i}", "prompt": f"Explain topic {i} in plain words."} for i in range(10)]


def teacher(llm: FakeLLM, name: str, **kw: Any) -> dict[str, Any]:
    return {"type": "openai", "model": name, "base_url": llm.base_url, "price": [1.0, 2.0],
            "params": {"temperature": 0.7}, **kw}  # fmt: skip


def _rows(store: Store, project_id: int) -> list[dict[str, Any]]:
    with store.read() as conn:
        return list(iter_export_rows(conn, project_id))


def _eval_project(store: Store) -> dict[str, Any]:
    p = make_project(store, {**TEXT_SCHEMA, "name": "golden"})
    leak = T.answer_text("t-beta", T.LEAK)
    rows = [{"id": "g1", "text": f"Benchmark item: {leak}"}, {"id": "g2", "text": "unrelated words here"}]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    return p


def test_two_teachers_filters_cap_and_lineage(store: Store, llm: FakeLLM) -> None:
    _eval_project(store)
    p = generation.ensure_project(store, SYSTEM, "synth", synth_schema("synth"))
    params = {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")], "prompts": PROMPTS,
              "min_chars": 10, "eval_sets": ["golden"], "seed": 7, "max_share": 0.5}  # fmt: skip
    job = jobs.enqueue(store, SYSTEM, p["id"], "synth", params, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    done = jobs.get_job(store, SYSTEM, job["id"])
    res = done["result"]
    assert res["generated"] == 20
    assert res["removed"] == {"length": 1, "language": 0, "rules": 0, "contamination": 1, "exact_duplicate": 1,
                              "near_duplicate": 1, "pair_identical": 0, "teacher_cap": 2}  # fmt: skip
    assert res["accepted"] == 14
    assert res["diversity"]["teacher_shares"] == {"t-alpha": 0.5, "t-beta": 0.5}
    assert res["diversity"]["near_duplicate_rate"] == 0.1
    assert 0 < res["diversity"]["distinct_1"] < res["diversity"]["distinct_2"] <= 1
    assert res["seed"] == 7 and done["cost"] > 0 and res["cost"]["t-alpha"] > 0
    rows = _rows(store, p["id"])
    assert len(rows) == 14
    by_teacher: dict[str, int] = {}
    for r in rows:
        lin = r["metadata"]["synth"]
        by_teacher[lin["teacher"]] = by_teacher.get(lin["teacher"], 0) + 1
        assert lin["run"] == job["id"] and lin["seed"] == 7 and lin["model"] == lin["teacher"]
        assert lin["params"][lin["teacher"]]["temperature"] == 0.7
        assert lin["params"][lin["teacher"]]["seed"] == 7
        assert r["fields"]["response"].startswith(f"Topic {lin['prompt_id'][1:]} by {lin['teacher']}")
    assert by_teacher == {"t-alpha": 7, "t-beta": 7}
    ids = {(r["metadata"]["synth"]["prompt_id"], r["metadata"]["synth"]["teacher"]) for r in rows}
    # the planted cases are gone; the cap dropped alpha's latest answers (q7, q8)
    assert not ids & {("q3", "t-beta"), ("q5", "t-beta"), ("q7", "t-beta"), ("q9", "t-alpha")}
    assert not ids & {("q7", "t-alpha"), ("q8", "t-alpha")}
    # the seed went to every call
    assert all(b.get("seed") == 7 for b in llm.bodies)

    # a second run of the same prompts finds every answer already in the project
    again = jobs.enqueue(store, SYSTEM, p["id"], "synth", {**params, "eval_sets": []}, submit=False)
    assert jobs.run_job(store, again["id"]) == "succeeded"
    res2 = jobs.get_job(store, SYSTEM, again["id"])["result"]
    # new: alpha's q7 and q8 (capped before) and beta's q7 (no evaluation set now); the cap keeps 1 + 1
    assert res2["accepted"] == 2 and res2["removed"]["teacher_cap"] == 1
    assert res2["removed"]["exact_duplicate"] == 15 and res2["removed"]["near_duplicate"] == 1


def test_the_two_teacher_rule_and_its_recorded_override(store: Store, llm: FakeLLM) -> None:
    p = generation.ensure_project(store, SYSTEM, "solo", synth_schema("solo"))
    one = {"teachers": [teacher(llm, "t-alpha")], "prompts": PROMPTS[:3]}
    with pytest.raises(ValidationError, match="at least two teachers"):
        jobs.enqueue(store, SYSTEM, p["id"], "synth", one, submit=False)
    with store.read() as conn:
        assert (
            conn.execute(sa.select(events).where(events.c.action == "synth.single_teacher")).first() is None
        )
    job = jobs.enqueue(store, SYSTEM, p["id"], "synth",
                       {**one, "allow_single_teacher": True, "override_reason": "pilot"}, submit=False)  # fmt: skip
    with store.read() as conn:
        ev = conn.execute(sa.select(events).where(events.c.action == "synth.single_teacher")).one()._mapping
    assert ev["project_id"] == p["id"] and ev["after"] == {"teacher": "t-alpha", "reason": "pilot"}
    assert jobs.run_job(store, job["id"]) == "succeeded"
    assert jobs.get_job(store, SYSTEM, job["id"])["result"]["accepted"] == 3


def test_pairs_from_two_teachers_and_bad_parameters(store: Store, llm: FakeLLM) -> None:
    p = generation.ensure_project(store, SYSTEM, "pairs", synth_schema("pairs", pairs=True))
    params = {"mode": "pairs", "prompts": PROMPTS[:3],
              "teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta"), teacher(llm, "t-gamma")]}  # fmt: skip
    job = jobs.enqueue(store, SYSTEM, p["id"], "synth", params, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    rows = _rows(store, p["id"])
    pairs = [[c["id"] for c in r["fields"]["candidates"]] for r in rows]
    assert pairs == [["t-alpha", "t-beta"], ["t-beta", "t-gamma"], ["t-gamma", "t-alpha"]]
    assert jobs.get_job(store, SYSTEM, job["id"])["result"]["diversity"]["teacher_shares"] == {
        "t-alpha": 0.3333, "t-beta": 0.3333, "t-gamma": 0.3333}  # fmt: skip
    for bad, field in [
        ({"mode": "answers"}, "project"),
        ({"max_share": 0.2}, "params.max_share"),
        ({"teachers": [teacher(llm, "a"), teacher(llm, "a")]}, "params.teachers"),
        ({"prompts": None, "template": "Tell me about {{x}}", "variables": [{"y": 1}]}, "params.variables.0"),
    ]:
        with pytest.raises(ValidationError) as e:
            jobs.enqueue(store, SYSTEM, p["id"], "synth", {**params, **bad}, submit=False)
        assert e.value.field == field


def test_template_variables_become_prompts_with_lineage(store: Store, llm: FakeLLM) -> None:
    p = generation.ensure_project(store, SYSTEM, "tmpl", synth_schema("tmpl"))
    params = {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")],
              "template": "Explain topic {{n}} in plain words, for {{who}}.",
              "variables": [{"n": 1, "who": "a child"}, {"n": 2, "who": "a judge"}]}  # fmt: skip
    job = jobs.enqueue(store, SYSTEM, p["id"], "synth", params, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    rows = _rows(store, p["id"])
    assert len(rows) == 4
    assert {r["fields"]["prompt"] for r in rows} == {
        "Explain topic 1 in plain words, for a child.", "Explain topic 2 in plain words, for a judge."}  # fmt: skip
    assert rows[0]["metadata"]["synth"]["variables"] in params["variables"]
    assert rows[0]["metadata"]["synth"]["template"] == params["template"]


def test_cap_items_keeps_every_teacher_under_its_share() -> None:
    items = [{"teachers": ["a"], "n": i} for i in range(8)] + [{"teachers": ["b"], "n": i} for i in range(3)]
    items.append({"teachers": ["c"], "n": 0})
    dropped = cap_items(items, 0.4)
    # a keeps 2, b keeps 2, c its 1: 40 % each at most; the latest of a and b went
    assert sorted((d["teachers"][0], d["n"]) for d in dropped) == [("a", n) for n in range(2, 8)] + [("b", 2)]
    assert cap_items(items[:4] + items[8:10], 0.5) == [items[3], items[2]]


def test_rule_checks_and_judges_suggest_verdicts_with_the_prelabel_job(store: Store, llm: FakeLLM) -> None:
    p = generation.ensure_project(store, SYSTEM, "checked", synth_schema("checked"))
    params = {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")], "prompts": PROMPTS[:3]}
    assert (
        jobs.run_job(store, jobs.enqueue(store, SYSTEM, p["id"], "synth", params, submit=False)["id"])
        == "succeeded"
    )
    rules = {"type": "rules", "name": "checks", "rules": [
        {"question": "verdict", "field": "response", "pattern": "by t-beta", "value": "reject"}]}  # fmt: skip
    job = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": rules}, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    rows = _rows(store, p["id"])
    flagged = {
        r["metadata"]["synth"]["teacher"] for r in rows for s in r["suggestions"] if s["value"] == "reject"
    }
    assert flagged == {"t-beta"} and sum(len(r["suggestions"]) for r in rows) == 3


def test_pairs_filters_and_dedup_against_another_project(store: Store, llm: FakeLLM) -> None:
    other = make_project(store, {**TEXT_SCHEMA, "name": "older-data"})
    imports.import_rows(
        store, SYSTEM, other["id"], enumerate([{"id": "o1", "text": T.answer_text("t-alpha", 0)}], 1)
    )
    p = generation.ensure_project(store, SYSTEM, "pairs2", synth_schema("pairs2", pairs=True))
    params = {"mode": "pairs", "prompts": PROMPTS[:6], "dedup_against": ["older-data"],
              "teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")]}  # fmt: skip
    job = jobs.enqueue(store, SYSTEM, p["id"], "synth", params, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    res = jobs.get_job(store, SYSTEM, job["id"])["result"]
    # q0: alpha's answer is in older-data; q3: beta copies alpha (the pair says nothing);
    # q5: beta's answer is a near copy of alpha's q4, kept with the q4 pair
    assert res["removed"]["exact_duplicate"] == 1 and res["removed"]["pair_identical"] == 1
    assert res["removed"]["near_duplicate"] == 1 and res["accepted"] == 3
    assert {r["metadata"]["synth"]["prompt_id"] for r in _rows(store, p["id"])} == {"q1", "q2", "q4"}
