"""Agreement measures: Krippendorff's alpha, Fleiss' and Cohen's kappa, span F1, mean IoU."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.quality.agreement.annotations import mean_iou, span_f1
    from assay.quality.agreement.kappa import (
        cohen_kappa_table,
        fleiss_kappa,
        fleiss_kappa_counts,
        pairwise_cohen_kappa,
    )
    from assay.quality.agreement.krippendorff import (
        Level,
        coincidence_matrix,
        distance_alpha,
        krippendorff_alpha,
    )

# Names are loaded on first use (PEP 562), so that importing one algorithm does not import
# SciPy's statistics or optimiser for the others: a command pays only for what it runs.
_WHERE: dict[str, str] = {
    "Level": "assay.quality.agreement.krippendorff",
    "cohen_kappa_table": "assay.quality.agreement.kappa",
    "coincidence_matrix": "assay.quality.agreement.krippendorff",
    "distance_alpha": "assay.quality.agreement.krippendorff",
    "fleiss_kappa": "assay.quality.agreement.kappa",
    "fleiss_kappa_counts": "assay.quality.agreement.kappa",
    "krippendorff_alpha": "assay.quality.agreement.krippendorff",
    "mean_iou": "assay.quality.agreement.annotations",
    "pairwise_cohen_kappa": "assay.quality.agreement.kappa",
    "span_f1": "assay.quality.agreement.annotations",
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
    "Level",
    "cohen_kappa_table",
    "coincidence_matrix",
    "distance_alpha",
    "fleiss_kappa",
    "fleiss_kappa_counts",
    "krippendorff_alpha",
    "mean_iou",
    "pairwise_cohen_kappa",
    "span_f1",
]
