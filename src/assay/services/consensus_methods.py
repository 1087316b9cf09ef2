"""Per-record consensus methods, one per name the question-type registry uses.

Each method takes a :class:`Ctx` (the question, the record's fields, the registry's options,
each author's reliability and, where a project-wide recompute left them, its worker estimates)
and the record's answers ``(response id, user id, value)``, and returns an :class:`Outcome`:
the consensus value (a valid answer to the question), a confidence in [0, 1] and, for
categorical questions, the posterior adaptive overlap reads.

Authors are weighted by their reliability (a Beta posterior on gold accuracy, or the skill a
project-wide fit estimated). A record has a handful of answers, so most methods are plain
Python; geometry, spans and segments call :mod:`assay.quality`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.domain.fields import candidate_ids
from assay.domain.gold import categorical_key
from assay.domain.questions import QuestionSpec
from assay.quality import aggregate_segments, aggregate_spans, fuse_boxes, fuse_keypoints, fuse_polygons

__all__ = ["METHODS", "Answer", "Ctx", "Outcome", "Posterior", "categorical_space", "weighted_vote_posterior"]

Answer = tuple[int, int, Any]  # response id, user id, value
Posterior = tuple[list[str], np.ndarray, int]  # labels, probabilities, number of answers


@dataclass
class Ctx:
    """What a method knows besides the answers."""

    q: QuestionSpec
    fields: Mapping[str, Any]
    options: Mapping[str, Any]
    reliability: Mapping[int, float]
    fit: Mapping[str, Any] | None = None  # a project-wide fit's estimates for this record
    labels: list[str] = field(default_factory=list)

    def weight(self, user: int) -> float:
        return min(max(float(self.reliability.get(user, 0.7)), 1e-3), 1 - 1e-3)


@dataclass(frozen=True)
class Outcome:
    value: Any
    confidence: float
    posterior: Posterior | None = None
    details: dict[str, Any] | None = None


def categorical_space(q: QuestionSpec, fields: Mapping[str, Any]) -> list[str]:
    """The label space of a categorical question on a record (options, or candidates and tie)."""
    if q.type == "label":
        return [o.value for o in getattr(q, "options", [])]
    if q.type == "preference":
        ids = candidate_ids(fields.get(str(getattr(q, "field", "")), []))
        return [*ids, "tie"] if getattr(q, "ties", True) else ids
    return []


def weighted_vote_posterior(
    labels: list[str], answers: list[tuple[int, str]], acc: Callable[[int], float]
) -> np.ndarray:
    """One-coin posterior over ``labels``: each answer counts with its author's accuracy."""
    k = len(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    logp = [0.0] * k
    for user, lab in answers:
        i = index.get(lab)
        if i is None:
            continue
        a = acc(user)
        right, wrong = math.log(a), math.log((1 - a) / max(k - 1, 1))
        for j in range(k):
            logp[j] += right if j == i else wrong
    top = max(logp) if logp else 0.0
    p = [math.exp(x - top) for x in logp]
    total = sum(p) or 1.0
    return np.array([x / total for x in p])


def _posterior_from_fit(ctx: Ctx, labels: list[str], keyed: list[tuple[int, str]]) -> np.ndarray:
    """The record's posterior under a project-wide EM's estimates, updated with the answers since.

    The fit left, per author, the likelihood of the answer it gave under each true label; an
    answer the fit did not see (a new author, or a changed answer) enters with the one-coin
    likelihood of its author's reliability. So a submit after a recompute keeps its method.
    """
    assert ctx.fit is not None
    k = len(labels)
    prior_map: Mapping[str, float] = ctx.fit.get("prior") or {}
    logp = np.log(np.array([max(float(prior_map.get(lab, 1.0 / k)), 1e-300) for lab in labels]))
    lik: Mapping[str, Mapping[str, float]] = ctx.fit.get("lik", {})
    seen: Mapping[str, Any] = ctx.fit.get("answers", {})
    index = {lab: i for i, lab in enumerate(labels)}
    for user, lab in keyed:
        i = index.get(lab)
        if i is None:
            continue
        mine = lik.get(str(user))
        if seen.get(str(user)) == lab and mine is not None:
            row = np.array([max(float(mine.get(z, 1e-300)), 1e-300) for z in labels])
        else:
            a = ctx.weight(user)
            row = np.full(k, (1 - a) / max(k - 1, 1))
            row[i] = a
        logp += np.log(row)
    p = np.exp(logp - logp.max())
    out: np.ndarray = p / p.sum()
    return out


def weighted_vote(ctx: Ctx, answers: list[Answer]) -> Outcome:
    """label, preference, step_pick: reliability-weighted vote (or the project EM's posterior)."""
    q = ctx.q
    keyed = [(u, k) for _, u, v in answers if (k := categorical_key(q.type, v)) is not None]
    if q.type == "step_pick":
        keyed = [(u, "none" if v is None else str(v)) for _, u, v in answers]
    labels = ctx.labels or sorted({k for _, k in keyed})
    if not labels:
        return Outcome(None, 0.0)
    if ctx.fit is not None and "lik" in ctx.fit:
        p = _posterior_from_fit(ctx, labels, keyed)
    else:
        p = weighted_vote_posterior(labels, keyed, ctx.weight)
    best = labels[int(p.argmax())]
    value: Any = best
    if q.type == "preference":
        strengths = [
            float(v["strength"])
            for _, _, v in answers
            if isinstance(v, dict) and v.get("choice") == best and isinstance(v.get("strength"), int | float)
        ]
        value = {"choice": best} | (
            {"strength": int(round(float(np.median(strengths))))} if strengths else {}
        )
    elif q.type == "step_pick":
        value = None if best == "none" else int(best)
    posterior = (labels, p, len(keyed)) if q.type in ("label", "preference") else None
    return Outcome(value, float(p.max()), posterior)


def per_label_vote(ctx: Ctx, answers: list[Answer]) -> Outcome:
    """multi_label, step_set: each option (step) is chosen when its weighted share exceeds half."""
    if ctx.q.type == "multi_label":
        opts: list[Any] = [o.value for o in getattr(ctx.q, "options", [])]
    else:
        opts = sorted({x for _, _, v in answers for x in (v or [])})
    total = sum(ctx.weight(u) for _, u, _ in answers)
    shares = {o: sum(ctx.weight(u) for _, u, v in answers if o in (v or [])) / total for o in opts}
    chosen = [o for o in opts if shares[o] > 0.5]
    marked = [s for s in shares.values() if s > 0] or [0.0]
    conf = float(np.mean([max(s, 1 - s) for s in marked]))
    return Outcome(chosen, conf)


def median(ctx: Ctx, answers: list[Answer]) -> Outcome:
    """rating, number: the median, or the bias-corrected weighted mean of a project-wide fit."""
    q = ctx.q
    users = [u for _, u, v in answers if isinstance(v, int | float)]
    nums = np.array([float(v) for _, _, v in answers if isinstance(v, int | float)])
    if ctx.fit is not None and "bias" in ctx.fit:
        bias: Mapping[str, float] = ctx.fit["bias"]
        prec: Mapping[str, float] = ctx.fit.get("precision", {})
        p0 = float(ctx.fit.get("precision0", 1.0))
        x = nums - np.array([float(bias.get(str(u), 0.0)) for u in users])
        pw = np.array([float(prec.get(str(u), p0)) for u in users])
        est = float((pw * x).sum() / pw.sum())
        spread = float(np.sqrt((pw * (x - est) ** 2).sum() / pw.sum()))
        ref = float(ctx.fit.get("reference", 1.0)) or 1.0
        conf = max(0.0, 1.0 - spread / ref) if len(nums) > 1 else ctx.weight(users[0])
    else:
        est = float(np.median(nums))
        close = float(np.mean(np.abs(nums - est) <= 0.5)) if len(nums) > 1 else ctx.weight(users[0])
        conf = close
    if q.type == "rating":
        lo, hi = getattr(q, "min", None), getattr(q, "max", None)
        value: Any = int(round(est))
        if lo is not None and hi is not None:
            value = min(max(value, int(lo)), int(hi))
    elif getattr(q, "integer", False) or all(float(x).is_integer() for x in nums) and est.is_integer():
        value = int(round(est)) if getattr(q, "integer", False) else est
    else:
        value = est
    return Outcome(value, float(conf))


def _norm_text(s: str) -> str:
    return " ".join(s.split()).casefold()


def text_similarity(a: str, b: str) -> float:
    """Similarity of two free-text answers in [0, 1] (whitespace and case ignored)."""
    x, y = _norm_text(a), _norm_text(b)
    if x == y:
        return 1.0
    return difflib.SequenceMatcher(None, x, y, autojunk=False).ratio()


def most_agreed(ctx: Ctx, answers: list[Answer]) -> Outcome:
    """text (and any type without a method): the answer most similar to the others, weighted."""
    vals = [(u, v) for _, u, v in answers]
    if len(vals) == 1:
        return Outcome(vals[0][1], ctx.weight(vals[0][0]))
    best, best_score = vals[0][1], -1.0
    for i, (_, v) in enumerate(vals):
        num = den = 0.0
        for j, (u2, v2) in enumerate(vals):
            if i != j:
                sim = text_similarity(v, v2) if isinstance(v, str) and isinstance(v2, str) else float(v == v2)
                num += ctx.weight(u2) * sim
                den += ctx.weight(u2)
        score = num / den if den else 0.0
        if score > best_score:
            best, best_score = v, score
    return Outcome(best, float(best_score))


def _label_codes(ctx: Ctx) -> list[str]:
    return [o.value for o in getattr(ctx.q, "labels", [])]


def _user_index(answers: list[Answer], ctx: Ctx) -> tuple[dict[int, int], np.ndarray, float]:
    users = {u: i for i, u in enumerate(dict.fromkeys(u for _, u, _ in answers))}
    weights = np.array([ctx.weight(u) for u in users])
    return users, weights, float(weights.sum())


def _covered_confidence(shares: list[np.ndarray]) -> float:
    marked = np.concatenate([s[s > 0] for s in shares]) if shares else np.zeros(0)
    return float(np.mean(np.maximum(marked, 1 - marked))) if marked.size else 1.0


def character_vote(ctx: Ctx, answers: list[Answer]) -> Outcome:
    """span: a weighted vote per character (code point) and label, then merged spans.

    Confidence: over the characters anyone marked, the mean of max(share, 1 - share).
    """
    labels = _label_codes(ctx)
    index = {lab: i for i, lab in enumerate(labels)}
    users, weights, total = _user_index(answers, ctx)
    rows = [(users[u], s) for _, u, v in answers for s in (v or []) if s.get("label") in index]
    if not rows:
        return Outcome([], _agree_on_nothing(answers, ctx))
    threshold = float(ctx.options.get("threshold", 0.5))
    w = np.array([r[0] for r in rows])
    st = np.array([int(r[1]["start"]) for r in rows])
    en = np.array([int(r[1]["end"]) for r in rows])
    lab = np.array([index[r[1]["label"]] for r in rows])
    res = aggregate_spans(
        np.zeros(len(rows), dtype=np.int64),
        w,
        st,
        en,
        lab,
        annotators=[total],
        threshold=threshold,
        weights=weights,
    )
    value = [
        {"start": int(a), "end": int(b), "label": labels[int(c)]}
        for a, b, c in sorted(zip(res.start, res.end, res.label, strict=True))
    ]
    # per label, the share of weight covering each character anyone marked
    shares = []
    for li in np.unique(lab):
        n = int(en[lab == li].max())
        cover = np.zeros(n + 1)
        for u in np.unique(w[lab == li]):
            mine = np.zeros(n + 1, dtype=bool)
            for a, b in zip(st[(lab == li) & (w == u)], en[(lab == li) & (w == u)], strict=True):
                mine[a:b] = True
            cover += mine * weights[u]
        shares.append(cover / total)
    conf = _covered_confidence(shares) if len(answers) > 1 else ctx.weight(answers[0][1])
    return Outcome(value, conf, details={"spans": res.confidence.round(6).tolist()})


def _agree_on_nothing(answers: list[Answer], ctx: Ctx) -> float:
    """Everyone marked nothing: as sure as the authors are together (one author: its reliability)."""
    if len(answers) == 1:
        return ctx.weight(answers[0][1])
    return 1.0


def time_vote(ctx: Ctx, answers: list[Answer]) -> Outcome:
    """segment: a weighted vote over time per label, then merged segments (transcript: most agreed)."""
    labels = _label_codes(ctx)
    index = {lab: i for i, lab in enumerate(labels)}
    users, weights, total = _user_index(answers, ctx)
    rows = [(users[u], u, s) for _, u, v in answers for s in (v or []) if s.get("label") in index]
    if not rows:
        return Outcome([], _agree_on_nothing(answers, ctx))
    w = np.array([r[0] for r in rows])
    st = np.array([float(r[2]["start"]) for r in rows])
    en = np.array([float(r[2]["end"]) for r in rows])
    lab = np.array([index[r[2]["label"]] for r in rows])
    res = aggregate_segments(
        np.zeros(len(rows), dtype=np.int64),
        w,
        st,
        en,
        lab,
        annotators=[total],
        threshold=float(ctx.options.get("threshold", 0.5)),
        weights=weights,
    )
    value: list[dict[str, Any]] = []
    for a, b, c in sorted(zip(res.start, res.end, res.label, strict=True)):
        seg: dict[str, Any] = {"start": float(a), "end": float(b), "label": labels[int(c)]}
        texts = [
            (r[1], str(r[2]["text"]))
            for r in rows
            if index[r[2]["label"]] == c and r[2].get("text") and min(b, r[2]["end"]) > max(a, r[2]["start"])
        ]
        if texts:
            seg["text"] = most_agreed(ctx, [(0, u, t) for u, t in texts]).value
        value.append(seg)
    # confidence: duration-weighted max(share, 1 - share) over the time anyone marked
    num = den = 0.0
    for li in np.unique(lab):
        sel = lab == li
        cuts = np.unique(np.concatenate([st[sel], en[sel]]))
        cover = np.zeros(cuts.size - 1)
        for u in np.unique(w[sel]):
            inside = np.zeros(cuts.size - 1, dtype=bool)
            for a, b in zip(st[sel & (w == u)], en[sel & (w == u)], strict=True):
                inside[np.searchsorted(cuts, a) : np.searchsorted(cuts, b)] = True
            cover += inside * weights[u]
        share = cover / total
        dur = np.diff(cuts)
        on = share > 0
        num += float((np.maximum(share[on], 1 - share[on]) * dur[on]).sum())
        den += float(dur[on].sum())
    conf = num / den if den else 1.0
    if len(answers) == 1:
        conf = ctx.weight(answers[0][1])
    return Outcome(value, min(conf, 1.0))


def borda(ctx: Ctx, answers: list[Answer]) -> Outcome:
    """ranking: a reliability-weighted Borda count; confidence from Kendall's tau to the result."""
    ids = candidate_ids(ctx.fields.get(str(getattr(ctx.q, "field", "")), []))
    n = len(ids)
    score = dict.fromkeys(ids, 0.0)
    for _, u, v in answers:
        for pos, c in enumerate(v or []):
            if c in score:
                score[c] += ctx.weight(u) * (n - 1 - pos)
    order = sorted(ids, key=lambda c: (-score[c], ids.index(c)))
    if len(answers) == 1:
        return Outcome(order, ctx.weight(answers[0][1]))
    taus = [(1.0 - kendall_distance(order, v or [])) for _, _, v in answers]
    return Outcome(order, float(np.mean(taus)))


def kendall_distance(a: list[Any], b: list[Any]) -> float:
    """Share of candidate pairs two rankings order differently (0 = same order, 1 = reversed)."""
    pos = {c: i for i, c in enumerate(b)}
    common = [c for c in a if c in pos]
    n = len(common)
    if n < 2:
        return 0.0
    wrong = sum(1 for i in range(n) for j in range(i + 1, n) if pos[common[i]] > pos[common[j]])
    return wrong / (n * (n - 1) / 2)


def per_step_vote(ctx: Ctx, answers: list[Answer]) -> Outcome:
    """step_review: a weighted vote per reviewed step; confidence is the least sure step's."""
    steps: dict[str, dict[str, float]] = {}
    totals: dict[str, float] = {}
    for _, u, v in answers:
        for step, verdict in (v or {}).items():
            if isinstance(verdict, dict) and "verdict" in verdict:
                d = steps.setdefault(str(step), {})
                d[str(verdict["verdict"])] = d.get(str(verdict["verdict"]), 0.0) + ctx.weight(u)
                totals[str(step)] = totals.get(str(step), 0.0) + ctx.weight(u)
    out: dict[str, Any] = {}
    confs = []
    for step in sorted(steps, key=int):
        top = max(steps[step].items(), key=lambda kv: kv[1])
        out[step] = {"verdict": top[0]}
        confs.append(top[1] / totals[step])
    if len(answers) == 1:
        return Outcome(out, ctx.weight(answers[0][1]))
    return Outcome(out, float(min(confs) if confs else 1.0))


def _geometry(ctx: Ctx, answers: list[Answer], kind: str) -> Outcome:
    """bbox, polygon, keypoints: shapes of one label matched across authors (IoU / OKS), fused.

    Authors weigh by their skill: a cluster is kept when the authors who drew it hold at least
    ``min_support`` of the weight of all who answered; boxes are the weighted median of the
    cluster, polygons its medoid, keypoints the per-joint mean. Confidence: over every cluster,
    kept or not, the mean of its (weighted) support when kept, 1 - support when dropped, times
    the cluster's mean match score.
    """
    labels = _label_codes(ctx)
    users, weights, total = _user_index(answers, ctx)
    threshold = float(ctx.options.get("threshold", 0.5))
    min_support = float(ctx.options.get("min_support", 0.5))
    value: list[dict[str, Any]] = []
    scores: list[float] = []
    for lab in labels:
        shapes = [(users[u], s) for _, u, v in answers for s in (v or []) if s.get("label") == lab]
        if not shapes:
            continue
        w = np.array([s[0] for s in shapes])
        t = np.zeros(len(shapes), dtype=np.int64)
        if kind == "bbox":
            b = np.array([[s["x"], s["y"], s["x"] + s["w"], s["y"] + s["h"]] for _, s in shapes], dtype=float)
            fused = fuse_boxes(
                t,
                w,
                b,
                threshold=threshold,
                min_support=0.0,
                annotators=[total],
                weights=weights,
                geometry="median",
            )
            rot = np.array([float(s.get("rotation") or 0.0) for _, s in shapes])
            for k in range(fused.task.size):
                members = fused.cluster == k
                sup = float(fused.support[k])
                mean_sc = float(fused.confidence[k]) / sup if sup > 0 else 0.0
                if sup >= min_support - 1e-12:
                    x1, y1, x2, y2 = (float(c) for c in fused.geometry[k])
                    box: dict[str, Any] = {"x": x1, "y": y1, "w": x2 - x1, "h": y2 - y1, "label": lab}
                    r = float(np.average(rot[members], weights=weights[w[members]]))
                    if r:
                        box["rotation"] = r
                    value.append(box)
                    scores.append(sup * mean_sc)
                else:
                    scores.append(1.0 - sup)
        elif kind == "polygon":
            polys: list[Any] = [np.asarray(s["points"], dtype=float) for _, s in shapes]
            fused, medoids = fuse_polygons(
                t, w, polys, threshold=threshold, min_support=0.0, annotators=[total], weights=weights
            )
            for k in range(fused.task.size):
                sup = float(fused.support[k])
                if sup >= min_support - 1e-12:
                    value.append({"points": medoids[k].tolist(), "label": lab})
                    scores.append(float(fused.confidence[k]))
                else:
                    scores.append(1.0 - sup)
        else:
            by_len: dict[int, list[int]] = {}
            for i, (_, s) in enumerate(shapes):
                by_len.setdefault(len(s["points"]), []).append(i)
            for idx in by_len.values():
                kp = np.array([shapes[i][1]["points"] for i in idx], dtype=float)
                fused = fuse_keypoints(
                    t[idx],
                    w[idx],
                    kp,
                    threshold=threshold,
                    min_support=0.0,
                    annotators=[total],
                    weights=weights,
                )
                for k in range(fused.task.size):
                    sup = float(fused.support[k])
                    if sup >= min_support - 1e-12:
                        pts = [[float(x), float(y), int(v)] for x, y, v in fused.geometry[k]]
                        value.append({"points": pts, "label": lab})
                        scores.append(float(fused.confidence[k]))
                    else:
                        scores.append(1.0 - sup)
    if not scores:
        return Outcome([], _agree_on_nothing(answers, ctx))
    conf = float(np.mean(scores))
    if len(answers) == 1:
        conf = ctx.weight(answers[0][1])
    return Outcome(value, min(max(conf, 0.0), 1.0))


def iou_fusion(ctx: Ctx, answers: list[Answer]) -> Outcome:
    return _geometry(ctx, answers, "bbox")


def iou_medoid(ctx: Ctx, answers: list[Answer]) -> Outcome:
    return _geometry(ctx, answers, "polygon")


def oks_fusion(ctx: Ctx, answers: list[Answer]) -> Outcome:
    return _geometry(ctx, answers, "keypoints")


Method = Callable[[Ctx, list[Answer]], Outcome]

METHODS: dict[str, Method] = {
    "weighted_vote": weighted_vote,
    "per_label_vote": per_label_vote,
    "median": median,
    "most_agreed": most_agreed,
    "character_vote": character_vote,
    "time_vote": time_vote,
    "borda": borda,
    "iou_fusion": iou_fusion,
    "iou_medoid": iou_medoid,
    "oks_fusion": oks_fusion,
    "per_step_vote": per_step_vote,
}
"""Per-record consensus methods by the names the registry gives (``QuestionType.consensus``)."""
