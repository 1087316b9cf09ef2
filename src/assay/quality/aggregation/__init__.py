"""Aggregators: from several answers per record to one answer with a confidence.

Categorical (fit/predict classes on integer-coded ``task, worker, label`` arrays):
:class:`MajorityVote`, :class:`DawidSkene`, :class:`OneCoinDawidSkene`, :class:`GLAD`,
:class:`MACE`, :class:`AutoAggregator`. Multi-label: :class:`BinaryRelevanceDS`. Numbers:
:class:`MedianRating`, :class:`BiasCorrectedMean`. Spans: :func:`aggregate_spans`.
Geometry: :func:`fuse_boxes`, :func:`fuse_polygons`, :func:`fuse_keypoints`. Pairwise
comparisons across items: :class:`BradleyTerry`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.quality.aggregation._base import CategoricalAggregator
    from assay.quality.aggregation.auto import AutoAggregator
    from assay.quality.aggregation.bradley_terry import BradleyTerry
    from assay.quality.aggregation.dawid_skene import DawidSkene
    from assay.quality.aggregation.geometry import (
        FusedShapes,
        fuse_boxes,
        fuse_boxes_with_skills,
        fuse_keypoints,
        fuse_polygons,
    )
    from assay.quality.aggregation.glad import GLAD
    from assay.quality.aggregation.mace import MACE
    from assay.quality.aggregation.majority_vote import MajorityVote
    from assay.quality.aggregation.methods import METHOD_NAMES, METHODS, method_class
    from assay.quality.aggregation.multi_label import BinaryRelevanceDS
    from assay.quality.aggregation.one_coin import OneCoinDawidSkene
    from assay.quality.aggregation.ratings import BiasCorrectedMean, MedianRating
    from assay.quality.aggregation.segments import SegmentResult, aggregate_segments
    from assay.quality.aggregation.spans import SpanResult, aggregate_spans

# Names are loaded on first use (PEP 562), so that importing one algorithm does not import
# SciPy's statistics or optimiser for the others: a command pays only for what it runs.
_WHERE: dict[str, str] = {
    "AutoAggregator": "assay.quality.aggregation.auto",
    "BiasCorrectedMean": "assay.quality.aggregation.ratings",
    "BinaryRelevanceDS": "assay.quality.aggregation.multi_label",
    "BradleyTerry": "assay.quality.aggregation.bradley_terry",
    "CategoricalAggregator": "assay.quality.aggregation._base",
    "DawidSkene": "assay.quality.aggregation.dawid_skene",
    "FusedShapes": "assay.quality.aggregation.geometry",
    "GLAD": "assay.quality.aggregation.glad",
    "MACE": "assay.quality.aggregation.mace",
    "METHODS": "assay.quality.aggregation.methods",
    "METHOD_NAMES": "assay.quality.aggregation.methods",
    "MajorityVote": "assay.quality.aggregation.majority_vote",
    "MedianRating": "assay.quality.aggregation.ratings",
    "OneCoinDawidSkene": "assay.quality.aggregation.one_coin",
    "SegmentResult": "assay.quality.aggregation.segments",
    "SpanResult": "assay.quality.aggregation.spans",
    "aggregate_segments": "assay.quality.aggregation.segments",
    "aggregate_spans": "assay.quality.aggregation.spans",
    "fuse_boxes": "assay.quality.aggregation.geometry",
    "fuse_boxes_with_skills": "assay.quality.aggregation.geometry",
    "fuse_keypoints": "assay.quality.aggregation.geometry",
    "fuse_polygons": "assay.quality.aggregation.geometry",
    "method_class": "assay.quality.aggregation.methods",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AutoAggregator",
    "BiasCorrectedMean",
    "BinaryRelevanceDS",
    "BradleyTerry",
    "CategoricalAggregator",
    "DawidSkene",
    "FusedShapes",
    "GLAD",
    "MACE",
    "METHODS",
    "METHOD_NAMES",
    "MajorityVote",
    "MedianRating",
    "OneCoinDawidSkene",
    "SegmentResult",
    "SpanResult",
    "aggregate_segments",
    "aggregate_spans",
    "fuse_boxes",
    "fuse_boxes_with_skills",
    "fuse_keypoints",
    "fuse_polygons",
    "method_class",
]
