"""Active learning with the local model on real crowd answers: human answers saved at equal accuracy.

    .venv/bin/python bench/active_learning.py [--embedder minilm] [--batch 50] [--answers 3] [--seeds 3]

``../shared/data/crowd/snow2008_rte``: 800 sentence pairs (does the text entail the hypothesis?),
10 recorded crowd answers each and expert gold. People are simulated from the recorded answers: a
pair sent to people gets ``--answers`` of its crowd answers (in a seeded random order), settled by
majority. *All-human*: every pair goes to people. *Local model*: the pairs people settled so far
train the local model (assay's embeddings + classifier: ``[u, v, |u - v|, u * v]`` of the two
sentences' embeddings), which labels the rest; then the next ``--batch`` pairs go to people,
chosen by the model's uncertainty (active learning), by uncertainty and diversity (the most
uncertain pairs, spread out in embedding space), or at random (the baseline). Printed, one JSON
line per strategy: the curve (human answers → accuracy on gold of all 800 labels), and the human
answers needed to come within 1 point of all-human, against all-human's.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from assay.connectors.embeddings import EmbeddingClassifier, embedder  # noqa: E402
from assay.quality.diversity import farthest_first  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "crowd" / "snow2008_rte"
if not DATA.exists():
    DATA = Path("/work/shared/data/crowd/snow2008_rte")


def load() -> tuple[list[str], list[str], list[str], dict[str, list[str]], dict[str, str]]:
    with open(DATA / "texts.csv", newline="", encoding="utf-8") as f:
        texts = list(csv.DictReader(f))
    crowd: dict[str, list[str]] = defaultdict(list)
    with open(DATA / "labels.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            crowd[r["task"]].append(r["label"])
    with open(DATA / "gold.csv", newline="", encoding="utf-8") as f:
        gold = {r["task"]: r["label"] for r in csv.DictReader(f)}
    tasks = [t["task"] for t in texts]
    return tasks, [t["text"] for t in texts], [t["hypothesis"] for t in texts], crowd, gold


def majority(labels: list[str], rng: np.random.Generator) -> str:
    ones = sum(v == "1" for v in labels)
    if 2 * ones == len(labels):
        return str(rng.choice(["0", "1"]))
    return "1" if 2 * ones > len(labels) else "0"


def run(
    strategy: str,
    features: np.ndarray,
    people: list[str],
    truth: list[str],
    batch: int,
    answers: int,
    seed: int,
    name: str,
) -> list[tuple[int, float]]:
    rng = np.random.default_rng(seed)
    n = len(truth)
    labelled = np.zeros(n, dtype=bool)
    first = rng.choice(n, size=batch, replace=False)
    labelled[first] = True
    curve = []
    while True:
        y = [people[i] for i in np.flatnonzero(labelled)]
        final = np.array(people, dtype=object)
        if not labelled.all() and len(set(y)) > 1:
            clf = EmbeddingClassifier.fit(
                features[labelled], y, embedder_name=name, fields=["text", "hypothesis"]
            )
            p = clf.predict_proba(features[~labelled])
            final[~labelled] = np.array(clf.labels, dtype=object)[p.argmax(axis=1)]
            margin = np.abs(p.max(axis=1) - 0.5)
        else:
            margin = np.zeros((~labelled).sum())
        acc = float(np.mean(final == np.array(truth, dtype=object)))
        curve.append((int(labelled.sum()) * answers, round(acc, 4)))
        if labelled.all():
            return curve
        rest = np.flatnonzero(~labelled)
        k = min(batch, len(rest))
        if strategy == "random":
            pick = rng.choice(rest, size=k, replace=False)
        elif strategy == "uncertainty":
            pick = rest[np.argsort(margin, kind="stable")[:k]]
        else:  # diverse: among the 3k most uncertain, k far apart in embedding space (farthest first)
            pool = rest[np.argsort(margin, kind="stable")[: 3 * k]]
            pick = pool[farthest_first(features[pool], k)]
        labelled[pick] = True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default="minilm", choices=["minilm", "hashing"])
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--answers", type=int, default=3, help="crowd answers per pair sent to people")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    tasks, text, hyp, crowd, gold = load()
    emb = embedder(args.embedder)
    u, v = emb.encode(text), emb.encode(hyp)
    features = np.hstack([u, v, np.abs(u - v), u * v])
    truth = [gold[t] for t in tasks]
    for strategy in ("uncertainty", "diverse", "random"):
        curves, alls = [], []
        for seed in range(args.seeds):
            rng = np.random.default_rng(1000 + seed)
            people = [majority(list(rng.permutation(crowd[t]))[: args.answers], rng) for t in tasks]
            alls.append(float(np.mean(np.array(people) == np.array(truth))))
            curves.append(
                run(strategy, features, people, truth, args.batch, args.answers, seed, args.embedder)
            )
        all_human_acc = float(np.mean(alls))
        curve = [
            (curves[0][i][0], round(float(np.mean([c[i][1] for c in curves])), 4))
            for i in range(len(curves[0]))
        ]
        within = next((a for a, acc in curve if acc >= all_human_acc - 0.01), curve[-1][0])
        print(
            json.dumps(
                {
                    "case": f"snow2008_rte-{strategy}",
                    "embedder": args.embedder,
                    "human_answers_all_human": len(tasks) * args.answers,
                    "accuracy_all_human": round(all_human_acc, 4),
                    "human_answers_within_1_point": within,
                    "saved_share": round(1 - within / (len(tasks) * args.answers), 4),
                    "curve": curve,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
