from __future__ import annotations

from typing import Any

import pytest

from assay.domain import (
    FIELD_TYPES,
    ProjectSchema,
    RecordValidator,
    Trajectory,
    ValidationError,
    candidate_ids,
    media_info,
    normalize_trajectory,
    step_count,
)


def validator_for(ftype: str) -> RecordValidator:
    schema = ProjectSchema.from_dict(
        {
            "name": "t",
            "fields": [{"name": "f", "type": ftype}],
            "questions": [{"name": "q", "type": "text", "required": False}],
        }
    )
    return RecordValidator(schema)


def check(ftype: str, value: Any) -> Any:
    return validator_for(ftype).validate({"external_id": "1", "fields": {"f": value}}).fields["f"]


def error_field(ftype: str, value: Any) -> str | None:
    with pytest.raises(ValidationError) as info:
        check(ftype, value)
    return info.value.field


TRAJ = {
    "task": "book a flight",
    "agents": ["planner", "booker"],
    "tools": [{"name": "search", "description": "find flights", "parameters": {"type": "object"}}],
    "steps": [
        {"role": "user", "content": "book me a flight"},
        {
            "role": "assistant",
            "actor": "planner",
            "content": "search first",
            "tool_calls": [{"id": "c1", "name": "search", "arguments": {"to": "OSL"}}],
        },
        {"role": "tool", "tool_results": [{"call_id": "c1", "content": "3 flights", "is_error": False}]},
        {"role": "agent", "actor": "planner", "handoff": {"from": "planner", "to": "booker"}, "cost": 0.1},
        {"role": "assistant", "actor": "booker", "observation": "booked", "tokens": 12, "timestamp": 1.5},
    ],
    "reference": [{"role": "assistant", "content": "ok"}],
    "outcome": {"booked": True},
    "metadata": {"run": 7},
}

