r"""MACE: Multi-Annotator Competence Estimation (spammer-aware aggregation) by EM.

Problem: some workers answer carefully, others sometimes answer at random with their own
habits (always "yes", always the first option). MACE (Hovy, Berg-Kirkpatrick, Vaswani, Hovy,
NAACL 2013, "Learning Whom to Trust with MACE", https://aclanthology.org/N13-1132) estimates, per worker, the
probability :math:`\theta_w` of *not* spamming and the distribution :math:`\xi_w` of the
labels it gives when it spams.

Model: truth :math:`z_i` uniform over ``K`` labels; worker :math:`w` answers
:math:`l` with probability :math:`\theta_w[l=z_i] + (1-\theta_w)\xi_w[l]`.

* E-step: posterior over :math:`z_i`;
* M-step: expected "knew it" count :math:`r_j = p(z_i=l_j)\,\theta_w/(\theta_w+(1-\theta_w)\xi_w[l_j])`;
  :math:`\theta_w = (r_w + a)/(n_w + a + b)`, :math:`\xi_w \propto \text{spam counts} + \epsilon`.

Example
-------
>>> m = MACE().fit([0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 1, 2] * 3, [1, 1, 0, 0, 0, 0, 1, 1, 1])
>>> m.labels_.tolist()
[1, 0, 1]
"""

from __future__ import annotations

import numpy as np

from assay.quality._arrays import FloatArray, Triplets
from assay.quality.aggregation._base import EMAggregator

__all__ = ["MACE"]


class MACE(EMAggregator):
    r"""MACE by EM (MAP with Beta/Dirichlet smoothing rather than the paper's variational Bayes).

    Parameters
    ----------
    n_iter : int, default 100
    tol : float, default 1e-6
    prior : (a, b), default (1.0, 1.0)
        Beta pseudo-counts for (competent, spamming).
    smoothing : float, default 0.01
        Dirichlet pseudo-count for each label of a worker's spamming distribution.

    Attributes
    ----------
    skills_ : ``(n_workers,)`` :math:`\theta_w`, probability of answering from knowledge.
    spam_probas_ : ``(n_workers, K)`` :math:`\xi_w`, label distribution when spamming.
    errors_ : ``(n_workers, K, K)`` implied confusion matrices.
    """

    skills_: FloatArray
    spam_probas_: FloatArray
    errors_: FloatArray

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-6,
        prior: tuple[float, float] = (1.0, 1.0),
        smoothing: float = 0.01,
    ) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.prior = prior
        self.smoothing = smoothing

    def _setup(self, d: Triplets) -> None:
        self.skills_ = np.full(d.n_workers, 0.5)
        self.spam_probas_ = np.full((d.n_workers, d.n_labels), 1.0 / d.n_labels)

    def _m_step(self, d: Triplets, post: FloatArray) -> None:
        k = d.n_labels
        th = self.skills_[d.worker]
        xi = self.spam_probas_[d.worker, d.label]
        r = post[d.task, d.label] * th / (th + (1 - th) * xi)
        spam = 1.0 - r
        a, b = self.prior
        n = np.bincount(d.worker, minlength=d.n_workers)
        self.skills_ = np.clip(
            (np.bincount(d.worker, weights=r, minlength=d.n_workers) + a) / (n + a + b), 1e-6, 1 - 1e-6
        )
        sp_counts = np.bincount(d.worker * k + d.label, weights=spam, minlength=d.n_workers * k)
        sp: FloatArray = sp_counts.reshape(d.n_workers, k).astype(np.float64) + self.smoothing
        self.spam_probas_ = sp / sp.sum(axis=1, keepdims=True)
        th_w = self.skills_[:, None, None]
        self.errors_ = th_w * np.eye(k)[None] + (1 - th_w) * self.spam_probas_[:, None, :]

    def _e_step(self, d: Triplets) -> FloatArray:
        k = d.n_labels
        th = self.skills_[d.worker]
        spam = (1 - th) * self.spam_probas_[d.worker, d.label]
        log_spam = np.log(spam)
        base = np.bincount(d.task, weights=log_spam, minlength=d.n_tasks)
        extra = np.bincount(
            d.task * k + d.label, weights=np.log(th + spam) - log_spam, minlength=d.n_tasks * k
        ).astype(np.float64)
        out: FloatArray = extra.reshape(d.n_tasks, k) + base[:, None]
        return out
