"""Agreement measures: Krippendorff's alpha, Fleiss' and Cohen's kappa, span F1, mean IoU."""

from assay.quality.agreement.annotations import mean_iou, span_f1
from assay.quality.agreement.kappa import (
    cohen_kappa_table,
    fleiss_kappa,
    fleiss_kappa_counts,
    pairwise_cohen_kappa,
)
from assay.quality.agreement.krippendorff import Level, coincidence_matrix, krippendorff_alpha

__all__ = [
    "Level",
    "cohen_kappa_table",
    "coincidence_matrix",
    "fleiss_kappa",
    "fleiss_kappa_counts",
    "krippendorff_alpha",
    "mean_iou",
    "pairwise_cohen_kappa",
    "span_f1",
]
