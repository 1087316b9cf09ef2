r"""Bradley-Terry: strengths of items from pairwise comparisons, with bootstrap intervals.

Problem: people (or judges) compare pairs of items (model outputs, photos) and say which
is better; rank all items on one scale, with uncertainty — a model leaderboard.

Model (Bradley & Terry 1952, doi:10.2307/2334029): :math:`P(i \succ j) = p_i/(p_i+p_j)`,
scores :math:`s_i = \log p_i`. Fitted by the MM algorithm of Hunter (2004,
doi:10.1214/aos/1079120141): :math:`p_i \leftarrow W_i / \sum_j n_{ij}/(p_i+p_j)`.
A small prior keeps the problem identifiable and finite even for an item that never lost
or a disconnected comparison graph: each item plays ``prior`` virtual games (half won, half
lost) against a reference item of strength 1. Ties count half a win to each side. Scores
are centred to mean 0.

95% intervals: ``n_boot`` bootstrap resamples of the comparisons (multinomial weights,
seeded), all refitted at once in a vectorised MM; percentile intervals of the scores.

Example
-------
>>> bt = BradleyTerry(n_boot=0).fit([0, 0, 1], [1, 2, 2])
>>> bt.ranking_.tolist()
[0, 1, 2]
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt

from assay.quality._arrays import FloatArray, IntArray, as_index

__all__ = ["BradleyTerry"]


class BradleyTerry:
    """Bradley-Terry by MM with bootstrap confidence intervals.

    Parameters
    ----------
    prior : float > 0, default 1.0
        Virtual games per item against a reference of strength 1 (identifiability).
    n_iter : int, default 1000
    tol : float, default 1e-9
    n_boot : int >= 0, default 200
        Bootstrap resamples for the intervals (0: no intervals, ``ci_`` is nan).
    seed : int, default 0

    Attributes
    ----------
    scores_ : ``(n_items,)`` log-strengths, mean 0 (higher is better).
    ci_ : ``(n_items, 2)`` 2.5% and 97.5% bootstrap percentiles of the scores.
    ranking_ : ``(n_items,)`` item indices, best first.
    """

    scores_: FloatArray
    ci_: FloatArray
    ranking_: IntArray

    def __init__(
        self, prior: float = 1.0, n_iter: int = 1000, tol: float = 1e-9, n_boot: int = 200, seed: int = 0
    ) -> None:
        self.prior = prior
        self.n_iter = n_iter
        self.tol = tol
        self.n_boot = n_boot
        self.seed = seed

    def _mm(self, win: IntArray, lose: IntArray, wt: FloatArray, tie: FloatArray, n: int) -> FloatArray:
        """Vectorised MM over B weight vectors: ``wt`` ``(B, m)``; returns log-strengths ``(B, n)``."""
        b = wt.shape[0]
        half = 0.5 * self.prior
        # wins: (1 - tie/2) for the winner, tie/2 for the loser
        wins = np.zeros((b, n))
        credit_w = wt * (1.0 - 0.5 * tie)
        credit_l = wt * (0.5 * tie)
        rows = np.repeat(np.arange(b), win.size)
        np.add.at(wins, (rows, np.tile(win, b)), credit_w.ravel())
        np.add.at(wins, (rows, np.tile(lose, b)), credit_l.ravel())
        wins += half
        p = np.ones((b, n))
        flat_w = np.arange(b)[:, None] * n + win[None, :]
        flat_l = np.arange(b)[:, None] * n + lose[None, :]
        for _ in range(self.n_iter):
            inv = wt / (p[:, win] + p[:, lose])
            den: FloatArray = np.bincount(flat_w.ravel(), weights=inv.ravel(), minlength=b * n).astype(
                np.float64
            )
            den += np.bincount(flat_l.ravel(), weights=inv.ravel(), minlength=b * n)
            den2 = den.reshape(b, n) + self.prior / (p + 1.0)
            new = wins / den2
            delta = float(np.abs(np.log(new) - np.log(p)).max())
            p = new
            if delta < self.tol:
                break
        s: FloatArray = np.log(p)
        centred: FloatArray = s - s.mean(axis=1, keepdims=True)
        return centred

    def fit(
        self,
        winner: npt.ArrayLike,
        loser: npt.ArrayLike,
        *,
        tie: npt.ArrayLike | None = None,
        n_items: int | None = None,
        weights: npt.ArrayLike | None = None,
    ) -> Self:
        """``winner``, ``loser``: ``(m,)`` item indices; ``tie``: ``(m,)`` bool (then the order is moot).

        ``weights``: ``(m,)`` how many times each outcome was seen (default 1 each), so that
        many identical votes can be given as one row; bootstrap resamples draw votes, not rows.
        """
        w = as_index(winner, "winner")
        lo = as_index(loser, "loser")
        if w.size != lo.size:
            raise ValueError("winner and loser differ in length")
        n = n_items if n_items is not None else (int(max(w.max(), lo.max())) + 1 if w.size else 0)
        ti = np.zeros(w.size) if tie is None else np.asarray(tie, dtype=np.float64)
        counts = np.ones(w.size) if weights is None else np.asarray(weights, dtype=np.float64)
        if counts.shape != w.shape or (counts < 0).any():
            raise ValueError("weights must be one non-negative number per outcome")
        self.scores_ = self._mm(w, lo, counts[None, :], ti, n)[0]
        total = int(round(counts.sum()))
        if self.n_boot > 0 and total:
            rng = np.random.default_rng(self.seed)
            wt = rng.multinomial(total, counts / counts.sum(), size=self.n_boot).astype(np.float64)
            boot = self._mm(w, lo, wt, ti, n)
            self.ci_ = np.percentile(boot, [2.5, 97.5], axis=0).T
        else:
            self.ci_ = np.full((n, 2), np.nan)
        self.ranking_ = np.argsort(-self.scores_, kind="stable").astype(np.int64)
        return self

    def win_probability(self, i: int, j: int) -> float:
        """Fitted probability that item ``i`` beats item ``j``."""
        return float(1.0 / (1.0 + np.exp(self.scores_[j] - self.scores_[i])))
