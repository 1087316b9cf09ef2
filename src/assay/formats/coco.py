"""COCO object detection JSON (``images``, ``annotations``, ``categories``) in and out.

In: one record per image (``external_id`` the image's id, the image field
``{"url": file_name, "width", "height"}``); each annotation's ``bbox`` becomes a box of the
project's bbox question and its polygon ``segmentation`` a polygon of its polygon question,
labelled with the category's name and carrying the annotation's id. The annotations arrive as
suggestions (model ``coco``), as gold, or as answers (by the annotation's ``annotator``, else the
one named). The whole file is checked before anything is imported: an error names the file and
the object (``annotations[12].category_id``).

Out: the project's categories (its labels, ids from 1), images and annotations taken from
consensus, every answer (each with its ``annotator``), the suggestions or the gold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from assay.domain.errors import ValidationError
from assay.domain.schema import ProjectSchema
from assay.formats.base import Source

__all__ = ["COCO_AS", "COCO_FROM", "CocoOptions", "CocoTarget", "read_coco", "write_coco"]

COCO_AS = ("suggestions", "answers", "gold")
COCO_FROM = ("consensus", "answers", "suggestions", "gold")
MODEL = "coco"


@dataclass(frozen=True)
class CocoOptions:
    as_: str = "suggestions"  # what the annotations become: suggestions, answers or gold
    annotator: str | None = None  # who answered, for annotations without an ``annotator``
    media_prefix: str = ""  # put before each file_name (``media/coco/``)


@dataclass(frozen=True)
class CocoTarget:
    """Where COCO goes in a project: its image field and its bbox/polygon questions on it."""

    image_field: str
    bbox: str | None
    polygon: str | None
    labels: tuple[str, ...]
    keypoints: str | None = None

    @classmethod
    def of(cls, schema: ProjectSchema) -> CocoTarget:
        images = [f.name for f in schema.fields if f.type == "image"]
        if not images:
            raise ValidationError("COCO needs a project with an image field", field="format")
        field = images[0]
        on = [q for q in schema.questions if getattr(q, "field", None) == field]
        bbox = next((q for q in on if q.type == "bbox"), None)
        poly = next((q for q in on if q.type == "polygon"), None)
        kps = next((q for q in on if q.type == "keypoints"), None)
        if bbox is None and poly is None and kps is None:
            raise ValidationError(
                f"COCO needs a bbox, polygon or keypoints question on the image field {field!r}",
                field="format",
            )
        labels: list[str] = []
        for q in (bbox, poly, kps):
            for value in getattr(q, "label_values", []) if q is not None else []:
                if value not in labels:
                    labels.append(value)
        return cls(
            field,
            bbox.name if bbox else None,
            poly.name if poly else None,
            tuple(labels),
            kps.name if kps else None,
        )


def _bad(name: str, where: str, message: str) -> ValidationError:
    return ValidationError(message, file=name, field=where)


def _list(doc: dict[str, Any], key: str, name: str) -> list[Any]:
    v = doc.get(key, [])
    if not isinstance(v, list):
        raise _bad(name, key, "must be a list")
    return v


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def read_coco(path: Path, name: str, target: CocoTarget, options: CocoOptions) -> Source:
    """The records of a COCO file, checked whole first (all or nothing)."""
    if options.as_ not in COCO_AS:
        raise ValidationError(f"COCO annotations become one of {', '.join(COCO_AS)}", field="coco_as")
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise ValidationError(f"not valid JSON ({e})", file=name) from None
    if not isinstance(doc, dict):
        raise ValidationError("a COCO file is an object with images, annotations and categories", file=name)
    cats: dict[Any, str] = {}
    for i, c in enumerate(_list(doc, "categories", name)):
        w = f"categories[{i}]"
        if not isinstance(c, dict) or "id" not in c or not isinstance(c.get("name"), str):
            raise _bad(name, w, "must be an object with id and name")
        cats[c["id"]] = c["name"]
    images: dict[Any, dict[str, Any]] = {}
    for i, im in enumerate(_list(doc, "images", name)):
        w = f"images[{i}]"
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise _bad(name, w, "must be an object with id and file_name")
        if im["id"] in images:
            raise _bad(name, f"{w}.id", f"image id {im['id']!r} comes twice")
        for key in ("width", "height"):
            if key in im and not (isinstance(im[key], int) and im[key] > 0):
                raise _bad(name, f"{w}.{key}", "must be a positive integer (pixels)")
        images[im["id"]] = im
    values: dict[Any, dict[str, dict[str, list[dict[str, Any]]]]] = defaultdict(lambda: defaultdict(dict))
    for i, a in enumerate(_list(doc, "annotations", name)):
        w = f"annotations[{i}]"
        if not isinstance(a, dict):
            raise _bad(name, w, "must be an object")
        if a.get("image_id") not in images:
            raise _bad(name, f"{w}.image_id", f"no image with id {a.get('image_id')!r}")
        if a.get("category_id") not in cats:
            raise _bad(name, f"{w}.category_id", f"no category with id {a.get('category_id')!r}")
        who = a.get("annotator", options.annotator) if options.as_ == "answers" else ""
        if options.as_ == "answers" and not isinstance(who, str):
            raise _bad(name, f"{w}.annotator", "names no annotator; give one (--annotator)")
        label = cats[a["category_id"]]
        if label not in target.labels:
            labels = ", ".join(target.labels)
            raise _bad(
                name, f"{w}.category_id", f"category {label!r} is not a label of the project: {labels}"
            )
        extra = {"id": a["id"]} if isinstance(a.get("id"), int | str) else {}
        per = values[a["image_id"]][str(who)]
        if target.bbox is not None and "bbox" in a:
            b = a["bbox"]
            if (
                not (isinstance(b, list) and len(b) == 4 and all(_num(x) for x in b))
                or b[2] <= 0
                or b[3] <= 0
            ):
                raise _bad(name, f"{w}.bbox", "must be [x, y, width, height] with width and height > 0")
            box = {"x": b[0], "y": b[1], "w": b[2], "h": b[3], "label": label, "rotation": 0}
            per.setdefault(target.bbox, []).append(box | extra)
        seg = a.get("segmentation")
        if target.polygon is not None and seg:
            if not isinstance(seg, list):
                raise _bad(name, f"{w}.segmentation", "RLE masks are not read yet; give polygons")
            for k, flat in enumerate(seg):
                if not (isinstance(flat, list) and len(flat) >= 6 and len(flat) % 2 == 0):
                    raise _bad(
                        name, f"{w}.segmentation[{k}]", "must be [x1, y1, x2, y2, …] of 3 points or more"
                    )
                if not all(_num(x) for x in flat):
                    raise _bad(name, f"{w}.segmentation[{k}]", "must hold numbers")
                points = [[flat[j], flat[j + 1]] for j in range(0, len(flat), 2)]
                per.setdefault(target.polygon, []).append({"points": points, "label": label} | extra)

        kp = a.get("keypoints")
        if target.keypoints is not None and kp:
            if not (isinstance(kp, list) and len(kp) % 3 == 0 and all(_num(x) for x in kp)):
                raise _bad(name, f"{w}.keypoints", "must be [x1, y1, v1, x2, y2, v2, …]")
            points = [[kp[j], kp[j + 1], int(kp[j + 2])] for j in range(0, len(kp), 3)]
            per.setdefault(target.keypoints, []).append({"points": points, "label": label} | extra)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for place, (iid, im) in enumerate(images.items(), 1):
            media: dict[str, Any] = {"url": options.media_prefix + im["file_name"]}
            media |= {k: im[k] for k in ("width", "height") if k in im}
            row: dict[str, Any] = {"external_id": str(im.get("external_id", iid)), target.image_field: media}
            by_who = values.get(iid, {})
            if options.as_ == "suggestions":
                merged = by_who.get("", {})
                row["suggestions"] = [{"question": q, "value": v, "model": MODEL} for q, v in merged.items()]
            elif options.as_ == "gold":
                row["gold"] = dict(by_who.get("", {}))
            else:
                row["responses"] = [{"user": who, "values": dict(v)} for who, v in by_who.items()]
            yield place, row

    return Source(name=name, rows=rows(), unit="images", total=len(images))


def _regions(value: Any) -> list[dict[str, Any]]:
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def write_coco(
    path: Path, rows: Iterable[dict[str, Any]], target: CocoTarget, source: str = "consensus"
) -> int:
    """Write export ``rows`` (:func:`assay.services.exports.iter_export_rows`) as one COCO file;
    the number of images."""
    if source not in COCO_FROM:
        raise ValidationError(f"COCO annotations come from one of {', '.join(COCO_FROM)}", field="coco_from")
    cat_id = {label: i for i, label in enumerate(target.labels, 1)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    used_ids: set[int] = set()
    pending: list[tuple[dict[str, Any], str | None]] = []
    for n, row in enumerate(rows, 1):
        fields = row.get("fields") or {}
        media = fields.get(target.image_field)
        url = media if isinstance(media, str) else (media or {}).get("url", "")
        ext = str(row["external_id"])
        image: dict[str, Any] = {"id": int(ext) if ext.isdigit() else n, "file_name": url}
        if not ext.isdigit():
            image["external_id"] = ext
        if isinstance(media, dict):
            image |= {k: media[k] for k in ("width", "height") if media.get(k) is not None}
        images.append(image)
        sets: list[tuple[dict[str, Any], str | None]] = []
        if source == "consensus":
            sets = [({q: c.get("value") for q, c in (row.get("consensus") or {}).items()}, None)]
        elif source == "gold":
            sets = [(row.get("gold") or {}, None)]
        elif source == "suggestions":
            sets = [({s["question"]: s["value"] for s in row.get("suggestions") or []}, None)]
        else:
            sets = [(r.get("values") or {}, r.get("user")) for r in row.get("responses") or []]
        for values, who in sets:
            by_id: dict[Any, dict[str, Any]] = {}  # a box and a polygon of one annotation: one again
            for q in (target.bbox, target.polygon, target.keypoints):
                for r in _regions(values.get(q)) if q else []:
                    rid = r.get("id")
                    ann = by_id.get(rid) if rid is not None else None
                    if ann is None:
                        ann = {"image_id": image["id"], "category_id": cat_id.get(str(r.get("label")), 0)}
                        ann |= {"segmentation": [], "iscrowd": 0}
                        if who is not None:
                            ann["annotator"] = who
                        pending.append((ann, rid))
                        if rid is not None:
                            by_id[rid] = ann
                    if q == target.bbox:
                        ann["bbox"] = [r["x"], r["y"], r["w"], r["h"]]
                        ann["area"] = r["w"] * r["h"]
                    elif q == target.keypoints:
                        pts = r.get("points") or []
                        ann["keypoints"] = [c for p in pts for c in (p[0], p[1], p[2] if len(p) > 2 else 2)]
                        ann["num_keypoints"] = sum(1 for p in pts if len(p) < 3 or p[2] > 0)
                        seen = [p for p in pts if len(p) < 3 or p[2] > 0] or pts
                        xs, ys = [p[0] for p in seen], [p[1] for p in seen]
                        ann.setdefault("bbox", [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
                        ann.setdefault("area", ann["bbox"][2] * ann["bbox"][3])
                    else:
                        flat = [c for p in r.get("points") or [] for c in p[:2]]
                        xs, ys = flat[0::2], flat[1::2]
                        ann["segmentation"].append(flat)
                        ann.setdefault("bbox", [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
                        ann["area"] = _polygon_area(xs, ys)
    # The annotations keep the ids they came with where those are unique; the rest are numbered on.
    for ann, rid in pending:
        if isinstance(rid, int) and rid not in used_ids:
            ann["id"] = rid
            used_ids.add(rid)
    nxt = max(used_ids, default=0) + 1
    for ann, _ in pending:
        if "id" not in ann:
            ann["id"] = nxt
            nxt += 1
        annotations.append({"id": ann.pop("id"), **ann})
    doc = {
        "info": {"description": "exported by assay"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": label, "supercategory": ""} for label, i in cat_id.items()],
    }
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return len(images)


def _polygon_area(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    return abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2
