"""Contributor scoring: accuracy on gold as a Beta posterior, agreement with consensus, a gate.

Problem: decide how much to trust each contributor (person or model) and when to pause one.

* :func:`gold_accuracy` — with ``c`` correct out of ``n`` gold answers and a ``Beta(a, b)``
  prior, the posterior on the accuracy is ``Beta(a + c, b + n - c)``; we report its mean
  and equal-tailed 95% interval (Gelman et al., *Bayesian Data Analysis*, 3rd ed., ch. 2).
* :func:`consensus_agreement` — share of a contributor's answers equal to the aggregated
  label, and the mean posterior probability the aggregator gives to the answers it chose
  (a soft version that uses the aggregator's calibration).
* :func:`quality_gate` — pause a contributor whose upper 95% bound is below ``bar`` once
  they answered at least ``min_gold`` gold questions: even optimistically they are not good
  enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assay.quality._arrays import BoolArray, FloatArray, IntArray, as_index

__all__ = ["GoldScores", "consensus_agreement", "gold_accuracy", "quality_gate"]


@dataclass(frozen=True)
class GoldScores:
    """Per-worker Beta posterior on accuracy; arrays of shape ``(n_workers,)``."""

    n: IntArray
    correct: IntArray
    mean: FloatArray
    low: FloatArray
    high: FloatArray


def gold_accuracy(
    worker: npt.ArrayLike,
    correct: npt.ArrayLike,
    *,
    n_workers: int | None = None,
    prior: tuple[float, float] = (1.0, 1.0),
    level: float = 0.95,
) -> GoldScores:
    """Beta posterior on each worker's accuracy from their gold answers.

    Parameters
    ----------
    worker : ``(n,)`` int, who answered each gold question.
    correct : ``(n,)`` bool, whether the answer matched gold.
    prior : ``(a, b)`` Beta prior pseudo-counts, default uniform ``(1, 1)``.
    level : credible mass of the interval, default 0.95.
    """
    w = as_index(worker, "worker")
    c = np.asarray(correct, dtype=bool)
    if c.shape != w.shape:
        raise ValueError("worker and correct differ in length")
    nw = int(w.max()) + 1 if n_workers is None else n_workers
    if n_workers is None and w.size == 0:
        nw = 0
    n = np.bincount(w, minlength=nw).astype(np.int64)
    k = np.bincount(w, weights=c.astype(np.float64), minlength=nw).astype(np.int64)
    a = prior[0] + k
    b = prior[1] + (n - k)
    tail = (1 - level) / 2
    from scipy import stats  # scipy.stats takes a second to load; only gold scores need it

    return GoldScores(
        n=n,
        correct=k,
        mean=a / (a + b),
        low=np.asarray(stats.beta.ppf(tail, a, b), dtype=np.float64),
        high=np.asarray(stats.beta.ppf(1 - tail, a, b), dtype=np.float64),
    )


def consensus_agreement(
    task: npt.ArrayLike,
    worker: npt.ArrayLike,
    label: npt.ArrayLike,
    consensus: npt.ArrayLike,
    probas: npt.ArrayLike | None = None,
    *,
    n_workers: int | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Agreement of each worker with the consensus.

    ``consensus``: ``(n_tasks,)`` aggregated labels; ``probas``: optional ``(n_tasks, K)``
    posteriors. Returns ``(hard, soft)``, each ``(n_workers,)``: share of answers equal to the
    consensus, and mean posterior of the answers given (``soft`` = ``hard`` without probas).
    Workers with no answers get nan.
    """
    t = as_index(task, "task")
    w = as_index(worker, "worker")
    y = as_index(label, "label")
    cons = np.asarray(consensus)
    nw = int(w.max()) + 1 if n_workers is None else n_workers
    n = np.bincount(w, minlength=nw).astype(np.float64)
    hits = (cons[t] == y).astype(np.float64)
    hard = np.divide(np.bincount(w, weights=hits, minlength=nw), n, out=np.full(nw, np.nan), where=n > 0)
    if probas is None:
        return hard, hard.copy()
    p = np.asarray(probas, dtype=np.float64)[t, y]
    soft = np.divide(np.bincount(w, weights=p, minlength=nw), n, out=np.full(nw, np.nan), where=n > 0)
    return hard, soft


def quality_gate(scores: GoldScores, *, bar: float, min_gold: int = 5) -> BoolArray:
    """``(n_workers,)`` True where the worker should be paused.

    Paused when ``scores.n >= min_gold`` and the upper credible bound ``scores.high < bar``.
    """
    out: BoolArray = (scores.n >= min_gold) & (scores.high < bar)
    return out
