from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")

CROWD_WITH_GOLD = [
    "barzan_mozafari",
    "bluebirds",
    "face_sentiment",
    "snow2008_rte",
    "snow2008_temp",
    "snow2008_wsd",
]


def data_dir(*parts: str) -> Path:
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} is absent")
    return p


@dataclass
class Crowd:
    task: npt.NDArray[np.int64]
    worker: npt.NDArray[np.int64]
    label: npt.NDArray[np.int64]
    gold_task: npt.NDArray[np.int64]
    gold_label: npt.NDArray[np.int64]
    n_tasks: int
    n_workers: int
    n_labels: int


def load_crowd(name: str) -> Crowd:
    d = data_dir("crowd", name)
    with open(d / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(d / "gold.csv", newline="") as f:
        gold = list(csv.DictReader(f))
    tasks, t = np.unique([r["task"] for r in rows], return_inverse=True)
    _, w = np.unique([r["worker"] for r in rows], return_inverse=True)
    labels, y = np.unique([r["label"] for r in rows] + [g["label"] for g in gold], return_inverse=True)
    y = y[: len(rows)]
    tindex = {s: i for i, s in enumerate(tasks.tolist())}
    lindex = {s: i for i, s in enumerate(labels.tolist())}
    gt = np.array([tindex[g["task"]] for g in gold if g["task"] in tindex], dtype=np.int64)
    gl = np.array([lindex[g["label"]] for g in gold if g["task"] in tindex], dtype=np.int64)
    return Crowd(
        t.astype(np.int64),
        w.astype(np.int64),
        y.astype(np.int64),
        gt,
        gl,
        len(tasks),
        int(w.max()) + 1,
        len(labels),
    )


def simulate(
    n_tasks: int,
    n_workers: int,
    k: int,
    per_task: int,
    seed: int,
    acc: tuple[float, float] = (0.55, 0.95),
) -> tuple[npt.NDArray[np.int64], ...]:
    """Planted truth; each task gets ``per_task`` distinct workers; errors uniform."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_tasks)
    skill = rng.uniform(acc[0], acc[1], n_workers)
    w = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = w.ravel()
    tl = truth[task]
    ok = rng.random(task.size) < skill[worker]
    label = np.where(ok, tl, (tl + rng.integers(1, k, task.size)) % k)
    return task, worker, label.astype(np.int64), truth, skill
