"""Span aggregation: character-level vote, then merged spans.

Problem: several annotators highlight spans (optionally typed, e.g. NER categories) in the
same text; produce consensus spans. Each annotator's spans are first merged (so an annotator
counts once per character), then each character of each (task, span label) gets a vote
share = annotators covering it / annotators of the task; characters whose share reaches
``threshold`` (default: strict majority, > 0.5) are kept and consecutive kept characters are
merged into spans — except at a position where most of the annotators marking either side put
a span edge (two adjacent entities, "New York | City"), which cuts the run in two. This is the
token-level voting baseline of e.g. Rodrigues, Pereira &
Ribeiro (2014, "Sequence labeling with multiple annotators", doi:10.1007/s10994-013-5411-2),
here at character granularity (pass token offsets to vote on tokens).

Inputs: parallel arrays ``task, worker, start, end`` (end exclusive, characters) and an
optional ``span_label``; ``annotators`` gives how many people annotated each task (including
those who marked nothing) — by default the distinct workers that marked something.

Example
-------
>>> r = aggregate_spans([0, 0, 0], [0, 1, 2], [0, 1, 10], [5, 5, 12])
>>> (r.start.tolist(), r.end.tolist())
([1], [5])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assay.quality._arrays import FloatArray, IntArray, as_index

__all__ = ["SpanResult", "aggregate_spans", "merge_spans"]


@dataclass(frozen=True)
class SpanResult:
    """Consensus spans: parallel arrays, sorted by (task, label, start).

    ``confidence`` is the mean vote share over the span's characters.
    """

    task: IntArray
    label: IntArray
    start: IntArray
    end: IntArray
    confidence: FloatArray


def merge_spans(group: IntArray, start: IntArray, end: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Union of overlapping or touching spans within each group; returns (group, start, end)."""
    if group.size == 0:
        return group, start, end
    order = np.lexsort((start, group))
    g, s, e = group[order], start[order], end[order]
    # running max of end within each group: offset groups so the max never crosses a group
    span = int(max(int(e.max()), int(s.max()))) + 1
    off = g * span
    run_end = np.maximum.accumulate(e + off) - off
    new = np.ones(g.size, dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (s[1:] > run_end[:-1])
    idx = np.flatnonzero(new)
    last = np.concatenate([idx[1:] - 1, [g.size - 1]])
    return g[idx], s[idx], run_end[last]


def aggregate_spans(
    task: npt.ArrayLike,
    worker: npt.ArrayLike,
    start: npt.ArrayLike,
    end: npt.ArrayLike,
    span_label: npt.ArrayLike | None = None,
    *,
    annotators: npt.ArrayLike | None = None,
    threshold: float = 0.5,
    strict: bool = True,
    weights: npt.ArrayLike | None = None,
) -> SpanResult:
    """Character-level vote then merged spans.

    Parameters
    ----------
    task, worker, start, end : ``(n,)`` int; ``0 <= start < end``.
    span_label : ``(n,)`` int, optional (default all 0).
    annotators : ``(n_tasks,)`` int, optional, number of annotators per task.
    threshold : float in [0, 1]; keep characters whose vote share is > threshold
        (``strict``) or >= threshold.
    weights : ``(n_workers,)`` float, optional worker skills: a character's share is then the
        summed weight of the workers covering it over the summed weight of the task's
        annotators (``annotators`` may then give that total per task).
    """
    t = as_index(task, "task")
    w = as_index(worker, "worker")
    s = as_index(start, "start")
    e = as_index(end, "end")
    lab = np.zeros_like(t) if span_label is None else as_index(span_label, "span_label")
    if not (t.size == w.size == s.size == e.size == lab.size):
        raise ValueError("span arrays differ in length")
    if np.any(e <= s):
        raise ValueError("every span needs start < end")
    empty_i = np.zeros(0, dtype=np.int64)
    if t.size == 0:
        return SpanResult(empty_i, empty_i, empty_i, empty_i, np.zeros(0))
    n_t = int(t.max()) + 1
    n_lab = int(lab.max()) + 1
    n_w = int(w.max()) + 1
    wt = np.ones(n_w) if weights is None else np.asarray(weights, dtype=np.float64)
    if wt.size < n_w:
        raise ValueError("weights has fewer entries than workers")
    if annotators is None:
        pairs = np.unique(t * n_w + w)
        n_ann = np.bincount(pairs // n_w, weights=wt[pairs % n_w], minlength=n_t)
    elif weights is None:
        n_ann = as_index(annotators, "annotators").astype(np.float64)
    else:
        n_ann = np.asarray(annotators, dtype=np.float64)
    if n_ann.size < n_t:
        raise ValueError("annotators has fewer entries than tasks")
    n_ann = n_ann[:n_t]  # tasks past the last span have no span to vote on
    # merge each annotator's own spans per (task, label)
    grp = (t * n_lab + lab) * n_w + w
    g, ms, me = merge_spans(grp, s, e)
    tl = g // n_w  # task*n_lab + label
    length = int(me.max()) + 1
    # difference array over (task*label, position)
    gw = wt[g % n_w]
    diff = np.bincount(tl * length + ms, weights=gw, minlength=n_t * n_lab * length)
    diff -= np.bincount(tl * length + me, weights=gw, minlength=n_t * n_lab * length)
    cover = np.cumsum(diff.reshape(n_t * n_lab, length), axis=1)
    cover[np.abs(cover) < 1e-9] = 0.0
    denom = np.repeat(np.maximum(n_ann, 1e-12 if weights is not None else 1), n_lab)[:, None]
    share = cover / denom
    keep = share > threshold if strict else share >= threshold
    keep &= cover > 0
    # Boundaries: where most of the annotators who mark either side of a position put a span edge
    # there (one span ends, the next starts: "New York | City"), a kept run is cut in two.
    edges = np.unique(
        np.concatenate(
            [
                ((t * n_lab + lab) * n_w + w) * (length + 1) + s,
                ((t * n_lab + lab) * n_w + w) * (length + 1) + e,
            ]
        )
    )
    e_pos = edges % (length + 1)
    e_tl = edges // (length + 1) // n_w
    e_w = (edges // (length + 1)) % n_w
    inner = (e_pos > 0) & (e_pos < length)
    edge_votes = np.bincount(
        e_tl[inner] * length + e_pos[inner], weights=wt[e_w[inner]], minlength=n_t * n_lab * length
    ).reshape(n_t * n_lab, length)
    either = np.maximum(cover, np.concatenate([np.zeros((cover.shape[0], 1)), cover[:, :-1]], axis=1))
    split = np.zeros_like(keep)
    split[:, 1:] = keep[:, 1:] & keep[:, :-1] & (edge_votes[:, 1:] > 0.5 * either[:, 1:])
    # runs of kept positions (a split position starts a new run)
    padded = np.zeros((keep.shape[0], length + 2), dtype=np.int8)
    padded[:, 1:-1] = keep
    d = np.diff(padded, axis=1)
    starts = d == 1
    stops = d == -1
    starts[:, :-1] |= split
    stops[:, :-1] |= split
    rs, cs = np.nonzero(starts)
    re_, ce = np.nonzero(stops)
    # np.nonzero is row-major, so starts and ends pair up in order
    conf_cum = np.concatenate([np.zeros((share.shape[0], 1)), np.cumsum(share, axis=1)], axis=1)
    conf = (conf_cum[rs, ce] - conf_cum[rs, cs]) / (ce - cs)
    assert np.array_equal(rs, re_)
    return SpanResult(
        (rs // n_lab).astype(np.int64),
        (rs % n_lab).astype(np.int64),
        cs.astype(np.int64),
        ce.astype(np.int64),
        conf.astype(np.float64),
    )
