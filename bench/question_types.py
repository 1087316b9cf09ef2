"""Consensus by question type on real data: ratings, spans and keypoints (boxes: bench/boxes.py).

    .venv/bin/python bench/question_types.py

* **ratings** — ../shared/data/crowd/snow2008_affect (Snow et al. 2008: 10 crowd ratings per
  headline and emotion, 0..100; gold = the experts' mean). Pearson r with the gold of: the
  ratings voted as classes (Dawid-Skene on the values, as `assay quality aggregate` did before
  `--kind ratings`), the median, the mean and the bias-corrected, precision-weighted mean.
* **spans** — ../shared/data/spans/crowdtruth_events (CrowdTruth: 20 workers highlight events in
  each of 42 news sentences; the sentences' TimeBank events, given in the set, serve as the
  reference). Event recall (a reference event overlapped by a span) and span precision (a span
  overlapping a reference event), for one random worker per sentence, the character vote, and
  the union of all workers; and Krippendorff's alpha with the span-overlap distance.
* **keypoints** — the COCO person-keypoints excerpt (../shared/data/boxes): the set has one
  annotation per person, so 5 annotators are *simulated* from it: each keypoint moved by the
  COCO per-joint deviation (sigma x object scale), missed with probability 0.15, one annotator in
  five careless (3x the deviation). Mean OKS with the COCO annotation: a random annotator's set
  against the OKS fusion.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATA = ROOT.parent / "shared" / "data"

from assay.quality import (  # noqa: E402
    BiasCorrectedMean,
    DawidSkene,
    MedianRating,
    aggregate_spans,
    distance_alpha,
    fuse_keypoints,
)
from assay.quality.aggregation.geometry import COCO_PERSON_SIGMAS, oks  # noqa: E402
from assay.services.agreement import span_overlap  # noqa: E402


def ratings() -> None:
    d = DATA / "crowd" / "snow2008_affect"
    if not d.exists():
        print("ratings: skipped (snow2008_affect absent)")
        return
    with open(d / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(d / "gold.csv", newline="") as f:
        gold = {g["task"]: float(g["label"]) for g in csv.DictReader(f)}
    tasks, t = np.unique([r["task"] for r in rows], return_inverse=True)
    _, w = np.unique([r["worker"] for r in rows], return_inverse=True)
    v = np.array([float(r["label"]) for r in rows])
    truth = np.array([gold[x] for x in tasks])
    # per emotion: each has its own scale use; r is computed per emotion and averaged
    emotion = np.array([x.split(":")[0] for x in tasks])
    classes, y = np.unique(v, return_inverse=True)
    out: dict[str, np.ndarray] = {
        "voted as classes (DS)": classes[DawidSkene().fit_predict(t, w, y)],
        "median": MedianRating().fit(t, v).values_,
        "mean": np.bincount(t, weights=v) / np.bincount(t),
        "bias-corrected mean": BiasCorrectedMean().fit(t, w, v).values_,
    }
    print(f"ratings, snow2008_affect: {len(rows)} ratings, {len(tasks)} items; Pearson r with expert gold")
    print(f"{'method':26} {'r (all)':>8} {'r per emotion, mean':>20}")
    for name, est in out.items():
        r_all = float(np.corrcoef(est, truth)[0, 1])
        per = [float(np.corrcoef(est[emotion == e], truth[emotion == e])[0, 1]) for e in np.unique(emotion)]
        print(f"{name:26} {r_all:8.3f} {np.mean(per):20.3f}")


def _events(reference: str) -> list[tuple[int, int]]:
    out = []
    for item in reference.split("###"):
        parts = item.rsplit("__", 2)
        if len(parts) == 3:
            out.append((int(parts[1]), int(parts[2])))
    return out


def spans() -> None:
    path = DATA / "spans" / "crowdtruth_events" / "event-text-highlight.csv"
    if not path.exists():
        print("spans: skipped (crowdtruth_events absent)")
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    units = sorted({r["_unit_id"] for r in rows})
    uindex = {u: i for i, u in enumerate(units)}
    workers = sorted({r["_worker_id"] for r in rows})
    windex = {w: i for i, w in enumerate(workers)}
    text: dict[int, str] = {}
    ref: dict[int, list[tuple[int, int]]] = {}
    t, w, s, e = [], [], [], []
    answers: dict[tuple[int, int], list[dict[str, object]]] = {}
    missing = 0
    for r in rows:
        u = uindex[r["_unit_id"]]
        sentence = r["processed_sentence"]
        text[u] = sentence
        ref[u] = _events(r["events"])
        answers.setdefault((u, windex[r["_worker_id"]]), [])
        try:
            tagged = json.loads(r["tagged_events"] or "[]")
        except ValueError:
            tagged = []  # "[NONE]"
        for phrase in tagged:
            at = sentence.find(str(phrase))
            if at < 0 or not phrase:
                missing += 1
                continue
            t.append(u)
            w.append(windex[r["_worker_id"]])
            s.append(at)
            e.append(at + len(str(phrase)))
            answers[(u, windex[r["_worker_id"]])].append(
                {"start": at, "end": at + len(str(phrase)), "label": "E"}
            )
    ta, wa, sa, ea = (np.array(x) for x in (t, w, s, e))
    n_ann = np.bincount(np.array([k[0] for k in answers]), minlength=len(units))

    def score(pred: dict[int, list[tuple[int, int]]]) -> tuple[float, float]:
        found = sum(
            any(min(b, pe) > max(a, ps) for ps, pe in pred.get(u, [])) for u in ref for a, b in ref[u]
        )
        total = sum(len(v) for v in ref.values())
        spans_ = [(u, ps, pe) for u, v in pred.items() for ps, pe in v]
        right = sum(any(min(b, pe) > max(a, ps) for a, b in ref[u]) for u, ps, pe in spans_)
        return found / total, right / max(len(spans_), 1)

    rng = np.random.default_rng(0)
    one: dict[int, list[tuple[int, int]]] = {}
    for u in range(len(units)):
        who = [k[1] for k in answers if k[0] == u]
        pick = who[int(rng.integers(len(who)))]
        one[u] = [(int(x["start"]), int(x["end"])) for x in answers[(u, pick)]]  # type: ignore[call-overload]
    res = aggregate_spans(ta, wa, sa, ea, annotators=n_ann)
    vote: dict[int, list[tuple[int, int]]] = {}
    for u, a, b in zip(res.task.tolist(), res.start.tolist(), res.end.tolist(), strict=True):
        vote.setdefault(u, []).append((a, b))
    union = {
        u: [(int(a), int(b)) for uu, a, b in zip(ta, sa, ea, strict=True) if uu == u]
        for u in range(len(units))
    }
    keys = list(answers)
    values = [answers[k] for k in keys]
    alpha = distance_alpha(np.array([k[0] for k in keys]), lambda i, j: span_overlap(values[i], values[j]))
    print(
        f"spans, crowdtruth_events: {len(rows)} judgments, {len(units)} sentences, {len(workers)} workers, "
        f"{sum(len(v) for v in ref.values())} reference events ({missing} highlighted strings not found)"
    )
    print(f"{'method':26} {'event recall':>12} {'span precision':>15}")
    for name, pred in (("one random worker", one), ("character vote", vote), ("union of all workers", union)):
        rec, prec = score(pred)
        print(f"{name:26} {rec:12.3f} {prec:15.3f}")
    print(f"agreement: Krippendorff's alpha (1 - character F1) = {alpha:.3f}")


def keypoints() -> None:
    path = DATA / "boxes" / "coco_person_keypoints_excerpt" / "dataset" / "coco_test" / "annotations"
    if not path.exists():
        print("keypoints: skipped (COCO excerpt absent)")
        return
    people = []
    for f in sorted(path.glob("person_keypoints_*.json")):
        for a in json.loads(f.read_text())["annotations"]:
            kp = np.array(a["keypoints"], dtype=float).reshape(-1, 3)
            if (kp[:, 2] > 0).sum() >= 5:
                people.append((kp, float(a["area"])))
    rng = np.random.default_rng(0)
    t, w, sets, areas, truth = [], [], [], [], []
    for i, (kp, area) in enumerate(people):
        truth.append(kp)
        scale = np.sqrt(area)
        for ann in range(5):
            noise = COCO_PERSON_SIGMAS * scale * (3.0 if ann == 4 else 1.0)
            pts = kp.copy()
            pts[:, :2] += rng.normal(0, 1, (17, 2)) * noise[:, None]
            pts[:, 2] = np.where((kp[:, 2] > 0) & (rng.random(17) > 0.15), 2, 0)
            t.append(i)
            w.append(ann)
            sets.append(pts)
            areas.append(area)
    kp_all = np.array(sets)
    fused = fuse_keypoints(np.array(t), np.array(w), kp_all, area=np.array(areas))
    gold = np.array(truth)
    area = np.array([a for _, a in people])
    single = np.array([sets[5 * i + int(rng.integers(5))] for i in range(len(people))])
    one = oks(single, gold, area, COCO_PERSON_SIGMAS)
    by_task = {int(k): fused.geometry[j] for j, k in enumerate(fused.task.tolist())}
    fz = np.array([by_task.get(i, np.zeros((17, 3))) for i in range(len(people))])
    fus = oks(fz, gold, area, COCO_PERSON_SIGMAS)
    print(f"keypoints, COCO excerpt: {len(people)} people, 5 simulated annotators each (one careless)")
    print(f"{'method':26} {'mean OKS':>9} {'OKS >= 0.75':>12}")
    print(f"{'one random annotator':26} {one.mean():9.3f} {(one >= 0.75).mean():12.3f}")
    print(f"{'OKS fusion':26} {fus.mean():9.3f} {(fus >= 0.75).mean():12.3f}")


if __name__ == "__main__":
    ratings()
    print()
    spans()
    print()
    keypoints()
