from __future__ import annotations

import json
from typing import Any

import pytest

from assay.domain import ProjectSchema, RecordIn, RecordValidator, SuggestionIn, ValidationError

SCHEMA = ProjectSchema.from_dict(
    {
        "name": "p",
        "fields": [
            {"name": "text", "type": "text"},
            {"name": "candidates", "type": "comparison", "required": False},
            {"name": "run", "type": "trajectory", "required": False},
            {"name": "extra", "type": "json", "required": False},
            {"name": "img", "type": "image", "required": False},
        ],
        "questions": [
            {"name": "sentiment", "type": "label", "options": ["pos", "neg"]},
            {"name": "helpful", "type": "rating", "scale": 7, "required": False},
            {"name": "pref", "type": "preference", "field": "candidates", "required": False},
            {"name": "entities", "type": "span", "field": "text", "labels": ["PER"], "required": False},
        ],
    }
)
RV = RecordValidator(SCHEMA)
CANDS = [{"model": "a", "text": "x"}, {"model": "b", "text": "y"}]


def error(row: Any, validator: RecordValidator = RV) -> tuple[str | None, str]:
    with pytest.raises(ValidationError) as info:
        validator.validate(row)
    return info.value.field, info.value.message


def test_full_row() -> None:
    r = RV.validate(
        {
            "external_id": "t-1",
            "fields": {"text": "Ada", "candidates": CANDS},
            "metadata": {"source": "x"},
            "priority": 3,
            "gold": {"pref": {"choice": "a"}, "entities": [{"start": 0, "end": 3, "label": "PER"}]},
            "suggestions": [{"question": "helpful", "value": 6, "score": 0.8, "model": "judge-1"}],
        }
    )
    assert r == RecordIn(
        "t-1",
        {"text": "Ada", "candidates": CANDS},
        {"source": "x"},
        3,
        {"pref": {"choice": "a"}, "entities": [{"start": 0, "end": 3, "label": "PER"}]},
        [SuggestionIn("helpful", 6, 0.8, "judge-1")],
    )


def test_top_level_fields_and_id_alias() -> None:
    r = RV.validate({"id": 7, "text": "hi", "img": "a.png"})
    assert r.external_id == "7"
    assert r.fields == {"text": "hi", "img": "a.png"}
    assert r.metadata == {} and r.priority == 0 and r.gold is None and r.suggestions == []
    assert RV.validate({"external_id": "x", "id": "x", "text": "t"}).external_id == "x"


def test_trajectory_is_normalised() -> None:
    r = RV.validate({"id": "1", "text": "t", "run": [{"role": "user"}, {"role": "assistant"}]})
    assert r.fields["run"] == {"steps": [{"role": "user", "index": 0}, {"role": "assistant", "index": 1}]}


BAD: list[tuple[Any, str | None, str]] = [
    ({"id": "1", "txt": "x"}, "txt", "unknown column 'txt'; fields are: text, candidates, run, extra, img"),
    ({"id": "1", "fields": {"txt": "x"}}, "fields.txt", "unknown field"),
    ({"text": "x"}, "external_id", "required"),
    ({"id": "", "text": "x"}, "external_id", "empty"),
    ({"id": 1.5, "text": "x"}, "external_id", "string"),
    ({"external_id": "a", "id": "b", "text": "x"}, "id", "disagree"),
    ({"id": "1"}, "text", "required"),
    ({"id": "1", "fields": {}}, "fields.text", "required"),
    ({"id": "1", "fields": {"text": 3}}, "fields.text", "string"),
    ({"id": "1", "fields": "x"}, "fields", "object"),
    ({"id": "1", "text": "a", "fields": {"text": "b"}}, "text", "both"),
    ({"id": "1", "text": "x", "candidates": [{"text": "x"}]}, "candidates", "at least 2"),
    (
        {"id": "1", "fields": {"text": "x", "candidates": [{"text": "x"}, {"text": 1}]}},
        "fields.candidates[1].text",
        "",
    ),
    ({"id": "1", "text": "x", "metadata": []}, "metadata", "object"),
    ({"id": "1", "text": "x", "priority": "high"}, "priority", "integer"),
    ({"id": "1", "text": "x", "priority": 2**31}, "priority", "between"),  # (PostgreSQL's column)
    ({"id": "1", "text": "x", "priority": -(2**31) - 1}, "priority", "between"),
    ({"id": "1", "text": "x", "priority": 1e20}, "priority", "between"),
    ({"id": "1", "text": "x", "gold": {"sentiment": "meh"}}, "gold.sentiment", "not one of"),
    ({"id": "1", "text": "x", "gold": {"mood": "x"}}, "gold.mood", "unknown question"),
    ({"id": "1", "text": "x", "gold": {"pref": {"choice": "a"}}}, "gold.pref", "no value for field"),
    (
        {"id": "1", "text": "Ada", "gold": {"entities": [{"start": 0, "end": 9, "label": "PER"}]}},
        "gold.entities[0].end",
        "",
    ),
    (
        {"id": "1", "text": "x", "suggestions": [{"question": "helpful", "value": 9}]},
        "suggestions[0].value",
        "",
    ),
    (
        {"id": "1", "text": "x", "suggestions": [{"question": "nope", "value": 9}]},
        "suggestions[0].question",
        "",
    ),
    (
        {"id": "1", "text": "x", "suggestions": [{"question": "helpful", "value": 2, "score": "hi"}]},
        "suggestions[0].score",
        "",
    ),
    (
        {"id": "1", "text": "x", "suggestions": [{"question": "helpful", "value": 2, "by": "m"}]},
        "suggestions[0].by",
        "",
    ),
    ({"id": "1", "text": "x", "suggestions": "helpful"}, "suggestions", ""),
    (["x"], None, "object"),
]


