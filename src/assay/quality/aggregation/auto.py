"""``auto``: a sound default aggregator per question type.

For categorical questions (label, preference, step_review) :class:`AutoAggregator` uses
Dawid-Skene (:mod:`~assay.quality.aggregation.dawid_skene`) — on the real crowd sets in
``bench/aggregation.py`` it is on average at least as accurate as crowd-kit's best method —
and falls back to majority vote when the data are too sparse for per-worker confusion
matrices to be estimated: fewer than ``min_per_task`` answers per task on average, or
workers with a median of fewer than ``min_per_worker`` answers. With gold answers DS is
always used (gold makes the matrices identifiable). ``method_`` records the choice.

Which method each question type uses in a project is declared by the question-type registry
(``assay.domain.question_types``), not here.
"""

from __future__ import annotations

import numpy as np

from assay.quality._arrays import IntArray, Triplets
from assay.quality.aggregation._base import CategoricalAggregator
from assay.quality.aggregation.dawid_skene import DawidSkene
from assay.quality.aggregation.majority_vote import MajorityVote

__all__ = ["AutoAggregator"]


class AutoAggregator(CategoricalAggregator):
    """Dawid-Skene with a majority-vote fallback on sparse data.

    Parameters
    ----------
    min_per_task : float, default 2.0
    min_per_worker : float, default 4.0

    Attributes
    ----------
    method_ : ``"dawid_skene"`` or ``"majority_vote"``.
    model_ : the fitted underlying aggregator.
    """

    method_: str
    model_: CategoricalAggregator

    def __init__(self, min_per_task: float = 2.0, min_per_worker: float = 4.0) -> None:
        self.min_per_task = min_per_task
        self.min_per_worker = min_per_worker

    def _fit(self, d: Triplets, gold_task: IntArray, gold_label: IntArray) -> None:
        per_task = np.bincount(d.task, minlength=d.n_tasks)
        per_worker = np.bincount(d.worker, minlength=d.n_workers)
        answered = per_task[per_task > 0]
        active = per_worker[per_worker > 0]
        sparse_tasks = answered.size == 0 or float(answered.mean()) < self.min_per_task
        sparse_workers = active.size == 0 or float(np.median(active)) < self.min_per_worker
        model: CategoricalAggregator
        if gold_task.size == 0 and (sparse_tasks or sparse_workers):
            model, self.method_ = MajorityVote(), "majority_vote"
        else:
            model, self.method_ = DawidSkene(), "dawid_skene"
        model._fit(d, gold_task, gold_label)
        self.model_ = model
        self.probas_ = model.probas_
