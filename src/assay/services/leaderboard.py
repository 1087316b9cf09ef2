"""Leaderboards from preference data: Bradley-Terry ratings with bootstrap 95 % intervals.

Pairwise outcomes come from a comparison project's preference (or ranking) question: by
default from each record's consensus, falling back to the raw responses of records that
have none (``source="auto"``), or from every response (``source="responses"``). A choice of
one candidate among N is a win over each of the others; ``tie`` is a tie between every pair;
a ranking is a win of each candidate over every one ranked below it. Candidates are grouped
by their ``model`` key (``by="model"``) or their id (``by="id"``, e.g. for sampling settings
of one model).

Ratings are on the Elo scale: ``1000 + 400·s/ln 10`` for the Bradley-Terry log-strength
``s`` (mean 0), so a 400-point gap is 10:1 odds. Also: per-category boards (a metadata
key), the win-rate matrix, judge–human agreement (``kind=model`` answers against the
human majority on the same records), and the position-bias rate (share of non-tie choices
that went to the candidate shown first, from the order dispatch recorded per assignment).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from assay.domain.errors import ValidationError
from assay.domain.fields import candidate_ids
from assay.domain.gold import categorical_key
from assay.domain.schema import ProjectSchema
from assay.quality.aggregation.bradley_terry import BradleyTerry
from assay.services.actors import Actor
from assay.services.exports import iter_export_rows
from assay.services.policies import load_project
from assay.store import datasets as ds_store
from assay.store.engine import Store

__all__ = [
    "ELO_SCALE",
    "Comparison",
    "comparisons_from_rows",
    "fit_leaderboard",
    "judge_agreement",
    "leaderboard",
    "position_bias",
    "position_bias_rate",
    "win_rate_matrix",
]

ELO_SCALE = 400.0 / math.log(10.0)
ELO_BASE = 1000.0


@dataclass(frozen=True)
class Comparison:
    """One pairwise outcome: ``a`` beat ``b`` (or tied with it, ``tie=True``)."""

    a: str
    b: str
    tie: bool = False
    record: str | None = None
    category: str | None = None


def _comparison_question(schema: ProjectSchema, question: str | None) -> Any:
    if question is not None:
        q = schema.question(question)
        if q.type not in ("preference", "ranking"):
            raise ValidationError(
                f"question {question!r} is a {q.type}, not a preference or ranking", field="question"
            )
        return q
    for q in schema.questions:
        if q.type in ("preference", "ranking"):
            return q
    raise ValidationError("the project has no preference or ranking question", field="question")


def _key_map(cands: Any, by: str) -> dict[str, str]:
    ids = candidate_ids(cands)
    if by == "id":
        return {i: i for i in ids}
    return {
        cid: str(c.get("model") if isinstance(c, dict) and c.get("model") is not None else cid)
        for cid, c in zip(ids, cands, strict=True)
    }


def _outcomes(qtype: str, value: Any, keys: dict[str, str]) -> list[tuple[str, str, bool]]:
    """Pairwise outcomes (winner key, loser key, tie) of one answer."""
    ids = list(keys)
    out: list[tuple[str, str, bool]] = []
    if qtype == "preference":
        choice = value.get("choice") if isinstance(value, dict) else value
        if choice is None:
            return out
        choice = str(choice)
        if choice == "tie" and "tie" not in keys:
            for i in range(len(ids)):
                for j in range(i + 1, len(ids)):
                    out.append((keys[ids[i]], keys[ids[j]], True))
        elif choice in keys:
            out.extend((keys[choice], keys[o], False) for o in ids if o != choice)
    elif qtype == "ranking" and isinstance(value, list):
        order = [str(v) for v in value if str(v) in keys]
        for i in range(len(order)):
            for j in range(i + 1, len(order)):
                out.append((keys[order[i]], keys[order[j]], False))
    return [(a, b, t) for a, b, t in out if a != b]


def comparisons_from_rows(
    schema: ProjectSchema,
    rows: Iterable[dict[str, Any]],
    *,
    question: str | None = None,
    source: str = "auto",
    by: str = "model",
    category: str | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Comparison]:
    """Pairwise outcomes from export rows (``iter_export_rows``); ``kinds`` filters raw responses
    by contributor kind (``human``/``model``)."""
    if source not in ("auto", "consensus", "responses"):
        raise ValidationError("source is auto, consensus or responses", field="source")
    if by not in ("model", "id"):
        raise ValidationError("by is model or id", field="by")
    q = _comparison_question(schema, question)
    out: list[Comparison] = []
    for row in rows:
        cands = (row.get("fields") or {}).get(q.field)
        if not isinstance(cands, list):
            continue
        keys = _key_map(cands, by)
        cat = None
        if category is not None:
            raw = (row.get("metadata") or {}).get(category)
            cat = None if raw is None else str(raw)
        values: list[Any] = []
        cons = (row.get("consensus") or {}).get(q.name)
        if source in ("auto", "consensus") and cons is not None and cons.get("value") is not None:
            values = [cons["value"]]
        elif source in ("auto", "responses"):
            values = [
                r["values"].get(q.name)
                for r in row.get("responses") or []
                if r["values"].get(q.name) is not None and (kinds is None or r.get("kind") in kinds)
            ]
        rid = str(row.get("external_id"))
        for v in values:
            out.extend(Comparison(a, b, t, rid, cat) for a, b, t in _outcomes(q.type, v, keys))
    return out


def _fit_cells(
    comparisons: Sequence[Comparison], index: dict[str, int], *, n_boot: int, seed: int, prior: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bradley-Terry scores and bootstrap 95 % intervals, fitted on the distinct outcomes with counts.

    The comparisons are grouped into cells (winner, loser, tie) with counts; MM needs only those
    sufficient statistics, so the fit equals the fit on every comparison, and a multinomial
    bootstrap of the m comparisons is a multinomial draw of the cell counts. Each MM iteration
    then costs O(cells) instead of O(comparisons) (a leaderboard of 10 models over thousands of
    votes has at most 135 cells).
    """
    cells: Counter[tuple[int, int, bool]] = Counter()
    for c in comparisons:
        a, b = index[c.a], index[c.b]
        if c.tie and a > b:
            a, b = b, a
        cells[(a, b, c.tie)] += 1
    keys = list(cells)
    win = np.array([k[0] for k in keys], dtype=np.int64)
    lose = np.array([k[1] for k in keys], dtype=np.int64)
    tie = np.array([float(k[2]) for k in keys])
    counts = np.array([cells[k] for k in keys], dtype=np.float64)
    n = len(index)
    bt = BradleyTerry(prior=prior, n_boot=n_boot, seed=seed).fit(
        win, lose, tie=tie, n_items=n, weights=counts
    )
    scores: np.ndarray = bt.scores_
    ci: np.ndarray = bt.ci_
    return scores, ci


