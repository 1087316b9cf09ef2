"""Multi-label, numbers, spans, geometry and Bradley-Terry."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from qhelpers import data_dir

from assay.quality import (
    BiasCorrectedMean,
    BinaryRelevanceDS,
    BradleyTerry,
    MedianRating,
    aggregate_spans,
    fuse_boxes,
    fuse_keypoints,
    fuse_polygons,
    mean_iou,
    span_f1,
)


def test_binary_relevance_planted() -> None:
    rng = np.random.default_rng(0)
    n, w, n_lab, per = 1500, 15, 4, 5
    truth = rng.random((n, n_lab)) < 0.3
    sens = rng.uniform(0.6, 0.95, w)
    spec = rng.uniform(0.7, 0.98, w)
    task = np.repeat(np.arange(n), per)
    worker = np.argsort(rng.random((n, w)), axis=1)[:, :per].ravel()
    t = truth[task]
    r = rng.random(t.shape)
    ans = np.where(t, r < sens[worker, None], r > spec[worker, None]).astype(int)
    m = BinaryRelevanceDS().fit(task, worker, ans)
    assert m.labels_.shape == (n, n_lab)
    assert (m.labels_ == truth).mean() > 0.95
    np.testing.assert_allclose(m.errors_[:, :, 1, 1].mean(axis=0), sens, atol=0.1)
    with pytest.raises(ValueError):
        BinaryRelevanceDS().fit([0], [0], [[2, 0]])


def test_median_hand_worked() -> None:
    m = MedianRating().fit([0, 0, 0, 1, 1, 2], [1.0, 5.0, 2.0, 4.0, 6.0, 3.0])
    np.testing.assert_allclose(m.values_, [2.0, 5.0, 3.0])
    assert np.isnan(m.spread_[2]) and m.confidence_[2] == 0.0
    assert (m.confidence_ >= 0).all() and (m.confidence_ <= 1).all()


def test_bias_corrected_mean_recovers_biases() -> None:
    rng = np.random.default_rng(1)
    n, w, per = 2000, 20, 5
    mu = rng.normal(50, 15, n)
    bias = rng.normal(0, 8, w)
    bias -= bias.mean()
    task = np.repeat(np.arange(n), per)
    worker = np.argsort(rng.random((n, w)), axis=1)[:, :per].ravel()
    x = mu[task] + bias[worker] + rng.normal(0, 3, task.size)
    m = BiasCorrectedMean().fit(task, worker, x)
    np.testing.assert_allclose(m.biases_, bias, atol=0.6)
    plain = np.bincount(task, weights=x) / per
    assert np.abs(m.values_ - mu).mean() < 0.6 * np.abs(plain - mu).mean()
    assert m.confidence_.min() >= 0 and m.confidence_.max() <= 1


def test_ratings_on_snow_affect() -> None:
    d = data_dir("crowd", "snow2008_affect")
    with open(d / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(d / "gold.csv", newline="") as f:
        gold = {g["task"]: float(g["label"]) for g in csv.DictReader(f)}
    tasks, t = np.unique([r["task"] for r in rows], return_inverse=True)
    _, w = np.unique([r["worker"] for r in rows], return_inverse=True)
    x = np.array([float(r["label"]) for r in rows])
    g = np.array([gold[s] for s in tasks.tolist()])
    emotion = np.array([s.split(":")[0] for s in tasks.tolist()])
    r_mean, r_bc, r_med = [], [], []
    for e in np.unique(emotion):  # each emotion has its own scale: fit separately
        m = emotion[t] == e
        tt = np.unique(t[m], return_inverse=True)[1]
        ww = np.unique(w[m], return_inverse=True)[1]
        ge = g[emotion == e]
        r_mean.append(np.corrcoef(np.bincount(tt, weights=x[m]) / np.bincount(tt), ge)[0, 1])
        r_bc.append(np.corrcoef(BiasCorrectedMean().fit(tt, ww, x[m]).values_, ge)[0, 1])
        r_med.append(np.corrcoef(MedianRating().fit(tt, x[m]).values_, ge)[0, 1])
    # gold is itself a mean of expert ratings: bias correction is on par with the plain mean here
    assert np.mean(r_bc) >= np.mean(r_mean) - 0.03
    assert np.mean(r_bc) > 0.6 and np.mean(r_med) > 0.5


def test_spans_hand_worked() -> None:
    # 3 annotators on text 0: [0,5), [1,5)+[10,12), [2,6)  -> majority on [1,5)
    r = aggregate_spans([0, 0, 0, 0], [0, 1, 1, 2], [0, 1, 10, 2], [5, 5, 12, 6])
    assert list(zip(r.task.tolist(), r.start.tolist(), r.end.tolist(), strict=True)) == [(0, 1, 5)]
    assert 2 / 3 <= r.confidence[0] <= 1.0
    # a 4th annotator who marked nothing lowers the shares
    r4 = aggregate_spans([0, 0, 0, 0], [0, 1, 1, 2], [0, 1, 10, 2], [5, 5, 12, 6], annotators=[4])
    assert list(zip(r4.start.tolist(), r4.end.tolist(), strict=True)) == [(2, 5)]
    # labelled spans vote separately; one annotator's overlapping spans count once
    r = aggregate_spans([0, 0, 0, 0], [0, 0, 1, 1], [0, 2, 0, 0], [4, 6, 3, 3], span_label=[1, 1, 0, 1])
    assert (r.label.tolist(), r.start.tolist(), r.end.tolist()) == ([1], [0], [3])


def test_span_f1() -> None:
    # a: [0,10), b: [5,15): |A∩B| = 5, F1 = 10/20
    assert span_f1([0, 0], [0, 1], [0, 5], [10, 15]) == pytest.approx(0.5)
    assert span_f1([0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 3, 3], [4, 4, 9, 9]) == pytest.approx(1.0)
    # annotator 2 marked nothing on text 0
    f = span_f1([0, 0], [0, 1], [0, 0], [4, 4], annotated=([0, 0, 0], [0, 1, 2]))
    assert f == pytest.approx(1 / 3)


def test_fuse_boxes() -> None:
    boxes = np.array(
        [
            [0, 0, 10, 10],
            [1, 1, 11, 11],
            [0, 0, 10, 12],  # object A, three annotators
            [50, 50, 60, 60],
            [51, 50, 61, 60],  # object B, two annotators
            [100, 100, 110, 110],  # a lone box
        ],
        dtype=float,
    )
    r = fuse_boxes([0] * 6, [0, 1, 2, 0, 1, 2], boxes)
    order = np.argsort(r.geometry[:, 0])
    np.testing.assert_allclose(r.geometry[order[0]], [1 / 3, 1 / 3, 31 / 3, 11])
    np.testing.assert_allclose(r.geometry[order[1]], [50.5, 50, 60.5, 60])
    assert r.geometry.shape == (2, 4)
    np.testing.assert_allclose(np.sort(r.support), [2 / 3, 1.0])
    assert r.cluster[5] == -1
    miou = mean_iou([0] * 6, [0, 1, 2, 0, 1, 2], boxes)
    assert 0.3 < miou < 0.9
    assert mean_iou([0, 0], [0, 1], [[0, 0, 2, 2], [0, 0, 2, 2]]) == pytest.approx(1.0)
    assert mean_iou([0, 0], [0, 1], [[0, 0, 2, 2], [1, 0, 3, 2]]) == pytest.approx(1 / 3)


def test_fuse_polygons_medoid() -> None:
    sq = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
    polys = [sq, sq + 1, sq + 0.2, sq + 100]
    fused, medoids = fuse_polygons([0, 0, 0, 0], [0, 1, 2, 3], polys, min_support=0.5)
    assert len(medoids) == 1
    np.testing.assert_allclose(medoids[0], sq + 0.2)


def test_fuse_keypoints() -> None:
    rng = np.random.default_rng(2)
    base = np.column_stack([rng.uniform(0, 100, 17), rng.uniform(0, 100, 17), np.full(17, 2.0)])
    kps = np.stack([base + np.r_[rng.normal(0, 1, 2), 0] for _ in range(3)])
    kps[2, 5, 2] = 0  # one annotator did not see joint 5
    other = base.copy()
    other[:, :2] += 300
    r = fuse_keypoints([0, 0, 0, 0], [0, 1, 2, 3], np.concatenate([kps, other[None]]))
    assert r.geometry.shape == (1, 17, 3)
    np.testing.assert_allclose(r.geometry[0, :, :2], base[:, :2], atol=3)
    assert (r.geometry[0, :, 2] == 2).all()


def test_bradley_terry_planted() -> None:
    rng = np.random.default_rng(3)
    n, m = 8, 3000
    s = np.linspace(-1.5, 1.5, n)
    i = rng.integers(0, n, m)
    j = (i + rng.integers(1, n, m)) % n
    p = 1 / (1 + np.exp(s[j] - s[i]))
    win = rng.random(m) < p
    bt = BradleyTerry(n_boot=100, seed=0).fit(np.where(win, i, j), np.where(win, j, i))
    np.testing.assert_allclose(bt.scores_, s - s.mean(), atol=0.15)
    assert bt.ranking_.tolist() == list(range(n - 1, -1, -1))
    assert (bt.ci_[:, 0] <= bt.scores_).all() and (bt.scores_ <= bt.ci_[:, 1]).all()
    covered = ((bt.ci_[:, 0] <= s - s.mean()) & (s - s.mean() <= bt.ci_[:, 1])).mean()
    assert covered >= 0.75
    again = BradleyTerry(n_boot=100, seed=0).fit(np.where(win, i, j), np.where(win, j, i))
    np.testing.assert_array_equal(again.ci_, bt.ci_)


def test_bradley_terry_unbeaten_item_stays_finite() -> None:
    bt = BradleyTerry(n_boot=20).fit([0, 0, 0, 1], [1, 2, 2, 2], tie=[False, False, False, True])
    assert np.isfinite(bt.scores_).all()
    assert bt.ranking_[0] == 0
    assert 0.5 < bt.win_probability(0, 1) < 1.0


def test_bradley_terry_weights_equal_repeated_rows() -> None:
    from assay.quality import BradleyTerry

    rows = ([0, 1, 2, 0], [1, 2, 0, 2], [0.0, 0.0, 1.0, 0.0])
    counts = [5, 3, 2, 4]
    expanded = [[], [], []]  # type: list[list[float]]
    for w, lo, t, c in zip(*rows, counts, strict=True):
        expanded[0] += [w] * c
        expanded[1] += [lo] * c
        expanded[2] += [t] * c
    a = BradleyTerry(n_boot=0).fit(rows[0], rows[1], tie=rows[2], n_items=3, weights=counts)
    b = BradleyTerry(n_boot=0).fit(expanded[0], expanded[1], tie=expanded[2], n_items=3)
    assert np.allclose(a.scores_, b.scores_)
    with pytest.raises(ValueError):
        BradleyTerry().fit([0], [1], weights=[-1])
