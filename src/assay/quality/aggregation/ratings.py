"""Aggregation of ratings and numbers: median, and mean corrected for per-worker bias.

Problem: workers give numeric answers (ratings, counts, scores); some are systematically
harsh or lenient. :class:`MedianRating` is the robust per-task median. :class:`BiasCorrectedMean`
fits the additive model ``x_ij = mu_i + b_j + e_ij`` (task value ``mu_i``, worker bias
``b_j`` with ``sum_j b_j = 0``, noise variance ``s_j^2`` per worker) by alternating weighted
least squares — the additive-bias special case of the "reviewer calibration" models of
Paul (1981, doi:10.2307/2348033) and Ge, Welling & Ghahramani (2013).

Both report a spread-based confidence in [0, 1]: ``1 - spread_ / reference`` clipped at 0,
where ``spread_`` is the per-task dispersion of (bias-corrected) answers (standard
deviation; MAD*1.4826 for the median) and ``reference`` the pooled standard deviation of all
answers — 1 means the workers agree exactly, 0 means they disagree as much as random answers.
Tasks with a single answer get ``spread_ = nan`` and confidence 0.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt

from assay.quality._arrays import FloatArray, as_float, as_index

__all__ = ["BiasCorrectedMean", "MedianRating"]


def _prep(
    task: npt.ArrayLike, value: npt.ArrayLike, n_tasks: int | None
) -> tuple[npt.NDArray[np.int64], FloatArray, int]:
    t = as_index(task, "task")
    v = as_float(value, "value")
    if t.size != v.size:
        raise ValueError("task and value differ in length")
    n = int(t.max()) + 1 if n_tasks is None else n_tasks
    return t, v, n


def _confidence(spread: FloatArray, values: FloatArray) -> FloatArray:
    ref = float(values.std()) if values.size > 1 else 0.0
    if ref == 0.0:
        return np.where(np.isnan(spread), 0.0, 1.0)
    out: FloatArray = np.where(np.isnan(spread), 0.0, np.clip(1.0 - spread / ref, 0.0, 1.0))
    return out


def _grouped_median(t: npt.NDArray[np.int64], v: FloatArray, n: int) -> FloatArray:
    order = np.lexsort((v, t))
    vs = v[order]
    counts = np.bincount(t, minlength=n)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    lo = start + (counts - 1) // 2
    hi = start + counts // 2
    out = np.full(n, np.nan)
    out[has] = 0.5 * (vs[lo[has]] + vs[hi[has]])
    return out


class MedianRating:
    """Per-task median.

    Attributes
    ----------
    values_ : ``(n_tasks,)`` median (nan for a task with no answers).
    spread_ : ``(n_tasks,)`` scaled median absolute deviation (nan with < 2 answers).
    confidence_ : ``(n_tasks,)`` in [0, 1].
    """

    values_: FloatArray
    spread_: FloatArray
    confidence_: FloatArray

    def fit(self, task: npt.ArrayLike, value: npt.ArrayLike, *, n_tasks: int | None = None) -> Self:
        t, v, n = _prep(task, value, n_tasks)
        self.values_ = _grouped_median(t, v, n)
        mad = _grouped_median(t, np.abs(v - self.values_[t]), n) * 1.4826
        counts = np.bincount(t, minlength=n)
        self.spread_ = np.where(counts >= 2, mad, np.nan)
        self.confidence_ = _confidence(self.spread_, v)
        return self


class BiasCorrectedMean:
    """Mean after removing each worker's additive bias, weighted by each worker's precision.

    Parameters
    ----------
    n_iter : int, default 500
    tol : float, default 1e-6
        Stop when no task value or bias moves by more than this.
    shrinkage : float >= 0, default 1.0
        Pseudo-answers pulling each worker's bias toward 0 (workers with few answers keep ~0 bias).
    weighted : bool, default True
        Weight workers by their estimated inverse noise variance.

    Attributes
    ----------
    values_ : ``(n_tasks,)`` estimated value per task.
    biases_ : ``(n_workers,)`` additive bias (answer minus truth), centred to mean 0.
    noise_ : ``(n_workers,)`` residual standard deviation per worker.
    spread_, confidence_ : ``(n_tasks,)`` as in the module docstring.
    """

    values_: FloatArray
    biases_: FloatArray
    noise_: FloatArray
    spread_: FloatArray
    confidence_: FloatArray

    def __init__(
        self, n_iter: int = 500, tol: float = 1e-6, shrinkage: float = 1.0, weighted: bool = True
    ) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.shrinkage = shrinkage
        self.weighted = weighted

    def fit(
        self,
        task: npt.ArrayLike,
        worker: npt.ArrayLike,
        value: npt.ArrayLike,
        *,
        n_tasks: int | None = None,
        n_workers: int | None = None,
    ) -> Self:
        t, v, n = _prep(task, value, n_tasks)
        w = as_index(worker, "worker")
        if w.size != t.size:
            raise ValueError("worker and value differ in length")
        nw = int(w.max()) + 1 if n_workers is None else n_workers
        cnt_t = np.bincount(t, minlength=n).astype(np.float64)
        cnt_w = np.bincount(w, minlength=nw).astype(np.float64)
        bias = np.zeros(nw)
        prec = np.ones(nw)
        mu = np.divide(np.bincount(t, weights=v, minlength=n), cnt_t, out=np.full(n, np.nan), where=cnt_t > 0)
        global_var = float(v.var()) if v.size > 1 else 1.0
        for _ in range(self.n_iter):
            x = v - bias[w]
            pw = prec[w]
            den = np.bincount(t, weights=pw, minlength=n)
            new_mu = np.divide(
                np.bincount(t, weights=pw * x, minlength=n), den, out=np.full(n, np.nan), where=den > 0
            )
            r = v - new_mu[t]
            new_bias = np.bincount(w, weights=r, minlength=nw) / (cnt_w + self.shrinkage)
            new_bias -= new_bias[cnt_w > 0].mean() if (cnt_w > 0).any() else 0.0
            if self.weighted:
                res = v - new_bias[w] - new_mu[t]
                # shrink each worker's variance toward the pooled variance (2 pseudo-answers)
                var = (np.bincount(w, weights=res**2, minlength=nw) + 2 * global_var) / (cnt_w + 2)
                prec = 1.0 / np.maximum(var, 1e-12 * (global_var if global_var > 0 else 1.0))
            moved = max(
                float(np.nanmax(np.abs(new_mu - mu))) if n else 0.0,
                float(np.abs(new_bias - bias).max()) if nw else 0.0,
            )
            mu, bias = new_mu, new_bias
            if moved <= self.tol:
                break
        self.values_ = mu
        self.biases_ = bias
        res = v - bias[w] - mu[t]
        self.noise_ = np.sqrt(
            np.divide(np.bincount(w, weights=res**2, minlength=nw), cnt_w, out=np.zeros(nw), where=cnt_w > 0)
        )
        ss = np.bincount(t, weights=res**2, minlength=n)
        self.spread_ = np.where(cnt_t >= 2, np.sqrt(ss / np.maximum(cnt_t - 1, 1)), np.nan)
        self.confidence_ = _confidence(self.spread_, v)
        return self
