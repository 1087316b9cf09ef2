"""A cache of parsed project schemas and their validators (parsing is kept off the hot path)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from assay.domain.records import AnswerValidator
from assay.domain.schema import ProjectSchema

__all__ = ["CompiledSchema", "compiled"]


@dataclass(frozen=True)
class CompiledSchema:
    schema: ProjectSchema
    answers: AnswerValidator
    multi: frozenset[str]
    comparison_fields: tuple[str, ...]
    trajectory_fields: tuple[str, ...]
    # AI-first routing with the models' answers hidden from people (workflow.ai_first.suggestions)
    hide_suggestions: bool = False


@lru_cache(maxsize=256)
def _compile(text: bytes) -> CompiledSchema:
    schema = ProjectSchema.from_dict(orjson.loads(text))
    return CompiledSchema(
        schema=schema,
        answers=AnswerValidator(schema),
        multi=frozenset(q.name for q in schema.questions if q.type == "multi_label"),
        comparison_fields=tuple(f.name for f in schema.fields if f.type == "comparison"),
        trajectory_fields=tuple(f.name for f in schema.fields if f.type == "trajectory"),
        hide_suggestions=bool(schema.workflow.ai_first and schema.workflow.ai_first.suggestions == "hidden"),
    )


def compiled(project: dict[str, Any]) -> CompiledSchema:
    """The project's schema, parsed once per distinct schema document."""
    return _compile(orjson.dumps(project["schema"], option=orjson.OPT_SORT_KEYS))
