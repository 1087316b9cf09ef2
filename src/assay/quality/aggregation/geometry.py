"""Geometry consensus: boxes, polygons and keypoints matched across annotators, then fused.

Problem: several annotators draw objects on the same image; find which drawings denote the
same object and fuse them. Matching is by IoU (boxes; polygons via their bounding boxes) or
by Object Keypoint Similarity (keypoints, Lin et al. 2014, COCO, doi:10.1007/978-3-319-10602-1_48):

1. every pair of shapes of the same task from *different* annotators is scored;
2. a pair is linked when the score is >= ``threshold`` and each shape is the other's best
   match among the other annotator's shapes (mutual best match, which prevents chaining
   two objects of one annotator together in the common case);
3. linked shapes form clusters (connected components); a cluster is kept when it holds
   shapes from at least ``min_support`` x (annotators of the task) distinct annotators.

Fusion: boxes -> coordinate-wise mean of the cluster (Wisdom-of-crowds box fusion as in
Solovyev et al. 2021, "Weighted boxes fusion", doi:10.1016/j.imavis.2021.104117, unweighted);
polygons -> the medoid (the member with the highest mean box-IoU to the others; no
rasterisation, vertex counts may differ); keypoints -> per-joint mean over annotators who
marked the joint visible, a joint being visible when most cluster members marked it.
``confidence`` = support share x mean pairwise score inside the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import csgraph

from assay.quality._arrays import FloatArray, IntArray, as_index

__all__ = [
    "COCO_PERSON_SIGMAS",
    "Clusters",
    "box_iou",
    "cluster_shapes",
    "box_skills",
    "fuse_boxes",
    "fuse_boxes_with_skills",
    "fuse_keypoints",
    "fuse_polygons",
    "mutual_best",
    "oks",
    "same_task_pairs",
]

COCO_PERSON_SIGMAS: FloatArray = (
    np.array([26, 25, 25, 35, 35, 79, 79, 72, 72, 62, 62, 107, 107, 87, 87, 89, 89], dtype=np.float64)
    / 1000.0
)


def box_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """Element-wise IoU of boxes ``a[i]`` and ``b[i]``, both ``(m, 4)`` as ``x1, y1, x2, y2``."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    out: FloatArray = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


def oks(a: FloatArray, b: FloatArray, area: FloatArray, sigmas: FloatArray) -> FloatArray:
    """Object keypoint similarity of ``a[i]`` vs ``b[i]``, each ``(m, J, 3)`` (x, y, visible).

    ``area`` ``(m,)`` is the object scale s^2; joints count when visible in both.
    """
    d2 = ((a[:, :, :2] - b[:, :, :2]) ** 2).sum(axis=2)
    k2 = (2 * sigmas) ** 2
    e = d2 / (2 * np.maximum(area, 1e-9)[:, None] * k2[None, :])
    vis = (a[:, :, 2] > 0) & (b[:, :, 2] > 0)
    nv = vis.sum(axis=1)
    s = (np.exp(-e) * vis).sum(axis=1)
    out: FloatArray = np.divide(s, nv, out=np.zeros(s.shape), where=nv > 0)
    return out


def same_task_pairs(task: IntArray, worker: IntArray) -> tuple[IntArray, IntArray]:
    """All index pairs ``(i, j)``, ``i < j``, with the same task and different workers."""
    order = np.argsort(task, kind="stable")
    ts = task[order]
    counts = np.bincount(ts) if ts.size else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if counts.size else counts
    # for each element at sorted position p in its group: partners p+1 .. group end
    grp_end = (starts + counts)[ts]
    pos = np.arange(ts.size)
    n_after = grp_end - pos - 1
    i_sorted = np.repeat(pos, n_after)
    first = np.repeat(pos + 1 - np.concatenate([[0], np.cumsum(n_after)[:-1]]), n_after)
    j_sorted = np.arange(i_sorted.size) + first
    i, j = order[i_sorted], order[j_sorted]
    keep = worker[i] != worker[j]
    return i[keep].astype(np.int64), j[keep].astype(np.int64)


