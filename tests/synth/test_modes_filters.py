"""Synthesis modes (instructions, rewrites, critiques), the language, rule and frozen-benchmark
filters, judge scores as suggestions, the teacher cap across runs, a retried job that pays for no
call twice, and the diversity report (distinct-n, embedding spread, clusters, topics) per run and
per frozen version; on both databases, teachers over real HTTP."""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any

import pytest

from assay.domain.errors import NotFound, ValidationError
from assay.services import evaluation, generation, imports, jobs, synthesis
from assay.services.actors import SYSTEM
from assay.services.exports import iter_export_rows
from assay.services.synthesis import synth_schema
from assay.store.engine import Store
from tests.factories import TEXT_SCHEMA, make_project
from tests.rlhf.fake_llm import FakeLLM
from tests.synth import teachers as T

SPANISH = "La respuesta corta es que el agua hierve a cien grados cuando la presión es la del nivel del mar."


def teacher(llm: FakeLLM, name: str, **kw: Any) -> dict[str, Any]:
    return {"type": "openai", "model": name, "base_url": llm.base_url, "price": [1.0, 2.0], **kw}


def prompts(*topics: int) -> list[dict[str, Any]]:
    return [{"id": f"q{i}", "prompt": f"Explain topic {i} in plain words."} for i in topics]


def _rows(store: Store, project_id: int) -> list[dict[str, Any]]:
    with store.read() as conn:
        return list(iter_export_rows(conn, project_id))


