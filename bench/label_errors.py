"""Label-error detection benchmark: assay.quality.find_label_issues vs cleanlab, planted noise.

    .venv/bin/python bench/label_errors.py [--n 20000] [--seeds 3]

Data: K Gaussian classes in d dimensions (seeded); labels flipped by a noise matrix
(uniform and asymmetric "neighbour" noise, 10-30%). Out-of-fold probabilities come from a
5-fold numpy Gaussian naive Bayes (no scikit-learn). Both libraries get the same labels and
probabilities; we report precision/recall of the flagged set against the planted flips, the
precision of the top-ranked 100 and the time. cleanlab is a bench-only dependency.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from assay.quality import find_label_issues  # noqa: E402


def make_data(n: int, k: int, d: int, rate: float, kind: str, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 1.1, (k, d))
    truth = rng.integers(0, k, n)
    x = means[truth] + rng.normal(0, 1, (n, d))
    flip = rng.random(n) < rate
    # uniform: to any other class; asymmetric: always to the next class
    other = (truth + rng.integers(1, k, n)) % k if kind == "uniform" else (truth + 1) % k
    given = np.where(flip, other, truth)
    return x, given, flip


def gnb_oof(x: np.ndarray, y: np.ndarray, k: int, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold Gaussian naive Bayes probabilities."""
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, folds, y.size)
    out = np.zeros((y.size, k))
    for f in range(folds):
        tr, te = fold != f, fold == f
        mu = np.stack([x[tr & (y == c)].mean(axis=0) for c in range(k)])
        var = np.stack([x[tr & (y == c)].var(axis=0) for c in range(k)]) + 1e-6
        prior = np.bincount(y[tr], minlength=k) / tr.sum()
        ll = -0.5 * (((x[te, None, :] - mu[None]) ** 2) / var[None] + np.log(2 * np.pi * var[None])).sum(
            axis=2
        )
        ll += np.log(prior)
        ll -= ll.max(axis=1, keepdims=True)
        p = np.exp(ll)
        out[te] = p / p.sum(axis=1, keepdims=True)
    return out


def score(mask: np.ndarray, ranked: np.ndarray, flip: np.ndarray) -> tuple[float, float, float]:
    tp = (mask & flip).sum()
    prec = tp / max(mask.sum(), 1)
    rec = tp / max(flip.sum(), 1)
    top = flip[ranked[:100]].mean() if ranked.size else float("nan")
    return float(prec), float(rec), float(top)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    try:
        from cleanlab.filter import find_label_issues as cl_find
    except ImportError:
        cl_find = None
        print("cleanlab is not installed: only assay is measured")
    print(f"n={a.n}, K={a.k}, d={a.d}, Gaussian NB out-of-fold probabilities, mean over {a.seeds} seeds\n")
    print(
        f"{'noise':18} {'filter':20} | {'assay P / R / top100 / time':>34} | {'cleanlab P / R / top100 / time':>34}"
    )
    for kind in ("uniform", "asymmetric"):
        for rate in (0.1, 0.2, 0.3):
            for filt in ("prune_by_noise_rate", "confident_learning"):
                ours_s, theirs_s = [], []
                for seed in range(a.seeds):
                    x, given, flip = make_data(a.n, a.k, a.d, rate, kind, seed)
                    p = gnb_oof(x, given, a.k, seed=seed)
                    ours_filter = "confident_joint" if filt == "confident_learning" else filt
                    t0 = time.perf_counter()
                    mask = find_label_issues(given, p, filter_by=ours_filter, return_mask=True)  # type: ignore[arg-type]
                    ranked = find_label_issues(given, p, filter_by=ours_filter)  # type: ignore[arg-type]
                    t1 = time.perf_counter()
                    ours_s.append((*score(np.asarray(mask), np.asarray(ranked), flip), t1 - t0))
                    if cl_find is not None:
                        t0 = time.perf_counter()
                        cm = cl_find(given, p, filter_by=filt)
                        cr = cl_find(given, p, filter_by=filt, return_indices_ranked_by="self_confidence")
                        t1 = time.perf_counter()
                        theirs_s.append((*score(cm, cr, flip), t1 - t0))
                o = np.mean(ours_s, axis=0)
                line = f"{kind + f' {int(rate * 100)}%':18} {filt:20} | {o[0]:.3f} / {o[1]:.3f} / {o[2]:.2f} / {o[3]:.3f}s"
                if theirs_s:
                    c = np.mean(theirs_s, axis=0)
                    line += f"   | {c[0]:.3f} / {c[1]:.3f} / {c[2]:.2f} / {c[3]:.3f}s"
                print(line, flush=True)


if __name__ == "__main__":
    main()
