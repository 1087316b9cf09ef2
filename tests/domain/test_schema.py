from __future__ import annotations

import re
from pathlib import Path

import pytest

from assay.domain import (
    FIELD_TYPES,
    QUESTION_TYPES,
    Overlap,
    ProjectSchema,
    RatingQuestion,
    ValidationError,
)

DESIGN_EXAMPLE = """
name: support-replies
fields:
  - {name: prompt, type: text}
  - {name: candidates, type: comparison}        # two or more model responses
questions:
  - {name: preference, type: preference, field: candidates, ties: true, strength: true}
  - {name: helpful, type: rating, scale: 7, required: false}
  - {name: rationale, type: text, required: false}
workflow: {overlap: {min: 2, max: 5, confidence: 0.9}, gold_rate: 0.05, review_rate: 0.1, lease_seconds: 600}
routing: {skills: []}
guidelines: |
  Prefer the reply that solves the customer's problem correctly and briefly.
"""

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def test_design_example() -> None:
    s = ProjectSchema.from_yaml(DESIGN_EXAMPLE)
    assert s.name == "support-replies"
    assert [f.type for f in s.fields] == ["text", "comparison"]
    pref = s.question("preference")
    assert pref.type == "preference" and pref.strength and pref.ties
    helpful = s.question("helpful")
    assert (
        isinstance(helpful, RatingQuestion) and (helpful.min, helpful.max) == (1, 7) and not helpful.required
    )
    assert s.workflow.overlap == Overlap(min=2, max=5, confidence=0.9)
    assert s.workflow.gold_rate == 0.05 and s.workflow.lease_seconds == 600
    assert s.guidelines.startswith("Prefer")
    assert s.field("prompt").type == "text"
    with pytest.raises(KeyError):
        s.field("nope")


def yaml_blocks() -> list[str]:
    text = DOCS.read_text()
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


def full_schemas() -> list[str]:
    return [b for b in yaml_blocks() if b.lstrip().startswith("name:")]


@pytest.mark.parametrize("text", [DESIGN_EXAMPLE, *full_schemas()])
def test_round_trip(text: str) -> None:
    s = ProjectSchema.from_yaml(text)
    d = s.to_dict()
    assert ProjectSchema.from_dict(d) == s
    assert ProjectSchema.from_dict(d).to_dict() == d
    y = s.to_yaml()
    s2 = ProjectSchema.from_yaml(y)
    assert s2 == s
    assert s2.to_yaml() == y
    assert ProjectSchema.from_json(s.to_json()) == s
    assert ProjectSchema.from_text(s.to_json()) == s


def test_docs_mention_every_type() -> None:
    text = DOCS.read_text()
    for t in FIELD_TYPES:
        assert f"type: {t}" in text, t
    for t in QUESTION_TYPES:
        assert f"type: {t}" in text, t
    assert len(full_schemas()) >= 1


def test_overlap_shorthand() -> None:
    s = ProjectSchema.from_yaml(
        "name: x\nfields: [{name: a, type: text}]\nquestions: [{name: q, type: text}]\nworkflow: {overlap: 3}"
    )
    assert s.workflow.overlap == Overlap(min=3, max=3)
    assert s.workflow.overlap.fixed
    s = ProjectSchema.from_yaml(
        "name: x\nfields: [{name: a, type: text}]\nquestions: [{name: q, type: text}]"
    )
    assert s.workflow.overlap.min == s.workflow.overlap.max == 1
    assert s.workflow.consensus_method == "auto" and s.routing.skills == []


BASE = "name: x\nfields: [{name: a, type: text}, {name: img, type: image}]\n"

