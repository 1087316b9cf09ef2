"""Box consensus on real crowd boxes: assay's fusion against the experts, beside two baselines.

    .venv/bin/python bench/boxes.py

Data: ../shared/data/boxes/pedestrians (Branson, Van Horn & Perona, CVPR 2017): about 7 crowd
workers' boxes per street frame, and experts' boxes (gold) for the frames they did. A row with
empty x,y,w,h is a worker who answered and drew no box. Score: precision, recall and F1 at
IoU >= 0.5 against the experts (one-to-one greedy matching by IoU), over the frames with gold.

Methods:
* ``random worker`` — one worker's boxes per frame (seeded);
* ``greedy`` — the issue's baseline: cluster boxes of different workers at IoU >= 0.5 greedily,
  keep clusters drawn by at least half the frame's workers, median box;
* ``assay plain`` — :func:`assay.quality.fuse_boxes` (mutual-best IoU matching, mean box);
* ``assay skills`` — :func:`assay.quality.fuse_boxes_with_skills` (the same, each worker
  weighed by its skill estimated against the plain fusion, as ``assay quality aggregate
  --kind boxes`` and a project's recompute do).

Nothing is tuned on the experts: the thresholds are the defaults (IoU 0.5, support 0.5).
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATA = ROOT.parent / "shared" / "data" / "boxes" / "pedestrians"

from assay.quality import fuse_boxes, fuse_boxes_with_skills  # noqa: E402
from assay.quality.aggregation.geometry import box_iou  # noqa: E402


def load(path: Path) -> tuple[dict[str, list[tuple[str, list[float]]]], dict[str, set[str]]]:
    boxes: dict[str, list[tuple[str, list[float]]]] = {}
    annotators: dict[str, set[str]] = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            annotators.setdefault(r["image"], set()).add(r["worker"])
            if r["x"]:
                x, y, w, h = (float(r[k]) for k in ("x", "y", "w", "h"))
                boxes.setdefault(r["image"], []).append((r["worker"], [x, y, x + w, y + h]))
    return boxes, annotators


def score(
    pred: dict[str, list[list[float]]], gold: dict[str, list[list[float]]], images: list[str]
) -> dict[str, float]:
    tp = fp = fn = 0
    for im in images:
        p, g = pred.get(im, []), gold.get(im, [])
        if not p or not g:
            fp += len(p)
            fn += len(g)
            continue
        pa, ga = np.array(p, dtype=float), np.array(g, dtype=float)
        ii, jj = np.repeat(np.arange(len(p)), len(g)), np.tile(np.arange(len(g)), len(p))
        m = box_iou(pa[ii], ga[jj]).reshape(len(p), len(g))
        used_p: set[int] = set()
        used_g: set[int] = set()
        for flat in np.argsort(-m, axis=None):
            i, j = divmod(int(flat), len(g))
            if m[i, j] < 0.5:
                break
            if i in used_p or j in used_g:
                continue
            used_p.add(i)
            used_g.add(j)
        tp += len(used_p)
        fp += len(p) - len(used_p)
        fn += len(g) - len(used_g)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}


def greedy(
    crowd: dict[str, list[tuple[str, list[float]]]], ann: dict[str, set[str]]
) -> dict[str, list[list[float]]]:
    out: dict[str, list[list[float]]] = {}
    for im, items in crowd.items():
        clusters: list[list[tuple[str, list[float]]]] = []
        for w, b in items:
            best, best_iou = None, 0.5
            for c in clusters:
                if any(w == cw for cw, _ in c):
                    continue
                iou = float(np.mean(box_iou(np.array([b] * len(c)), np.array([cb for _, cb in c]))))
                if iou >= best_iou:
                    best, best_iou = c, iou
            if best is None:
                clusters.append([(w, b)])
            else:
                best.append((w, b))
        n = len(ann[im])
        out[im] = [list(np.median([b for _, b in c], axis=0)) for c in clusters if len(c) >= n / 2]
    return out


def arrays(crowd: dict[str, list[tuple[str, list[float]]]], ann: dict[str, set[str]]) -> tuple:
    images = sorted(ann)
    workers = sorted({w for s in ann.values() for w in s})
    ti = {im: i for i, im in enumerate(images)}
    wi = {w: i for i, w in enumerate(workers)}
    t, w, b = [], [], []
    for im, items in crowd.items():
        for wk, box in items:
            t.append(ti[im])
            w.append(wi[wk])
            b.append(box)
    n_ann = np.array([len(ann[im]) for im in images])
    answered = (
        np.array([ti[im] for im in images for _ in ann[im]]),
        np.array([wi[wk] for im in images for wk in sorted(ann[im])]),
    )
    return images, np.array(t), np.array(w), np.array(b, dtype=float).reshape(-1, 4), n_ann, answered


def main() -> None:
    if not DATA.exists():
        print(f"skipped: {DATA} is absent")
        return
    crowd, ann = load(DATA / "crowd_boxes.csv")
    expert, expert_ann = load(DATA / "expert_boxes.csv")
    gold = {im: [b for _, b in items] for im, items in expert.items()}
    scored = sorted(set(expert_ann) & set(ann))
    rng = np.random.default_rng(0)
    results: dict[str, dict[str, float]] = {}
    one: dict[str, list[list[float]]] = {}
    for im in scored:
        w = sorted(ann[im])[int(rng.integers(len(ann[im])))]
        one[im] = [b for wk, b in crowd.get(im, []) if wk == w]
    results["random worker"] = score(one, gold, scored)
    t0 = time.perf_counter()
    results["greedy (issue baseline)"] = score(greedy(crowd, ann), gold, scored)
    images, t, w, b, n_ann, answered = arrays(crowd, ann)
    for name, fn in (("assay plain", fuse_boxes), ("assay skills", fuse_boxes_with_skills)):
        t0 = time.perf_counter()
        fused = fn(t, w, b, annotators=n_ann) if fn is fuse_boxes else fn(t, w, b, answered=answered)
        if isinstance(fused, tuple):
            fused = fused[0]
        secs = time.perf_counter() - t0
        pred: dict[str, list[list[float]]] = {}
        for k in range(fused.task.size):
            pred.setdefault(images[int(fused.task[k])], []).append(list(fused.geometry[k]))
        results[name] = score(pred, gold, scored) | {"seconds": secs}
    print(
        f"pedestrians: {len(scored)} frames with expert boxes, {sum(len(gold.get(i, [])) for i in scored)} expert boxes, "
        f"{len(b)} crowd boxes from {len(set(w.tolist()))} workers"
    )
    print(f"{'method':26} {'precision':>9} {'recall':>7} {'F1':>6}")
    for name, r in results.items():
        print(f"{name:26} {r['precision']:9.3f} {r['recall']:7.3f} {r['f1']:6.3f}")


if __name__ == "__main__":
    main()
