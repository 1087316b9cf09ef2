"""Agreement per question: Krippendorff's alpha with the distance the type registry names.

``nominal``, ``ordinal`` and ``interval`` go through :func:`assay.quality.krippendorff_alpha`;
the distances between structured answers (sets, spans, segments, boxes, keypoints, rankings,
step reviews) through :func:`assay.quality.distance_alpha`, each a number in [0, 1] between two
answers of one record (0: the same answer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from assay.domain.gold import answers_equal, categorical_key
from assay.domain.question_types import REGISTRY
from assay.domain.questions import QuestionSpec
from assay.quality import distance_alpha, krippendorff_alpha
from assay.quality.aggregation.geometry import COCO_PERSON_SIGMAS, box_iou, oks
from assay.services.consensus_methods import kendall_distance

__all__ = ["DISTANCES", "agrees", "alpha", "answer_distance"]

Distance = Callable[[Any, Any], float]


def _nominal_key(qtype: str, v: Any) -> str | None:
    if qtype == "text" and isinstance(v, str):
        return " ".join(v.split()).casefold()
    if qtype == "step_pick":
        return "none" if v is None else str(v)
    return categorical_key(qtype, v)


def jaccard(a: Any, b: Any) -> float:
    x, y = {repr(v) for v in a or []}, {repr(v) for v in b or []}
    union = x | y
    return 1.0 - len(x & y) / len(union) if union else 0.0


def span_overlap(a: Any, b: Any) -> float:
    """1 - character F1 of two span answers, per label (code points)."""

    def chars(v: Any) -> set[tuple[str, int]]:
        return {(s["label"], i) for s in v or [] for i in range(int(s["start"]), int(s["end"]))}

    x, y = chars(a), chars(b)
    if not x and not y:
        return 0.0
    return 1.0 - 2 * len(x & y) / (len(x) + len(y))


def _union(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def time_overlap(a: Any, b: Any) -> float:
    """1 - duration F1 of two segment answers, per label."""
    inter = total = 0.0
    for lab in {s["label"] for s in [*(a or []), *(b or [])]}:
        x = _union((float(s["start"]), float(s["end"])) for s in a or [] if s["label"] == lab)
        y = _union((float(s["start"]), float(s["end"])) for s in b or [] if s["label"] == lab)
        total += sum(e - s for s, e in x) + sum(e - s for s, e in y)
        inter += sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in x for s2, e2 in y)
    return 1.0 - 2 * inter / total if total else 0.0


def _box(s: dict[str, Any]) -> list[float]:
    if "points" in s:
        pts = np.asarray(s["points"], dtype=float)
        return [pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()]
    return [s["x"], s["y"], s["x"] + s["w"], s["y"] + s["h"]]


def _matched(
    a: list[dict[str, Any]], b: list[dict[str, Any]], score: Callable[[Any, Any], np.ndarray]
) -> float:
    """Greedy one-to-one matching per label by score (>0); sum of matched scores over matched +
    unmatched shapes on both sides (an unmatched shape counts 0)."""
    if not a and not b:
        return 1.0
    total, n = 0.0, 0
    for lab in {s["label"] for s in [*a, *b]}:
        xa = [s for s in a if s["label"] == lab]
        xb = [s for s in b if s["label"] == lab]
        if xa and xb:
            m = score(xa, xb)
            used_a: set[int] = set()
            used_b: set[int] = set()
            for flat in np.argsort(-m, axis=None):
                i, j = divmod(int(flat), len(xb))
                if m[i, j] <= 0 or i in used_a or j in used_b:
                    continue
                used_a.add(i)
                used_b.add(j)
                total += float(m[i, j])
            n += len(used_a) + (len(xa) - len(used_a)) + (len(xb) - len(used_b))
        else:
            n += len(xa) + len(xb)
    return total / n if n else 1.0


def _iou_matrix(xa: list[dict[str, Any]], xb: list[dict[str, Any]]) -> np.ndarray:
    ba = np.array([_box(s) for s in xa], dtype=float)
    bb = np.array([_box(s) for s in xb], dtype=float)
    ia, ib = np.repeat(np.arange(len(xa)), len(xb)), np.tile(np.arange(len(xb)), len(xa))
    out: np.ndarray = box_iou(ba[ia], bb[ib]).reshape(len(xa), len(xb))
    return out


def _oks_matrix(xa: list[dict[str, Any]], xb: list[dict[str, Any]]) -> np.ndarray:
    m = np.zeros((len(xa), len(xb)))
    for i, s in enumerate(xa):
        for j, t in enumerate(xb):
            pa, pb = np.asarray(s["points"], dtype=float), np.asarray(t["points"], dtype=float)
            if pa.shape != pb.shape:
                continue
            sig = COCO_PERSON_SIGMAS if pa.shape[0] == 17 else np.full(pa.shape[0], 0.05)
            vis = np.concatenate([pa[pa[:, 2] > 0, :2], pb[pb[:, 2] > 0, :2]])
            area = float(np.ptp(vis[:, 0]) * np.ptp(vis[:, 1])) if len(vis) else 1.0
            m[i, j] = float(oks(pa[None], pb[None], np.array([max(area, 1.0)]), sig)[0])
    return m


def iou(a: Any, b: Any) -> float:
    """1 - the matched IoU of two box (or polygon, by bounding box) answers, per label."""
    return 1.0 - _matched(list(a or []), list(b or []), _iou_matrix)


def oks_distance(a: Any, b: Any) -> float:
    """1 - the matched object keypoint similarity of two keypoint answers, per label."""
    return 1.0 - _matched(list(a or []), list(b or []), _oks_matrix)


def kendall(a: Any, b: Any) -> float:
    return kendall_distance(list(a or []), list(b or []))


def per_step(a: Any, b: Any) -> float:
    """Share of the steps either reviewed on which the two verdicts differ."""
    x = {str(k): (v or {}).get("verdict") for k, v in (a or {}).items()}
    y = {str(k): (v or {}).get("verdict") for k, v in (b or {}).items()}
    steps = set(x) | set(y)
    return sum(x.get(s) != y.get(s) for s in steps) / len(steps) if steps else 0.0


DISTANCES: dict[str, Distance | None] = {
    "nominal": None,  # krippendorff_alpha, on category codes
    "ordinal": None,  # krippendorff_alpha, on the numbers
    "interval": None,
    "jaccard": jaccard,
    "span_overlap": span_overlap,
    "time_overlap": time_overlap,
    "iou": iou,
    "oks": oks_distance,
    "kendall": kendall,
    "per_step": per_step,
}
"""Agreement distances by the names the registry gives (``QuestionType.agreement``)."""


def answer_distance(qtype: str, a: Any, b: Any) -> float:
    """The registry's distance between two answers to a question of type ``qtype`` (for numbers:
    the absolute difference)."""
    name = REGISTRY[qtype].agreement
    fn = DISTANCES[name]
    if fn is not None:
        return fn(a, b)
    if name == "nominal":
        return float(_nominal_key(qtype, a) != _nominal_key(qtype, b))
    return abs(float(a) - float(b))


def agrees(qtype: str, a: Any, b: Any) -> bool:
    """Whether an answer agrees with another (the consensus): the same category or number, or a
    structured answer within half the registry's distance (e.g. matched boxes at mean IoU > 0.5)."""
    name = REGISTRY[qtype].agreement
    if name in ("ordinal", "interval"):
        return answers_equal(a, b)
    return answer_distance(qtype, a, b) < (0.5 if DISTANCES[name] is not None else 1.0)


