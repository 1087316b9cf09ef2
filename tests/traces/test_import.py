"""import_traces on SQLite and PostgreSQL: records, pre-check suggestions, all-or-nothing, real data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assay.domain.errors import ValidationError
from assay.services.actors import SYSTEM
from assay.services.exports import iter_export_rows
from assay.services.trace_imports import import_traces
from assay.store.engine import Store
from tests.conftest import shared_data
from tests.factories import make_project

FIX = Path(__file__).parent / "fixtures"

AGENT_SCHEMA: dict[str, Any] = {
    "name": "agent-review",
    "fields": [{"name": "task", "type": "text", "required": False}, {"name": "run", "type": "trajectory"}],
    "questions": [
        {"name": "steps", "type": "step_review", "field": "run"},
        {"name": "skippable", "type": "step_set", "field": "run", "required": False},
        {"name": "first_error", "type": "step_pick", "field": "run", "required": False},
        {"name": "success", "type": "label", "options": ["yes", "no"]},
    ],
    "workflow": {"overlap": 2},
}


def _rows(store: Store, pid: int) -> dict[str, dict[str, Any]]:
    with store.read() as conn:
        return {r["external_id"]: r for r in iter_export_rows(conn, pid)}


def test_import_fixtures_with_precheck_suggestions(store: Store, tmp_path: Path) -> None:
    p = make_project(store, AGENT_SCHEMA)
    faulty = tmp_path / "faulty.jsonl"
    trace = json.loads((FIX / "openai_chat.jsonl").read_text().splitlines()[0])
    trace["id"] = "faulty-1"
    trace["messages"][2]["tool_calls"][1]["function"]["name"] = "get_forecast"  # not declared
    faulty.write_text(json.dumps(trace) + "\n")
    report = import_traces(store, SYSTEM, p["name"], faulty)
    assert report.rows == 1 and report.findings == {"undeclared_tool": 1} and report.flagged == 1
    for name in (
        "openai_chat.jsonl",
        "anthropic.json",
        "otel.json",
        "langsmith.json",
        "openai_responses.json",
    ):
        import_traces(store, SYSTEM, p["name"], FIX / name)
    rows = _rows(store, p["id"])
    assert set(rows) >= {"faulty-1", "chat-1", "chat-2", "msg-run-1", "run-root", "resp-run-1"}
    sug = rows["faulty-1"]["suggestions"]
    assert len(sug) == 1 and sug[0]["model"] == "assay-precheck" and sug[0]["question"] == "steps"
    assert (
        sug[0]["value"]["2"]["verdict"] == "wrong_tool" and "get_forecast" in sug[0]["value"]["2"]["comment"]
    )
    assert rows["chat-1"]["suggestions"] == []  # clean traces: no false alarm
    assert rows["chat-1"]["fields"]["task"] == "What's the weather in Paris and Berlin?"
    assert rows["faulty-1"]["responses"] == [] and rows["faulty-1"]["gold"] is None  # never a label
    again = import_traces(store, SYSTEM, p["name"], FIX / "openai_chat.jsonl")
    assert again.updated == 2 and again.created == 0


def test_import_is_all_or_nothing(store: Store, tmp_path: Path) -> None:
    p = make_project(store, AGENT_SCHEMA)
    bad = tmp_path / "bad.jsonl"
    good = (FIX / "steps.jsonl").read_text()
    bad.write_text(good + '{"trace_id": "s-3", "role": "wizard", "content": "x"}\n')
    with pytest.raises(ValidationError) as e:
        import_traces(store, SYSTEM, p["name"], bad, fmt="steps")
    assert e.value.file == "bad.jsonl" and e.value.line == 7 and "role" in (e.value.field or "")
    assert _rows(store, p["id"]) == {}


def test_field_must_be_a_trajectory(store: Store) -> None:
    p = make_project(store, AGENT_SCHEMA)
    with pytest.raises(ValidationError, match="not a trajectory field"):
        import_traces(store, SYSTEM, p["name"], FIX / "steps.jsonl", field="task")


def test_real_traces_import(store: Store) -> None:
    tau = shared_data("agents", "tau_bench_airline", "gpt-4o-airline.json")
    swe = shared_data("agents", "swe_agent")
    p = make_project(store, AGENT_SCHEMA)
    r1 = import_traces(store, SYSTEM, p["name"], tau)
    r2 = import_traces(store, SYSTEM, p["name"], swe)
    assert r1.rows == 200 and r1.formats == {"tau-bench": 200}
    assert r2.formats == {"swe-agent": r2.rows} and r2.rows == len(list(swe.glob("*.traj")))
    rows = _rows(store, p["id"])
    assert len(rows) == 200 + r2.rows
    rec = rows["task-0-trial-0"]["fields"]["run"]
    assert (
        rec["outcome"]["success"] is False
        and rec["reference"][0]["tool_calls"][0]["name"] == "book_reservation"
    )
