"""Shared machinery for categorical aggregators (fit/predict API, gold clamping, the EM loop)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

import numpy as np
import numpy.typing as npt

from assay.quality._arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    Triplets,
    check_triplets,
    gold_arrays,
    softmax_rows,
)

__all__ = ["CategoricalAggregator", "EMAggregator"]


class CategoricalAggregator(ABC):
    """Base class: ``fit(task, worker, label)`` learns, ``labels_`` / ``probas_`` hold the result.

    Answers are parallel int arrays of length ``n`` (one row per answer); ``gold`` is an
    optional pair ``(task_indices, label_indices)`` of known answers. After ``fit``:

    ``labels_`` : ``(n_tasks,)`` int, the aggregated label; ``-1`` for a task with no answers
    and no gold. ``probas_`` : ``(n_tasks, n_labels)`` float, rows sum to 1.
    """

    labels_: IntArray
    probas_: FloatArray

    def fit(
        self,
        task: npt.ArrayLike,
        worker: npt.ArrayLike,
        label: npt.ArrayLike,
        *,
        n_tasks: int | None = None,
        n_workers: int | None = None,
        n_labels: int | None = None,
        gold: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    ) -> Self:
        d = check_triplets(task, worker, label, n_tasks, n_workers, n_labels)
        gt, gl = gold_arrays(gold, d.n_tasks, d.n_labels)
        self._fit(d, gt, gl)
        answered = np.bincount(d.task, minlength=d.n_tasks) > 0
        answered[gt] = True
        self.labels_ = np.where(answered, self.probas_.argmax(axis=1), -1).astype(np.int64)
        return self

    @abstractmethod
    def _fit(self, d: Triplets, gold_task: IntArray, gold_label: IntArray) -> None:
        """Set ``probas_`` (and whatever the method estimates) from the answers and the gold."""

    def fit_predict(
        self,
        task: npt.ArrayLike,
        worker: npt.ArrayLike,
        label: npt.ArrayLike,
        *,
        n_tasks: int | None = None,
        n_workers: int | None = None,
        n_labels: int | None = None,
        gold: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    ) -> IntArray:
        """Fit and return ``labels_``."""
        self.fit(task, worker, label, n_tasks=n_tasks, n_workers=n_workers, n_labels=n_labels, gold=gold)
        return self.labels_

    def fit_predict_proba(
        self,
        task: npt.ArrayLike,
        worker: npt.ArrayLike,
        label: npt.ArrayLike,
        *,
        n_tasks: int | None = None,
        n_workers: int | None = None,
        n_labels: int | None = None,
        gold: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    ) -> FloatArray:
        """Fit and return ``probas_``."""
        self.fit(task, worker, label, n_tasks=n_tasks, n_workers=n_workers, n_labels=n_labels, gold=gold)
        return self.probas_

    @property
    def confidence_(self) -> FloatArray:
        """``(n_tasks,)`` posterior probability of the chosen label (``probas_.max(axis=1)``)."""
        out: FloatArray = self.probas_.max(axis=1)
        return out


def vote_counts(d: Triplets) -> FloatArray:
    """``(n_tasks, n_labels)`` number of answers per task and label."""
    flat = np.bincount(d.task * d.n_labels + d.label, minlength=d.n_tasks * d.n_labels)
    out: FloatArray = flat.reshape(d.n_tasks, d.n_labels).astype(np.float64)
    return out


def clamp(post: FloatArray, gold_task: IntArray, gold_label: IntArray) -> None:
    """Set the posterior of every gold task to the one-hot gold answer (in place)."""
    if gold_task.size:
        post[gold_task] = 0.0
        post[gold_task, gold_label] = 1.0


class EMAggregator(CategoricalAggregator):
    """EM skeleton: start from the (gold-clamped) majority vote, alternate M and E steps.

    Stops when the observed-data log-likelihood improves by less than ``tol`` (relative)
    or after ``n_iter`` iterations. A task with exactly one answer and no gold is left out of the
    fit (it holds no agreement evidence) and keeps its answer, with the worker's estimated
    accuracy as confidence where known, else ``2 / (K + 1)`` (:func:`lone_posterior`). Subclasses implement ``_setup``, ``_m_step`` and ``_e_step``.
    """

    n_iter: int
    tol: float
    loglik_: float
    n_iter_: int

    def _setup(self, d: Triplets) -> None:
        """Precompute whatever the steps need (incidence matrices …)."""

    def _initial_posterior(self, d: Triplets) -> FloatArray:
        """Starting posterior; the majority-vote shares by default."""
        return _mv_posterior(d)

    @abstractmethod
    def _m_step(self, d: Triplets, post: FloatArray) -> None:
        """Re-estimate the parameters from the current posterior."""

    @abstractmethod
    def _e_step(self, d: Triplets) -> FloatArray:
        """Return unnormalised log-posteriors ``(n_tasks, n_labels)``."""

    def _fit(self, d: Triplets, gold_task: IntArray, gold_label: IntArray) -> None:
        # A task with a single answer (and no gold) holds no agreement evidence: it cannot tell a
        # worker's confusion from the class prior (with one grader, every split of the answers'
        # distribution between the two fits them equally well, and EM drifts to labelling every
        # task with the commonest class). Such tasks are left out of the fit; each keeps its
        # answer (see :func:`lone_posterior`).
        lone = lone_tasks(d, gold_task)
        fit = _subset(d, ~lone[d.task]) if lone.any() else d
        self._setup(fit)
        post = self._initial_posterior(fit)
        post[lone] = 0.0
        clamp(post, gold_task, gold_label)
        prev = -np.inf
        self.n_iter_ = 0
        loglik = -np.inf
        for it in range(self.n_iter):
            self._m_step(fit, post)
            logp = self._e_step(fit)
            post, lse = softmax_rows(logp)
            post[lone] = 0.0
            clamp(post, gold_task, gold_label)
            loglik = float(lse[~lone].sum())
            self.n_iter_ = it + 1
            if np.isfinite(prev) and abs(loglik - prev) <= self.tol * max(1.0, abs(prev)):
                break
            prev = loglik
        self.loglik_ = loglik
        if lone.any():
            known = np.zeros(d.n_workers, dtype=bool)
            known[fit.worker] = True
            skills = getattr(self, "skills_", None)
            acc = None if skills is None else np.where(known, np.asarray(skills, dtype=np.float64), np.nan)
            post[lone] = lone_posterior(d, lone, acc)[lone]
        self.probas_ = post


def lone_tasks(d: Triplets, gold_task: IntArray) -> BoolArray:
    """``(n_tasks,)`` True for each task with exactly one answer and no gold."""
    lone: BoolArray = np.bincount(d.task, minlength=d.n_tasks) == 1
    lone[gold_task] = False
    return lone


def lone_posterior(d: Triplets, lone: BoolArray, accuracy: FloatArray | None) -> FloatArray:
    """``(n_tasks, n_labels)``: on each ``lone`` task, its one answer with a confidence that says
    one answer — the worker's estimated accuracy where known (``accuracy[w]``, NaN when unknown,
    i.e. the worker answered no task with agreement evidence), else ``2 / (K + 1)`` (one answer
    out of one, add-one smoothed over the ``K`` labels); never below chance, the rest of the mass
    spread evenly over the other labels. Other rows are uniform."""
    k = d.n_labels
    out: FloatArray = np.full((d.n_tasks, k), 1.0 / k)
    sel = lone[d.task]
    task, worker, label = d.task[sel], d.worker[sel], d.label[sel]
    conf = np.full(task.size, 2.0 / (k + 1))
    if accuracy is not None:
        known = np.isfinite(accuracy[worker])
        conf[known] = accuracy[worker][known]
    conf = np.clip(conf, 1.0 / k + 1e-6, 1.0) if k > 1 else np.ones(task.size)
    out[task] = ((1.0 - conf) / max(k - 1, 1))[:, None]
    out[task, label] = conf
    return out


def _subset(d: Triplets, keep: BoolArray) -> Triplets:
    return Triplets(d.task[keep], d.worker[keep], d.label[keep], d.n_tasks, d.n_workers, d.n_labels)


def _mv_posterior(d: Triplets) -> FloatArray:
    counts = vote_counts(d)
    s = counts.sum(axis=1, keepdims=True)
    out: FloatArray = np.divide(counts, s, out=np.full_like(counts, 1.0 / d.n_labels), where=s > 0)
    return out