def fit_leaderboard(
    comparisons: Sequence[Comparison],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    prior: float = 1.0,
) -> list[dict[str, Any]]:
    """Rows best first: ``model, rating, ci_low, ci_high, score, wins, losses, ties, games``."""
    names = sorted({c.a for c in comparisons} | {c.b for c in comparisons})
    if not names:
        return []
    index = {n: i for i, n in enumerate(names)}
    scores, ci = _fit_cells(comparisons, index, n_boot=n_boot, seed=seed, prior=prior)
    ranking = np.argsort(-scores, kind="stable")
    wins: Counter[str] = Counter()
    losses: Counter[str] = Counter()
    ties: Counter[str] = Counter()
    for c in comparisons:
        if c.tie:
            ties[c.a] += 1
            ties[c.b] += 1
        else:
            wins[c.a] += 1
            losses[c.b] += 1
    rows = []
    for rank, i in enumerate(ranking.tolist(), start=1):
        name = names[i]
        s = float(scores[i])
        lo_hi = ci[i]
        rows.append(
            {
                "rank": rank,
                "model": name,
                "rating": round(ELO_BASE + ELO_SCALE * s, 2),
                "ci_low": None if math.isnan(lo_hi[0]) else round(ELO_BASE + ELO_SCALE * float(lo_hi[0]), 2),
                "ci_high": None if math.isnan(lo_hi[1]) else round(ELO_BASE + ELO_SCALE * float(lo_hi[1]), 2),
                "score": s,
                "wins": wins[name],
                "losses": losses[name],
                "ties": ties[name],
                "games": wins[name] + losses[name] + ties[name],
            }
        )
    return rows


def win_rate_matrix(comparisons: Sequence[Comparison]) -> dict[str, Any]:
    """``matrix[i][j]``: share of games between models i and j that i won (ties count half); None unplayed."""
    names = sorted({c.a for c in comparisons} | {c.b for c in comparisons})
    index = {n: i for i, n in enumerate(names)}
    k = len(names)
    won = np.zeros((k, k))
    games = np.zeros((k, k))
    for c in comparisons:
        i, j = index[c.a], index[c.b]
        games[i, j] += 1
        games[j, i] += 1
        if c.tie:
            won[i, j] += 0.5
            won[j, i] += 0.5
        else:
            won[i, j] += 1
    matrix = [
        [None if games[i, j] == 0 else round(float(won[i, j] / games[i, j]), 4) for j in range(k)]
        for i in range(k)
    ]
    return {"models": names, "matrix": matrix, "games": games.astype(int).tolist()}


