"""Agreement between annotators on spans and on shapes.

* :func:`span_f1`: for every pair of annotators who annotated the same text, character-level
  F1 between their (merged) highlighted character sets, ``2|A∩B|/(|A|+|B|)``, summed over the
  texts they share (micro-average per pair), then averaged over pairs. This is the pairwise
  "F1 as agreement" of Hripcsak & Rothschild (2005, doi:10.1197/jamia.M1733), on characters.
* :func:`mean_iou`: for every pair of annotators on the same image, their boxes are matched
  one-to-one by mutual best IoU (>= ``threshold``); the pair's score is the sum of matched IoUs
  divided by ``matched + unmatched_a + unmatched_b`` (an unmatched box counts as IoU 0).
  Averaged over (image, annotator pair).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import sparse

from assay.quality._arrays import as_index
from assay.quality.aggregation.geometry import box_iou, mutual_best, same_task_pairs
from assay.quality.aggregation.spans import merge_spans

__all__ = ["mean_iou", "span_f1"]


def span_f1(
    task: npt.ArrayLike,
    worker: npt.ArrayLike,
    start: npt.ArrayLike,
    end: npt.ArrayLike,
    span_label: npt.ArrayLike | None = None,
    *,
    annotated: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> float:
    """Mean pairwise character-level F1 between annotators.

    Parameters
    ----------
    task, worker, start, end, span_label : ``(n,)`` int span arrays (end exclusive).
    annotated : optional ``(task, worker)`` pairs listing who annotated which text, so that an
        annotator who marked nothing counts (otherwise only annotators with spans are known).

    Returns nan when no two annotators share a text with any highlighted character.
    """
    t = as_index(task, "task")
    w = as_index(worker, "worker")
    s = as_index(start, "start")
    e = as_index(end, "end")
    lab = np.zeros_like(t) if span_label is None else as_index(span_label, "span_label")
    if t.size == 0:
        return float("nan")
    n_lab = int(lab.max()) + 1
    at = t if annotated is None else np.concatenate([t, as_index(annotated[0], "annotated task")])
    aw = w if annotated is None else np.concatenate([w, as_index(annotated[1], "annotated worker")])
    n_w = int(aw.max()) + 1
    n_t = int(at.max()) + 1
    g, ms, me = merge_spans(((t * n_lab + lab) * n_w + w), s, e)
    gw = g % n_w
    gtl = g // n_w  # task*n_lab + label
    # expand merged spans to characters: key = (task*label, position)
    lens = me - ms
    width = int(me.max()) + 1
    rows = np.repeat(gw, lens)
    pos = np.repeat(ms - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(int(lens.sum()))
    keys = np.repeat(gtl, lens) * width + pos
    _, key_col = np.unique(keys, return_inverse=True)
    chars = sparse.csr_matrix((np.ones(rows.size), (rows, key_col)), shape=(n_w, int(key_col.max()) + 1))
    inter = np.asarray((chars @ chars.T).todense())
    # |A| restricted to texts annotated by both: S[a, task] @ P[b, task]^T
    size_at = sparse.csr_matrix((lens.astype(np.float64), (gw, gtl // n_lab)), shape=(n_w, n_t))
    pa = np.unique(at * n_w + aw)
    presence = sparse.csr_matrix((np.ones(pa.size), (pa % n_w, pa // n_w)), shape=(n_w, n_t))
    size_ab = np.asarray((size_at @ presence.T).todense())  # |A| over texts shared with b
    shared = np.asarray((presence @ presence.T).todense())
    denom = size_ab + size_ab.T
    iu = np.triu_indices(n_w, k=1)
    ok = (shared[iu] > 0) & (denom[iu] > 0)
    if not ok.any():
        return float("nan")
    f1 = 2 * inter[iu][ok] / denom[iu][ok]
    return float(f1.mean())


def mean_iou(
    task: npt.ArrayLike, worker: npt.ArrayLike, boxes: npt.ArrayLike, *, threshold: float = 0.0
) -> float:
    """Mean IoU between annotators' boxes ``(n, 4)`` (see the module docstring)."""
    t = as_index(task, "task")
    w = as_index(worker, "worker")
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if t.size == 0:
        return float("nan")
    n_w = int(w.max()) + 1
    pi, pj = same_task_pairs(t, w)
    sc = box_iou(b[pi], b[pj])
    matched = mutual_best(w, pi, pj, sc, max(threshold, 1e-12))
    # (task, worker a, worker b) groups
    wa, wb = np.minimum(w[pi], w[pj]), np.maximum(w[pi], w[pj])
    grp_key = (t[pi] * n_w + wa) * n_w + wb
    keys, grp = np.unique(grp_key, return_inverse=True)
    n_g = keys.size
    iou_sum = np.bincount(grp, weights=np.where(matched, sc, 0.0), minlength=n_g)
    n_match = np.bincount(grp, weights=matched.astype(np.float64), minlength=n_g)
    per_tw = np.bincount(t * n_w + w, minlength=(int(t.max()) + 1) * n_w)
    g_task = keys // (n_w * n_w)
    g_a = (keys // n_w) % n_w
    g_b = keys % n_w
    total = per_tw[g_task * n_w + g_a] + per_tw[g_task * n_w + g_b] - n_match
    return float((iou_sum / np.maximum(total, 1)).mean())
