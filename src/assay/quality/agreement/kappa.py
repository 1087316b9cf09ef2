r"""Kappa statistics: Fleiss' kappa (many raters) and Cohen's kappa (pairs of raters).

Problem: chance-corrected agreement on categorical answers.

* Fleiss' kappa (Fleiss 1971, doi:10.1037/h0031619), in Gwet's form that allows a varying
  number of raters per unit (Gwet, *Handbook of Inter-Rater Reliability*, 4th ed., 2014; as
  in R ``irrCAC::fleiss.kappa.raw``): :math:`p_a` is the mean over units with
  :math:`r_i\ge2` of :math:`\sum_k r_{ik}(r_{ik}-1)/(r_i(r_i-1))`; :math:`p_e=\sum_k\pi_k^2` with
  :math:`\pi_k` the mean over units of :math:`r_{ik}/r_i`; :math:`\kappa=(p_a-p_e)/(1-p_e)`.
* Cohen's kappa (Cohen 1960, doi:10.1177/001316446002000104) for two raters;
  :func:`pairwise_cohen_kappa` averages it over every pair of raters that shares at least
  ``min_overlap`` units (Light's kappa when everybody rated everything).

All functions take integer-coded answers ``(unit, rater, label)`` or count tables.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from assay.quality._arrays import FloatArray, check_triplets
from assay.quality.aggregation.geometry import same_task_pairs

__all__ = ["cohen_kappa_table", "fleiss_kappa", "fleiss_kappa_counts", "pairwise_cohen_kappa"]


def fleiss_kappa_counts(counts: npt.ArrayLike) -> float:
    """Fleiss' kappa from a ``(n_units, K)`` table of how many raters chose each label."""
    r = np.asarray(counts, dtype=np.float64)
    ri = r.sum(axis=1)
    r = r[ri > 0]
    ri = ri[ri > 0]
    if r.shape[0] == 0:
        return float("nan")
    two = ri >= 2
    pa = float(((r[two] * (r[two] - 1)).sum(axis=1) / (ri[two] * (ri[two] - 1))).mean()) if two.any() else 0.0
    pi = (r / ri[:, None]).mean(axis=0)
    pe = float((pi**2).sum())
    if pe >= 1.0:
        return float("nan")
    return (pa - pe) / (1.0 - pe)


def fleiss_kappa(
    unit: npt.ArrayLike, rater: npt.ArrayLike, label: npt.ArrayLike, *, n_labels: int | None = None
) -> float:
    """Fleiss' kappa from answers ``(unit, rater, label)`` (int codes; raters may be missing)."""
    d = check_triplets(unit, rater, label, n_labels=n_labels)
    flat = np.bincount(d.task * d.n_labels + d.label, minlength=d.n_tasks * d.n_labels)
    return fleiss_kappa_counts(flat.reshape(d.n_tasks, d.n_labels))


def cohen_kappa_table(table: npt.ArrayLike) -> float:
    """Cohen's kappa from a ``(K, K)`` contingency table (rows rater A, columns rater B)."""
    t = np.asarray(table, dtype=np.float64)
    n = t.sum()
    po = np.trace(t) / n
    pe = float((t.sum(axis=1) * t.sum(axis=0)).sum() / n**2)
    return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")


def pairwise_cohen_kappa(
    unit: npt.ArrayLike,
    rater: npt.ArrayLike,
    label: npt.ArrayLike,
    *,
    n_labels: int | None = None,
    min_overlap: int = 2,
) -> tuple[float, FloatArray]:
    """Mean Cohen's kappa over rater pairs sharing ``>= min_overlap`` units.

    Returns ``(mean_kappa, kappas)`` where ``kappas`` holds each qualifying pair's kappa
    (pairs whose expected agreement is 1 are skipped). nan when no pair qualifies.
    """
    d = check_triplets(unit, rater, label, n_labels=n_labels)
    i, j = same_task_pairs(d.task, d.worker)
    a, b = d.worker[i], d.worker[j]
    la, lb = d.label[i], d.label[j]
    swap = a > b
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    la, lb = np.where(swap, lb, la), np.where(swap, la, lb)
    pair_keys, pair = np.unique(a * d.n_workers + b, return_inverse=True)
    n_p = pair_keys.size
    k = d.n_labels
    n = np.bincount(pair, minlength=n_p).astype(np.float64)
    agree = np.bincount(pair, weights=(la == lb).astype(np.float64), minlength=n_p)
    ma = np.bincount(pair * k + la, minlength=n_p * k).reshape(n_p, k)
    mb = np.bincount(pair * k + lb, minlength=n_p * k).reshape(n_p, k)
    po = agree / np.maximum(n, 1)
    pe = (ma * mb).sum(axis=1) / np.maximum(n, 1) ** 2
    ok = (n >= min_overlap) & (pe < 1 - 1e-12)
    kappas: FloatArray = (po[ok] - pe[ok]) / (1 - pe[ok])
    return (float(kappas.mean()) if kappas.size else float("nan")), kappas
