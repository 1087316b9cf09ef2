"""Majority vote: the most frequent answer per task, optionally weighted per worker.

Estimates, per task, the share of (weighted) votes each label received; that share is
reported as ``probas_`` (a vote share, not a calibrated probability: prefer
:class:`~assay.quality.aggregation.dawid_skene.DawidSkene` when calibration matters).
Ties go to the lowest label index (deterministic, as crowd-kit's ``MajorityVote``).
Gold answers, if given, replace the vote of their tasks.

Example
-------
>>> import numpy as np
>>> mv = MajorityVote().fit([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [1, 1, 0, 2, 2])
>>> mv.labels_.tolist()
[1, 2]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from assay.quality._arrays import FloatArray, IntArray, Triplets
from assay.quality.aggregation._base import CategoricalAggregator, clamp

__all__ = ["MajorityVote"]


class MajorityVote(CategoricalAggregator):
    """Majority vote.

    Parameters
    ----------
    weights : ``(n_workers,)`` non-negative floats, optional
        Per-worker vote weight (e.g. a learned reliability); default 1 for everyone.
    """

    def __init__(self, weights: npt.ArrayLike | None = None) -> None:
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)

    def _fit(self, d: Triplets, gold_task: IntArray, gold_label: IntArray) -> None:
        w = np.ones(d.label.size) if self.weights is None else self.weights[d.worker]
        flat = np.bincount(d.task * d.n_labels + d.label, weights=w, minlength=d.n_tasks * d.n_labels)
        counts = flat.reshape(d.n_tasks, d.n_labels)
        s = counts.sum(axis=1, keepdims=True)
        post: FloatArray = np.divide(counts, s, out=np.full_like(counts, 1.0 / d.n_labels), where=s > 0)
        clamp(post, gold_task, gold_label)
        self.probas_ = post
