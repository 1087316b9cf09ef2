"""Bradley-Terry leaderboards on real human pairwise preferences, beside the `choix` package.

Data: crowdpareto (Asudeh et al., CIKM 2015) in ../shared/data/preference/crowdpareto:
crowd workers compared all 4,950 pairs of 100 photos on 3 criteria (0 colour, 1 sharpness,
2 landscape), 5 votes a pair: 1 (i preferred), -1 (j preferred), 0 (indifferent).

For each criterion this fits assay's leaderboard (``assay.services.leaderboard.fit_leaderboard``:
Bradley-Terry by MM, 95 % intervals from a multinomial bootstrap) and ``choix.ilsr_pairwise``
(I-LSR maximum likelihood) on the same decisive votes (choix has no ties), with intervals for
choix from the same bootstrap resamples; prints both rankings side by side and how they agree:
Spearman/Kendall rank correlation, the largest score gap, and the share of items whose
intervals overlap. assay's fit with ties as half wins (its default use) is reported too.

Run: ``.venv/bin/python bench/leaderboard.py [--boot 200] [--top 10]`` (choix is bench-only:
``pip install choix``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

from assay.services.leaderboard import ELO_BASE, ELO_SCALE, Comparison, fit_leaderboard

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "preference"
    / "crowdpareto"
    / "Raw_AMT_results.txt"
)
CRITERIA = {0: "colour", 1: "sharpness", 2: "landscape"}


def load(path: Path) -> tuple[dict[int, list[tuple[int, int, int]]], int]:
    """Votes per criterion as (i, j, vote); also how many vote tokens were unreadable."""
    out: dict[int, list[tuple[int, int, int]]] = {c: [] for c in CRITERIA}
    bad = 0
    for line in path.read_text().splitlines():
        parts = line.strip().split(";")
        if len(parts) != 4:
            bad += 1
            continue
        c, i, j = int(parts[0]), int(parts[1]), int(parts[2])
        for tok in parts[3].split(","):
            tok = tok.strip()
            if tok in ("1", "-1", "0"):
                out[c].append((i, j, int(tok)))
            else:
                bad += 1
    return out, bad


def to_score(elo: float) -> float:
    return (elo - ELO_BASE) / ELO_SCALE


def choix_fit(n: int, winners: np.ndarray, losers: np.ndarray, alpha: float) -> np.ndarray:
    import choix

    params = choix.ilsr_pairwise(n, list(zip(winners.tolist(), losers.tolist(), strict=True)), alpha=alpha)
    return np.asarray(params - params.mean())


def run(
    criterion: int, votes: list[tuple[int, int, int]], n_boot: int, top: int, alpha: float
) -> dict[str, float]:
    items = sorted({i for i, _, _ in votes} | {j for _, j, _ in votes})
    n = len(items)
    index = {it: k for k, it in enumerate(items)}
    decisive = [(i, j) if v == 1 else (j, i) for i, j, v in votes if v != 0]
    ties = sum(1 for _, _, v in votes if v == 0)

    t0 = time.perf_counter()
    ours = fit_leaderboard([Comparison(str(w), str(lo)) for w, lo in decisive], n_boot=n_boot, seed=0)
    t_ours = time.perf_counter() - t0
    with_ties = fit_leaderboard(
        [
            Comparison(str(i), str(j), tie=v == 0) if v >= 0 else Comparison(str(j), str(i))
            for i, j, v in votes
        ],
        n_boot=0,
    )
    score = np.zeros(n)
    ci = np.zeros((n, 2))
    for r in ours:
        k = index[int(r["model"])]
        score[k] = r["score"]
        ci[k] = to_score(r["ci_low"]), to_score(r["ci_high"])

    w = np.array([index[a] for a, _ in decisive])
    lo = np.array([index[b] for _, b in decisive])
    t0 = time.perf_counter()
    ch = choix_fit(n, w, lo, alpha)
    t_choix = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(w), len(w))
        boots.append(choix_fit(n, w[pick], lo[pick], alpha))
    ch_ci = np.percentile(np.array(boots), [2.5, 97.5], axis=0).T
    t_choix_boot = time.perf_counter() - t0

    order_ours = np.argsort(-score, kind="stable")
    order_choix = np.argsort(-ch, kind="stable")
    rho = float(stats.spearmanr(score, ch).statistic)
    tau = float(stats.kendalltau(score, ch).statistic)
    overlap = float(np.mean((ci[:, 0] <= ch_ci[:, 1]) & (ch_ci[:, 0] <= ci[:, 1])))
    gap = float(np.abs(score - ch).max())
    same_top = int(np.sum(order_ours[:top] == order_choix[:top]))
    tie_scores = {int(r["model"]): r["score"] for r in with_ties}
    rho_ties = float(stats.spearmanr(score, [tie_scores[it] for it in items]).statistic)

    print(
        f"\n## criterion {criterion} ({CRITERIA[criterion]}): {n} photos, {len(votes)} votes "
        f"({len(decisive)} decisive, {ties} indifferent)\n"
    )
    print("| rank | assay photo | assay score [95% CI] | choix photo | choix score [95% CI] |")
    print("| ---: | ---: | --- | ---: | --- |")
    shown = list(range(top)) + list(range(n - 3, n))
    for r in shown:
        a, c = order_ours[r], order_choix[r]
        print(
            f"| {r + 1} | {items[a]} | {score[a]:+.3f} [{ci[a, 0]:+.3f}, {ci[a, 1]:+.3f}] "
            f"| {items[c]} | {ch[c]:+.3f} [{ch_ci[c, 0]:+.3f}, {ch_ci[c, 1]:+.3f}] |"
        )
        if r == top - 1:
            print("| … | | | | |")
    print(
        f"\nSpearman {rho:.4f}, Kendall {tau:.4f}; same photo at each of the top {top} ranks: {same_top}/{top}; "
        f"largest score gap {gap:.3f}; intervals overlap for {overlap:.0%} of photos; "
        f"assay with indifferent votes as ties vs without: Spearman {rho_ties:.4f}."
    )
    print(
        f"Time: assay fit + {n_boot} bootstrap refits {t_ours:.2f} s (vectorised); "
        f"choix one fit {t_choix:.2f} s, with {n_boot} bootstrap refits {t_choix_boot:.2f} s."
    )
    return {"rho": rho, "tau": tau, "overlap": overlap, "gap": gap}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument(
        "--alpha", type=float, default=0.0, help="choix regularisation (0: plain maximum likelihood)"
    )
    args = ap.parse_args()
    if not args.data.exists():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    votes, bad = load(args.data)
    print(
        f"# Bradley-Terry leaderboards: assay vs choix on crowdpareto ({bad} unreadable vote token(s) skipped)"
    )
    results = {c: run(c, v, args.boot, args.top, args.alpha) for c, v in votes.items()}
    worst = min(r["rho"] for r in results.values())
    least_overlap = min(r["overlap"] for r in results.values())
    print(f"\nOverall: lowest Spearman {worst:.4f}; lowest interval overlap {least_overlap:.0%}.")
    return 0 if worst > 0.99 and least_overlap > 0.95 and not math.isnan(worst) else 1


if __name__ == "__main__":
    raise SystemExit(main())
