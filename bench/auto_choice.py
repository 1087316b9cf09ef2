"""What ``auto`` chooses on each real crowd set, and how accurate the choice is against expert gold.

    .venv/bin/python bench/auto_choice.py

For every ../shared/data/crowd set with gold: the accuracy on gold of majority vote, one-coin
DS, DS and ``auto`` (with what it chose and its held-out scores), on all the answers and on a
sparse version of the set (each task keeps 3 of its answers, seeded). No gold is given to the
aggregators: the rule sees only the workers' answers. These scores were measured after the rule
was written; the rule was not tuned on them (see docs/quality.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "quality"))
sys.path.insert(0, str(ROOT / "src"))

from qhelpers import CROWD_WITH_GOLD, DATA, load_crowd  # noqa: E402

from assay.quality import AutoAggregator, DawidSkene, MajorityVote, OneCoinDawidSkene  # noqa: E402


def sparse(task: np.ndarray, keep: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    order = rng.permutation(task.size)
    seen: dict[int, int] = {}
    mask = np.zeros(task.size, dtype=bool)
    for i in order:
        t = int(task[i])
        if seen.get(t, 0) < keep:
            seen[t] = seen.get(t, 0) + 1
            mask[i] = True
    return mask


def main() -> None:
    if not (DATA / "crowd").exists():
        print("skipped: ../shared/data/crowd is absent")
        return
    print(
        f"{'set':18} {'answers':>8} {'MV':>6} {'1coin':>6} {'DS':>6} {'auto':>6}  chose (agreement with held-out answers)"
    )
    rows: dict[str, list[float]] = {"full": [], "sparse": []}
    for name in CROWD_WITH_GOLD:
        c = load_crowd(name)
        for variant in ("full", "sparse"):
            m = np.ones(c.task.size, dtype=bool) if variant == "full" else sparse(c.task, 3, 0)
            t, w, y = c.task[m], c.worker[m], c.label[m]
            kw = {"n_tasks": c.n_tasks, "n_labels": c.n_labels}
            accs = []
            for model in (MajorityVote(), OneCoinDawidSkene(), DawidSkene(), AutoAggregator()):
                pred = model.fit(t, w, y, **kw).labels_
                accs.append(float((pred[c.gold_task] == c.gold_label).mean()))
            auto = model
            assert isinstance(auto, AutoAggregator)
            label = f"{name}{'' if variant == 'full' else ' (3/task)'}"
            scores = ", ".join(f"{k} {v:.3f}" for k, v in auto.scores_.items())
            print(
                f"{label:18} {int(m.sum()):8d} "
                + " ".join(f"{a:6.3f}" for a in accs)
                + f"  {auto.method_} ({scores})"
            )
            rows[variant].append(accs[3] - accs[0])
    for variant, diffs in rows.items():
        print(f"auto - MV, {variant}: mean {np.mean(diffs):+.3f}, worst {min(diffs):+.3f}")


if __name__ == "__main__":
    main()
