"""`assay quality aggregate` start to finish against crowd-kit's Dawid-Skene started the same way.

    .venv/bin/python bench/cli_aggregate.py [--labels 1000000] [--repeat 3]

Both run as a fresh process on the same CSV file (worker,task,label with string ids, seeded
like ../shared/peers/crowdkit_bench.py: 4 classes, 1,000 workers of accuracy U(0.55, 0.95),
5 distinct workers per task) and write the aggregated labels to a CSV file:

* assay: ``assay quality aggregate --input labels.csv --method ds --out out.csv``;
* crowd-kit 1.4.2: ``python -c`` reading the CSV with pandas, ``DawidSkene().fit_predict``,
  writing the result with pandas (the shortest program a crowd-kit user writes).

The time is the wall time of the whole process (interpreter start, imports, reading, fitting,
writing) and its CPU time (all threads), over ``--repeat`` interleaved pairs of runs (the
machine is shared: the CPU ratio is the steadier one); accuracy is against the planted truth.
"""

from __future__ import annotations

import argparse
import csv
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path("/tmp/assay-bench")

CROWDKIT = """
import sys
import pandas as pd
from crowdkit.aggregation import DawidSkene
df = pd.read_csv(sys.argv[1], dtype=str)
DawidSkene(n_iter=100).fit_predict(df).rename("label").to_csv(sys.argv[2])
"""


def make(n: int) -> tuple[Path, dict[str, str]]:
    path = CACHE / f"cli_labels_{n}.csv"
    rng = np.random.default_rng([7, n])
    k, workers, per = 4, 1000, 5
    n_tasks = n // per
    truth = rng.integers(0, k, n_tasks)
    acc = rng.uniform(0.55, 0.95, workers)
    w = rng.integers(0, workers, (n_tasks, per))
    for _ in range(100):
        s = np.sort(w, axis=1)
        bad = np.nonzero((s[:, 1:] == s[:, :-1]).any(axis=1))[0]
        if bad.size == 0:
            break
        w[bad] = rng.integers(0, workers, (bad.size, per))
    task = np.repeat(np.arange(n_tasks), per)
    worker = w.ravel()
    right = rng.random(task.size) < acc[worker]
    label = np.where(right, truth[task], (truth[task] + rng.integers(1, k, task.size)) % k)
    names = ["cat", "dog", "bird", "fish"]
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["worker", "task", "label"])
            out.writerows(
                zip(
                    (f"w{x:04d}" for x in worker),
                    (f"t{x:07d}" for x in task),
                    (names[x] for x in label),
                    strict=True,
                )
            )
    return path, {f"t{i:07d}": names[int(truth[i])] for i in range(n_tasks)}


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all threads) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def accuracy(path: Path, truth: dict[str, str]) -> float:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return sum(r["label"] == truth[r["task"]] for r in rows) / len(truth)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    labels, truth = make(a.labels)
    assay = shutil.which("assay", path=str(Path(sys.executable).parent)) or "assay"
    ours = CACHE / "cli_out_assay.csv"
    theirs = CACHE / "cli_out_crowdkit.csv"
    ours_cmd = [assay, "quality", "aggregate", "--input", str(labels), "--method", "ds", "--out", str(ours)]
    theirs_cmd = [sys.executable, "-c", CROWDKIT, str(labels), str(theirs)]
    pairs = []
    for _ in range(a.repeat):  # interleaved, so that both see the same load on a shared machine
        pairs.append((run(ours_cmd), run(theirs_cmd)))
    wall_ratios = sorted(t[0] / o[0] for o, t in pairs)
    cpu_ratios = sorted(t[1] / o[1] for o, t in pairs)
    best_ours = min(o[0] for o, _ in pairs)
    best_theirs = min(t[0] for _, t in pairs)
    print(f"{a.labels:,} labels, {len(truth):,} tasks; {a.repeat} interleaved runs, whole process")
    print(f"{'system':30} {'best wall s':>11} {'best CPU s':>10} {'accuracy':>9}")
    print(
        f"{'assay quality aggregate':30} {best_ours:11.2f} {min(o[1] for o, _ in pairs):10.2f} "
        f"{accuracy(ours, truth):9.4f}"
    )
    print(
        f"{'crowd-kit DawidSkene (pandas)':30} {best_theirs:11.2f} {min(t[1] for _, t in pairs):10.2f} "
        f"{accuracy(theirs, truth):9.4f}"
    )
    print(f"ratio of the best wall times: {best_theirs / best_ours:.1f}x")
    print(
        f"per pair, wall: {', '.join(f'{r:.1f}x' for r in wall_ratios)}; CPU: {', '.join(f'{r:.1f}x' for r in cpu_ratios)}"
    )


if __name__ == "__main__":
    main()
