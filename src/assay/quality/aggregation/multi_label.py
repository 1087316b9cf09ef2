"""Multi-label aggregation: one binary Dawid-Skene per label, fitted jointly.

Problem: each worker ticks any subset of ``L`` labels per task; decide, per task and label,
whether the label applies. Each label is a binary question with its own 2x2 confusion
matrix per worker (Dawid & Skene 1979, doi:10.2307/2346806, applied per label — "binary
relevance"). All labels are fitted in one vectorised EM by treating every (task, label)
as a pseudo-task and every (worker, label) as a pseudo-worker.

Input format (chosen): one row per answer, ``task`` and ``worker`` int arrays of length
``n`` and ``answers`` an ``(n, L)`` 0/1 matrix (row ``j`` = the labels worker ``worker[j]``
ticked on task ``task[j]``). A row of zeros is a real answer ("none of these").

Example
-------
>>> import numpy as np
>>> y = np.array([[1, 0], [1, 1], [1, 0], [0, 1], [0, 1], [0, 0], [1, 1], [1, 1], [0, 1]])
>>> BinaryRelevanceDS().fit([0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 1, 2] * 3, y).labels_.astype(int).tolist()
[[1, 0], [0, 1], [1, 1]]
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt

from assay.quality._arrays import BoolArray, FloatArray, as_index
from assay.quality.aggregation.dawid_skene import DawidSkene

__all__ = ["BinaryRelevanceDS"]


class BinaryRelevanceDS:
    """Per-label binary Dawid-Skene.

    Parameters
    ----------
    n_iter, tol, alpha : as :class:`~assay.quality.aggregation.dawid_skene.DawidSkene`.
    threshold : float in (0, 1), default 0.5
        A label is predicted present when its posterior is at least this.

    Attributes
    ----------
    probas_ : ``(n_tasks, L)`` posterior probability that each label applies.
    labels_ : ``(n_tasks, L)`` bool.
    errors_ : ``(L, n_workers, 2, 2)`` per-label confusion matrices ``[truth, answer]``.
    """

    probas_: FloatArray
    labels_: BoolArray
    errors_: FloatArray

    def __init__(
        self, n_iter: int = 100, tol: float = 1e-6, alpha: float = 0.01, threshold: float = 0.5
    ) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.alpha = alpha
        self.threshold = threshold

    def fit(
        self,
        task: npt.ArrayLike,
        worker: npt.ArrayLike,
        answers: npt.ArrayLike,
        *,
        n_tasks: int | None = None,
        n_workers: int | None = None,
    ) -> Self:
        t = as_index(task, "task")
        w = as_index(worker, "worker")
        y = np.asarray(answers)
        if y.ndim != 2 or y.shape[0] != t.size or t.size != w.size:
            raise ValueError("answers must be (n, L) with n = len(task) = len(worker)")
        if not np.isin(y, (0, 1)).all():
            raise ValueError("answers must be 0/1")
        n_t = int(t.max()) + 1 if n_tasks is None else n_tasks
        n_w = int(w.max()) + 1 if n_workers is None else n_workers
        n_lab = y.shape[1]
        c = np.arange(n_lab)
        ptask = (t[:, None] * n_lab + c).ravel()
        pworker = (w[:, None] * n_lab + c).ravel()
        ds = DawidSkene(n_iter=self.n_iter, tol=self.tol, alpha=self.alpha).fit(
            ptask, pworker, y.astype(np.int64).ravel(), n_tasks=n_t * n_lab, n_workers=n_w * n_lab, n_labels=2
        )
        self.probas_ = ds.probas_[:, 1].reshape(n_t, n_lab)
        self.labels_ = self.probas_ >= self.threshold
        self.errors_ = ds.errors_.reshape(n_w, n_lab, 2, 2).transpose(1, 0, 2, 3)
        return self
