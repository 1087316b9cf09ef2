"""COCO import and export throughput: N boxes over N/10 images, imported as suggestions into a
bbox project (SQLite, in a temporary data directory), then exported back as COCO. One run; prints
boxes per second and the ratio to the same records imported as JSON Lines (the raw floor of
assay's own import path). Command: `.venv/bin/python bench/coco.py --boxes 100000`."""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from assay.formats.coco import CocoOptions
from assay.services import exports, imports, projects
from assay.services.actors import SYSTEM
from assay.store.engine import open_store

LABELS = ["person", "car", "bus", "bicycle", "dog"]


def schema(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "fields": [{"name": "image", "type": "image"}],
        "questions": [{"name": "objects", "type": "bbox", "field": "image", "labels": LABELS}],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--boxes", type=int, default=100_000)
    args = ap.parse_args()
    rng = random.Random(7)
    n_images = max(1, args.boxes // 10)
    images: list[dict[str, Any]] = [
        {"id": i, "file_name": f"{i:08d}.jpg", "width": 640, "height": 480} for i in range(1, n_images + 1)
    ]
    anns: list[dict[str, Any]] = []
    for k in range(args.boxes):
        x, y = rng.uniform(0, 500), rng.uniform(0, 380)
        anns.append(
            {"id": k + 1, "image_id": k % n_images + 1, "category_id": rng.randint(1, 5),
             "bbox": [round(x, 1), round(y, 1), round(rng.uniform(5, 130), 1), round(rng.uniform(5, 90), 1)]}
        )  # fmt: skip
    doc = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(LABELS)],
    }
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "coco.json"
        src.write_text(json.dumps(doc))
        store = open_store(f"sqlite:///{tmp}/assay.db")
        p = projects.create_project(store, SYSTEM, schema("coco"))
        t0 = time.perf_counter()
        imports.import_file(store, SYSTEM, p["id"], src, fmt="coco", coco=CocoOptions())
        t_import = time.perf_counter() - t0
        out = Path(tmp) / "out.json"
        t0 = time.perf_counter()
        exports.export_file(store, SYSTEM, p["id"], out, fmt="coco", coco_from="suggestions")
        t_export = time.perf_counter() - t0
        assert len(json.loads(out.read_text())["annotations"]) == args.boxes
        # The floor: the same records and suggestions as JSON Lines, through the same import.
        by_image: dict[int, list[dict[str, Any]]] = {}
        for a in anns:
            x, y, w, h = a["bbox"]
            box = {
                "x": x,
                "y": y,
                "w": w,
                "h": h,
                "label": LABELS[a["category_id"] - 1],
                "rotation": 0,
                "id": a["id"],
            }
            by_image.setdefault(a["image_id"], []).append(box)
        jl = Path(tmp) / "same.jsonl"
        with jl.open("w") as f:
            for im in images:
                f.write(json.dumps({"external_id": str(im["id"]),
                                    "image": {"url": im["file_name"], "width": 640, "height": 480},
                                    "suggestions": [{"question": "objects", "value": by_image.get(int(im["id"]), []), "model": "coco"}]}) + "\n")  # fmt: skip
        q = projects.create_project(store, SYSTEM, schema("jsonl"))
        t0 = time.perf_counter()
        imports.import_file(store, SYSTEM, q["id"], jl, fmt="jsonl")
        t_jsonl = time.perf_counter() - t0
        store.dispose()
    print(f"{args.boxes:,} boxes on {n_images:,} images (SQLite)")
    print(f"COCO import   {args.boxes / t_import:10,.0f} boxes/s  {t_import:6.2f} s")
    print(f"COCO export   {args.boxes / t_export:10,.0f} boxes/s  {t_export:6.2f} s")
    print(
        f"JSONL import  {args.boxes / t_jsonl:10,.0f} boxes/s  {t_jsonl:6.2f} s  (same rows; COCO/JSONL time {t_import / t_jsonl:.2f})"
    )


if __name__ == "__main__":
    main()