def _run(store: Store, pid: int, params: dict[str, Any]) -> dict[str, Any]:
    job = jobs.enqueue(store, SYSTEM, pid, "synth", {"embedder": "hashing", **params}, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded", jobs.get_job(store, SYSTEM, job["id"])
    res: dict[str, Any] = jobs.get_job(store, SYSTEM, job["id"])["result"]
    return res


def _job_count(store: Store, pid: int) -> int:
    return len(jobs.list_jobs(store, SYSTEM, pid, limit=1000))


def _any_prompt(model: str, prompt: str) -> str:
    """The planted teachers for "Explain topic N"; any other prompt a text of its own per teacher."""
    return T.answerer(model, prompt) or T.answer_text(model, 1000 + zlib.crc32(prompt.encode()) % 100_000)


def test_instructions_rewrites_and_critiques(store: Store, llm: FakeLLM) -> None:
    llm.answerer = _any_prompt
    teachers = [teacher(llm, "t-alpha"), teacher(llm, "t-beta")]
    p = generation.ensure_project(store, SYSTEM, "modes", synth_schema("modes"))
    res = _run(store, p["id"], {"mode": "instructions", "teachers": teachers, "prompts": prompts(10, 11)})
    assert res["mode"] == "instructions" and res["accepted"] == 4
    rows = _rows(store, p["id"])
    for r in rows:
        lin = r["metadata"]["synth"]
        assert (
            lin["mode"] == "instructions"
            and lin["input"] == f"Explain topic {lin['prompt_id'][1:]} in plain words."
        )
        assert r["fields"]["prompt"] == synthesis.TASKS["instructions"].replace("{{input}}", lin["input"])
        assert lin["task_template"] == synthesis.TASKS["instructions"]
    # the instructions a run wrote are the prompts of the next one (answers, from the project)
    answers = generation.ensure_project(store, SYSTEM, "answers", synth_schema("answers"))
    res = _run(store, answers["id"], {"teachers": teachers, "from_project": "modes", "field": "response"})
    assert res["prompts"] == 4 and res["generated"] == 8

    rw = generation.ensure_project(store, SYSTEM, "rewrites", synth_schema("rewrites"))
    res = _run(store, rw["id"], {"mode": "rewrites", "teachers": teachers, "prompts": prompts(12),
                                 "task_template": "Make this shorter: {{input}}"})  # fmt: skip
    assert {r["fields"]["prompt"] for r in _rows(store, rw["id"])} == {
        "Make this shorter: Explain topic 12 in plain words."
    }

    cr = generation.ensure_project(store, SYSTEM, "critiques", synth_schema("critiques"))
    items = [
        {**x, "answer": f"An answer about topic {i}"} for i, x in zip((13, 14), prompts(13, 14), strict=True)
    ]
    res = _run(store, cr["id"], {"mode": "critiques", "teachers": teachers, "prompts": items})
    assert res["accepted"] == 4
    row = next(r for r in _rows(store, cr["id"]) if r["metadata"]["synth"]["prompt_id"] == "q13")
    assert "Question: Explain topic 13 in plain words." in row["fields"]["prompt"]
    assert "Answer: An answer about topic 13" in row["fields"]["prompt"]
    assert row["metadata"]["synth"]["answer"] == "An answer about topic 13"
    # critiques of a project's answers: its prompt and response fields
    res = _run(store, cr["id"], {"mode": "critiques", "teachers": teachers, "from_project": "answers",
                                 "cap_scope": "run"})  # fmt: skip
    assert res["prompts"] == 8

    # bad input names its place and queues nothing
    before = _job_count(store, cr["id"])
    for bad, field in [
        ({"prompts": [items[0], prompts(15)[0]]}, "params.prompts.1.answer"),
        ({"task_template": "Critique {{answer}}"}, "params.task_template"),
        ({"task_template": "Critique {{input}} for {{whom}}"}, "params.task_template"),
        ({"mode": "answers", "task_template": "x {{input}}"}, "params.task_template"),
        ({"mode": "summaries"}, "params.mode"),
    ]:
        with pytest.raises(ValidationError) as e:
            jobs.enqueue(store, SYSTEM, cr["id"], "synth",
                         {"mode": "critiques", "teachers": teachers, "prompts": items, **bad}, submit=False)  # fmt: skip
        assert e.value.field == field, (bad, e.value)
    assert _job_count(store, cr["id"]) == before


def _answerer(model: str, prompt: str) -> str | None:
    if prompt.startswith("Rate the answer"):
        return "Score: 9" if "by t-alpha" in prompt else "I would say 3 out of 10."
    m = re.search(r"Explain topic (\d+)", prompt)
    if m and model == "t-beta" and int(m.group(1)) == 21:
        return SPANISH
    if m and model == "t-alpha" and int(m.group(1)) == 22:
        return "As an AI language model, I cannot explain topic 22."
    return T.answerer(model, prompt)


def test_language_rules_and_judge_suggestions(store: Store, llm: FakeLLM) -> None:
    llm.answerer = _answerer
    p = generation.ensure_project(store, SYSTEM, "checked", synth_schema("checked"))
    rules = [{"name": "refusal", "pattern": "(?i)as an ai language model"},
             {"name": "topic-23", "pattern": "^Topic 23 by", "action": "flag"}]  # fmt: skip
    res = _run(store, p["id"], {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")],
                                "prompts": prompts(20, 21, 22, 23), "languages": ["en"], "rules": rules,
                                "judge": teacher(llm, "t-judge"), "cap_scope": "run", "max_share": 1.0})  # fmt: skip
    assert res["removed"]["language"] == 1 and res["removed"]["rules"] == 1 and res["accepted"] == 6
    assert res["judge"]["model"] == "t-judge" and res["judge"]["scored"] == 6 and res["judge"]["failed"] == 0
    rows = {
        (r["metadata"]["synth"]["prompt_id"], r["metadata"]["synth"]["teacher"]): r
        for r in _rows(store, p["id"])
    }
    assert ("q21", "t-beta") not in rows and ("q22", "t-alpha") not in rows
    assert rows[("q20", "t-alpha")]["metadata"]["synth"]["languages"] == ["en"]
    # judge scores are suggestions on the verdict (a model's answer never verifies)
    s = rows[("q20", "t-alpha")]["suggestions"]
    assert [(x["question"], x["value"], x["score"], x["model"]) for x in s] == [
        ("verdict", "accept", 0.9, "t-judge")
    ]
    assert rows[("q20", "t-beta")]["suggestions"][0]["value"] == "reject"
    assert rows[("q20", "t-beta")]["metadata"]["synth"]["judge_score"] == 3
    # a flag rule suggests reject and keeps the item
    flagged = rows[("q23", "t-alpha")]
    assert flagged["metadata"]["synth"]["flags"] == ["topic-23"]
    assert (
        flagged["suggestions"][0]["model"] == "rules:topic-23"
        and flagged["suggestions"][0]["value"] == "reject"
    )
    before = _job_count(store, p["id"])
    base = {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")], "prompts": prompts(1)}
    for bad, field in [
        ({"languages": ["english"]}, "params.languages.0"),
        ({"rules": [{"pattern": "(unclosed"}]}, "params.rules.0.pattern"),
        ({"rules": [{"pattern": "x", "action": "delete"}]}, "params.rules.0.action"),
        ({"judge": {"type": "openai"}}, "params.judge"),
        ({"embedder": "bert"}, "params.embedder"),
        ({"cap_scope": "workspace"}, "params.cap_scope"),
    ]:
        with pytest.raises(ValidationError) as e:
            jobs.enqueue(store, SYSTEM, p["id"], "synth", {**base, **bad}, submit=False)
        assert e.value.field == field, (bad, e.value)
    assert _job_count(store, p["id"]) == before


def test_contamination_against_a_frozen_benchmark_version(store: Store, llm: FakeLLM) -> None:
    bench = make_project(store, {**TEXT_SCHEMA, "name": "golden"})
    leak = T.answer_text("t-beta", T.LEAK)
    imports.import_rows(
        store, SYSTEM, bench["id"], enumerate([{"id": "g1", "text": f"Benchmark item: {leak}"}], 1)
    )
    frozen = evaluation.freeze_version(
        store, SYSTEM, "golden", name="v1", home=synthesis.instance_home(store)
    )
    # added after the freeze: not a benchmark item of v1
    later = T.answer_text("t-alpha", 6)
    imports.import_rows(store, SYSTEM, bench["id"], enumerate([{"id": "g2", "text": later}], 1))
    p = generation.ensure_project(store, SYSTEM, "clean", synth_schema("clean"))
    base = {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")], "prompts": prompts(6, 7),
            "cap_scope": "run", "max_share": 1.0}  # fmt: skip
    res = _run(store, p["id"], {**base, "eval_sets": ["golden@v1"]})
    assert res["removed"]["contamination"] == 1 and res["accepted"] == 3
    assert res["eval_sets"]["golden@v1"].startswith("sha256:")
    kept = {
        (r["metadata"]["synth"]["prompt_id"], r["metadata"]["synth"]["teacher"])
        for r in _rows(store, p["id"])
    }
    assert ("q7", "t-beta") not in kept and ("q6", "t-alpha") in kept
    for bad in (["golden@v9"], ["no-such-benchmark@v1"]):
        with pytest.raises(NotFound) as e:
            jobs.enqueue(store, SYSTEM, p["id"], "synth", {**base, "eval_sets": bad}, submit=False)
        assert e.value.field == "params.eval_sets.0"
    # the benchmark edited since the freeze: the check reads the items as frozen
    imports.import_rows(store, SYSTEM, bench["id"], [(1, {"external_id": "g1", "text": "changed"})])
    p2 = generation.ensure_project(store, SYSTEM, "clean2", synth_schema("clean2"))
    res = _run(store, p2["id"], {**base, "eval_sets": ["golden@v1"]})
    assert res["removed"]["contamination"] == 1 and res["eval_sets"] == {"golden@v1": frozen["content_hash"]}
    # the project as it is now: the leak is gone, the later item is there
    p3 = generation.ensure_project(store, SYSTEM, "clean3", synth_schema("clean3"))
    res = _run(store, p3["id"], {**base, "eval_sets": ["golden"]})
    assert res["removed"]["contamination"] == 1 and res["eval_sets"] == {"golden": None}
    kept = {
        (r["metadata"]["synth"]["prompt_id"], r["metadata"]["synth"]["teacher"])
        for r in _rows(store, p3["id"])
    }
    assert ("q7", "t-beta") in kept and ("q6", "t-alpha") not in kept


def test_the_teacher_cap_holds_across_runs(store: Store, llm: FakeLLM) -> None:
    p = generation.ensure_project(store, SYSTEM, "capped", synth_schema("capped"))
    first = _run(store, p["id"], {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")],
                                  "prompts": prompts(*range(10, 16))})  # fmt: skip
    assert first["accepted"] == 12 and first["removed"]["teacher_cap"] == 0
    three = [teacher(llm, "t-alpha"), teacher(llm, "t-gamma"), teacher(llm, "t-delta")]
    second = {"teachers": three, "prompts": prompts(*range(20, 26)), "max_share": 0.35}
    res = _run(store, p["id"], second)
    # alpha: 6 earlier + 6 new of 30 = 0.4 > 0.35; dropping 3 of its new answers gives 9 / 27
    assert res["removed"]["teacher_cap"] == 3 and res["accepted"] == 15
    assert res["diversity"]["project_teacher_shares"]["t-alpha"] == round(9 / 27, 4)
    assert res["diversity"]["teacher_shares"]["t-alpha"] == 0.2
    counts: dict[str, int] = {}
    for r in _rows(store, p["id"]):
        counts[r["metadata"]["synth"]["teacher"]] = counts.get(r["metadata"]["synth"]["teacher"], 0) + 1
    assert counts["t-alpha"] / sum(counts.values()) <= 0.35
    # within the run only, nothing is over 0.35
    other = generation.ensure_project(store, SYSTEM, "capped2", synth_schema("capped2"))
    _run(store, other["id"], {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")],
                              "prompts": prompts(*range(10, 16))})  # fmt: skip
    res = _run(store, other["id"], {**second, "cap_scope": "run"})
    assert res["removed"]["teacher_cap"] == 0 and res["accepted"] == 18


def test_a_retried_run_pays_for_no_call_twice(
    store: Store, llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    p = generation.ensure_project(store, SYSTEM, "retried", synth_schema("retried"))
    params = {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")], "prompts": prompts(*range(30, 35)),
              "embedder": "hashing", "seed": 5}  # fmt: skip
    job = jobs.enqueue(store, SYSTEM, p["id"], "synth", params, submit=False)
    real = synthesis.import_rows
    failures = iter([RuntimeError("the database went away")])

    def flaky(*args: Any, **kw: Any) -> Any:
        for e in failures:
            raise e
        return real(*args, **kw)

    monkeypatch.setattr(synthesis, "import_rows", flaky)
    assert jobs.run_job(store, job["id"]) == "retry"
    assert llm.calls == 10 and _rows(store, p["id"]) == []
    kept = synthesis.instance_home(store) / "cache" / "synth-runs" / f"job-{job['id']}.sqlite"
    assert kept.is_file()  # what the failed attempt paid for
    if not store.is_sqlite:  # beside a SQLite database, else in $ASSAY_HOME
        assert kept.parent == (home / "cache" / "synth-runs").resolve()
    paid = jobs.get_job(store, SYSTEM, job["id"])["cost"]
    assert paid > 0
    assert jobs.run_job(store, job["id"]) == "succeeded"
    done = jobs.get_job(store, SYSTEM, job["id"])
    assert llm.calls == 10  # every answer came from the run's cache
    assert done["result"]["cached_calls"] == 10 and done["cost"] == paid
    rows = _rows(store, p["id"])
    assert len(rows) == 10 and all(r["metadata"]["synth"]["cached"] for r in rows)
    assert not kept.exists()  # a run that succeeded keeps no cache
    # another run of the same prompts asks the teachers again (fresh samples)
    again = _run(store, p["id"], params)
    assert llm.calls == 20 and again["cached_calls"] == 0


def test_the_diversity_report_per_run_and_per_frozen_version(store: Store, llm: FakeLLM) -> None:
    p = generation.ensure_project(store, SYSTEM, "diverse", synth_schema("diverse"))
    items = [
        {**x, "topic": "even" if i % 2 == 0 else "odd"}
        for i, x in zip(range(40, 48), prompts(*range(40, 48)), strict=True)
    ]
    res = _run(store, p["id"], {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")], "prompts": items,
                                "embedder": "minilm", "seed": 1})  # fmt: skip
    div = res["diversity"]
    assert 0 < div["distinct_1"] < div["distinct_2"] <= div["distinct_3"] <= 1
    emb = div["embedding"]
    assert emb["model"] == "minilm" and emb["sampled"] == 16 and 0 < emb["spread"] < 1
    assert sum(emb["cluster_sizes"]) == 16 and emb["clusters"] == len(emb["cluster_sizes"]) <= 8
    assert 0 < emb["cluster_balance"] <= 1 and emb["prompt_coverage"] == 1.0
    assert div["topics"] == {"even": 8, "odd": 8}
    frozen = evaluation.freeze_version(
        store, SYSTEM, "diverse", name="v1", home=synthesis.instance_home(store)
    )
    _run(
        store,
        p["id"],
        {"teachers": [teacher(llm, "t-alpha"), teacher(llm, "t-beta")], "prompts": prompts(50, 51)},
    )
    now = synthesis.project_report(store, SYSTEM, "diverse", embedder="hashing")
    v1 = synthesis.project_report(store, SYSTEM, "diverse", version="v1", embedder="hashing")
    assert now["records"] == 20 and v1["records"] == 16 and now["version"] is None
    assert v1["version"] == {"name": "v1", "content_hash": frozen["content_hash"], "records": 16}
    assert v1["topics"] == {"even": 8, "odd": 8} and v1["embedding"]["model"] == "hashing"
    assert [r["mode"] for r in now["runs"]] == ["answers", "answers"]
    with pytest.raises(NotFound):
        synthesis.project_report(store, SYSTEM, "diverse", version="v7")
    with pytest.raises(ValidationError):
        synthesis.project_report(store, SYSTEM, "diverse", embedder="bert")
    # the version is its frozen content: an edit of the project since changes nothing in it
    rec = _rows(store, p["id"])[0]
    imports.import_rows(
        store,
        SYSTEM,
        p["id"],
        [(1, {"external_id": rec["external_id"], "fields": {**rec["fields"], "response": "changed"}})],
    )
    again = synthesis.project_report(store, SYSTEM, "diverse", version="v1", embedder="hashing")
    assert again["distinct_2"] == v1["distinct_2"] and again["version"] == v1["version"]
    assert (
        synthesis.project_report(store, SYSTEM, "diverse", embedder="none")["distinct_2"] != v1["distinct_2"]
    )