@pytest.mark.parametrize(("row", "field", "message"), BAD)
def test_bad_rows(row: Any, field: str | None, message: str) -> None:
    got_field, got_message = error(row)
    assert got_field == field
    assert message in got_message


def test_gold_partial_and_suggestion_shorthand() -> None:
    r = RV.validate({"id": "1", "text": "x", "gold": {"helpful": 5}, "suggestions": {"sentiment": "pos"}})
    assert r.gold == {"helpful": 5}
    assert r.suggestions == [SuggestionIn("sentiment", "pos")]
    assert RV.validate({"id": "1", "text": "x", "gold": {}}).gold is None


def test_csv_strings() -> None:
    rv = RecordValidator(SCHEMA, from_strings=True)
    row = {
        "external_id": "c-1",
        "text": "Ada",
        "candidates": json.dumps(CANDS),
        "run": '[{"role": "user"}]',
        "extra": "42",
        "img": "a.png",
        "metadata": '{"source": "csv"}',
        "priority": "2",
        "gold": '{"sentiment": "neg"}',
        "suggestions": '[{"question": "pref", "value": {"choice": "b"}, "score": 0.5}]',
    }
    r = rv.validate(row)
    assert r.fields == {
        "text": "Ada",
        "candidates": CANDS,
        "run": {"steps": [{"role": "user", "index": 0}]},
        "extra": 42,
        "img": "a.png",
    }
    assert r.metadata == {"source": "csv"}
    assert r.priority == 2
    assert r.gold == {"sentiment": "neg"}
    assert r.suggestions == [SuggestionIn("pref", {"choice": "b"}, 0.5, None)]
    # empty cells are missing values
    r = rv.validate(
        {
            "id": "c-2",
            "text": "x",
            "candidates": "",
            "run": "",
            "extra": "",
            "img": "",
            "metadata": "",
            "priority": "",
            "gold": "",
            "suggestions": "",
        }
    )
    assert (
        r.fields == {"text": "x"}
        and r.priority == 0
        and r.gold is None
        and r.suggestions == []
        and r.metadata == {}
    )
    assert rv.validate({"id": "c-3", "text": "x", "extra": "plain words"}).fields["extra"] == "plain words"
    assert error({"id": "c-4", "text": "x", "priority": "1.5"}, rv)[0] == "priority"
    assert error({"id": "c-4", "text": "x", "candidates": "[{oops"}, rv)[0] == "candidates"
    assert error({"id": "c-4", "text": "x", "gold": "{oops"}, rv)[0] == "gold"
    # without from_strings, a JSON string in a comparison field is an error
    assert error({"id": "c-4", "text": "x", "candidates": json.dumps(CANDS)})[0] == "candidates"


def test_validation_does_not_mutate_input() -> None:
    row = {"id": "1", "fields": {"text": "x", "run": [{"role": "user"}]}}
    before = json.dumps(row, sort_keys=True)
    RV.validate(row)
    assert json.dumps(row, sort_keys=True) == before


def test_validate_fields() -> None:
    assert RV.validate_fields({"text": "x", "run": [{"role": "user"}]}) == {
        "text": "x",
        "run": {"steps": [{"role": "user", "index": 0}]},
    }
    with pytest.raises(ValidationError) as info:
        RV.validate_fields({"text": 1})
    assert info.value.field == "fields.text"
