"""Generation runs with provenance and caching, and an LLM judge answering through dispatch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from assay.connectors import CallableConnector, OpenAICompatible, ResponseCache
from assay.domain.errors import ValidationError
from assay.domain.schema import ProjectSchema
from assay.services.actors import SYSTEM
from assay.services.exports import iter_export_rows
from assay.services.generation import (
    ModelSpec,
    comparison_schema,
    ensure_project,
    load_prompts,
    prompts_from_project,
    run_generation,
)
from assay.services.judge import (
    DEFAULT_PAIRWISE_TEMPLATE,
    extract_json,
    parse_answer,
    render_template,
    run_judge,
)
from assay.services.leaderboard import leaderboard, position_bias
from assay.store.engine import Store
from assay.store.tables import assignments, records, responses
from tests.factories import make_user
from tests.rlhf.fake_llm import FakeLLM
from tests.rlhf.helpers import MODELS, PRICES, annotate_all, close, specs, write_prompts


def _rows(store: Store, project: str) -> list[dict]:
    with store.read() as conn:
        pid = conn.execute(sa.text("SELECT id FROM projects WHERE name = :n"), {"n": project}).scalar_one()
        return list(iter_export_rows(conn, pid, lineage=True))


def test_generation_run_provenance_cost_and_cache(store: Store, llm: FakeLLM, tmp_path: Path) -> None:
    items = load_prompts(write_prompts(tmp_path / "p.jsonl", 6))
    ensure_project(store, SYSTEM, "gen", comparison_schema("gen"))
    cache_path = tmp_path / "cache.sqlite"
    ss = specs(llm, ResponseCache(cache_path))
    try:
        rep = run_generation(store, SYSTEM, "gen", items, ss, run_name="first")
    finally:
        close(ss)
    assert rep.records == 6 and rep.candidates == 18 and llm.ok_calls == 18 and rep.cached == 0
    rows = _rows(store, "gen")
    assert len(rows) == 6
    row = rows[0]
    assert row["metadata"]["category"] == "writing" and row["metadata"]["reference"] == "Reference answer 0."
    gen = row["metadata"]["generation"]
    assert gen["run"] == "first" and gen["models"] == list(MODELS) and gen["tokens"] > 0
    cands = row["fields"]["candidates"]
    assert [c["model"] for c in cands] == list(MODELS)
    c0 = cands[0]
    assert c0["text"].startswith("model-strong answer (q=3) t=0.7")
    assert c0["params"] == {"temperature": 0.7, "max_tokens": 64} and c0["cached"] is False
    assert c0["generated_at"] and c0["latency_ms"] > 0
    # cost = usage x the model's price per million tokens
    expected = PRICES["model-strong"].cost(c0["tokens"]["prompt"], c0["tokens"]["completion"])
    assert c0["cost"] == pytest.approx(expected)
    assert rep.cost == pytest.approx(sum(float(c["cost"]) for r in rows for c in r["fields"]["candidates"]))
    assert gen["cost"] == pytest.approx(sum(c["cost"] for c in cands))
    # the second run is answered by the cache: no call, nothing billed, same records updated
    ss = specs(llm, ResponseCache(cache_path))
    try:
        rep2 = run_generation(store, SYSTEM, "gen", items, ss, run_name="second")
    finally:
        close(ss)
    assert llm.calls == 18 and rep2.cached == 18 and rep2.cost == 0
    rows2 = _rows(store, "gen")
    assert len(rows2) == 6
    assert [c["text"] for c in rows2[0]["fields"]["candidates"]] == [c["text"] for c in cands]
    assert all(c["cached"] for c in rows2[0]["fields"]["candidates"])
    # a project's text field is a prompt set too
    again = prompts_from_project(store, SYSTEM, "gen", field="prompt")
    assert [p.id for p in again] == [p.id for p in items] and again[0].text == items[0].text


def test_generation_failures_and_bad_input(store: Store, llm: FakeLLM, tmp_path: Path) -> None:
    ensure_project(store, SYSTEM, "gen2", comparison_schema("gen2"))
    items = load_prompts(write_prompts(tmp_path / "p.jsonl", 3))

    def flaky(messages: list[dict], **params: object) -> str:
        if "number 1" in messages[-1]["content"]:
            raise RuntimeError("model down")
        return "callable answer"

    good = OpenAICompatible("model-mid", base_url=llm.base_url, api_key_env=None)
    try:
        rep = run_generation(
            store, SYSTEM, "gen2", items, [ModelSpec(good), ModelSpec(CallableConnector(flaky, model="fn"))]
        )
    finally:
        good.close()
    assert rep.records == 2 and [f["id"] for f in rep.failed] == ["q001"]
    assert "model down" in rep.failed[0]["errors"]["fn"]
    with pytest.raises(ValidationError, match="repeat"):
        run_generation(store, SYSTEM, "gen2", items, [ModelSpec(good), ModelSpec(good)])
    # two settings of one model are told apart by their labels
    same = CallableConnector(lambda m, **p: f"t={p.get('temperature')}", model="m")
    rep = run_generation(
        store,
        SYSTEM,
        "gen2",
        items[:1],
        [
            ModelSpec(same, {"temperature": 0.0}, label="m@t0"),
            ModelSpec(same, {"temperature": 1.0}, label="m@t1"),
        ],
    )
    cands = next(r for r in _rows(store, "gen2") if r["external_id"] == "q000")["fields"]["candidates"]
    assert [(c["id"], c["model"], c["text"]) for c in cands] == [
        ("m@t0", "m", "t=0.0"),
        ("m@t1", "m", "t=1.0"),
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x"}) + "\n")
    with pytest.raises(ValidationError, match="prompt"):
        load_prompts(bad)


def test_render_and_parse() -> None:
    schema = ProjectSchema.from_dict(comparison_schema("x"))
    fields = {
        "prompt": "Say hi",
        "candidates": [{"model": "a", "text": "hi"}, {"model": "b", "text": "hello"}],
    }
    prompt, labels = render_template(
        DEFAULT_PAIRWISE_TEMPLATE, schema, fields, {"order": {"candidates": ["b", "a"]}}
    )
    assert "[A]\nhello\n\n[B]\nhi" in prompt and labels == {"candidates": {"A": "b", "B": "a"}}
    assert '"choice": "A" | "B" | "tie"' in prompt and "Say hi" in prompt
    assert extract_json('blah ```json\n{"x": 1}\n``` tail') == {"x": 1}
    assert extract_json('Sure! {"x": [1, 2]} done') == {"x": [1, 2]}
    assert parse_answer('{"preference": {"choice": "A", "strength": "2"}}', schema, fields, labels) == {
        "preference": {"choice": "b", "strength": 2}
    }
    assert parse_answer('{"choice": "Response B"}', schema, fields, labels) == {"preference": {"choice": "a"}}
    assert parse_answer('{"preference": "tie"}', schema, fields, labels) == {"preference": {"choice": "tie"}}
    with pytest.raises(ValueError, match="not a candidate"):
        parse_answer('{"preference": {"choice": "Z"}}', schema, fields, labels)
    with pytest.raises(ValueError, match="no JSON"):
        parse_answer("no idea", schema, fields, labels)


def test_llm_judge_answers_through_dispatch(store: Store, llm: FakeLLM, tmp_path: Path) -> None:
    items = load_prompts(write_prompts(tmp_path / "p.jsonl", 5, extra={3: "BADJSON"}))
    ensure_project(store, SYSTEM, "duel", comparison_schema("duel", overlap=3))
    ss = specs(llm)
    try:
        run_generation(store, SYSTEM, "duel", items, ss, pairwise=True)
    finally:
        close(ss)
    judge, _ = make_user(store, "judge-1", kind="model", config={"model": "judge-1"})
    connector = OpenAICompatible(
        "judge-1", base_url=llm.base_url, api_key_env=None, params={"temperature": 0}
    )
    try:
        report = run_judge(store, judge, "duel", connector, DEFAULT_PAIRWISE_TEMPLATE)
    finally:
        connector.close()
    assert report.answered == 12 and len(report.skipped) == 3
    assert all("unparseable" in s["reason"] for s in report.skipped)
    assert report.prompt_tokens > 0 and report.completion_tokens > 0
    with store.read() as conn:
        got = conn.execute(
            sa.select(responses.c["values"], responses.c.extra, records.c.fields)
            .join(records, records.c.id == responses.c.record_id)
            .where(responses.c.user_id == judge.id)
        ).all()
        skipped = conn.execute(
            sa.select(sa.func.count()).where(
                assignments.c.user_id == judge.id, assignments.c.status == "skipped"
            )
        ).scalar_one()
    assert len(got) == 12 and skipped == 3
    for values, extra, fields in got:
        best = max(
            fields["candidates"],
            key=lambda c: {"model-strong": 3, "model-mid": 2, "model-weak": 1}[c["model"]],
        )
        assert values["preference"]["choice"] == best["model"]  # the fake judge prefers the higher quality
        assert extra["prompt_template"] == DEFAULT_PAIRWISE_TEMPLATE and extra["model"] == "judge-1"
        assert extra["params"] == {"temperature": 0} and extra["tokens"]["prompt"] > 0 and "cost" in extra
    # humans grade too: judge-human agreement and position bias per contributor kind
    for i in range(2):
        annotate_all(store, make_user(store, f"h{i}")[0], "duel")
    board = leaderboard(store, SYSTEM, "duel", n_boot=50)
    (agree,) = board["judge_agreement"]
    assert agree["judge"] == "judge-1" and agree["n"] >= 1 and 0 <= agree["agreement"] <= 1
    bias = position_bias(store, SYSTEM, "duel")
    assert set(bias["by_kind"]) == {"human", "model"} and bias["by_kind"]["model"]["n"] == 12


def test_position_bias_finds_a_left_clicker(store: Store, tmp_path: Path) -> None:
    items = load_prompts(write_prompts(tmp_path / "p.jsonl", 20))
    ensure_project(store, SYSTEM, "lr", comparison_schema("lr", overlap=2))
    run_generation(
        store,
        SYSTEM,
        "lr",
        items,
        [
            ModelSpec(CallableConnector(lambda m, n=n, **p: f"{n} says hi", model=n))
            for n in ("model-strong", "model-weak")
        ],
    )
    annotate_all(store, make_user(store, "lefty")[0], "lr", left_bias=True)
    bias = position_bias(store, SYSTEM, "lr")
    assert bias["n"] == 20 and bias["left_rate"] == 1.0 and bias["p_value"] < 1e-4 and bias["chance"] == 0.5
