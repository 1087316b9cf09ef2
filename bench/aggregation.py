"""Aggregation benchmark: assay.quality vs crowd-kit, same data, same run.

    .venv/bin/python bench/aggregation.py            # real sets + 1,000,000-label simulation
    .venv/bin/python bench/aggregation.py --sim 200000 --quick

Every (system, method, dataset) runs in a fresh subprocess; time is the wall time of the
fit, memory is the peak RSS during the fit minus the RSS before it (VmHWM reset through
/proc/self/clear_refs, as ../shared/peers/crowdkit_bench.py does). Real sets: the
crowd/* folders with expert gold in ../shared/data (accuracy on gold). Simulation: 4 classes,
1,000 workers of accuracy U(0.55, 0.95), 5 distinct workers per task (like crowdkit_bench).
crowd-kit's GLAD and MACE take minutes on 1M labels, so on the simulation they (and ours,
for a like-for-like ratio) also run on a 50,000-label subsample; ours also runs on the 1M.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "crowd"
if not DATA.exists():
    DATA = Path("/work/shared/data/crowd")
SETS = ["barzan_mozafari", "bluebirds", "face_sentiment", "snow2008_rte", "snow2008_temp", "snow2008_wsd"]
OURS = {
    "MV": "MajorityVote",
    "DS": "DawidSkene",
    "OneCoinDS": "OneCoinDawidSkene",
    "GLAD": "GLAD",
    "MACE": "MACE",
    "auto": "AutoAggregator",
}
THEIRS = {
    "MV": "MajorityVote",
    "DS": "DawidSkene",
    "OneCoinDS": "OneCoinDawidSkene",
    "GLAD": "GLAD",
    "MACE": "MACE",
}
CACHE = Path("/tmp/assay-bench")


def load_real(name: str) -> dict[str, np.ndarray]:
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
    return {"task": t, "worker": w, "label": y[: len(rows)], "eval_task": gt, "eval_label": gl}


def simulate(
    n_labels: int, seed: int = 0, k: int = 4, workers: int = 1000, per: int = 5
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, n_labels])
    n = n_labels // per
    truth = rng.integers(0, k, n)
    acc = rng.uniform(0.55, 0.95, workers)
    w = rng.integers(0, workers, (n, per))
    for _ in range(1000):
        s = np.sort(w, axis=1)
        bad = np.nonzero((s[:, 1:] == s[:, :-1]).any(axis=1))[0]
        if bad.size == 0:
            break
        w[bad] = rng.integers(0, workers, (bad.size, per))
    task = np.repeat(np.arange(n), per)
    worker = w.ravel()
    tl = truth[task]
    ok = rng.random(task.size) < acc[worker]
    label = np.where(ok, tl, (tl + rng.integers(1, k, task.size)) % k)
    return {"task": task, "worker": worker, "label": label, "eval_task": np.arange(n), "eval_label": truth}


def _rss(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def child(system: str, method: str, path: str) -> None:
    d = dict(np.load(path))
    n_tasks = int(d["task"].max()) + 1
    if system == "ours":
        sys.path.insert(0, str(ROOT / "src"))
        import assay.quality as q

        model = getattr(q, OURS[method])()
        run = lambda: model.fit_predict(d["task"], d["worker"], d["label"])  # noqa: E731
    else:
        import warnings

        import pandas as pd
        from crowdkit import aggregation as ca

        warnings.simplefilter("ignore")
        df = pd.DataFrame({"task": d["task"], "worker": d["worker"], "label": d["label"]})
        model = getattr(ca, THEIRS[method])()
        run = lambda: model.fit_predict(df).reindex(range(n_tasks)).to_numpy()  # noqa: E731
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = _rss("VmRSS")
    t0 = time.perf_counter()
    pred = run()
    dt = time.perf_counter() - t0
    peak = _rss("VmHWM") - before
    acc = float((np.asarray(pred)[d["eval_task"]] == d["eval_label"]).mean())
    print(json.dumps({"time_s": dt, "peak_mb": peak, "accuracy": acc}))


def run_one(system: str, method: str, path: Path, timeout: float) -> dict[str, float] | None:
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", system, method, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    res: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


def fmt(r: dict[str, float] | None) -> str:
    if r is None:
        return f"{'timeout':>26}"
    return f"{100 * r['accuracy']:6.2f}% {r['time_s']:8.3f}s {r['peak_mb']:7.1f}MB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=3)
    ap.add_argument("--sim", type=int, default=1_000_000)
    ap.add_argument("--sub", type=int, default=50_000, help="subsample for crowd-kit GLAD/MACE")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--quick", action="store_true", help="skip crowd-kit GLAD/MACE")
    a = ap.parse_args()
    if a.child:
        child(*a.child)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    datasets: list[tuple[str, Path, list[str]]] = []
    for name in SETS:
        if (DATA / name).exists():
            p = CACHE / f"{name}.npz"
            np.savez(p, **load_real(name))
            datasets.append((name, p, list(OURS)))
    p = CACHE / f"sim{a.sim}.npz"
    np.savez(p, **simulate(a.sim))
    datasets.append((f"sim {a.sim:,} labels", p, ["MV", "DS", "OneCoinDS", "auto"]))
    p = CACHE / f"sim{a.sub}.npz"
    np.savez(p, **simulate(a.sub))
    datasets.append((f"sim {a.sub:,} labels (subsample)", p, ["GLAD", "MACE"]))
    datasets.append((f"sim {a.sim:,} labels, ours only", CACHE / f"sim{a.sim}.npz", ["GLAD", "MACE"]))

    print(
        f"{'dataset':34} {'method':9} | {'assay: acc time peak':>26} | {'crowd-kit: acc time peak':>26} | speed-up"
    )
    summary: dict[str, dict[str, list[float]]] = {}
    for name, path, methods in datasets:
        for m in methods:
            ours = run_one("ours", m, path, a.timeout)
            theirs = None
            skipped = m in THEIRS and ("ours only" in name or (a.quick and m in ("GLAD", "MACE")))
            if m in THEIRS and "ours only" not in name and not (a.quick and m in ("GLAD", "MACE")):
                theirs = run_one("crowdkit", m, path, a.timeout)
            ratio = f"{theirs['time_s'] / ours['time_s']:7.1f}x" if ours and theirs else "      -"
            if m not in THEIRS:
                cell = " " * 26
            elif skipped:
                cell = f"{'not run':>26}"
            else:
                cell = fmt(theirs)
            print(f"{name:34} {m:9} | {fmt(ours)} | {cell} | {ratio}", flush=True)
            if not name.startswith("sim"):
                s = summary.setdefault(m, {"ours": [], "theirs": []})
                s["ours"].append(ours["accuracy"] if ours else float("nan"))
                if theirs:
                    s["theirs"].append(theirs["accuracy"])
    print("\nmean accuracy over the real sets (assay / crowd-kit):")
    best_ck = max((float(np.mean(v["theirs"])), m) for m, v in summary.items() if v["theirs"])
    for m, v in summary.items():
        ck = f"{100 * np.mean(v['theirs']):6.2f}%" if v["theirs"] else "     -"
        print(f"  {m:9} {100 * np.mean(v['ours']):6.2f}%  {ck}")
    print(
        f"crowd-kit's best method on average: {best_ck[1]} {100 * best_ck[0]:.2f}%; "
        f"assay auto: {100 * np.mean(summary['auto']['ours']):.2f}%"
    )


if __name__ == "__main__":
    main()
