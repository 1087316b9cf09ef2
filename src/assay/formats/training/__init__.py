"""Training-data transforms: from a project's export rows to training examples.

Each module of this package holds one family of formats (preferences, SFT, trajectories …)
and registers its transforms by name with :func:`register_transform`. A transform receives
the project schema, the export rows (as written by ``assay export --lineage``: fields,
responses, consensus) and the :class:`TrainingOptions`, and yields examples (plain dicts).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from assay.domain.schema import ProjectSchema

__all__ = ["TRAINING_FORMATS", "TrainingOptions", "Transform", "load_transforms", "register_transform"]


@dataclass(frozen=True)
class TrainingOptions:
    """Choices shared by the training transforms."""

    min_confidence: float = 0.0  # drop examples whose consensus confidence is below this
    ties: str = "drop"  # "drop" | "keep" (where a format can express a tie)
    remove_unnecessary: bool = False  # trajectory SFT: drop steps judged unnecessary
    max_synthetic_share: float | None = None  # at most this share of synthetic examples (provenance.py)
    extra: dict[str, Any] = field(default_factory=dict)


Transform = Callable[[ProjectSchema, Iterable[dict[str, Any]], TrainingOptions], Iterator[dict[str, Any]]]
TRAINING_FORMATS: dict[str, Transform] = {}


def register_transform(name: str) -> Callable[[Transform], Transform]:
    def deco(fn: Transform) -> Transform:
        TRAINING_FORMATS[name] = fn
        return fn

    return deco


def load_transforms() -> dict[str, Transform]:
    """Import every module of this package (which registers its transforms) and return the registry."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return TRAINING_FORMATS
