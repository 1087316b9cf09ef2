r"""One-coin Dawid-Skene: one accuracy per worker, errors spread uniformly.

Problem: as :mod:`~assay.quality.aggregation.dawid_skene`, with far fewer parameters per
worker (one instead of ``K*(K-1)``), which is more robust when workers answer few tasks.

Model: worker :math:`w` answers the true label with probability :math:`s_w` and each of the
``K-1`` other labels with probability :math:`(1-s_w)/(K-1)`. EM (the "one-coin" special case
of Dawid & Skene 1979, doi:10.2307/2346806; see also Zhang et al. 2016, "Spectral methods
meet EM", JMLR 17(102)):

* E-step: :math:`\log p(z_i=k) \propto \log\pi_k + \sum_{(i,w,l)} [l=k]\log s_w + [l\neq k]\log\frac{1-s_w}{K-1}`;
* M-step: :math:`s_w = (a + \sum p(z_i=l)) / (a + b + n_w)` with a Beta(a, b) prior.

Example
-------
>>> oc = OneCoinDawidSkene().fit([0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 1, 2] * 3, [1, 1, 0, 0, 0, 0, 1, 1, 1])
>>> oc.labels_.tolist()
[1, 0, 1]
"""

from __future__ import annotations

import numpy as np

from assay.quality._arrays import FloatArray, Triplets
from assay.quality.aggregation._base import EMAggregator

__all__ = ["OneCoinDawidSkene"]


class OneCoinDawidSkene(EMAggregator):
    """One-coin Dawid-Skene by EM.

    Parameters
    ----------
    n_iter : int, default 100
    tol : float, default 1e-6
    prior : (a, b), default (1.0, 1.0)
        Beta prior pseudo-counts for (correct, wrong) added to each worker's accuracy.

    Attributes
    ----------
    skills_ : ``(n_workers,)`` in (0, 1), each worker's accuracy.
    priors_ : ``(K,)`` class prior.
    """

    skills_: FloatArray
    priors_: FloatArray

    def __init__(self, n_iter: int = 100, tol: float = 1e-6, prior: tuple[float, float] = (1.0, 1.0)) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.prior = prior

    def _m_step(self, d: Triplets, post: FloatArray) -> None:
        p_correct = post[d.task, d.label]
        a, b = self.prior
        hits = np.bincount(d.worker, weights=p_correct, minlength=d.n_workers)
        n = np.bincount(d.worker, minlength=d.n_workers)
        self.skills_ = np.clip((hits + a) / (n + a + b), 1e-6, 1 - 1e-6)
        pri = post.sum(axis=0) + 1e-9
        self.priors_ = pri / pri.sum()

    def _e_step(self, d: Triplets) -> FloatArray:
        k = d.n_labels
        s = self.skills_
        log_wrong = np.log((1 - s) / max(k - 1, 1))
        bonus = (np.log(s) - log_wrong)[d.worker]
        base = np.bincount(d.task, weights=log_wrong[d.worker], minlength=d.n_tasks)
        extra = np.bincount(d.task * k + d.label, weights=bonus, minlength=d.n_tasks * k).astype(np.float64)
        out: FloatArray = extra.reshape(d.n_tasks, k) + base[:, None] + np.log(self.priors_)
        return out
