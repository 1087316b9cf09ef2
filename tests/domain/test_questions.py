from __future__ import annotations

from typing import Any

import pytest

from assay.domain import (
    QUESTION_TYPES,
    AnswerValidator,
    Option,
    ProjectSchema,
    RatingQuestion,
    ValidationError,
)

SCHEMA = ProjectSchema.from_dict(
    {
        "name": "all",
        "fields": [
            {"name": "text", "type": "text"},
            {"name": "image", "type": "image"},
            {"name": "photo", "type": "image"},
            {"name": "audio", "type": "audio"},
            {"name": "candidates", "type": "comparison"},
            {"name": "run", "type": "trajectory"},
        ],
        "questions": [
            {"name": "sentiment", "type": "label", "options": ["pos", {"value": "neg", "text": "Negative"}]},
            {"name": "topics", "type": "multi_label", "options": ["a", "b", "c"]},
            {"name": "helpful", "type": "rating", "scale": 7, "anchors": {1: "bad", 7: "great"}},
            {"name": "temp", "type": "rating", "min": -2, "max": 2},
            {"name": "score", "type": "number", "min": 0, "max": 10},
            {"name": "count", "type": "number", "integer": True},
            {"name": "rewrite", "type": "text", "field": "text", "max_length": 10},
            {"name": "entities", "type": "span", "field": "text", "labels": ["PER", "ORG"]},
            {"name": "pref", "type": "preference", "field": "candidates"},
            {
                "name": "pref_strict",
                "type": "preference",
                "field": "candidates",
                "ties": False,
                "strength": True,
            },
            {"name": "rank", "type": "ranking", "field": "candidates"},
            {"name": "boxes", "type": "bbox", "field": "image", "labels": ["car"]},
            {"name": "loose_boxes", "type": "bbox", "field": "photo", "labels": ["car"]},
            {"name": "regions", "type": "polygon", "field": "image", "labels": ["road"]},
            {
                "name": "pose",
                "type": "keypoints",
                "field": "image",
                "labels": ["person"],
                "keypoint_names": ["l", "r"],
            },
            {"name": "speech", "type": "segment", "field": "audio", "labels": ["speech"], "transcript": True},
            {"name": "steps", "type": "step_review", "field": "run"},
            {"name": "skippable", "type": "step_set", "field": "run"},
            {"name": "first_error", "type": "step_pick", "field": "run"},
        ],
    }
)

FIELDS: dict[str, Any] = {
    "text": "Ada Lovelace",
    "image": {"url": "a.png", "width": 100, "height": 50},
    "photo": "b.png",
    "audio": {"url": "a.wav", "duration": 10.0},
    "candidates": [{"model": "a", "text": "x"}, {"model": "b", "text": "y"}, {"text": "z"}],
    "run": {
        "steps": [
            {"role": "user", "index": 0},
            {"role": "assistant", "index": 1},
            {"role": "tool", "index": 2},
        ]
    },
}

AV = AnswerValidator(SCHEMA)

GOOD: list[tuple[str, Any]] = [
    ("sentiment", "pos"),
    ("sentiment", "neg"),
    ("topics", []),
    ("topics", ["a", "c"]),
    ("helpful", 7),
    ("helpful", 1.0),
    ("temp", -2),
    ("score", 3.2),
    ("score", 0),
    ("count", 4),
    ("rewrite", "short"),
    ("entities", [{"start": 0, "end": 3, "label": "PER"}, {"start": 4, "end": 12, "label": "PER"}]),
    ("entities", []),
    ("pref", {"choice": "a"}),
    ("pref", {"choice": "2"}),
    ("pref", {"choice": "tie"}),
    ("pref_strict", {"choice": "b", "strength": 3}),
    ("pref_strict", {"choice": "b"}),
    ("rank", ["b", "2", "a"]),
    ("boxes", [{"x": 10, "y": 20, "w": 30, "h": 30, "label": "car", "rotation": 0}]),
    ("boxes", [{"x": 0, "y": 0, "w": 100, "h": 50, "label": "car"}]),
    ("boxes", [{"x": 90, "y": 0, "w": 10, "h": 10, "label": "car", "rotation": 45}]),
    ("loose_boxes", [{"x": 1000, "y": 1000, "w": 5, "h": 5, "label": "car"}]),
    ("regions", [{"points": [[0, 0], [100, 0], [50, 50]], "label": "road"}]),
    ("pose", [{"points": [[1, 2, 2], [3, 4, 0]], "label": "person"}]),
    ("speech", [{"start": 1.25, "end": 3.5, "label": "speech", "text": "hello"}]),
    ("steps", {"0": {"verdict": "correct"}, "2": {"verdict": "harmful", "comment": "deleted prod"}}),
    ("steps", {1: {"verdict": "wrong_tool"}}),
    ("skippable", [2, 0]),
    ("skippable", []),
    ("first_error", 1),
    ("first_error", None),
]


@pytest.mark.parametrize(("question", "value"), GOOD)
def test_good_answers(question: str, value: Any) -> None:
    AV.check_one(question, value, FIELDS)


