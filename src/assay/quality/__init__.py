"""assay.quality — pure NumPy/SciPy algorithms for data quality.

Answers are integer-coded numpy arrays (``task``, ``worker``, ``label`` of equal length);
nothing here does I/O or imports the rest of assay.

* :mod:`~assay.quality.aggregation` — majority vote, Dawid-Skene, one-coin DS, GLAD, MACE,
  ``auto``, per-label DS for multi-label, median / bias-corrected mean for numbers,
  character-level span vote, IoU/OKS geometry fusion, Bradley-Terry with bootstrap intervals.
* :mod:`~assay.quality.agreement` — Krippendorff's alpha, Fleiss' kappa, Cohen's kappa,
  span F1, mean IoU.
* :mod:`~assay.quality.contributors` — gold accuracy (Beta posterior), agreement with
  consensus, quality gate.
* :mod:`~assay.quality.intervals` — Wilson score intervals of proportions.
* :mod:`~assay.quality.adaptive` — "done" / "more" / "review" per record.
* :mod:`~assay.quality.label_errors` — confident learning.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.quality.adaptive import Decision, decide, decide_many
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
    from assay.quality.aggregation.methods import METHODS
    from assay.quality.aggregation.multi_label import BinaryRelevanceDS
    from assay.quality.aggregation.one_coin import OneCoinDawidSkene
    from assay.quality.aggregation.ratings import BiasCorrectedMean, MedianRating
    from assay.quality.aggregation.segments import SegmentResult, aggregate_segments
    from assay.quality.aggregation.spans import SpanResult, aggregate_spans
    from assay.quality.agreement.annotations import mean_iou, span_f1
    from assay.quality.agreement.kappa import (
        cohen_kappa_table,
        fleiss_kappa,
        fleiss_kappa_counts,
        pairwise_cohen_kappa,
    )
    from assay.quality.agreement.krippendorff import distance_alpha, krippendorff_alpha
    from assay.quality.contributors import GoldScores, consensus_agreement, gold_accuracy, quality_gate
    from assay.quality.intervals import wilson_interval
    from assay.quality.label_errors import confident_joint, find_label_issues, label_quality_scores

# Names are loaded on first use (PEP 562), so that importing one algorithm does not import
# SciPy's statistics or optimiser for the others: a command pays only for what it runs.
_WHERE: dict[str, str] = {
    "AutoAggregator": "assay.quality.aggregation.auto",
    "BiasCorrectedMean": "assay.quality.aggregation.ratings",
    "BinaryRelevanceDS": "assay.quality.aggregation.multi_label",
    "BradleyTerry": "assay.quality.aggregation.bradley_terry",
    "CategoricalAggregator": "assay.quality.aggregation._base",
    "DawidSkene": "assay.quality.aggregation.dawid_skene",
    "Decision": "assay.quality.adaptive",
    "FusedShapes": "assay.quality.aggregation.geometry",
    "GLAD": "assay.quality.aggregation.glad",
    "GoldScores": "assay.quality.contributors",
    "MACE": "assay.quality.aggregation.mace",
    "METHODS": "assay.quality.aggregation.methods",
    "MajorityVote": "assay.quality.aggregation.majority_vote",
    "MedianRating": "assay.quality.aggregation.ratings",
    "OneCoinDawidSkene": "assay.quality.aggregation.one_coin",
    "SegmentResult": "assay.quality.aggregation.segments",
    "SpanResult": "assay.quality.aggregation.spans",
    "aggregate_segments": "assay.quality.aggregation.segments",
    "aggregate_spans": "assay.quality.aggregation.spans",
    "cohen_kappa_table": "assay.quality.agreement.kappa",
    "confident_joint": "assay.quality.label_errors",
    "consensus_agreement": "assay.quality.contributors",
    "decide": "assay.quality.adaptive",
    "decide_many": "assay.quality.adaptive",
    "distance_alpha": "assay.quality.agreement.krippendorff",
    "find_label_issues": "assay.quality.label_errors",
    "fleiss_kappa": "assay.quality.agreement.kappa",
    "fleiss_kappa_counts": "assay.quality.agreement.kappa",
    "fuse_boxes": "assay.quality.aggregation.geometry",
    "fuse_boxes_with_skills": "assay.quality.aggregation.geometry",
    "fuse_keypoints": "assay.quality.aggregation.geometry",
    "fuse_polygons": "assay.quality.aggregation.geometry",
    "gold_accuracy": "assay.quality.contributors",
    "krippendorff_alpha": "assay.quality.agreement.krippendorff",
    "label_quality_scores": "assay.quality.label_errors",
    "mean_iou": "assay.quality.agreement.annotations",
    "pairwise_cohen_kappa": "assay.quality.agreement.kappa",
    "quality_gate": "assay.quality.contributors",
    "span_f1": "assay.quality.agreement.annotations",
    "wilson_interval": "assay.quality.intervals",
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
    "Decision",
    "FusedShapes",
    "GLAD",
    "GoldScores",
    "MACE",
    "METHODS",
    "MajorityVote",
    "MedianRating",
    "OneCoinDawidSkene",
    "SegmentResult",
    "SpanResult",
    "aggregate_segments",
    "aggregate_spans",
    "cohen_kappa_table",
    "confident_joint",
    "consensus_agreement",
    "decide",
    "decide_many",
    "distance_alpha",
    "find_label_issues",
    "fleiss_kappa",
    "fleiss_kappa_counts",
    "fuse_boxes",
    "fuse_boxes_with_skills",
    "fuse_keypoints",
    "fuse_polygons",
    "gold_accuracy",
    "krippendorff_alpha",
    "label_quality_scores",
    "mean_iou",
    "pairwise_cohen_kappa",
    "quality_gate",
    "span_f1",
    "wilson_interval",
]
