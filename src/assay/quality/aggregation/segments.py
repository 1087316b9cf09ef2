"""Segment aggregation: a vote over time, then merged segments.

Problem: several annotators mark labelled time ranges (seconds) on the same audio or video;
produce consensus segments. This is the span vote of :mod:`~assay.quality.aggregation.spans`
on a continuous axis: every boundary any annotator drew cuts the timeline into elementary
intervals; each (task, label, interval) gets the share of the task's annotators (weighted by
their skills when ``weights`` are given) whose segments of that label cover it; intervals whose
share is > ``threshold`` are kept and touching kept intervals merge into one segment.
``confidence`` of a segment is its duration-weighted mean share.

Example
-------
>>> r = aggregate_segments([0, 0, 0], [0, 1, 2], [0.0, 0.5, 4.0], [2.0, 2.5, 5.0])
>>> (r.start.tolist(), r.end.tolist())
([0.5], [2.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assay.quality._arrays import FloatArray, IntArray, as_float, as_index

__all__ = ["SegmentResult", "aggregate_segments"]


@dataclass(frozen=True)
class SegmentResult:
    """Consensus segments: parallel arrays sorted by (task, label, start)."""

    task: IntArray
    label: IntArray
    start: FloatArray
    end: FloatArray
    confidence: FloatArray


def aggregate_segments(
    task: npt.ArrayLike,
    worker: npt.ArrayLike,
    start: npt.ArrayLike,
    end: npt.ArrayLike,
    segment_label: npt.ArrayLike | None = None,
    *,
    annotators: npt.ArrayLike | None = None,
    threshold: float = 0.5,
    weights: npt.ArrayLike | None = None,
) -> SegmentResult:
    """Time vote then merged segments (see the module docstring).

    ``annotators`` ``(n_tasks,)``: the number (with ``weights``: the summed weight) of each
    task's annotators, those who marked nothing included; by default the workers present.
    """
    t = as_index(task, "task")
    w = as_index(worker, "worker")
    s = as_float(start, "start")
    e = as_float(end, "end")
    lab = np.zeros_like(t) if segment_label is None else as_index(segment_label, "segment_label")
    if not (t.size == w.size == s.size == e.size == lab.size):
        raise ValueError("segment arrays differ in length")
    if np.any(e <= s):
        raise ValueError("every segment needs start < end")
    if t.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return SegmentResult(z, z, np.zeros(0), np.zeros(0), np.zeros(0))
    n_t, n_w = int(t.max()) + 1, int(w.max()) + 1
    wt = np.ones(n_w) if weights is None else np.asarray(weights, dtype=np.float64)
    if annotators is None:
        pairs = np.unique(t * n_w + w)
        n_ann = np.bincount(pairs // n_w, weights=wt[pairs % n_w], minlength=n_t)
    else:
        n_ann = np.asarray(annotators, dtype=np.float64)
    out_t: list[int] = []
    out_l: list[int] = []
    out_s: list[float] = []
    out_e: list[float] = []
    out_c: list[float] = []
    key = t * (int(lab.max()) + 1) + lab
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    for grp in np.split(order, bounds):
        ti, li = int(t[grp[0]]), int(lab[grp[0]])
        cuts = np.unique(np.concatenate([s[grp], e[grp]]))
        if cuts.size < 2:
            continue
        # one annotator counts once per instant: its own overlapping segments are a union
        cover = np.zeros(cuts.size - 1)
        for wk in np.unique(w[grp]):
            mine = grp[w[grp] == wk]
            inside = np.zeros(cuts.size - 1, dtype=bool)
            lo = np.searchsorted(cuts, s[mine])
            hi = np.searchsorted(cuts, e[mine])
            for a, b in zip(lo, hi, strict=True):
                inside[a:b] = True
            cover += inside * wt[wk]
        share = cover / max(float(n_ann[ti]), 1e-12)
        keep = share > threshold
        length = np.diff(cuts)
        k = 0
        while k < keep.size:
            if not keep[k]:
                k += 1
                continue
            j = k
            while j + 1 < keep.size and keep[j + 1]:
                j += 1
            dur = length[k : j + 1]
            out_t.append(ti)
            out_l.append(li)
            out_s.append(float(cuts[k]))
            out_e.append(float(cuts[j + 1]))
            out_c.append(float((share[k : j + 1] * dur).sum() / dur.sum()))
            k = j + 1
    return SegmentResult(
        np.array(out_t, dtype=np.int64),
        np.array(out_l, dtype=np.int64),
        np.array(out_s, dtype=np.float64),
        np.array(out_e, dtype=np.float64),
        np.array(out_c, dtype=np.float64),
    )
