from __future__ import annotations

import numpy as np
import pytest
from qhelpers import simulate

from assay.quality import (
    GLAD,
    MACE,
    METHODS,
    AutoAggregator,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
)

ALL = [MajorityVote, DawidSkene, OneCoinDawidSkene, GLAD, MACE, AutoAggregator]


def test_majority_vote_hand_worked() -> None:
    # task 0: 1,1,0 -> 1 (2/3); task 1: 2,2 -> 2; task 2: 0,1 tie -> lowest index 0
    mv = MajorityVote().fit([0, 0, 0, 1, 1, 2, 2], [0, 1, 2, 0, 1, 0, 1], [1, 1, 0, 2, 2, 0, 1])
    assert mv.labels_.tolist() == [1, 2, 0]
    np.testing.assert_allclose(mv.probas_[0], [1 / 3, 2 / 3, 0])
    np.testing.assert_allclose(mv.confidence_, [2 / 3, 1, 0.5])


def test_majority_vote_weights_and_unanswered_task() -> None:
    mv = MajorityVote(weights=[1.0, 1.0, 5.0]).fit([0, 0, 0], [0, 1, 2], [1, 1, 0], n_tasks=2)
    assert mv.labels_.tolist() == [0, -1]
    np.testing.assert_allclose(mv.probas_[1], [0.5, 0.5])


@pytest.mark.parametrize("cls", ALL)
def test_gold_clamps_posterior(cls: type) -> None:
    task, worker, label, truth, _ = simulate(200, 20, 3, 3, seed=1)
    gold_t = np.arange(50)
    gold_l = (truth[:50] + 1) % 3  # deliberately contradicts the crowd
    m = cls().fit(task, worker, label, gold=(gold_t, gold_l))
    assert (m.labels_[:50] == gold_l).all()
    np.testing.assert_allclose(m.probas_[gold_t, gold_l], 1.0)


@pytest.mark.parametrize("cls", ALL)
def test_probas_are_distributions(cls: type) -> None:
    task, worker, label, _, _ = simulate(300, 30, 4, 4, seed=2)
    m = cls().fit(task, worker, label)
    assert m.probas_.shape == (300, 4)
    np.testing.assert_allclose(m.probas_.sum(axis=1), 1.0)
    assert ((m.confidence_ >= 0.25 - 1e-9) & (m.confidence_ <= 1.0)).all()


@pytest.mark.parametrize("cls", [DawidSkene, OneCoinDawidSkene, GLAD, MACE])
def test_planted_truth_beats_majority_vote(cls: type) -> None:
    task, worker, label, truth, _ = simulate(3000, 50, 4, 5, seed=3, acc=(0.35, 0.95))
    mv = (MajorityVote().fit_predict(task, worker, label) == truth).mean()
    em = (cls().fit_predict(task, worker, label) == truth).mean()
    assert em > mv + 0.01
    assert em > 0.9


def test_dawid_skene_recovers_confusion_matrices() -> None:
    rng = np.random.default_rng(4)
    n, w, k = 4000, 10, 3
    truth = rng.integers(0, k, n)
    # worker-specific asymmetric confusion: accuracy a, errors all to (truth + 1) % k
    acc = np.linspace(0.6, 0.95, w)
    task = np.repeat(np.arange(n), w)
    worker = np.tile(np.arange(w), n)
    ok = rng.random(task.size) < acc[worker]
    label = np.where(ok, truth[task], (truth[task] + 1) % k)
    ds = DawidSkene().fit(task, worker, label)
    assert (ds.labels_ == truth).mean() > 0.99
    for j in range(w):
        expected = acc[j] * np.eye(k) + (1 - acc[j]) * np.roll(np.eye(k), 1, axis=1)
        np.testing.assert_allclose(ds.errors_[j], expected, atol=0.03)
    np.testing.assert_allclose(ds.skills_, acc, atol=0.03)


def test_one_coin_recovers_skills() -> None:
    task, worker, label, truth, skill = simulate(5000, 20, 4, 5, seed=5)
    oc = OneCoinDawidSkene().fit(task, worker, label)
    np.testing.assert_allclose(oc.skills_, skill, atol=0.04)


