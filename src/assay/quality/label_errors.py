r"""Label-error detection by confident learning.

Problem: some records in a labelled set carry the wrong label. Given out-of-fold predicted
probabilities ``pred_probs`` ``(n, K)`` from any model (each row predicted by a model that
did not train on that row) and the current labels, find the records whose label is likely
wrong and rank them, most suspicious first. Confident learning (Northcutt, Jiang & Chuang
2021, JAIR 70, doi:10.1613/jair.1.12125):

1. per-class threshold :math:`t_j` = mean predicted probability of class :math:`j` over the
   records labelled :math:`j` (the model's self-confidence for that class);
2. a record is *confidently* of class :math:`j^*=\arg\max_{j: p_{ij}\ge t_j} p_{ij}`;
   the confident joint :math:`C[\tilde y, y^*]` counts records by (given, confident) label,
   then is calibrated so that each row sums to the number of records with that given label;
3. issues: ``filter_by="confident_joint"`` flags the off-diagonal records of the confident
   joint; ``"prune_by_noise_rate"`` (default, as cleanlab) flags, for each off-diagonal cell
   :math:`(i, j)`, the :math:`C[i,j]` records labelled :math:`i` with the largest margin
   :math:`p_j - p_i`; ``"both"`` intersects the two;
4. ranking by a label-quality score (lower = more suspicious): ``"self_confidence"``
   :math:`p_{i,\tilde y_i}` or ``"normalized_margin"``
   :math:`(p_{i,\tilde y_i} - \max_{j\ne\tilde y_i}p_{ij} + 1)/2`.

Example
-------
>>> import numpy as np
>>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05]])
>>> find_label_issues([0, 0, 1, 1, 1], p).tolist()
[4]
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from assay.quality._arrays import BoolArray, FloatArray, IntArray, as_index

__all__ = ["confident_joint", "find_label_issues", "label_quality_scores"]

RankBy = Literal["self_confidence", "normalized_margin"]
FilterBy = Literal["prune_by_noise_rate", "confident_joint", "both"]


def _check(labels: npt.ArrayLike, pred_probs: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    y = as_index(labels, "labels")
    p = np.asarray(pred_probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != y.size:
        raise ValueError("pred_probs must be (n, K) with n = len(labels)")
    if y.size and int(y.max()) >= p.shape[1]:
        raise ValueError("a label is >= K")
    return y, p


def label_quality_scores(
    labels: npt.ArrayLike, pred_probs: npt.ArrayLike, *, method: RankBy = "self_confidence"
) -> FloatArray:
    """``(n,)`` label-quality score in [0, 1]; lower means more likely mislabelled."""
    y, p = _check(labels, pred_probs)
    own = p[np.arange(y.size), y]
    if method == "self_confidence":
        return own
    other = p.copy()
    other[np.arange(y.size), y] = -np.inf
    out: FloatArray = (own - other.max(axis=1) + 1.0) / 2.0
    return out


def confident_joint(
    labels: npt.ArrayLike, pred_probs: npt.ArrayLike, *, calibrate: bool = True
) -> tuple[FloatArray, IntArray]:
    """Confident joint ``(K, K)`` (rows given label, columns confident label) and, per record,
    its confident label (``-1`` when no class reaches its threshold)."""
    y, p = _check(labels, pred_probs)
    k = p.shape[1]
    cnt = np.bincount(y, minlength=k).astype(np.float64)
    thr = np.bincount(y, weights=p[np.arange(y.size), y], minlength=k)
    thr = np.divide(thr, cnt, out=np.full(k, np.inf), where=cnt > 0)
    above = p >= thr[None, :] - 1e-12
    masked = np.where(above, p, -np.inf)
    conf_label = np.where(above.any(axis=1), masked.argmax(axis=1), -1).astype(np.int64)
    ok = conf_label >= 0
    cj = np.bincount(y[ok] * k + conf_label[ok], minlength=k * k).reshape(k, k).astype(np.float64)
    if calibrate:
        rows = cj.sum(axis=1, keepdims=True)
        cj = np.divide(cj, rows, out=np.zeros_like(cj), where=rows > 0) * cnt[:, None]
    return cj, conf_label


def find_label_issues(
    labels: npt.ArrayLike,
    pred_probs: npt.ArrayLike,
    *,
    filter_by: FilterBy = "prune_by_noise_rate",
    rank_by: RankBy = "self_confidence",
    return_mask: bool = False,
) -> IntArray | BoolArray:
    """Indices of likely mislabelled records, most suspicious first (or a ``(n,)`` bool mask).

    Parameters
    ----------
    labels : ``(n,)`` int in ``[0, K)``, the current labels.
    pred_probs : ``(n, K)`` out-of-fold predicted probabilities (rows sum to 1).
    filter_by : "prune_by_noise_rate" (default) | "confident_joint" | "both".
    rank_by : "self_confidence" (default) | "normalized_margin".
    """
    y, p = _check(labels, pred_probs)
    n, k = p.shape
    cj, conf_label = confident_joint(y, p)
    off_diag = (conf_label >= 0) & (conf_label != y)
    if filter_by == "confident_joint":
        mask = off_diag
    else:
        quota = np.rint(cj).astype(np.int64)
        np.fill_diagonal(quota, 0)
        # all (record, other class) candidates, grouped by cell (given, other), largest margin first
        rec = np.repeat(np.arange(n), k)
        cls = np.tile(np.arange(k), n)
        keep = cls != y[rec]
        rec, cls = rec[keep], cls[keep]
        margin = p[rec, cls] - p[rec, y[rec]]
        cell = y[rec] * k + cls
        order = np.lexsort((-margin, cell))
        cell_sorted = cell[order]
        first_pos = np.searchsorted(cell_sorted, cell_sorted, side="left")
        rank_in_cell = np.arange(order.size) - first_pos
        chosen = rank_in_cell < quota.ravel()[cell_sorted]
        mask = np.zeros(n, dtype=bool)
        mask[rec[order[chosen]]] = True
        # a record is never flagged when the model agrees with its given label
        mask &= p.argmax(axis=1) != y
        if filter_by == "both":
            mask &= off_diag
    if return_mask:
        out_mask: BoolArray = mask
        return out_mask
    idx = np.flatnonzero(mask)
    score = label_quality_scores(y, p, method=rank_by)
    out: IntArray = idx[np.argsort(score[idx], kind="stable")].astype(np.int64)
    return out