def mutual_best(
    worker: IntArray, pair_i: IntArray, pair_j: IntArray, score: FloatArray, threshold: float
) -> npt.NDArray[np.bool_]:
    """Mask of pairs where each shape is the other's best match among the other's worker's
    shapes, with ``score >= threshold`` (a one-to-one matching per pair of workers)."""
    n_w = int(worker.max()) + 1 if worker.size else 1
    src = np.concatenate([pair_i, pair_j])
    dst = np.concatenate([pair_j, pair_i])
    sc = np.concatenate([score, score])
    key = src * n_w + worker[dst]
    order = np.lexsort((-sc, key))
    first = np.ones(order.size, dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    best = np.zeros(src.size, dtype=bool)
    best[order[first]] = True
    m = pair_i.size
    out: npt.NDArray[np.bool_] = best[:m] & best[m:] & (score >= threshold)
    return out


@dataclass(frozen=True)
class Clusters:
    """Result of matching: ``cluster[i]`` for each input shape (-1 when its cluster was dropped)."""

    cluster: IntArray
    task: IntArray  # (n_clusters,)
    support: FloatArray  # (n_clusters,) share of the task's annotators in the cluster
    confidence: FloatArray  # (n_clusters,)


def cluster_shapes(
    task: IntArray,
    worker: IntArray,
    pair_i: IntArray,
    pair_j: IntArray,
    score: FloatArray,
    *,
    threshold: float,
    min_support: float,
    annotators: FloatArray | IntArray | None = None,
    weights: FloatArray | None = None,
) -> Clusters:
    """Mutual-best-match linking then connected components (see the module docstring).

    ``weights`` ``(n_workers,)`` are worker skills: a cluster's support is then the summed weight
    of its workers over the summed weight of the task's annotators (``annotators``, when given,
    is that total per task).
    """
    n = task.size
    n_w = int(worker.max()) + 1 if n else 1
    wt = np.ones(n_w) if weights is None else np.asarray(weights, dtype=np.float64)
    mutual = mutual_best(worker, pair_i, pair_j, score, threshold)
    graph = sparse.coo_matrix((np.ones(int(mutual.sum())), (pair_i[mutual], pair_j[mutual])), shape=(n, n))
    n_comp, comp = csgraph.connected_components(graph, directed=False)
    comp = comp.astype(np.int64)
    if annotators is None:
        pairs = np.unique(task * n_w + worker)
        n_ann = np.bincount(pairs // n_w, weights=wt[pairs % n_w], minlength=int(task.max()) + 1 if n else 0)
    else:
        n_ann = np.asarray(annotators, dtype=np.float64)
    cw = np.unique(comp * n_w + worker)
    n_in = np.bincount(cw // n_w, weights=wt[cw % n_w], minlength=n_comp)
    comp_task = np.zeros(n_comp, dtype=np.int64)
    comp_task[comp] = task
    support = n_in / np.maximum(n_ann[comp_task], 1e-12)
    # mean linked score inside each cluster (1 for singletons)
    ssum = np.bincount(comp[pair_i[mutual]], weights=score[mutual], minlength=n_comp)
    scnt = np.bincount(comp[pair_i[mutual]], minlength=n_comp)
    mean_sc = np.divide(ssum, scnt, out=np.ones(n_comp), where=scnt > 0)
    keep = support >= min_support - 1e-12
    new_id = np.full(n_comp, -1, dtype=np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    return Clusters(new_id[comp], comp_task[keep], support[keep], (support * mean_sc)[keep])


@dataclass(frozen=True)
class FusedShapes:
    """Fused shapes, one per kept cluster: ``task``, ``geometry`` (shape depends on kind),
    ``support`` and ``confidence``; ``cluster`` maps each input shape to its output row."""

    task: IntArray
    geometry: FloatArray
    support: FloatArray
    confidence: FloatArray
    cluster: IntArray


def fuse_boxes(
    task: npt.ArrayLike,
    worker: npt.ArrayLike,
    boxes: npt.ArrayLike,
    *,
    threshold: float = 0.5,
    min_support: float = 0.5,
    annotators: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    geometry: Literal["mean", "median"] = "mean",
) -> FusedShapes:
    """Match boxes ``(n, 4)`` (``x1, y1, x2, y2``) by IoU and fuse by coordinate mean (or median).

    ``weights`` ``(n_workers,)``: worker skills; support and the mean (median) are then weighted
    by them (``annotators``: the summed weight of each task's annotators). ``geometry="median"``
    takes each coordinate's weighted median over the cluster, robust to one sloppy box. Returns
    ``geometry`` ``(n_objects, 4)``.
    """
    t = as_index(task, "task")
    w = as_index(worker, "worker")
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    wt = None if weights is None else np.asarray(weights, dtype=np.float64)
    pi, pj = same_task_pairs(t, w)
    sc = box_iou(b[pi], b[pj])
    ann = None if annotators is None else np.asarray(annotators, dtype=np.float64)
    cl = cluster_shapes(
        t, w, pi, pj, sc, threshold=threshold, min_support=min_support, annotators=ann, weights=wt
    )
    k = cl.task.size
    ok = cl.cluster >= 0
    ww = np.ones(int(ok.sum())) if wt is None else np.maximum(wt[w[ok]], 1e-9)
    if geometry == "median":
        geom = np.zeros((k, 4))
        idx = np.flatnonzero(ok)
        order = np.argsort(cl.cluster[idx], kind="stable")
        members = idx[order]
        weight_of = ww[order]
        bounds = np.flatnonzero(np.diff(cl.cluster[members])) + 1
        for c, (m, mw) in enumerate(zip(np.split(members, bounds), np.split(weight_of, bounds), strict=True)):
            if m.size:
                geom[c] = _weighted_median(b[m], mw)
        return FusedShapes(cl.task, geom, cl.support, cl.confidence, cl.cluster)
    cnt = np.bincount(cl.cluster[ok], weights=ww, minlength=k)
    geom = (
        np.stack([np.bincount(cl.cluster[ok], weights=ww * b[ok, c], minlength=k) for c in range(4)], axis=1)
        / np.maximum(cnt, 1e-12)[:, None]
    )
    return FusedShapes(cl.task, geom, cl.support, cl.confidence, cl.cluster)


def _bbox_of_polygons(polys: list[FloatArray]) -> FloatArray:
    return np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for p in polys]).reshape(
        -1, 4
    )


def fuse_polygons(
    task: npt.ArrayLike,
    worker: npt.ArrayLike,
    polygons: list[npt.ArrayLike],
    *,
    threshold: float = 0.5,
    min_support: float = 0.5,
    annotators: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
) -> tuple[FusedShapes, list[FloatArray]]:
    """Match polygons (each ``(v, 2)``) by bounding-box IoU; fuse by the cluster medoid.

    Returns the fused record (``geometry`` = the medoid's bounding box) and the list of medoid
    polygons, one per object.
    """
    t = as_index(task, "task")
    w = as_index(worker, "worker")
    polys = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons]
    bb = _bbox_of_polygons(polys)
    pi, pj = same_task_pairs(t, w)
    sc = box_iou(bb[pi], bb[pj])
    ann = None if annotators is None else np.asarray(annotators, dtype=np.float64)
    wt = None if weights is None else np.asarray(weights, dtype=np.float64)
    cl = cluster_shapes(
        t, w, pi, pj, sc, threshold=threshold, min_support=min_support, annotators=ann, weights=wt
    )
    k = cl.task.size
    # medoid: member with the highest summed IoU to the other members of its cluster
    same = (cl.cluster[pi] == cl.cluster[pj]) & (cl.cluster[pi] >= 0)
    tot = np.bincount(pi[same], weights=sc[same], minlength=t.size) + np.bincount(
        pj[same], weights=sc[same], minlength=t.size
    )
    idx = np.flatnonzero(cl.cluster >= 0)
    order = np.lexsort((-tot[idx], cl.cluster[idx]))
    sorted_cl = cl.cluster[idx][order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = sorted_cl[1:] != sorted_cl[:-1]
    medoid = idx[order[first]]
    fused = FusedShapes(cl.task, bb[medoid].reshape(k, 4), cl.support, cl.confidence, cl.cluster)
    return fused, [polys[i] for i in medoid]


def fuse_keypoints(
    task: npt.ArrayLike,
    worker: npt.ArrayLike,
    keypoints: npt.ArrayLike,
    *,
    area: npt.ArrayLike | None = None,
    sigmas: npt.ArrayLike | None = None,
    threshold: float = 0.5,
    min_support: float = 0.5,
    annotators: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
) -> FusedShapes:
    """Match keypoint sets ``(n, J, 3)`` (x, y, v with v > 0 visible) by OKS, fuse per joint.

    ``area`` ``(n,)`` is each instance's scale (default: area of the visible points' bounding
    box); ``sigmas`` ``(J,)`` default to COCO's person sigmas for J = 17, else 0.05.
    Returns ``geometry`` ``(n_objects, J, 3)``.
    """
    t = as_index(task, "task")
    w = as_index(worker, "worker")
    kp = np.asarray(keypoints, dtype=np.float64)
    j = kp.shape[1]
    sg = (
        np.asarray(sigmas, dtype=np.float64)
        if sigmas is not None
        else (COCO_PERSON_SIGMAS if j == 17 else np.full(j, 0.05))
    )
    vis = kp[:, :, 2] > 0
    if area is None:
        x, y = kp[:, :, 0], kp[:, :, 1]
        w_ = np.where(vis, x, -np.inf).max(axis=1) - np.where(vis, x, np.inf).min(axis=1)
        h_ = np.where(vis, y, -np.inf).max(axis=1) - np.where(vis, y, np.inf).min(axis=1)
        ar = np.where(vis.any(axis=1), w_ * h_, 1.0)
        ar = np.maximum(np.nan_to_num(ar, nan=1.0), 1.0)
    else:
        ar = np.asarray(area, dtype=np.float64)
    pi, pj = same_task_pairs(t, w)
    sc = oks(kp[pi], kp[pj], 0.5 * (ar[pi] + ar[pj]), sg)
    ann = None if annotators is None else np.asarray(annotators, dtype=np.float64)
    wt = None if weights is None else np.asarray(weights, dtype=np.float64)
    cl = cluster_shapes(
        t, w, pi, pj, sc, threshold=threshold, min_support=min_support, annotators=ann, weights=wt
    )
    k = cl.task.size
    ok = cl.cluster >= 0
    c = cl.cluster[ok]
    v = vis[ok].astype(np.float64)
    members = np.bincount(c, minlength=k).astype(np.float64)
    geom = np.zeros((k, j, 3))
    for ax in range(2):  # x, y
        num = np.zeros((k, j))
        np.add.at(num, c, kp[ok, :, ax] * v)
        geom[:, :, ax] = num
    nvis = np.zeros((k, j))
    np.add.at(nvis, c, v)
    geom[:, :, 0] = np.divide(geom[:, :, 0], nvis, out=np.zeros((k, j)), where=nvis > 0)
    geom[:, :, 1] = np.divide(geom[:, :, 1], nvis, out=np.zeros((k, j)), where=nvis > 0)
    geom[:, :, 2] = (nvis * 2 > members[:, None]).astype(np.float64) * 2.0
    return FusedShapes(cl.task, geom, cl.support, cl.confidence, cl.cluster)


def box_skills(
    task: IntArray,
    worker: IntArray,
    fused: FusedShapes,
    *,
    answered: tuple[IntArray, IntArray] | None = None,
    prior: float = 0.7,
    strength: float = 4.0,
) -> FloatArray:
    """Each worker's skill on boxes: the F1 of its boxes against a fusion (``fused``).

    A worker's box is right when it belongs to a kept cluster; the fusion's objects on the tasks
    the worker answered (``answered`` = ``(task, worker)`` pairs, including answers with no box;
    default: the pairs that have a box) are what it should have drawn. F1 = 2 right / (its boxes
    + those objects), smoothed towards ``prior`` by ``strength`` pseudo-boxes.
    """
    n_w = int(worker.max()) + 1 if worker.size else 0
    right = np.bincount(worker[fused.cluster >= 0], minlength=n_w).astype(np.float64)
    own = np.bincount(worker, minlength=n_w).astype(np.float64)
    n_t = max(int(task.max()) + 1 if task.size else 0, int(fused.task.max()) + 1 if fused.task.size else 0)
    objects = np.bincount(fused.task, minlength=n_t).astype(np.float64)
    if answered is None:
        pairs = np.unique(task * max(n_w, 1) + worker)
        at, aw = pairs // max(n_w, 1), pairs % max(n_w, 1)
    else:
        at, aw = answered
        n_w = max(n_w, int(aw.max()) + 1 if aw.size else 0)
        right = np.pad(right, (0, n_w - right.size))
        own = np.pad(own, (0, n_w - own.size))
        objects = np.pad(objects, (0, max(0, int(at.max()) + 1 - objects.size) if at.size else 0))
    should = np.bincount(aw, weights=objects[at], minlength=n_w)
    out: FloatArray = (2 * right + strength * prior) / (own + should + strength)
    return out


def fuse_boxes_with_skills(
    task: npt.ArrayLike,
    worker: npt.ArrayLike,
    boxes: npt.ArrayLike,
    *,
    threshold: float = 0.5,
    min_support: float = 0.5,
    annotators: npt.ArrayLike | None = None,
    answered: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> tuple[FusedShapes, FloatArray]:
    """Boxes fused twice: plainly, then with each worker weighed by its :func:`box_skills`.

    The second fusion keeps a cluster when the skills of the workers who drew it reach
    ``min_support`` of the skills of all who answered the task, and its box is the
    skill-weighted *median* of the cluster's boxes per coordinate (robust to one worker's
    sloppy box). ``answered``: ``(task, worker)`` pairs of who answered which task, those who
    drew nothing included (or ``annotators``, how many per task; missing workers then count at
    the mean skill). Returns the fusion and the skills ``(n_workers,)``.
    """
    t = as_index(task, "task")
    w = as_index(worker, "worker")
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    pairs: tuple[IntArray, IntArray] | None = None
    n_ann: FloatArray | None = None
    if answered is not None:
        pairs = (as_index(answered[0], "answered task"), as_index(answered[1], "answered worker"))
        n_ann = np.bincount(pairs[0]).astype(np.float64)
    elif annotators is not None:
        n_ann = np.asarray(annotators, dtype=np.float64)
    plain = fuse_boxes(t, w, b, threshold=threshold, min_support=min_support, annotators=n_ann)
    skills = box_skills(t, w, plain, answered=pairs)
    n_w = skills.size
    weight_sum: FloatArray
    if pairs is not None:
        weight_sum = np.bincount(pairs[0], weights=skills[pairs[1]]).astype(np.float64)
    else:
        present = np.unique(t * max(n_w, 1) + w)
        weight_sum = np.bincount(present // max(n_w, 1), weights=skills[present % max(n_w, 1)]).astype(
            np.float64
        )
        if n_ann is not None:
            have = np.bincount(present // max(n_w, 1), minlength=n_ann.size).astype(np.float64)
            weight_sum = np.pad(weight_sum, (0, max(0, n_ann.size - weight_sum.size))).astype(np.float64)
            weight_sum = weight_sum + np.maximum(n_ann - have, 0) * float(skills.mean() if n_w else 0.7)
    fused = fuse_boxes(
        t,
        w,
        b,
        threshold=threshold,
        min_support=min_support,
        annotators=weight_sum,
        weights=skills,
        geometry="median",
    )
    return fused, skills


def _weighted_median(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Per column, the smallest value whose cumulative weight reaches half (ties: midpoint)."""
    out = np.empty(values.shape[1])
    half = weights.sum() / 2
    for c in range(values.shape[1]):
        order = np.argsort(values[:, c], kind="stable")
        cum = np.cumsum(weights[order])
        i = int(np.searchsorted(cum, half - 1e-12))
        if abs(cum[i] - half) <= 1e-12 and i + 1 < order.size:
            out[c] = 0.5 * (values[order[i], c] + values[order[i + 1], c])
        else:
            out[c] = values[order[i], c]
    return out