def judge_agreement(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], *, question: str | None = None
) -> list[dict[str, Any]]:
    """Per model contributor: how often its answer matches the human majority on the same records.

    Returns rows ``{judge, n, agreement, kappa, human_human}``: ``kappa`` is Cohen's kappa of
    judge vs human majority; ``human_human`` the agreement between two humans on those records
    (a ceiling to compare with).
    """
    q: Any
    if question is None:
        q = next((x for x in schema.questions if x.type in ("preference", "label", "rating")), None)
        if q is None:
            return []
    else:
        q = schema.question(question)
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    hh: list[bool] = []
    for row in rows:
        human = [
            k
            for r in row.get("responses") or []
            if r.get("kind") != "model"
            and (k := categorical_key(q.type, r["values"].get(q.name))) is not None
        ]
        if not human:
            continue
        counts = Counter(human).most_common()
        if len(counts) > 1 and counts[0][1] == counts[1][1]:
            continue  # no human majority
        majority = counts[0][0]
        if len(human) >= 2:
            hh.append(human[0] == human[1])
        for r in row.get("responses") or []:
            if r.get("kind") == "model":
                k = categorical_key(q.type, r["values"].get(q.name))
                if k is not None:
                    pairs[str(r["user"])].append((k, majority))
    out = []
    for judge, ps in sorted(pairs.items()):
        n = len(ps)
        agree = sum(a == b for a, b in ps) / n
        labels = sorted({x for p in ps for x in p})
        pj = Counter(a for a, _ in ps)
        ph = Counter(b for _, b in ps)
        pe = sum(pj[lab] * ph[lab] for lab in labels) / (n * n)
        kappa = (agree - pe) / (1 - pe) if pe < 1 else 1.0
        out.append(
            {
                "judge": judge,
                "question": q.name,
                "n": n,
                "agreement": round(agree, 4),
                "kappa": round(kappa, 4),
                "human_human": round(sum(hh) / len(hh), 4) if hh else None,
            }
        )
    return out


def position_bias_rate(shown: Iterable[tuple[Sequence[str], str]]) -> dict[str, Any]:
    """Share of non-tie choices that went to the first-shown candidate, with a Wilson 95 % interval
    and a two-sided binomial test against chance (1/number of candidates)."""
    n = first = 0
    chance_sum = 0.0
    for order, choice in shown:
        if choice == "tie" or choice not in order or len(order) < 2:
            continue
        n += 1
        first += int(order[0] == choice)
        chance_sum += 1.0 / len(order)
    if n == 0:
        return {"n": 0, "left_rate": None, "ci_low": None, "ci_high": None, "chance": None, "p_value": None}
    rate = first / n
    chance = chance_sum / n
    z = 1.96
    den = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / den
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / den
    p = float(stats.binomtest(first, n, chance).pvalue)
    return {
        "n": n,
        "left": first,
        "left_rate": round(rate, 4),
        "ci_low": round(centre - half, 4),
        "ci_high": round(centre + half, 4),
        "chance": round(chance, 4),
        "p_value": p,
    }


def position_bias(
    store: Store, actor: Actor, project_ref: int | str, *, question: str | None = None
) -> dict[str, Any]:
    """Position bias of a comparison project, overall and per contributor kind."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        schema = ProjectSchema.from_dict(project["schema"])
        q = _comparison_question(schema, question)
        if q.type != "preference":
            raise ValidationError("position bias is measured on a preference question", field="question")
        views = ds_store.response_views(conn, int(project["id"]))
    by_kind: dict[str, list[tuple[list[str], str]]] = defaultdict(list)
    for v in views:
        order = ((v.get("view") or {}).get("order") or {}).get(q.field)
        value = (v.get("values") or {}).get(q.name)
        choice = value.get("choice") if isinstance(value, dict) else None
        if isinstance(order, list) and choice is not None:
            by_kind[str(v["user_kind"])].append(([str(x) for x in order], str(choice)))
    every = [x for xs in by_kind.values() for x in xs]
    return {
        "question": q.name,
        **position_bias_rate(every),
        "by_kind": {k: position_bias_rate(xs) for k, xs in sorted(by_kind.items())},
    }


def leaderboard(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    *,
    question: str | None = None,
    category: str | None = None,
    source: str = "auto",
    by: str = "model",
    kinds: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The project's leaderboard: ``rows`` (best first), ``categories`` (when ``category`` names a
    metadata key), ``win_rates``, ``judge_agreement`` and ``position_bias``."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        schema = ProjectSchema.from_dict(project["schema"])
        q = _comparison_question(schema, question)
        rows = list(iter_export_rows(conn, int(project["id"]), lineage=True))
    comps = comparisons_from_rows(
        schema, rows, question=q.name, source=source, by=by, category=category, kinds=kinds
    )
    out: dict[str, Any] = {
        "project": project["name"],
        "question": q.name,
        "source": source,
        "comparisons": len(comps),
        "rows": fit_leaderboard(comps, n_boot=n_boot, seed=seed),
        "win_rates": win_rate_matrix(comps),
        "judge_agreement": judge_agreement(schema, rows, question=q.name),
    }
    if category is not None:
        groups: dict[str, list[Comparison]] = defaultdict(list)
        for c in comps:
            groups[c.category if c.category is not None else "(none)"].append(c)
        out["categories"] = {
            cat: fit_leaderboard(cs, n_boot=n_boot, seed=seed) for cat, cs in sorted(groups.items())
        }
    if q.type == "preference":
        out["position_bias"] = position_bias(store, actor, project_ref, question=q.name)
    return out
