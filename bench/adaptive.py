"""Adaptive overlap benchmark: fixed overlap vs "ask until confident", replayed on real crowds.

    .venv/bin/python bench/adaptive.py [--target 0.9999] [--min-overlap 3] [--seeds 5]

For each crowd set with expert gold in ../shared/data/crowd, the answers of each task are
put in a random order (seeded). *Fixed* uses every answer (the overlap the data were
collected with). *Adaptive* starts every task with ``--min-overlap`` answers, fits
Dawid-Skene on everything collected so far, and asks for one more answer for each task that
:func:`assay.quality.decide_many` says "more" about, until all tasks are "done" or "review"
(``max_overlap`` = the answers the task has). Reported: labels used and accuracy on gold,
averaged over seeds; plus a fixed overlap with the same budget as adaptive, for reference.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from assay.quality import DawidSkene, decide_many  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "crowd"
if not DATA.exists():
    DATA = Path("/work/shared/data/crowd")
SETS = ["barzan_mozafari", "bluebirds", "face_sentiment", "snow2008_rte", "snow2008_temp", "snow2008_wsd"]


def load(name: str) -> tuple[np.ndarray, ...]:
    d = DATA / name
    with open(d / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(d / "gold.csv", newline="") as f:
        gold = list(csv.DictReader(f))
    tasks, t = np.unique([r["task"] for r in rows], return_inverse=True)
    _, w = np.unique([r["worker"] for r in rows], return_inverse=True)
    labels, y = np.unique([r["label"] for r in rows] + [g["label"] for g in gold], return_inverse=True)
    ti = {s: i for i, s in enumerate(tasks.tolist())}
    li = {s: i for i, s in enumerate(labels.tolist())}
    gt = np.array([ti[g["task"]] for g in gold if g["task"] in ti])
    gl = np.array([li[g["label"]] for g in gold if g["task"] in ti])
    return t, w, y[: len(rows)], gt, gl, np.array(len(labels))


def rank_within_task(task: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random position of each answer within its task (0 = first asked)."""
    order = np.lexsort((rng.random(task.size), task))
    counts = np.bincount(task)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.empty(task.size, dtype=np.int64)
    pos[order] = np.arange(task.size) - np.repeat(start, counts)
    return pos


def fit(
    t: np.ndarray, w: np.ndarray, y: np.ndarray, keep: np.ndarray, nt: int, nw: int, k: int
) -> DawidSkene:
    return DawidSkene().fit(t[keep], w[keep], y[keep], n_tasks=nt, n_workers=nw, n_labels=k)


def replay(name: str, seed: int, target: float, min_overlap: int) -> dict[str, float]:
    t, w, y, gt, gl, k_arr = load(name)
    k = int(k_arr)
    nt, nw = int(t.max()) + 1, int(w.max()) + 1
    rng = np.random.default_rng(seed)
    pos = rank_within_task(t, rng)
    avail = np.bincount(t, minlength=nt)
    full = fit(t, w, y, np.ones(t.size, dtype=bool), nt, nw, k)
    used = np.minimum(avail, min_overlap)
    while True:
        keep = pos < used[t]
        ds = fit(t, w, y, keep, nt, nw, k)
        d = decide_many(ds.probas_, used, min_overlap=min_overlap, max_overlap=avail.max(), target=target)
        more = (d == "more") & (used < avail)
        if not more.any():
            break
        used = np.where(more, used + 1, used)
    budget = int(round(keep.sum() / nt))
    same_budget = fit(t, w, y, pos < budget, nt, nw, k)
    return {
        "labels_full": float(t.size),
        "acc_full": float((full.labels_[gt] == gl).mean()),
        "labels_adaptive": float(keep.sum()),
        "acc_adaptive": float((ds.labels_[gt] == gl).mean()),
        "review": float((d == "review").mean()),
        "budget": float(budget),
        "labels_budget": float((pos < budget).sum()),
        "acc_budget": float((same_budget.labels_[gt] == gl).mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", type=float, default=0.9999)
    ap.add_argument("--min-overlap", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=5)
    a = ap.parse_args()
    print(f"target confidence {a.target}, min overlap {a.min_overlap}, {a.seeds} random orders per set\n")
    print(
        f"{'dataset':17} | {'fixed: labels  acc':>19} | {'adaptive: labels  acc  saved':>29} | "
        f"{'fixed at same budget':>22}"
    )
    tot = {"lf": 0.0, "la": 0.0}
    accs: dict[str, list[float]] = {"full": [], "adaptive": [], "budget": []}
    for name in SETS:
        if not (DATA / name).exists():
            continue
        rs = [replay(name, s, a.target, a.min_overlap) for s in range(a.seeds)]
        m = {key: float(np.mean([r[key] for r in rs])) for key in rs[0]}
        saved = 1 - m["labels_adaptive"] / m["labels_full"]
        tot["lf"] += m["labels_full"]
        tot["la"] += m["labels_adaptive"]
        accs["full"].append(m["acc_full"])
        accs["adaptive"].append(m["acc_adaptive"])
        accs["budget"].append(m["acc_budget"])
        print(
            f"{name:17} | {m['labels_full']:7.0f} {100 * m['acc_full']:9.2f}% | "
            f"{m['labels_adaptive']:8.0f} {100 * m['acc_adaptive']:7.2f}% {100 * saved:6.1f}% | "
            f"k={m['budget']:3.0f} {100 * m['acc_budget']:7.2f}%"
        )
    print(
        f"\nall sets: {tot['la']:.0f} of {tot['lf']:.0f} labels ({100 * (1 - tot['la'] / tot['lf']):.1f}% fewer); "
        f"mean accuracy fixed {100 * np.mean(accs['full']):.2f}%, adaptive {100 * np.mean(accs['adaptive']):.2f}%, "
        f"fixed at the adaptive budget {100 * np.mean(accs['budget']):.2f}%"
    )


if __name__ == "__main__":
    main()
