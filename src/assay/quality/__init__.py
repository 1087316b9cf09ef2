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
* :mod:`~assay.quality.adaptive` — "done" / "more" / "review" per record.
* :mod:`~assay.quality.label_errors` — confident learning.
"""

from assay.quality.adaptive import Decision, decide, decide_many
from assay.quality.aggregation import (
    DEFAULT_METHODS,
    GLAD,
    MACE,
    METHODS,
    AutoAggregator,
    BiasCorrectedMean,
    BinaryRelevanceDS,
    BradleyTerry,
    CategoricalAggregator,
    DawidSkene,
    FusedShapes,
    MajorityVote,
    MedianRating,
    OneCoinDawidSkene,
    SpanResult,
    aggregate_spans,
    fuse_boxes,
    fuse_keypoints,
    fuse_polygons,
)
from assay.quality.agreement import (
    cohen_kappa_table,
    fleiss_kappa,
    fleiss_kappa_counts,
    krippendorff_alpha,
    mean_iou,
    pairwise_cohen_kappa,
    span_f1,
)
from assay.quality.contributors import GoldScores, consensus_agreement, gold_accuracy, quality_gate
from assay.quality.label_errors import confident_joint, find_label_issues, label_quality_scores

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
    "Decision",
    "FusedShapes",
    "GoldScores",
    "MajorityVote",
    "MedianRating",
    "OneCoinDawidSkene",
    "SpanResult",
    "aggregate_spans",
    "cohen_kappa_table",
    "confident_joint",
    "consensus_agreement",
    "decide",
    "decide_many",
    "find_label_issues",
    "fleiss_kappa",
    "fleiss_kappa_counts",
    "fuse_boxes",
    "fuse_keypoints",
    "fuse_polygons",
    "gold_accuracy",
    "krippendorff_alpha",
    "label_quality_scores",
    "mean_iou",
    "pairwise_cohen_kappa",
    "quality_gate",
    "span_f1",
]