BAD: list[tuple[str, Any, str]] = [
    ("sentiment", "meh", "values.sentiment"),
    ("sentiment", 1, "values.sentiment"),
    ("topics", "a", "values.topics"),
    ("topics", ["a", "z"], "values.topics[1]"),
    ("topics", ["a", "a"], "values.topics[1]"),
    ("helpful", 8, "values.helpful"),
    ("helpful", 0, "values.helpful"),
    ("helpful", 2.5, "values.helpful"),
    ("helpful", True, "values.helpful"),
    ("helpful", "5", "values.helpful"),
    ("temp", 3, "values.temp"),
    ("helpful", 2**64, "values.helpful"),  # (an answer keeps an integer in 64 bits)
    ("count", 10**400, "values.count"),  # (beyond what a float holds, too)
    ("score", 11, "values.score"),
    ("score", -0.1, "values.score"),
    ("score", float("inf"), "values.score"),
    ("score", "3", "values.score"),
    ("count", 1.5, "values.count"),
    ("rewrite", 3, "values.rewrite"),
    ("rewrite", "far too long for this", "values.rewrite"),
    ("entities", {"start": 0}, "values.entities"),
    ("entities", [{"start": 0, "end": 3, "label": "LOC"}], "values.entities[0].label"),
    ("entities", [{"start": 3, "end": 3, "label": "PER"}], "values.entities[0].end"),
    ("entities", [{"start": -1, "end": 3, "label": "PER"}], "values.entities[0].start"),
    ("entities", [{"start": 0, "end": 13, "label": "PER"}], "values.entities[0].end"),
    (
        "entities",
        [{"start": 0, "end": 2, "label": "PER"}, {"start": 0, "label": "PER"}],
        "values.entities[1].end",
    ),
    ("entities", [{"start": 0, "end": 2, "label": "PER", "x": 1}], "values.entities[0].x"),
    ("pref", {"choice": "c"}, "values.pref.choice"),
    ("pref", "a", "values.pref"),
    ("pref", {}, "values.pref.choice"),
    ("pref", {"choice": "a", "why": 1}, "values.pref.why"),
    ("pref", {"choice": "a", "strength": 2}, "values.pref.strength"),
    ("pref_strict", {"choice": "tie"}, "values.pref_strict.choice"),
    ("pref_strict", {"choice": "a", "strength": 4}, "values.pref_strict.strength"),
    ("rank", ["a", "b"], "values.rank"),
    ("rank", ["a", "b", "b"], "values.rank[2]"),
    ("rank", ["a", "b", "zz"], "values.rank[2]"),
    ("rank", "a", "values.rank"),
    ("boxes", [{"x": 10, "y": 20, "w": 0, "h": 30, "label": "car"}], "values.boxes[0].w"),
    ("boxes", [{"x": 10, "y": 20, "w": 5, "h": -1, "label": "car"}], "values.boxes[0].h"),
    ("boxes", [{"x": 90, "y": 20, "w": 30, "h": 10, "label": "car"}], "values.boxes[0]"),
    ("boxes", [{"x": 0, "y": 40, "w": 30, "h": 11, "label": "car"}], "values.boxes[0]"),
    ("boxes", [{"x": 10, "y": 20, "w": 5, "h": 5, "label": "bus"}], "values.boxes[0].label"),
    ("boxes", [{"x": 10, "y": 20, "w": 5, "label": "car"}], "values.boxes[0].h"),
    ("boxes", [{"x": "1", "y": 20, "w": 5, "h": 5, "label": "car"}], "values.boxes[0].x"),
    ("boxes", [{"x": 0, "y": 0, "w": 10, "h": 10, "label": "car", "rotation": 45}], "values.boxes[0]"),
    ("regions", [{"points": [[0, 0], [1, 1]], "label": "road"}], "values.regions[0].points"),
    ("regions", [{"points": [[0, 0], [101, 0], [5, 5]], "label": "road"}], "values.regions[0].points[1]"),
    ("regions", [{"points": [[0, 0], [1, 0], [5]], "label": "road"}], "values.regions[0].points[2]"),
    ("regions", [{"points": [[0, 0], [1, 0], [5, 5]]}], "values.regions[0].label"),
    ("pose", [{"points": [[1, 2, 2]], "label": "person"}], "values.pose[0].points"),
    ("pose", [{"points": [[1, 2], [1, 2]], "label": "person"}], "values.pose[0].points[0]"),
    ("pose", [{"points": [[1, 2, 5], [1, 2, 1]], "label": "person"}], "values.pose[0].points[0]"),
    ("pose", [{"points": [[1, 60, 1], [1, 2, 1]], "label": "person"}], "values.pose[0].points[0]"),
    ("speech", [{"start": 2, "end": 1, "label": "speech"}], "values.speech[0].end"),
    ("speech", [{"start": 2, "end": 11, "label": "speech"}], "values.speech[0].end"),
    ("speech", [{"start": -1, "end": 1, "label": "speech"}], "values.speech[0].start"),
    ("speech", [{"start": 0, "end": 1, "label": "music"}], "values.speech[0].label"),
    ("speech", [{"start": 0, "end": 1, "label": "speech", "text": 3}], "values.speech[0].text"),
    ("steps", {"3": {"verdict": "correct"}}, "values.steps.3"),
    ("steps", {"x": {"verdict": "correct"}}, "values.steps.x"),
    ("steps", {"0": {"verdict": "great"}}, "values.steps.0.verdict"),
    ("steps", {"0": "correct"}, "values.steps.0"),
    ("steps", {"0": {"comment": "x"}}, "values.steps.0.verdict"),
    ("steps", {"0": {"verdict": "correct"}, 0: {"verdict": "correct"}}, "values.steps.0"),
    ("steps", [], "values.steps"),
    ("skippable", [0, 0], "values.skippable[1]"),
    ("skippable", [5], "values.skippable[0]"),
    ("skippable", ["1"], "values.skippable[0]"),
    ("skippable", 1, "values.skippable"),
    ("first_error", 3, "values.first_error"),
    ("first_error", -1, "values.first_error"),
    ("first_error", "1", "values.first_error"),
]


