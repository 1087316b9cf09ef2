"""``auto``: choose the categorical aggregator by evidence the data themselves hold.

The candidates, simplest first: majority vote (``mv``, every worker equally reliable) and
Dawid-Skene (``ds``, one confusion matrix per worker). More parameters fit the answers better
and overfit them when there are few answers per worker, which is where plain majority vote
wins on real sparse crowd data. (One-coin DS is not a candidate: with its class prior learned
freely its EM can settle on labelling every task with one class and every worker at chance —
a degenerate fixed point seen on sparse answers; a candidate whose workers are, on average, no
better than chance is refused for the same reason.) So :class:`AutoAggregator` asks each candidate to *predict answers it did not see*:

* **without gold** — the workers' answers are split at random (seeded) into ``folds`` parts;
  each candidate is fitted without one part and labels every task from the answers it kept;
  its score is the share of the held-out answers that agree with the label it gave their task.
  A worker better than chance agrees more often with a right label than with a wrong one, so
  on held-out answers this share ranks the candidates by how often their labels are right —
  without gold. It sees both ways a richer model fails on sparse data: over-fitted confusion
  matrices, and an EM that settles on swapped labels (which predicts the answers'
  *distribution* as well as the right labels do, so a held-out likelihood cannot tell them
  apart, but agrees with the answers less).
* **with gold** (at least ``min_gold`` gold tasks) — the gold tasks are split into folds;
  each candidate is fitted with the other folds' gold clamped and scores the share of the
  held-out gold tasks it labels right.

Before any of this, the data must be able to identify worker confusion at all: without enough
gold, when fewer than half of the answered tasks have two answers or more (one model judge
grading every record, a sparse crowd), there is no agreement to learn confusion from, and
majority vote is chosen (``rule_ = "too few records with 2+ answers"``). (Dawid-Skene itself
leaves a task with a single answer out of its fit and keeps that answer, see
:class:`~assay.quality.aggregation._base.EMAggregator`.)

Then the *simplest* candidate whose score is within one standard error of the best one's
(paired over the held-out answers or gold tasks) is chosen — the one-standard-error rule of
cross-validation (Breiman et al. 1984; Hastie, Tibshirani & Friedman 2009, §7.10): a
richer model must earn its parameters on data it has not seen. Above ``max_answers`` answers
the choice is made on a random subset of tasks. The chosen method is then fitted on all the
answers (gold clamping it). ``method_`` records the choice, ``scores_`` each candidate's
held-out score and ``rule_`` which evidence decided.

Nothing in the rule is tuned on a benchmark: the candidates, the folds and the
one-standard-error margin are textbook choices.
"""

from __future__ import annotations

import numpy as np

from assay.quality._arrays import FloatArray, IntArray, Triplets
from assay.quality.aggregation._base import CategoricalAggregator
from assay.quality.aggregation.dawid_skene import DawidSkene
from assay.quality.aggregation.majority_vote import MajorityVote
from assay.quality.aggregation.one_coin import OneCoinDawidSkene

__all__ = ["AutoAggregator"]

CANDIDATES: tuple[str, ...] = ("mv", "ds")


def _make(name: str) -> CategoricalAggregator:
    if name == "mv":
        return MajorityVote()
    if name == "onecoin":
        return OneCoinDawidSkene()
    return DawidSkene()


def _subset(d: Triplets, keep: np.ndarray) -> Triplets:
    return Triplets(d.task[keep], d.worker[keep], d.label[keep], d.n_tasks, d.n_workers, d.n_labels)


def _agreement(model: CategoricalAggregator, test: Triplets) -> FloatArray:
    """Per held-out answer: 1 when the label the model gives its task (from the other answers)
    is that answer, ``1/m`` when the answer is one of ``m`` tied labels, else 0."""
    post = model.probas_[test.task]
    top = post.max(axis=1, keepdims=True)
    tied = np.isclose(post, top, rtol=0, atol=1e-9)
    out: FloatArray = tied[np.arange(test.task.size), test.label] / tied.sum(axis=1)
    return out


def _pick(scores: dict[str, FloatArray]) -> str:
    """The simplest candidate within one standard error (paired) of the best mean score."""
    means = {m: float(s.mean()) for m, s in scores.items()}
    best = max(means, key=lambda m: means[m])
    for m in CANDIDATES:
        if m not in scores:
            continue
        diff = scores[best] - scores[m]
        se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else 0.0
        if float(diff.mean()) <= se:
            return m
    return best


