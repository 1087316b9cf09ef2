"""The question-type registry: every type declares every part, and every part it names exists."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from assay.domain import QUESTION_TYPES, REGISTRY
from assay.domain.question_types import AGREEMENT_DISTANCES, EXPORT_CELLS
from assay.domain.questions import QuestionSpec
from assay.services import consensus_methods
from assay.services.agreement import DISTANCES

FRONTEND = Path(__file__).resolve().parents[1] / "frontend" / "src"
PROJECT_METHODS = {None, "em", "bias_mean", "iou_fusion_skills"}  # recompute_project's branches


def _spec_classes() -> set[type]:
    union = typing.get_args(QuestionSpec)[0]
    return set(typing.get_args(union))


def test_every_spec_class_has_a_registry_entry_and_back() -> None:
    assert {t.spec for t in REGISTRY.values()} == _spec_classes()
    for name, t in REGISTRY.items():
        assert t.name == name
        assert t.spec.model_fields["type"].default == name
    assert tuple(REGISTRY) == QUESTION_TYPES


def test_every_type_declares_every_part_and_each_part_exists() -> None:
    ui = "\n".join(p.read_text() for p in FRONTEND.rglob("*.svelte"))
    controls = set(re.findall(r'data-control="([a-z-]+)"', ui))
    card = (FRONTEND / "questions" / "QuestionCard.svelte").read_text()
    missing: list[str] = []
    for name, t in REGISTRY.items():
        if t.consensus not in consensus_methods.METHODS:
            missing.append(f"{name}: consensus method {t.consensus!r}")
        if t.project not in PROJECT_METHODS:
            missing.append(f"{name}: project method {t.project!r}")
        if t.agreement not in AGREEMENT_DISTANCES or t.agreement not in DISTANCES:
            missing.append(f"{name}: agreement {t.agreement!r}")
        if t.export not in EXPORT_CELLS:
            missing.append(f"{name}: export {t.export!r}")
        if t.control not in controls:
            missing.append(f"{name}: UI control {t.control!r} (no data-control in frontend/src)")
        if f"'{name}'" not in card:
            missing.append(f"{name}: no branch in QuestionCard.svelte")
    assert not missing, missing
    assert set(DISTANCES) == set(AGREEMENT_DISTANCES)
