"""YOLO detect and segment datasets (Ultralytics layout) in and out.

In: ``data.yaml`` names the classes (``names``: a list, or ids to names); every image under the
dataset's ``images/`` folder becomes a record (``external_id`` its path there without suffix,
the image field ``{"url": prefix + "images/…", "width", "height"}``, the size read with Pillow)
and each line of the matching ``labels/….txt`` a box (``class cx cy w h``, normalised) or, with 3
points or more, a polygon (``class x1 y1 x2 y2 …``). A bad line names its file and line.

Out: a folder with ``data.yaml`` (the labels as ``names``) and ``labels/<external_id>.txt`` per
image with annotations (normalised by the image's width and height, which the record must give).
Images are not copied.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from assay.domain.errors import ValidationError
from assay.formats.base import Source
from assay.formats.coco import MODEL, CocoOptions, CocoTarget

__all__ = ["read_yolo", "write_yolo"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def _names(data: Path) -> list[str]:
    try:
        doc = yaml.safe_load(data.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValidationError(f"not valid YAML ({e})", file=str(data)) from None
    names = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        return [str(names[k]) for k in sorted(names)]
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return names
    raise ValidationError(
        "must list the class names (a list, or ids to names)", file=str(data), field="names"
    )


def read_yolo(path: Path, name: str, target: CocoTarget, options: CocoOptions) -> Source:
    """The records of a YOLO dataset (``path``: its ``data.yaml`` or its folder)."""
    from PIL import Image

    data = path / "data.yaml" if path.is_dir() else path
    root = data.parent
    names = _names(data)
    for i, n in enumerate(names):
        if n not in target.labels:
            raise ValidationError(
                f"class {n!r} is not a label of the project: {', '.join(target.labels)}",
                file=str(data),
                field=f"names[{i}]",
            )
    images = sorted(p for p in (root / "images").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ValidationError("no images under images/", file=str(root))
    rows: list[tuple[int, dict[str, Any]]] = []
    for place, image in enumerate(images, 1):
        rel = image.relative_to(root / "images")
        with Image.open(image) as im:
            width, height = im.size
        found: dict[str, list[dict[str, Any]]] = {}
        label_file = (root / "labels" / rel).with_suffix(".txt")
        if label_file.exists():
            for k, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), 1):
                region = _region(line, names, width, height, target, str(label_file), k)
                if region is not None:
                    q, value = region
                    found.setdefault(q, []).append(value)
        row: dict[str, Any] = {
            "external_id": rel.with_suffix("").as_posix(),
            target.image_field: {
                "url": options.media_prefix + "images/" + rel.as_posix(),
                "width": width,
                "height": height,
            },
        }
        if options.as_ == "gold":
            row["gold"] = found
        elif options.as_ == "answers":
            if not options.annotator:
                raise ValidationError(
                    "YOLO answers need --annotator (the user who drew them)", field="annotator"
                )
            row["responses"] = [{"user": options.annotator, "values": found}] if found else []
        else:
            row["suggestions"] = [{"question": q, "value": v, "model": MODEL} for q, v in found.items()]
        rows.append((place, row))

    def it() -> Iterator[tuple[int, dict[str, Any]]]:
        yield from rows

    return Source(name=name, rows=it(), unit="images", total=len(rows))


def _region(
    line: str, names: list[str], width: int, height: int, target: CocoTarget, file: str, n: int
) -> tuple[str, dict[str, Any]] | None:
    parts = line.split()
    if not parts:
        return None
    try:
        cls = int(parts[0])
        nums = [float(x) for x in parts[1:]]
    except ValueError:
        raise ValidationError(f"must be 'class x y …' numbers, got {line!r}", file=file, line=n) from None
    if not 0 <= cls < len(names):
        raise ValidationError(
            f"class {cls} is not in data.yaml's {len(names)} names", file=file, line=n, field="class"
        )
    if any(not 0 <= v <= 1 for v in nums):
        raise ValidationError("coordinates must be normalised to 0..1", file=file, line=n)
    label = names[cls]
    if len(nums) == 4 and target.bbox is not None:
        cx, cy, w, h = nums
        if w <= 0 or h <= 0:
            raise ValidationError("width and height must be > 0", file=file, line=n)
        box = {"x": (cx - w / 2) * width, "y": (cy - h / 2) * height, "w": w * width, "h": h * height}
        return target.bbox, {k: round(v, 3) for k, v in box.items()} | {"label": label, "rotation": 0}
    if len(nums) >= 6 and len(nums) % 2 == 0 and target.polygon is not None:
        points = [[round(nums[i] * width, 3), round(nums[i + 1] * height, 3)] for i in range(0, len(nums), 2)]
        return target.polygon, {"points": points, "label": label}
    want = "4 numbers (a box)" if target.bbox is not None else "3 points or more (a polygon)"
    raise ValidationError(f"has {len(nums)} coordinates; this project takes {want}", file=file, line=n)


def write_yolo(
    out: Path, rows: Iterable[dict[str, Any]], target: CocoTarget, source: str = "consensus"
) -> int:
    """Write export ``rows`` as a YOLO folder ``out``; the number of images."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(exist_ok=True)
    cls = {label: i for i, label in enumerate(target.labels)}
    n = 0
    for row in rows:
        media = (row.get("fields") or {}).get(target.image_field)
        width = media.get("width") if isinstance(media, dict) else None
        height = media.get("height") if isinstance(media, dict) else None
        if source == "consensus":
            values = {q: c.get("value") for q, c in (row.get("consensus") or {}).items()}
        elif source == "gold":
            values = row.get("gold") or {}
        elif source == "suggestions":
            values = {s["question"]: s["value"] for s in row.get("suggestions") or []}
        else:
            raise ValidationError(
                "YOLO annotations come from consensus, suggestions or gold", field="coco_from"
            )
        lines = []
        for q in (target.bbox, target.polygon):
            for r in values.get(q) or [] if q else []:
                if not width or not height:
                    raise ValidationError(
                        f"record {row['external_id']!r}: YOLO needs the image's width and height",
                        field=target.image_field,
                    )
                c = cls[r["label"]]
                if q == target.bbox:
                    cx, cy = (r["x"] + r["w"] / 2) / width, (r["y"] + r["h"] / 2) / height
                    lines.append(f"{c} {cx:.6f} {cy:.6f} {r['w'] / width:.6f} {r['h'] / height:.6f}")
                else:
                    xy = " ".join(f"{p[0] / width:.6f} {p[1] / height:.6f}" for p in r["points"])
                    lines.append(f"{c} {xy}")
        if lines:
            dest = out / "labels" / f"{row['external_id']}.txt"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
        n += 1
    (out / "data.yaml").write_text(
        yaml.safe_dump({"names": list(target.labels)}, sort_keys=False), encoding="utf-8"
    )
    return n