GOOD: list[tuple[str, Any]] = [
    ("text", "hello"),
    ("text", ""),
    ("markdown", "# title"),
    ("image", "https://x/a.png"),
    ("image", {"url": "s3://b/a.png", "width": 640, "height": 480}),
    ("audio", {"url": "a.wav", "duration": 3.5}),
    ("video", {"url": "v.mp4", "width": 10, "height": 10, "duration": 2}),
    ("chat", [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi", "name": "bob"}]),
    ("chat", [{"role": "assistant", "content": None, "tool_calls": [{"name": "x"}]}]),
    ("comparison", [{"model": "a", "text": "x"}, {"model": "b", "text": "y"}]),
    ("comparison", [{"text": "x"}, {"text": "y"}, {"id": "c", "text": "z", "score": 1}]),
    ("trajectory", TRAJ),
    ("trajectory", [{"role": "user", "content": "x"}]),
    ("json", {"a": [1, 2.5, None, True, "x"]}),
    ("json", 3),
    ("json", [2**63 - 1, -(2**63)]),
]


@pytest.mark.parametrize(("ftype", "value"), GOOD)
def test_good_values(ftype: str, value: Any) -> None:
    check(ftype, value)


BAD: list[tuple[str, Any, str | None]] = [
    ("text", 3, "fields.f"),
    ("markdown", ["x"], "fields.f"),
    ("image", "  ", "fields.f"),
    ("image", 5, "fields.f"),
    ("image", {"uri": "x"}, "fields.f.url"),
    ("image", {"url": "x", "width": -1}, "fields.f.width"),
    ("image", {"url": "x", "height": 1.5}, "fields.f.height"),
    ("audio", {"url": "x", "duration": 0}, "fields.f.duration"),
    ("video", {"url": "x", "duration": "long"}, "fields.f.duration"),
    ("chat", {"role": "user"}, "fields.f"),
    ("chat", ["hi"], "fields.f[0]"),
    ("chat", [{"role": "bot", "content": "x"}], "fields.f[0].role"),
    ("chat", [{"role": "user"}], "fields.f[0].content"),
    ("chat", [{"role": "user", "content": 3}], "fields.f[0].content"),
    ("comparison", [{"text": "x"}], "fields.f"),
    ("comparison", "x", "fields.f"),
    ("comparison", [{"text": "x"}, "y"], "fields.f[1]"),
    ("comparison", [{"text": "x"}, {"model": "b"}], "fields.f[1].text"),
    ("comparison", [{"text": "x"}, {"text": 2}], "fields.f[1].text"),
    ("comparison", [{"model": "a", "text": "x"}, {"model": "a", "text": "y"}], "fields.f[1]"),
    ("comparison", [{"id": ["a"], "text": "x"}, {"text": "y"}], "fields.f[0].id"),
    ("trajectory", "steps", "fields.f"),
    ("trajectory", {"task": "x"}, "fields.f.steps"),
    ("trajectory", {"steps": [], "bogus": 1}, "fields.f.bogus"),
    ("trajectory", [{"role": "robot"}], "fields.f.steps[0].role"),
    ("trajectory", [{"role": "user"}, {"role": "user", "index": 5}], "fields.f.steps[1].index"),
    (
        "trajectory",
        [{"role": "user", "tool_calls": [{"arguments": {}}]}],
        "fields.f.steps[0].tool_calls[0].name",
    ),
    (
        "trajectory",
        [{"role": "user", "tool_calls": [{"name": "a", "arguments": [1]}]}],
        "fields.f.steps[0].tool_calls[0].arguments",
    ),
    (
        "trajectory",
        [{"role": "tool", "tool_results": [{"call_id": "x"}]}],
        "fields.f.steps[0].tool_results[0].content",
    ),
    ("trajectory", [{"role": "agent", "handoff": {"from": "a"}}], "fields.f.steps[0].handoff.to"),
    ("trajectory", [{"role": "user", "tokens": -1}], "fields.f.steps[0].tokens"),
    ("trajectory", [{"role": "user", "cost": "cheap"}], "fields.f.steps[0].cost"),
    ("trajectory", {"agents": ["a"], "steps": [{"role": "agent", "actor": "b"}]}, "fields.f.steps[0].actor"),
    ("trajectory", {"steps": [], "tools": [{"description": "x"}]}, "fields.f.tools[0].name"),
    ("trajectory", {"steps": [], "reference": [{"role": "x"}]}, "fields.f.reference[0].role"),
    ("json", {"a": float("nan")}, "fields.f.a"),
    ("json", {"a": [2**63]}, "fields.f.a[0]"),  # (what JSON keeps, we keep in 64 bits)
    ("json", {"a": [object()]}, "fields.f.a[0]"),
    ("json", {1: "x"}, "fields.f"),
]


@pytest.mark.parametrize(("ftype", "value", "field"), BAD)
def test_bad_values(ftype: str, value: Any, field: str) -> None:
    assert error_field(ftype, value) == field


def test_every_field_type_is_covered() -> None:
    assert {t for t, _ in GOOD} == set(FIELD_TYPES)
    assert {t for t, _, _ in BAD} == set(FIELD_TYPES)


def test_trajectory_normalised() -> None:
    out = check("trajectory", [{"role": "user", "content": "x"}, {"role": "assistant", "index": 1}])
    assert out == {"steps": [{"role": "user", "content": "x", "index": 0}, {"role": "assistant", "index": 1}]}
    out = check("trajectory", TRAJ)
    assert [s["index"] for s in out["steps"]] == [0, 1, 2, 3, 4]
    assert out["reference"][0]["index"] == 0
    assert "index" not in TRAJ["steps"][0]  # the input is not changed


def test_trajectory_string_arguments_are_parsed() -> None:
    out = normalize_trajectory(
        [{"role": "assistant", "tool_calls": [{"name": "f", "arguments": '{"a": 1}'}]}]
    )
    assert out["steps"][0]["tool_calls"][0]["arguments"] == {"a": 1}


def test_trajectory_typed_view() -> None:
    t = Trajectory.from_value(TRAJ)
    assert len(t) == 5
    assert t.steps[1].tool_calls[0].name == "search"
    assert t.steps[1].tool_calls[0].arguments == {"to": "OSL"}
    assert t.steps[2].tool_results[0].call_id == "c1"
    assert t.steps[3].handoff == ("planner", "booker")
    assert t.reference is not None and t.reference[0].content == "ok"
    assert t.agents == ("planner", "booker")


def test_step_count() -> None:
    assert step_count(TRAJ) == 5
    assert step_count([{"role": "user"}]) == 1
    assert step_count("x") == 0


def test_candidate_ids() -> None:
    assert candidate_ids(
        [{"model": "a", "text": ""}, {"id": "x", "model": "b", "text": ""}, {"text": ""}]
    ) == [
        "a",
        "x",
        "2",
    ]
    assert candidate_ids(None) == []
    out = check("comparison", [{"id": 1, "text": "x"}, {"id": 2, "text": "y"}])
    assert candidate_ids(out) == ["1", "2"]


def test_media_strings_stay_strings() -> None:
    assert check("image", "a.png") == "a.png"
    info = media_info({"url": "a.png", "width": 3, "height": 4})
    assert (info.url, info.width, info.height, info.duration) == ("a.png", 3, 4, None)
