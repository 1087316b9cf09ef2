"""Aggregators: from several answers per record to one answer with a confidence.

Categorical (fit/predict classes on integer-coded ``task, worker, label`` arrays):
:class:`MajorityVote`, :class:`DawidSkene`, :class:`OneCoinDawidSkene`, :class:`GLAD`,
:class:`MACE`, :class:`AutoAggregator`. Multi-label: :class:`BinaryRelevanceDS`. Numbers:
:class:`MedianRating`, :class:`BiasCorrectedMean`. Spans: :func:`aggregate_spans`.
Geometry: :func:`fuse_boxes`, :func:`fuse_polygons`, :func:`fuse_keypoints`. Pairwise
comparisons across items: :class:`BradleyTerry`.
"""

from assay.quality.aggregation._base import CategoricalAggregator
from assay.quality.aggregation.auto import DEFAULT_METHODS, AutoAggregator
from assay.quality.aggregation.bradley_terry import BradleyTerry
from assay.quality.aggregation.dawid_skene import DawidSkene
from assay.quality.aggregation.geometry import FusedShapes, fuse_boxes, fuse_keypoints, fuse_polygons
from assay.quality.aggregation.glad import GLAD
from assay.quality.aggregation.mace import MACE
from assay.quality.aggregation.majority_vote import MajorityVote
from assay.quality.aggregation.multi_label import BinaryRelevanceDS
from assay.quality.aggregation.one_coin import OneCoinDawidSkene
from assay.quality.aggregation.ratings import BiasCorrectedMean, MedianRating
from assay.quality.aggregation.spans import SpanResult, aggregate_spans

METHODS: dict[str, type[CategoricalAggregator]] = {
    "mv": MajorityVote,
    "ds": DawidSkene,
    "onecoin": OneCoinDawidSkene,
    "glad": GLAD,
    "mace": MACE,
    "auto": AutoAggregator,
}
"""Categorical aggregators by short name (as used by the CLI)."""

__all__ = [
    "DEFAULT_METHODS",
    "GLAD",
    "MACE",
    "METHODS",
    "AutoAggregator",
    "BiasCorrectedMean",
    "BinaryRelevanceDS",
    "BradleyTerry",
    "CategoricalAggregator",
    "DawidSkene",
    "FusedShapes",
    "MajorityVote",
    "MedianRating",
    "OneCoinDawidSkene",
    "SpanResult",
    "aggregate_spans",
    "fuse_boxes",
    "fuse_keypoints",
    "fuse_polygons",
]
