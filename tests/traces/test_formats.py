"""Each trace format, from examples in the SDKs' documented shapes and from the real traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.domain.errors import ValidationError
from assay.domain.fields import Trajectory, normalize_trajectory
from assay.formats.traces import detect_trace_format, read_traces
from tests.conftest import shared_data

FIX = Path(__file__).parent / "fixtures"


def _one(name: str, fmt: str = "auto") -> dict:
    items = [it for _, _, it in read_traces(FIX / name, fmt)]
    assert items
    return normalize_trajectory(items[0].trajectory)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("openai_chat.jsonl", "openai-chat"),
        ("openai_responses.json", "openai-responses"),
        ("anthropic.json", "anthropic"),
        ("langsmith.json", "langsmith"),
        ("otel.json", "otel"),
        ("steps.jsonl", "steps"),
        ("swe_agent_min.traj", "swe-agent"),
    ],
)
def test_detects_each_format(name: str, fmt: str) -> None:
    assert detect_trace_format(FIX / name) == fmt


def test_openai_chat_tool_calls_and_handoff() -> None:
    items = [it for _, _, it in read_traces(FIX / "openai_chat.jsonl")]
    assert [i.external_id for i in items] == ["chat-1", "chat-2"]
    t = Trajectory.from_value(items[0].trajectory)
    assert t.task == "What's the weather in Paris and Berlin?"
    call_step = t.steps[2]
    assert [c.arguments for c in call_step.tool_calls] == [{"city": "Paris"}, {"city": "Berlin"}]
    assert [r.call_id for r in t.steps[3].tool_results] == [
        "call_1",
        "call_2",
    ]  # parallel results in one step
    assert t.tools[0]["parameters"]["required"] == ["city"]
    multi = Trajectory.from_value(items[1].trajectory)
    assert multi.steps[1].actor == "triage" and multi.steps[1].handoff == ("triage", "billing")
    assert multi.steps[3].actor == "billing"


def test_openai_responses_agents_and_handoff() -> None:
    t = Trajectory.from_value(_one("openai_responses.json"))
    assert t.agents == ("Triage Agent", "Billing Agent")
    assert t.steps[1].handoff == ("Triage Agent", "Billing Agent")
    assert t.steps[1].extra["reasoning"] == "Billing question; hand off."
    assert t.steps[3].actor == "Billing Agent" and t.steps[3].tool_calls[0].arguments == {
        "invoice_id": "INV-9"
    }
    assert t.steps[-1].content.startswith("You were charged twice")
    assert [x["name"] for x in t.tools] == ["lookup_invoice"]
    assert t.outcome == {"resolved": True}


def test_anthropic_blocks() -> None:
    t = Trajectory.from_value(_one("anthropic.json"))
    assert t.steps[0].role == "system"
    a = t.steps[2]
    assert a.content == "Let me read it." and a.extra["reasoning"] == "I should read the file."
    assert a.tool_calls[0].id == "toolu_01" and a.tokens == 70
    assert t.steps[3].tool_results[0].is_error is True
    assert t.steps[5].tool_results[0].content == "port: 8080"
    assert t.tools[0]["parameters"]["required"] == ["path"]


def test_langsmith_run_tree() -> None:
    t = Trajectory.from_value(_one("langsmith.json"))
    assert t.task == "How many stars does the repo assay have?"
    assert t.steps[1].actor == "researcher" and t.steps[1].tool_calls[0].name == "github_stars"
    assert t.steps[2].tool_results[0].call_id == "call_x" and t.steps[2].tool_results[0].content == "42"
    assert t.steps[3].actor == "writer" and t.outcome == {"output": "It has 42 stars."}


def test_otel_genai_spans() -> None:
    t = Trajectory.from_value(_one("otel.json"))
    roles = [s.role for s in t.steps]
    assert roles == ["user", "assistant", "tool", "agent", "assistant", "tool", "assistant"]
    assert t.steps[1].tool_calls[0].arguments == {"origin": "JFK", "destination": "SFO"}
    assert t.steps[1].tokens == 52
    assert t.steps[3].handoff == ("planner", "booker")
    assert t.steps[5].tool_results[0].is_error and "no seats" in t.steps[5].tool_results[0].content
    assert {x["name"] for x in t.tools} == {"search_flights", "book"}


def test_steps_jsonl_groups_by_trace_id() -> None:
    items = [it for _, _, it in read_traces(FIX / "steps.jsonl")]
    assert [i.external_id for i in items] == ["s-1", "s-2"]
    s2 = Trajectory.from_value(items[1].trajectory)
    assert s2.steps[1].tool_calls[0].arguments == {"id": 77} and s2.steps[1].observation == "cancelled"


def test_swe_agent_min() -> None:
    t = Trajectory.from_value(_one("swe_agent_min.traj"))
    assert [c.name for s in t.steps for c in s.tool_calls] == ["find_file", "bash", "submit"]
    assert t.task == "Fix the SyntaxError in missing_colon.py"
    assert t.outcome["exit_status"] == "submitted"


def test_bad_trace_names_file_and_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [{"role": "robot"}]}\n')
    with pytest.raises(ValidationError) as e:
        list(read_traces(bad, "openai-chat"))
    assert e.value.file == "bad.jsonl" and e.value.line == 2 and "role" in (e.value.field or "")


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{"hello": 1}')
    with pytest.raises(ValidationError, match="cannot tell"):
        list(read_traces(f))


def test_real_tau_bench() -> None:
    path = shared_data("agents", "tau_bench_airline", "gpt-4o-airline.json")
    items = [(fmt, it) for _, fmt, it in read_traces(path)]
    assert len(items) == 200 and {f for f, _ in items} == {"tau-bench"}
    ids = {it.external_id for _, it in items}
    assert len(ids) == 200
    succ = 0
    for _, it in items:
        t = Trajectory.from_value(it.trajectory)
        assert t.reference is not None and t.tools
        succ += bool(t.outcome["success"])
    assert succ == 84


def test_real_swe_agent_folder() -> None:
    folder = shared_data("agents", "swe_agent")
    items = [it for _, fmt, it in read_traces(folder) if fmt == "swe-agent"]
    assert len(items) == len(list(folder.glob("*.traj")))
    for it in items:
        t = Trajectory.from_value(it.trajectory)
        assert len(t.steps) > 0