def alpha(q: QuestionSpec, answers: Iterable[tuple[int, Any]]) -> float | None:
    """Krippendorff's alpha of ``(record id, value)`` answers to ``q``; None when not measurable."""
    name = REGISTRY[q.type].agreement
    units: list[int] = []
    values: list[Any] = []
    codes: dict[str, int] = {}
    for rid, v in answers:
        if v is None and q.type != "step_pick":
            continue
        if name == "nominal":
            k = _nominal_key(q.type, v)
            if k is None:
                continue
            values.append(float(codes.setdefault(k, len(codes))))
        elif name in ("ordinal", "interval"):
            if not isinstance(v, int | float) or isinstance(v, bool):
                continue
            values.append(float(v))
        else:
            values.append(v)
        units.append(int(rid))
    if len(values) < 2:
        return None
    _, unit = np.unique(np.array(units), return_inverse=True)
    if name in ("nominal", "ordinal", "interval"):
        a = krippendorff_alpha(unit, np.array(values, dtype=float), level=name)  # type: ignore[arg-type]
    else:
        fn = DISTANCES[name]
        assert fn is not None
        a = distance_alpha(unit, lambda i, j: fn(values[i], values[j]), max_pairs=20_000)
    return None if math.isnan(a) else round(float(a), 4)
