"""The registry of question types: everything assay does with a type, declared in one place.

Each :class:`QuestionType` names, for its type:

* ``spec`` — the question spec class; its ``checker()`` validates and normalises a value;
* ``fields`` — the field types a question of this type may point at (None: no field);
* ``consensus`` — the per-record method run on every submit, ``project`` — the project-wide
  method of a recompute (None: the per-record one), and their ``options``;
* ``agreement`` — the distance Krippendorff's alpha uses between two answers (``nominal``,
  ``ordinal``, ``interval``, or a distance between structured answers such as ``iou``);
* ``export`` — how a value is written where a file has one cell per value: ``text``,
  ``integer``, ``number`` or ``json`` (JSON text in CSV, nested in JSONL/Parquet); span values
  in exports carry the text they cover;
* ``control`` — the workbench control that answers it (``data-control`` in the UI).

The consensus service, the dashboard's agreement table, the exports and the CLI read this table;
a method, distance or control named here must exist there (``tests/domain/test_registry.py``).
Adding a question type means a spec class, an entry here, and its UI control.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from .questions import (
    BaseQuestion,
    BBoxQuestion,
    KeypointsQuestion,
    LabelQuestion,
    MultiLabelQuestion,
    NumberQuestion,
    PolygonQuestion,
    PreferenceQuestion,
    RankingQuestion,
    RatingQuestion,
    SegmentQuestion,
    SpanQuestion,
    StepPickQuestion,
    StepReviewQuestion,
    StepSetQuestion,
    TextQuestion,
)

__all__ = [
    "AGREEMENT_DISTANCES",
    "CATEGORICAL_TYPES",
    "EXPORT_CELLS",
    "QUESTION_FIELD_TYPES",
    "QUESTION_TYPES",
    "REGISTRY",
    "QuestionType",
    "question_type",
]

ExportCell = Literal["text", "integer", "number", "json"]
EXPORT_CELLS: tuple[str, ...] = ("text", "integer", "number", "json")

AGREEMENT_DISTANCES: tuple[str, ...] = (
    "nominal",  # same category or not
    "ordinal",  # ranks between two values (Krippendorff)
    "interval",  # squared difference
    "jaccard",  # 1 - |A ∩ B| / |A ∪ B| of two sets
    "span_overlap",  # 1 - character F1 of two span sets, per label
    "time_overlap",  # 1 - duration F1 of two segment sets, per label
    "iou",  # 1 - matched IoU of two box (polygon: bounding box) sets, per label
    "oks",  # 1 - matched object keypoint similarity, per label
    "kendall",  # normalised Kendall tau distance of two rankings
    "per_step",  # share of the steps either reviewed on which the verdicts differ
)

_TEXT_FIELDS = frozenset({"text", "markdown"})
_IMAGE_FIELDS = frozenset({"image", "video"})
_TRAJECTORY = frozenset({"trajectory"})
_COMPARISON = frozenset({"comparison"})


@dataclass(frozen=True)
class QuestionType:
    """Everything assay does with one question type (see the module docstring)."""

    name: str
    spec: type[BaseQuestion]
    consensus: str
    agreement: str
    export: ExportCell
    control: str
    project: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    fields: frozenset[str] | None = None

    @property
    def categorical(self) -> bool:
        """One category per answer, aggregated by an EM over the project (label, preference)."""
        return self.project == "em"


_GEOMETRY = MappingProxyType({"threshold": 0.5, "min_support": 0.5})

REGISTRY: Mapping[str, QuestionType] = MappingProxyType(
    {
        t.name: t
        for t in (
            QuestionType(
                "label", LabelQuestion, "weighted_vote", "nominal", "text", "choice-buttons", project="em"
            ),
            QuestionType(
                "multi_label", MultiLabelQuestion, "per_label_vote", "jaccard", "json", "checkbox-buttons"
            ),
            QuestionType(
                "rating", RatingQuestion, "median", "ordinal", "integer", "scale-buttons", project="bias_mean"
            ),
            QuestionType(
                "number", NumberQuestion, "median", "interval", "number", "number-input", project="bias_mean"
            ),
            QuestionType(
                "text",
                TextQuestion,
                "most_agreed",
                "nominal",
                "text",
                "textarea",
                fields=frozenset({"text", "markdown", "chat", "comparison", "trajectory", "json"}),
            ),
            QuestionType(
                "span",
                SpanQuestion,
                "character_vote",
                "span_overlap",
                "json",
                "span-text",
                options=MappingProxyType({"threshold": 0.5}),
                fields=_TEXT_FIELDS,
            ),
            QuestionType(
                "preference",
                PreferenceQuestion,
                "weighted_vote",
                "nominal",
                "json",
                "candidate-choice",
                project="em",
                fields=_COMPARISON,
            ),
            QuestionType(
                "ranking", RankingQuestion, "borda", "kendall", "json", "ranking-list", fields=_COMPARISON
            ),
            QuestionType(
                "bbox",
                BBoxQuestion,
                "iou_fusion",
                "iou",
                "json",
                "image-overlay",
                project="iou_fusion_skills",
                options=_GEOMETRY,
                fields=_IMAGE_FIELDS,
            ),
            QuestionType(
                "polygon",
                PolygonQuestion,
                "iou_medoid",
                "iou",
                "json",
                "image-overlay",
                options=_GEOMETRY,
                fields=_IMAGE_FIELDS,
            ),
            QuestionType(
                "keypoints",
                KeypointsQuestion,
                "oks_fusion",
                "oks",
                "json",
                "image-overlay",
                options=_GEOMETRY,
                fields=_IMAGE_FIELDS,
            ),
            QuestionType(
                "segment",
                SegmentQuestion,
                "time_vote",
                "time_overlap",
                "json",
                "timeline",
                options=MappingProxyType({"threshold": 0.5}),
                fields=frozenset({"audio", "video"}),
            ),
            QuestionType(
                "step_review",
                StepReviewQuestion,
                "per_step_vote",
                "per_step",
                "json",
                "step-verdicts",
                fields=_TRAJECTORY,
            ),
            QuestionType(
                "step_set",
                StepSetQuestion,
                "per_label_vote",
                "jaccard",
                "json",
                "step-checkboxes",
                fields=_TRAJECTORY,
            ),
            QuestionType(
                "step_pick",
                StepPickQuestion,
                "weighted_vote",
                "nominal",
                "integer",
                "step-picker",
                fields=_TRAJECTORY,
            ),
        )
    }
)
"""Every question type by name, in the order the docs list them."""

QUESTION_TYPES: tuple[str, ...] = tuple(REGISTRY)

QUESTION_FIELD_TYPES: dict[str, frozenset[str]] = {
    name: t.fields for name, t in REGISTRY.items() if t.fields is not None
}
"""For each question type that points at a field: the field types it may point at."""

CATEGORICAL_TYPES: tuple[str, ...] = tuple(name for name, t in REGISTRY.items() if t.categorical)
"""Question types whose answers are one category each (voted on, aggregated by EM)."""


def question_type(name: str) -> QuestionType:
    """The registry entry of a question type (``KeyError`` for an unknown one)."""
    return REGISTRY[name]