def test_glad_and_mace_skills_order_workers() -> None:
    task, worker, label, truth, skill = simulate(3000, 20, 3, 5, seed=6)
    for m in (GLAD().fit(task, worker, label), MACE().fit(task, worker, label)):
        rho = np.corrcoef(np.argsort(np.argsort(m.skills_)), np.argsort(np.argsort(skill)))[0, 1]
        assert rho > 0.9


def test_auto_keeps_majority_vote_where_dawid_skene_overfits() -> None:
    # every worker answers once: no confusion matrix can be learned
    a = AutoAggregator().fit([0, 0, 0, 1, 1, 1], [0, 1, 2, 3, 4, 5], [1, 1, 0, 0, 0, 1])
    assert a.method_ == "mv" and a.rule_ == "too few answers"
    # 6 classes, 400 workers with about 4 answers each: DS's 36 cells per worker over-fit
    task, worker, label, truth, _ = simulate(300, 400, 6, 5, seed=8)
    auto = AutoAggregator().fit(task, worker, label)
    mv = MajorityVote().fit_predict(task, worker, label)
    assert auto.rule_ == "held-out answers"
    assert (auto.labels_ == truth).mean() >= (mv == truth).mean() - 0.02


def test_auto_chooses_dawid_skene_where_workers_differ_and_answer_a_lot() -> None:
    # 20 workers, a third of them answer the opposite most of the time: DS learns it, MV cannot
    rng = np.random.default_rng(9)
    task, worker, label, truth, _ = simulate(800, 20, 2, 5, seed=9)
    bad = worker % 3 == 0
    label = np.where(bad & (rng.random(label.size) < 0.8), 1 - truth[task], label)
    auto = AutoAggregator().fit(task, worker, label)
    mv = MajorityVote().fit_predict(task, worker, label)
    assert auto.method_ == "ds"
    assert (auto.labels_ == truth).mean() > (mv == truth).mean() + 0.02
    # with gold, held-out gold decides
    gold = (np.arange(40), truth[:40])
    assert AutoAggregator().fit(task, worker, label, gold=gold).rule_ == "held-out gold"


def test_methods_registry() -> None:
    assert set(METHODS) == {"mv", "ds", "onecoin", "glad", "mace", "auto"}


@pytest.mark.parametrize(
    "args",
    [
        ([0, 1], [0], [0, 1]),
        ([0, -1], [0, 1], [0, 1]),
        ([0.5, 1], [0, 1], [0, 1]),
    ],
)
def test_invalid_input(args: tuple[list[float], list[int], list[int]]) -> None:
    with pytest.raises(ValueError):
        DawidSkene().fit(*args)


def test_sizes_given_larger_than_data() -> None:
    ds = DawidSkene().fit([0, 1], [0, 0], [0, 1], n_tasks=3, n_workers=2, n_labels=3)
    assert ds.probas_.shape == (3, 3)
    assert ds.errors_.shape == (2, 3, 3)
    assert ds.labels_[2] == -1


def test_em_keeps_a_lone_answer_with_its_workers_accuracy() -> None:
    # tasks 0-29: three workers each (evidence); 30-39: worker 0 alone; 40-44: worker 3 alone
    task, worker, label, truth, _ = simulate(30, 3, 2, 3, seed=4)
    lone_t = np.arange(30, 45)
    lone_w = np.where(lone_t < 40, 0, 3)
    lone_l = np.where(lone_t % 5 == 0, 1, 0)  # a rare class, on its own
    t, w, lab = (np.concatenate(x) for x in ((task, lone_t), (worker, lone_w), (label, lone_l)))
    for model in (DawidSkene(), OneCoinDawidSkene(), GLAD(), MACE()):
        model.fit(t, w, lab)
        assert (model.labels_[30:] == lone_l).all(), type(model).__name__
        conf = model.confidence_
        assert conf[30:40] == pytest.approx(np.full(10, max(float(model.skills_[0]), 0.5 + 1e-6)))
        assert conf[40:] == pytest.approx(np.full(5, 2 / 3))  # worker 3: no agreement evidence
    # with one answer per task, auto keeps majority vote (no confusion can be identified)
    a = AutoAggregator().fit(
        np.arange(40), np.zeros(40, dtype=np.int64), (np.arange(40) % 9 == 0).astype(np.int64)
    )
    assert a.method_ == "mv" and a.rule_ == "too few records with 2+ answers"
