r"""Dawid-Skene: true labels and per-worker confusion matrices by EM.

Problem: several workers of unknown, label-dependent reliability answer categorical
questions; recover each task's true label with a calibrated posterior.

Model (Dawid & Skene 1979, doi:10.2307/2346806): task :math:`i` has a latent class
:math:`z_i \sim \pi`; worker :math:`w` answers :math:`l` with probability
:math:`e_w[z_i, l]` (a row-stochastic ``K x K`` confusion matrix), independently given
:math:`z_i`. EM alternates

* E-step: :math:`\log p(z_i=k) \propto \log\pi_k + \sum_{(i,w,l)} \log e_w[k,l]`;
* M-step: :math:`e_w[k,l] \propto \alpha + \sum_{(i,w,l)} p(z_i=k)`, :math:`\pi_k \propto \sum_i p(z_i=k)`.

``alpha`` (default 0.01) is a small Dirichlet smoothing so that a worker who never used a
label keeps a finite log-probability. Gold answers clamp the posterior of their tasks to a
point mass in every E-step (semi-supervised EM). Both steps are one sparse product of a
``(n_tasks, n_workers*K)`` answer-incidence matrix with a dense ``K``-column matrix, so an
iteration costs ``O(n K)``.

Example
-------
>>> ds = DawidSkene().fit([0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 1, 2] * 3, [1, 1, 0, 0, 0, 0, 1, 1, 1])
>>> ds.labels_.tolist()
[1, 0, 1]
>>> ds.errors_.shape
(3, 2, 2)
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from assay.quality._arrays import FloatArray, Triplets, incidence
from assay.quality.aggregation._base import EMAggregator

__all__ = ["DawidSkene"]


class DawidSkene(EMAggregator):
    """Dawid-Skene (class-conditional confusion matrices) by EM.

    Parameters
    ----------
    n_iter : int, default 100
        Maximum number of EM iterations.
    tol : float, default 1e-6
        Stop when the relative change of the log-likelihood is below this.
    alpha : float >= 0, default 0.01
        Dirichlet smoothing added to each confusion-matrix cell count.

    Attributes
    ----------
    labels_ : ``(n_tasks,)`` int
    probas_ : ``(n_tasks, K)`` posterior over the true label.
    errors_ : ``(n_workers, K, K)``; ``errors_[w, k, l]`` = P(worker w answers l | truth k).
    priors_ : ``(K,)`` class prior.
    skills_ : ``(n_workers,)`` prior-weighted accuracy ``sum_k priors_[k] * errors_[w, k, k]``.
    """

    def __init__(self, n_iter: int = 100, tol: float = 1e-6, alpha: float = 0.01) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.alpha = alpha

    errors_: FloatArray
    priors_: FloatArray
    skills_: FloatArray

    def _setup(self, d: Triplets) -> None:
        # rows = answer kind (worker*K + label), cols = task
        self._a: sparse.csr_matrix = incidence(
            d.worker * d.n_labels + d.label, d.task, d.n_workers * d.n_labels, d.n_tasks
        )
        self._at: sparse.csr_matrix = self._a.T.tocsr()

    def _m_step(self, d: Triplets, post: FloatArray) -> None:
        k = d.n_labels
        counts = np.asarray(self._a @ post).reshape(d.n_workers, k, k)  # [w, observed, true]
        err = counts.transpose(0, 2, 1) + self.alpha  # [w, true, observed]
        err /= err.sum(axis=2, keepdims=True)
        self.errors_ = err
        pri = post.sum(axis=0) + 1e-9
        self.priors_ = pri / pri.sum()
        self.skills_ = np.einsum("k,wkk->w", self.priors_, err)

    def _e_step(self, d: Triplets) -> FloatArray:
        k = d.n_labels
        logerr = np.log(self.errors_).transpose(0, 2, 1).reshape(d.n_workers * k, k)
        out: FloatArray = np.asarray(self._at @ logerr) + np.log(self.priors_)
        return out
