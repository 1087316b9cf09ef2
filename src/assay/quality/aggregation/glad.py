r"""GLAD: worker expertise and task difficulty, jointly, by EM.

Problem: some tasks are harder than others; a good worker is less reliable on a hard task.
GLAD (Whitehill, Ruvolo, Wu, Bergsma, Movellan, NIPS 2009, "Whose Vote Should Count More",
https://papers.nips.cc/paper/3644) estimates each worker's expertise :math:`\alpha_w \in \mathbb{R}`
(negative = adversarial) and each task's inverse difficulty :math:`\beta_i = e^{b_i} > 0`.

Model: worker :math:`w` answers task :math:`i` correctly with probability
:math:`\sigma(\alpha_w\beta_i)`; a wrong answer is uniform over the ``K-1`` other labels
(the multi-class extension used by crowd-kit). Priors :math:`\alpha_w\sim N(1,1)`,
:math:`b_i\sim N(1,1)` (as crowd-kit), a uniform class prior unless ``learn_priors``.
EM starts with an E-step from :math:`\alpha=1, b=1`.

* E-step: posterior over the true label given the current :math:`\alpha, \beta`;
* M-step: a few L-BFGS steps on the expected complete log-likelihood (vectorised gradient
  :math:`\partial Q/\partial x_j = p_j - \sigma(x_j)` with :math:`x_j=\alpha_w\beta_i`).

Example
-------
>>> g = GLAD().fit([0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 1, 2] * 3, [1, 1, 0, 0, 0, 0, 1, 1, 1])
>>> g.labels_.tolist()
[1, 0, 1]
"""

from __future__ import annotations

import numpy as np

from assay.quality._arrays import FloatArray, Triplets, softmax_rows
from assay.quality.aggregation._base import EMAggregator

__all__ = ["GLAD"]


def _log_sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = -np.logaddexp(0.0, -x)
    return out


class GLAD(EMAggregator):
    """GLAD by EM.

    Parameters
    ----------
    n_iter : int, default 100
        Maximum EM iterations.
    tol : float, default 1e-6
    m_step_iter : int, default 10
        L-BFGS iterations per M-step.
    learn_priors : bool, default False
        Re-estimate the class prior in each M-step (else uniform, as in the paper).

    Attributes
    ----------
    alphas_ : ``(n_workers,)`` worker expertise (higher is better, 0 = random, < 0 adversarial).
    betas_ : ``(n_tasks,)`` inverse task difficulty (> 0, higher = easier).
    skills_ : ``(n_workers,)`` ``sigmoid(alphas_)``: accuracy on a task of average difficulty.
    priors_ : ``(K,)`` class prior.
    """

    alphas_: FloatArray
    betas_: FloatArray
    skills_: FloatArray
    priors_: FloatArray

    def __init__(
        self, n_iter: int = 100, tol: float = 1e-6, m_step_iter: int = 10, learn_priors: bool = False
    ) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.m_step_iter = m_step_iter
        self.learn_priors = learn_priors

    def _setup(self, d: Triplets) -> None:
        self.alphas_ = np.ones(d.n_workers)
        self._b = np.ones(d.n_tasks)
        self.betas_ = np.exp(self._b)
        self.priors_ = np.full(d.n_labels, 1.0 / d.n_labels)

    def _initial_posterior(self, d: Triplets) -> FloatArray:
        post, _ = softmax_rows(self._e_step(d))
        return post

    def _m_step(self, d: Triplets, post: FloatArray) -> None:
        p = post[d.task, d.label]
        nw = d.n_workers

        def negq(theta: FloatArray) -> tuple[float, FloatArray]:
            a, b = theta[:nw], theta[nw:]
            beta = np.exp(b)
            x = a[d.worker] * beta[d.task]
            q = p * _log_sigmoid(x) + (1 - p) * _log_sigmoid(-x)
            g = p - np.exp(_log_sigmoid(x))
            val = q.sum() - 0.5 * ((a - 1) ** 2).sum() - 0.5 * ((b - 1) ** 2).sum()
            ga = np.bincount(d.worker, weights=g * beta[d.task], minlength=nw) - (a - 1)
            gb = np.bincount(d.task, weights=g * x, minlength=d.n_tasks) - (b - 1)
            return -float(val), -np.concatenate([ga, gb])

        theta0 = np.concatenate([self.alphas_, self._b])
        from scipy import optimize  # loaded on first use: start-up stays light

        res = optimize.minimize(
            negq, theta0, jac=True, method="L-BFGS-B", options={"maxiter": self.m_step_iter}
        )
        theta = np.asarray(res.x, dtype=np.float64)
        self.alphas_ = theta[:nw]
        self._b = np.clip(theta[nw:], -10, 10)
        self.betas_ = np.exp(self._b)
        self.skills_ = np.exp(_log_sigmoid(self.alphas_))
        if self.learn_priors:
            pri = post.sum(axis=0) + 1e-9
            self.priors_ = pri / pri.sum()

    def _e_step(self, d: Triplets) -> FloatArray:
        k = d.n_labels
        x = self.alphas_[d.worker] * self.betas_[d.task]
        log_right = _log_sigmoid(x)
        log_wrong = _log_sigmoid(-x) - np.log(max(k - 1, 1))
        base = np.bincount(d.task, weights=log_wrong, minlength=d.n_tasks)
        extra = np.bincount(
            d.task * k + d.label, weights=log_right - log_wrong, minlength=d.n_tasks * k
        ).astype(np.float64)
        out: FloatArray = extra.reshape(d.n_tasks, k) + base[:, None] + np.log(self.priors_)
        return out