@pytest.mark.parametrize(("question", "value", "field"), BAD)
def test_bad_answers(question: str, value: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        AV.check_one(question, value, FIELDS)
    assert info.value.field == field


def test_every_question_type_is_covered() -> None:
    types = {SCHEMA.question(q).type for q, _ in GOOD}
    assert types == set(QUESTION_TYPES)
    assert {SCHEMA.question(q).type for q, _, _ in BAD} == set(QUESTION_TYPES)


def test_normalised_values() -> None:
    assert AV.check_one("helpful", 3.0, FIELDS) == 3
    assert AV.check_one("steps", {1: {"verdict": "correct"}}, FIELDS) == {"1": {"verdict": "correct"}}
    assert AV.check_one("pref_strict", {"choice": "a", "strength": 2.0}, FIELDS) == {
        "choice": "a",
        "strength": 2,
    }


def test_options_normalised() -> None:
    q = SCHEMA.question("sentiment")
    assert q.options == [Option("pos", "pos"), Option("neg", "Negative")]  # type: ignore[union-attr]
    assert SCHEMA.question("steps").verdicts[0] == Option("correct")  # type: ignore[union-attr]


def test_rating_scale_forms() -> None:
    assert (RatingQuestion(name="r").min, RatingQuestion(name="r").max) == (1, 5)
    r = RatingQuestion(name="r", scale=7)
    assert (r.min, r.max) == (1, 7)
    r = RatingQuestion(name="r", min=0, max=10)
    assert (r.min, r.max, r.scale) == (0, 10, None)


def test_answer_validator_required_and_partial() -> None:
    schema = ProjectSchema.from_dict(
        {
            "name": "p",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [
                {"name": "sentiment", "type": "label", "options": ["pos", "neg"]},
                {"name": "note", "type": "text", "required": False},
            ],
        }
    )
    av = AnswerValidator(schema)
    fields = {"text": "x"}
    assert av.validate({"sentiment": "pos"}, fields) == {"sentiment": "pos"}
    with pytest.raises(ValidationError) as info:
        av.validate({"note": "x"}, fields)
    assert info.value.field == "values.sentiment"
    assert av.validate({"note": "x"}, fields, partial=True) == {"note": "x"}
    assert av.validate({"sentiment": "neg", "note": None}, fields) == {"sentiment": "neg"}
    with pytest.raises(ValidationError) as info:
        av.validate({"sentiment": "pos", "mood": 1}, fields)
    assert info.value.field == "values.mood"
    assert "sentiment" in info.value.message
    with pytest.raises(ValidationError) as info:
        av.validate(["pos"], fields)
    assert info.value.field == "values"


def test_answer_needs_the_field_value() -> None:
    with pytest.raises(ValidationError) as info:
        AV.check_one("pref", {"choice": "a"}, {})
    assert info.value.field == "values.pref"


def test_required_span_and_segment_refuse_an_empty_answer() -> None:
    schema = ProjectSchema.from_dict(
        {
            "name": "p",
            "fields": [{"name": "text", "type": "text"}, {"name": "audio", "type": "audio"}],
            "questions": [
                {"name": "ents", "type": "span", "field": "text", "labels": ["PER"]},
                {"name": "turns", "type": "segment", "field": "audio", "labels": ["speech"]},
                {"name": "maybe", "type": "span", "field": "text", "labels": ["PER"], "required": False},
                {"name": "tags", "type": "multi_label", "options": ["a", "b"]},
            ],
        }
    )
    av = AnswerValidator(schema)
    fields = {"text": "Ada", "audio": {"url": "a.wav", "duration": 2.0}}
    span = [{"start": 0, "end": 3, "label": "PER"}]
    seg = [{"start": 0, "end": 1, "label": "speech"}]
    ok = {"ents": span, "turns": seg, "maybe": [], "tags": []}
    assert av.validate(ok, fields) == ok  # an optional span and a multi-label may stay empty
    for name in ("ents", "turns"):
        with pytest.raises(ValidationError) as info:
            av.validate(ok | {name: []}, fields)
        assert info.value.field == f"values.{name}" and "at least one" in info.value.message
    assert av.validate(ok | {"ents": []}, fields, partial=True)["ents"] == []  # a draft may
