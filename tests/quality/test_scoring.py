"""Contributor scoring, adaptive overlap and label-error detection."""

from __future__ import annotations

import numpy as np
import pytest
from qhelpers import simulate

from assay.quality import (
    DawidSkene,
    confident_joint,
    consensus_agreement,
    decide,
    decide_many,
    find_label_issues,
    gold_accuracy,
    label_quality_scores,
    quality_gate,
)


def test_gold_accuracy_beta_posterior() -> None:
    # worker 0: 8/10 correct, worker 1: 1/4, worker 2: none
    worker = [0] * 10 + [1] * 4
    correct = [True] * 8 + [False] * 2 + [True] + [False] * 3
    s = gold_accuracy(worker, correct, n_workers=3)
    assert s.n.tolist() == [10, 4, 0]
    np.testing.assert_allclose(s.mean, [9 / 12, 2 / 6, 0.5])
    # Beta(9, 3) equal-tailed 95% interval
    from scipy import stats

    np.testing.assert_allclose([s.low[0], s.high[0]], stats.beta.ppf([0.025, 0.975], 9, 3))
    assert s.low[2] == pytest.approx(0.025) and s.high[2] == pytest.approx(0.975)
    assert quality_gate(s, bar=0.85, min_gold=4).tolist() == [False, True, False]
    assert quality_gate(s, bar=0.85, min_gold=5).tolist() == [False, False, False]


def test_consensus_agreement() -> None:
    hard, soft = consensus_agreement([0, 0, 1, 1], [0, 1, 0, 1], [1, 0, 1, 1], [1, 1], n_workers=3)
    assert hard[:2].tolist() == [1.0, 0.5] and np.isnan(hard[2])
    probas = np.array([[0.2, 0.8], [0.1, 0.9]])
    _, soft = consensus_agreement([0, 0, 1, 1], [0, 1, 0, 1], [1, 0, 1, 1], [1, 1], probas)
    np.testing.assert_allclose(soft, [0.85, 0.55])


def test_decide() -> None:
    assert decide([0.97, 0.03], 3, min_overlap=2, max_overlap=5, target=0.95) == "done"
    assert decide([0.97, 0.03], 1, min_overlap=2, max_overlap=5, target=0.95) == "more"
    assert decide([0.6, 0.4], 3, min_overlap=2, max_overlap=5, target=0.95) == "more"
    assert decide([0.6, 0.4], 5, min_overlap=2, max_overlap=5, target=0.95) == "review"
    out = decide_many([[0.97, 0.03], [0.6, 0.4], [0.6, 0.4]], [3, 3, 5], min_overlap=2, max_overlap=5)
    assert out.tolist() == ["done", "more", "review"]


def test_adaptive_overlap_saves_labels_on_simulation() -> None:
    task, worker, label, truth, _ = simulate(2000, 40, 3, 7, seed=11, acc=(0.65, 0.95))
    k_of = np.tile(np.arange(7), 2000)  # answer order within each task
    full = DawidSkene().fit(task, worker, label)
    used = np.full(2000, 3)
    for _ in range(4):
        keep = k_of < used[task]
        ds = DawidSkene().fit(task[keep], worker[keep], label[keep], n_tasks=2000, n_workers=40, n_labels=3)
        d = decide_many(ds.probas_, used, min_overlap=3, max_overlap=7, target=0.98)
        used = np.where(d == "more", used + 1, used)
    keep = k_of < used[task]
    ds = DawidSkene().fit(task[keep], worker[keep], label[keep], n_tasks=2000, n_workers=40, n_labels=3)
    assert keep.sum() < 0.75 * task.size
    assert (ds.labels_ == truth).mean() >= (full.labels_ == truth).mean() - 0.01


def _noisy(seed: int, n: int = 3000, k: int = 4, rate: float = 0.2) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), truth] += 2.5
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    flip = rng.random(n) < rate
    given = np.where(flip, (truth + rng.integers(1, k, n)) % k, truth)
    return p, given, flip


def test_confident_learning_finds_planted_noise() -> None:
    p, given, flip = _noisy(0)
    idx = find_label_issues(given, p)
    assert isinstance(idx, np.ndarray)
    found = np.zeros(given.size, dtype=bool)
    found[idx] = True
    precision = (found & flip).sum() / found.sum()
    recall = (found & flip).sum() / flip.sum()
    assert precision > 0.75 and recall > 0.5
    # ranked by self-confidence, ascending
    sc = label_quality_scores(given, p)
    assert (np.diff(sc[idx]) >= 0).all()
    cj_mask = find_label_issues(given, p, filter_by="confident_joint", return_mask=True)
    both = find_label_issues(given, p, filter_by="both", return_mask=True)
    assert both.sum() <= min(cj_mask.sum(), found.sum())


def test_confident_joint_hand_worked() -> None:
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05]])
    cj, conf = confident_joint([0, 0, 1, 1, 1], p, calibrate=False)
    # thresholds: t0 = 0.85, t1 = (0.9 + 0.8 + 0.05) / 3 = 0.583
    assert conf.tolist() == [0, -1, 1, 1, 0]
    np.testing.assert_array_equal(cj, [[1, 0], [1, 2]])
    assert find_label_issues([0, 0, 1, 1, 1], p).tolist() == [4]
    nm = label_quality_scores([0, 1], [[0.7, 0.3], [0.7, 0.3]], method="normalized_margin")
    np.testing.assert_allclose(nm, [0.7, 0.3])


def test_cleanlab_agrees_roughly() -> None:
    filt = pytest.importorskip("cleanlab.filter")
    p, given, flip = _noisy(1)
    theirs = filt.find_label_issues(given, p)
    ours = find_label_issues(given, p, return_mask=True)
    assert (theirs == ours).mean() > 0.97