def _better_than_chance(model: CategoricalAggregator, d: Triplets) -> bool:
    """Whether the model's workers are, answer-weighted, more accurate than chance (1/K)."""
    if not isinstance(model, DawidSkene):
        return True
    per_worker = np.asarray(model.skills_, dtype=np.float64)
    answers = np.bincount(d.worker, minlength=d.n_workers).astype(np.float64)
    mean = float((per_worker * answers).sum() / max(answers.sum(), 1.0))
    return mean > 1.0 / d.n_labels


class AutoAggregator(CategoricalAggregator):
    """Majority vote or Dawid-Skene, whichever agrees better with held-out answers (or gold).

    Parameters
    ----------
    folds : int, default 5
    min_gold : int, default 20
        With at least this many gold tasks, held-out gold decides; else held-out answers.
    max_answers : int, default 100_000
        Above this, the choice is made on a random subset of tasks.
    seed : int, default 0

    Attributes
    ----------
    method_ : ``"mv"`` or ``"ds"``.
    model_ : the chosen aggregator, fitted on all the answers.
    scores_ : mean held-out score per candidate (agreement with held-out answers, or gold accuracy).
    rule_ : ``"held-out answers"``, ``"held-out gold"``, ``"too few records with 2+ answers"`` or
        ``"too few answers"``.
    """

    method_: str
    model_: CategoricalAggregator
    scores_: dict[str, float]
    rule_: str

    def __init__(self, folds: int = 5, min_gold: int = 20, max_answers: int = 100_000, seed: int = 0) -> None:
        self.folds = folds
        self.min_gold = min_gold
        self.max_answers = max_answers
        self.seed = seed

    def _fit(self, d: Triplets, gold_task: IntArray, gold_label: IntArray) -> None:
        rng = np.random.default_rng(self.seed)
        scores: dict[str, FloatArray]
        answers = np.bincount(d.task, minlength=d.n_tasks)
        if gold_task.size >= max(self.min_gold, self.folds):
            scores, self.rule_ = self._gold_scores(d, gold_task, gold_label, rng), "held-out gold"
        elif 2 * int((answers >= 2).sum()) < int((answers >= 1).sum()):
            scores, self.rule_ = {}, "too few records with 2+ answers"
        elif d.task.size >= 2 * self.folds:
            scores, self.rule_ = self._answer_scores(d, rng), "held-out answers"
        else:
            scores, self.rule_ = {}, "too few answers"
        self.scores_ = {m: round(float(s.mean()), 6) for m, s in scores.items()}
        self.method_ = _pick(scores) if scores else "mv"
        model = _make(self.method_)
        model._fit(d, gold_task, gold_label)
        if not _better_than_chance(model, d):
            self.method_, self.rule_ = "mv", self.rule_ + "; ds refused (workers at chance)"
            model = _make("mv")
            model._fit(d, gold_task, gold_label)
        self.model_ = model
        self.probas_ = model.probas_

    def _answer_scores(self, d: Triplets, rng: np.random.Generator) -> dict[str, FloatArray]:
        if d.task.size > self.max_answers:
            tasks = rng.permutation(d.n_tasks)[: max(1, int(d.n_tasks * self.max_answers / d.task.size))]
            keep = np.zeros(d.n_tasks, dtype=bool)
            keep[tasks] = True
            d = _subset(d, keep[d.task])
        fold = rng.permutation(d.task.size) % self.folds
        out: dict[str, list[FloatArray]] = {m: [] for m in CANDIDATES}
        none = np.zeros(0, dtype=np.int64)
        for f in range(self.folds):
            train, test = _subset(d, fold != f), _subset(d, fold == f)
            for m in CANDIDATES:
                model = _make(m)
                model._fit(train, none, none)
                out[m].append(_agreement(model, test))
        return {m: np.concatenate(v) for m, v in out.items()}

    def _gold_scores(
        self, d: Triplets, gold_task: IntArray, gold_label: IntArray, rng: np.random.Generator
    ) -> dict[str, FloatArray]:
        fold = rng.permutation(gold_task.size) % self.folds
        out: dict[str, list[FloatArray]] = {m: [] for m in CANDIDATES}
        for f in range(self.folds):
            known, hidden = fold != f, fold == f
            for m in CANDIDATES:
                model = _make(m)
                model._fit(d, gold_task[known], gold_label[known])
                guess = model.probas_[gold_task[hidden]].argmax(axis=1)
                out[m].append((guess == gold_label[hidden]).astype(np.float64))
        return {m: np.concatenate(v) for m, v in out.items()}
