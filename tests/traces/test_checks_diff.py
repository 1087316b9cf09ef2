"""Pre-checks on traces with planted faults (each found, none on clean traces) and the reference diff."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from assay.domain.fields import normalize_trajectory
from assay.domain.trajectory_checks import as_step_review, run_checks
from assay.domain.trajectory_diff import diff_tool_calls, diff_trajectory

TOOLS = [
    {
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["q"],
            "additionalProperties": False,
        },
    },
    {
        "name": "book",
        "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
    },
    {"name": "transfer_to_payments"},
]


def clean() -> dict[str, Any]:
    return {
        "agents": ["sales", "payments"],
        "tools": copy.deepcopy(TOOLS),
        "steps": [
            {"role": "user", "content": "Book the cheapest hotel in Rome"},
            {
                "role": "assistant",
                "actor": "sales",
                "tool_calls": [{"id": "1", "name": "search", "arguments": {"q": "Rome"}}],
            },
            {"role": "tool", "tool_results": [{"call_id": "1", "content": "h1 $90, h2 $120"}]},
            {
                "role": "assistant",
                "actor": "sales",
                "tool_calls": [{"id": "2", "name": "book", "arguments": {"id": "h1"}}],
            },
            {
                "role": "tool",
                "tool_results": [{"call_id": "2", "content": "Error: card declined", "is_error": True}],
            },
            {
                "role": "assistant",
                "actor": "sales",
                "content": "Your card was declined; I'll pass you to payments.",
                "tool_calls": [{"id": "3", "name": "transfer_to_payments", "arguments": {}}],
                "handoff": {"from": "sales", "to": "payments"},
            },
            {"role": "assistant", "actor": "payments", "content": "Please give another card."},
        ],
    }


def _find(value: dict[str, Any]) -> list[tuple[str, int]]:
    return [(f.check, f.step) for f in run_checks(normalize_trajectory(value))]


def test_clean_trace_has_no_findings() -> None:
    assert _find(clean()) == []


def test_undeclared_tool() -> None:
    v = clean()
    v["steps"][3]["tool_calls"][0]["name"] = "reserve"
    assert _find(v) == [("undeclared_tool", 3)]


@pytest.mark.parametrize(
    "args",
    [{"q": 5}, {"limit": 3}, {"q": "Rome", "sort": "price"}, {"_raw": "{q: Rome"}],
)
def test_invalid_arguments(args: dict[str, Any]) -> None:
    v = clean()
    v["steps"][1]["tool_calls"][0]["arguments"] = args
    assert _find(v) == [("invalid_arguments", 1)]


def test_repeated_call() -> None:
    v = clean()
    v["steps"].insert(
        3,
        {
            "role": "assistant",
            "actor": "sales",
            "tool_calls": [{"name": "search", "arguments": {"q": "Rome"}}],
        },
    )
    assert _find(v) == [("repeated_call", 3)]


def test_ignored_error() -> None:
    v = clean()
    v["steps"][5] = {"role": "assistant", "actor": "sales", "content": "All set! Enjoy your stay at h1."}
    v["steps"].pop()
    assert _find(v) == [("ignored_error", 5)]


def test_unknown_agent() -> None:
    v = clean()
    v["steps"][5]["handoff"]["to"] = "refunds"
    v["steps"][5]["tool_calls"][0]["name"] = "transfer_to_refunds"
    assert ("unknown_agent", 5) in _find(v)
    assert all(c != "undeclared_tool" for c, _ in _find(v))


def test_as_step_review_keeps_worst_and_maps_to_question_verdicts() -> None:
    v = clean()
    v["steps"][3]["tool_calls"][0]["name"] = "reserve"
    value = as_step_review(run_checks(normalize_trajectory(v)))
    assert value == {"3": {"verdict": "wrong_tool", "comment": value["3"]["comment"]}}
    assert "reserve" in value["3"]["comment"]
    custom = as_step_review(run_checks(normalize_trajectory(v)), ["ok", "bad"])
    assert custom["3"]["verdict"] == "bad"


def _call(name: str, **args: Any) -> dict[str, Any]:
    return {"role": "assistant", "tool_calls": [{"name": name, "arguments": args}]}


def test_diff_kinds_and_scores() -> None:
    ref = [_call("a", x=1), _call("b", y=2), _call("c"), _call("d", z=1)]
    agent = [_call("b", y=2), _call("a", x=1.0), _call("c"), _call("d", z=2), _call("e")]
    d = diff_tool_calls(agent, ref)
    kinds = {c.name: c.kind for c in d.calls}
    assert sorted([kinds["a"], kinds["b"]]) == ["match", "reordered"]  # one of the two is out of order
    assert (kinds["c"], kinds["d"], kinds["e"]) == ("match", "different_arguments", "extra")
    assert d.precision == pytest.approx(3 / 5) and d.recall == pytest.approx(3 / 4)
    assert d.name_recall == 1.0 and d.plan_length == 5 and d.reference_length == 4
    dd = next(c for c in d.calls if c.kind == "different_arguments")
    assert dd.argument_diff == {"changed": ["z"]}
    missing = diff_tool_calls(agent[:1], ref)
    assert missing.count("missing") == 3 and missing.precision == 1.0


def test_diff_trajectory_exact_and_none() -> None:
    v = normalize_trajectory({"steps": [_call("a", x=1)], "reference": [_call("a", x=1)]})
    d = diff_trajectory(v)
    assert d is not None and d.exact and d.f1 == 1.0
    assert d.to_dict()["counts"]["match"] == 1
    assert diff_trajectory({"steps": []}) is None
