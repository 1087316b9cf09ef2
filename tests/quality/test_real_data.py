"""Our aggregators against crowd-kit on the real crowd sets (accuracy on expert gold)."""

from __future__ import annotations

import numpy as np
import pytest
from qhelpers import CROWD_WITH_GOLD, load_crowd

from assay.quality import (
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    fleiss_kappa,
    gold_accuracy,
    krippendorff_alpha,
)


def _acc(pred: np.ndarray, c: object) -> float:
    return float((pred[c.gold_task] == c.gold_label).mean())  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", CROWD_WITH_GOLD)
def test_dawid_skene_matches_crowdkit(name: str) -> None:
    c = load_crowd(name)
    ck = pytest.importorskip("crowdkit.aggregation")
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"task": c.task, "worker": c.worker, "label": c.label})
    theirs = ck.DawidSkene(n_iter=100).fit_predict(df).reindex(range(c.n_tasks)).to_numpy()
    ours = DawidSkene().fit_predict(c.task, c.worker, c.label)
    # same method, same answer on (almost) every task and on gold
    assert (ours == theirs).mean() > 0.97
    assert abs(_acc(ours, c) - _acc(theirs, c)) <= 0.01 + 1e-9


@pytest.mark.parametrize("name", ["snow2008_rte", "snow2008_temp", "face_sentiment"])
def test_one_coin_matches_crowdkit(name: str) -> None:
    c = load_crowd(name)
    ck = pytest.importorskip("crowdkit.aggregation")
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"task": c.task, "worker": c.worker, "label": c.label})
    theirs = ck.OneCoinDawidSkene(n_iter=100).fit_predict(df).reindex(range(c.n_tasks)).to_numpy()
    ours = OneCoinDawidSkene().fit_predict(c.task, c.worker, c.label)
    assert abs(_acc(ours, c) - _acc(theirs, c)) <= 0.005 + 1e-9


def test_gold_improves_little_gold_dataset() -> None:
    c = load_crowd("bluebirds")
    half = c.gold_task.size // 2
    gold = (c.gold_task[:half], c.gold_label[:half])
    ds = DawidSkene().fit(c.task, c.worker, c.label, gold=gold)
    rest = slice(half, None)
    acc = (ds.labels_[c.gold_task[rest]] == c.gold_label[rest]).mean()
    mv = (
        MajorityVote().fit_predict(c.task, c.worker, c.label)[c.gold_task[rest]] == c.gold_label[rest]
    ).mean()
    assert acc >= mv


def test_worker_scores_on_real_data() -> None:
    c = load_crowd("snow2008_rte")
    gold = np.full(c.n_tasks, -1)
    gold[c.gold_task] = c.gold_label
    has = gold[c.task] >= 0
    scores = gold_accuracy(c.worker[has], c.label[has] == gold[c.task[has]], n_workers=c.n_workers)
    ds = DawidSkene().fit(c.task, c.worker, c.label)
    active = scores.n >= 10
    # DS's unsupervised skill tracks gold accuracy
    assert np.corrcoef(ds.skills_[active], scores.mean[active])[0, 1] > 0.8


def test_agreement_on_real_data_is_sane() -> None:
    c = load_crowd("snow2008_rte")
    a = krippendorff_alpha(c.task, c.label)
    k = fleiss_kappa(c.task, c.worker, c.label)
    assert 0.0 < a < 1.0
    assert a == pytest.approx(k, abs=0.02)  # large-sample equivalence of alpha and Fleiss
