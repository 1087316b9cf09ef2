"""A step nobody judged is unlabelled, not correct, and a project can require every step
(issue 24, item 8)."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from assay.domain.errors import ValidationError
from assay.domain.records import AnswerValidator
from assay.domain.schema import ProjectSchema
from assay.formats.training import TrainingOptions, load_transforms
from tests.traces.test_import import AGENT_SCHEMA
from tests.traces.test_stats_exports import _trajectory


def _schema(**step_review: Any) -> ProjectSchema:
    doc = copy.deepcopy(AGENT_SCHEMA)
    doc["questions"][0].update(step_review)
    return ProjectSchema.from_dict(doc)


TRAJ = _trajectory(random.Random(3), 7)  # 8 agent steps: 7 with a tool call, then the answer
AGENT = [s["index"] for s in TRAJ["steps"] if s["role"] == "assistant"]


def _row(judged: dict[int, str]) -> dict[str, Any]:
    values = {"steps": {str(i): {"verdict": v} for i, v in judged.items()}, "success": "no"}
    return {
        "external_id": "t1",
        "fields": {"run": TRAJ},
        "gold": None,
        "responses": [{"user": "ann", "kind": "human", "values": values}],
    }


def _prm(schema: ProjectSchema, judged: dict[int, str]) -> list[dict[str, Any]]:
    return list(load_transforms()["prm"](schema, [_row(judged)], TrainingOptions()))


def test_unjudged_steps_get_no_label() -> None:
    assert len(AGENT) == 8
    # two of eight steps judged, the second one wrong: nothing after them is called correct
    [ex] = _prm(_schema(), {AGENT[0]: "correct", AGENT[1]: "wrong_arguments"})
    assert ex["labels"] == [True, False] and len(ex["completions"]) == 2
    # a gap: the example ends before the first step nobody judged
    [ex] = _prm(_schema(), {AGENT[0]: "correct", AGENT[2]: "correct"})
    assert ex["labels"] == [True]
    # the first agent step unjudged: no example at all
    assert _prm(_schema(), {AGENT[3]: "harmful"}) == []


def test_a_project_may_say_unjudged_steps_are_correct() -> None:
    [ex] = _prm(_schema(unjudged="correct"), {AGENT[1]: "wrong_arguments"})
    assert ex["labels"] == [True, False, True, True, True, True, True, True]


def test_a_project_may_require_every_agent_step() -> None:
    schema = _schema(require_all=True)
    check = AnswerValidator(schema)
    fields = {"run": TRAJ}
    two = {
        "steps": {str(AGENT[0]): {"verdict": "correct"}, str(AGENT[1]): {"verdict": "correct"}},
        "success": "no",
    }
    with pytest.raises(ValidationError, match="no verdict for steps") as err:
        check.validate(two, fields)
    assert err.value.field == "values.steps"
    assert ", ".join(map(str, AGENT[2:])) in str(err.value)
    check.validate(two, fields, partial=True)  # a draft may be unfinished
    every = {"steps": {str(i): {"verdict": "correct"} for i in AGENT}, "success": "no"}
    assert check.validate(every, fields)["steps"] == every["steps"]
    AnswerValidator(_schema()).validate(two, fields)  # without require_all, two are enough