BAD = [
    (BASE + "questions: [{name: q, type: rating, scale: 1}]", "questions[0].scale"),
    (BASE + "questions: [{name: q, type: ratin}]", "questions[0].type"),
    (BASE + "questions: [{name: q}]", "questions[0].type"),
    (BASE + "questions: [{name: q, type: label, options: [a], scal: 3}]", "questions[0].scal"),
    (BASE + "questions: [{name: q, type: label}]", "questions[0].options"),
    (BASE + "questions: [{name: q, type: label, options: [a, a]}]", "questions[0].options"),
    (BASE + "questions: [{name: 1q, type: text}]", "questions[0].name"),
    (BASE + "questions: [{name: q, type: text}, {name: q, type: text}]", "questions[1].name"),
    (BASE + "questions: [{name: a, type: text}]", "questions[0].name"),
    (BASE + "questions: [{name: q, type: span, field: b, labels: [x]}]", "questions[0].field"),
    (BASE + "questions: [{name: q, type: bbox, field: a, labels: [x]}]", "questions[0].field"),
    (BASE + "questions: [{name: q, type: span, field: img, labels: [x]}]", "questions[0].field"),
    (BASE + "questions: [{name: q, type: preference, field: a}]", "questions[0].field"),
    (BASE + "questions: [{name: q, type: step_review, field: a}]", "questions[0].field"),
    (BASE + "questions: [{name: q, type: segment, field: img, labels: [x]}]", "questions[0].field"),
    (BASE + "questions: [{name: q, type: bbox, field: img}]", "questions[0].labels"),
    (BASE + "questions: [{name: q, type: rating, min: 5, max: 3}]", "questions[0]"),
    (BASE + "questions: [{name: q, type: rating, min: 1, max: 18446744073709551616}]", "questions[0].max"),
    (BASE + "questions: [{name: q, type: text}]\nworkflow: {overlap: {min: 3, max: 2}}", "workflow.overlap"),
    (BASE + "questions: [{name: q, type: text}]\nworkflow: {gold_rate: 2}", "workflow.gold_rate"),
    # (beyond what a column holds, or a lease's end a date can hold)
    (BASE + "questions: [{name: q, type: text}]\nworkflow: {overlap: 2147483648}", "workflow.overlap.min"),
    (BASE + "questions: [{name: q, type: text}]\nworkflow: {lease_seconds: 1e15}", "workflow.lease_seconds"),
    (BASE + "questions: [{name: q, type: text}]\nworkflow: {quality_bar: -1}", "workflow.quality_bar"),
    (
        BASE + "questions: [{name: q, type: text}]\nworkflow: {qualification: {count: 0, min_accuracy: 1}}",
        "workflow.qualification.count",
    ),
    (BASE + "questions: [{name: q, type: text}]\nextra: 1", "extra"),
    (BASE + "questions: []", "questions"),
    ("name: x\nfields: [{name: metadata, type: text}]\nquestions: [{name: q, type: text}]", "fields[0].name"),
    (
        "name: x\nfields: [{name: a, type: text}, {name: a, type: json}]\nquestions: [{name: q, type: text}]",
        "fields[1].name",
    ),
    ("name: x\nfields: [{name: a, type: pdf}]\nquestions: [{name: q, type: text}]", "fields[0].type"),
    ("name: ''\nfields: [{name: a, type: text}]\nquestions: [{name: q, type: text}]", "name"),
    ("fields: [{name: a, type: text}]\nquestions: [{name: q, type: text}]", "name"),
]


@pytest.mark.parametrize(("text", "field"), BAD)
def test_bad_schemas(text: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ProjectSchema.from_yaml(text)
    assert info.value.field == field


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(ValidationError) as info:
        ProjectSchema.from_yaml("name: x\nfields: [{name: a, type: text}\nquestions: []")
    assert info.value.line == 3
    with pytest.raises(ValidationError) as info:
        ProjectSchema.from_json('{"name": "x",\n "fields": [}')
    assert info.value.line == 2
    with pytest.raises(ValidationError):
        ProjectSchema.from_yaml("- a list")


def test_errors_list_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        ProjectSchema.from_yaml(
            BASE + "questions: [{name: q, type: rating, scale: 1}, {name: r, type: label}]"
        )
    fields = [e["field"] for e in info.value.details["errors"]]
    assert fields == ["questions[0].scale", "questions[1].options"]


def test_docs_snippets_are_valid() -> None:
    import json

    import yaml
    from pydantic import TypeAdapter

    from assay.domain import FieldSpec, QuestionSpec, Workflow, normalize_trajectory

    fields_ta: TypeAdapter[FieldSpec] = TypeAdapter(FieldSpec)
    questions_ta: TypeAdapter[QuestionSpec] = TypeAdapter(QuestionSpec)
    for block in yaml_blocks():
        data = yaml.safe_load(block)
        for f in data.get("fields", []):
            fields_ta.validate_python(f)
        for q in data.get("questions", []):
            questions_ta.validate_python(q)
        if "workflow" in data:
            Workflow.model_validate(data["workflow"])
    text = DOCS.read_text()
    trajectories = [b for b in re.findall(r"```json\n(.*?)```", text, flags=re.S) if '"steps"' in b]
    assert trajectories
    for b in trajectories:
        normalize_trajectory(json.loads(b))


def test_schema_built_in_python_is_checked() -> None:
    from assay.domain import LabelQuestion, SpanQuestion, TextField

    s = ProjectSchema(
        name="py",
        fields=[TextField(name="text")],
        questions=[
            LabelQuestion(name="q", options=["a", "b"]),
            SpanQuestion(name="ents", field="text", labels=["X"]),
        ],
    )
    assert ProjectSchema.from_dict(s.to_dict()) == s
    with pytest.raises(ValidationError) as info:
        ProjectSchema(
            name="py",
            fields=[TextField(name="text")],
            questions=[SpanQuestion(name="ents", field="body", labels=["X"])],
        )
    assert info.value.field == "questions[0].field"
