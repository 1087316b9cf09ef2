"""Pascal VOC XML (one ``<annotation>`` file per image) in and out, for boxes.

In: every ``*.xml`` under the folder given: a record per file (``external_id`` its path without
``.xml``, the image field ``{"url": prefix + <filename>, "width", "height"}`` from ``<size>``),
a box per ``<object>`` (``name``; ``bndbox`` ``xmin ymin xmax ymax`` in pixels as written,
``x = xmin``, ``w = xmax - xmin``). A bad file names itself and the object.

Out: a folder with ``<external_id>.xml`` per record.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from assay.domain.errors import ValidationError
from assay.formats.base import Source
from assay.formats.coco import MODEL, CocoOptions, CocoTarget

__all__ = ["read_voc", "write_voc"]


def _num(el: ET.Element, tag: str, file: str, where: str) -> float:
    text = el.findtext(tag)
    try:
        return float(text or "")
    except ValueError:
        raise ValidationError(f"must be a number, got {text!r}", file=file, field=f"{where}.{tag}") from None


def read_voc(path: Path, name: str, target: CocoTarget, options: CocoOptions) -> Source:
    if target.bbox is None:
        raise ValidationError("Pascal VOC needs a bbox question on the image field", field="format")
    files = sorted(path.rglob("*.xml")) if path.is_dir() else [path]
    if not files:
        raise ValidationError("no .xml files", file=name)
    rows: list[tuple[int, dict[str, Any]]] = []
    for place, f in enumerate(files, 1):
        fn = str(f)
        try:
            root = ET.parse(f).getroot()
        except ET.ParseError as e:
            raise ValidationError(f"not valid XML ({e})", file=fn) from None
        filename = root.findtext("filename")
        if not filename:
            raise ValidationError("is missing", file=fn, field="filename")
        media: dict[str, Any] = {"url": options.media_prefix + filename}
        size = root.find("size")
        if size is not None:
            media |= {k: int(_num(size, k, fn, "size")) for k in ("width", "height")}
        boxes = []
        for i, obj in enumerate(root.findall("object")):
            where = f"object[{i}]"
            label = obj.findtext("name") or ""
            if label not in target.labels:
                raise ValidationError(
                    f"{label!r} is not a label of the project: {', '.join(target.labels)}",
                    file=fn,
                    field=f"{where}.name",
                )
            bb = obj.find("bndbox")
            if bb is None:
                raise ValidationError("is missing", file=fn, field=f"{where}.bndbox")
            x0, y0, x1, y1 = (_num(bb, k, fn, f"{where}.bndbox") for k in ("xmin", "ymin", "xmax", "ymax"))
            if x1 <= x0 or y1 <= y0:
                raise ValidationError(
                    "xmax and ymax must be above xmin and ymin", file=fn, field=f"{where}.bndbox"
                )
            boxes.append({"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0, "label": label, "rotation": 0})
        rel = f.relative_to(path) if path.is_dir() else Path(f.name)
        row: dict[str, Any] = {"external_id": rel.with_suffix("").as_posix(), target.image_field: media}
        found = {target.bbox: boxes} if boxes else {}
        if options.as_ == "gold":
            row["gold"] = found
        elif options.as_ == "answers":
            if not options.annotator:
                raise ValidationError(
                    "VOC answers need --annotator (the user who drew them)", field="annotator"
                )
            row["responses"] = [{"user": options.annotator, "values": found}] if found else []
        else:
            row["suggestions"] = [{"question": q, "value": v, "model": MODEL} for q, v in found.items()]
        rows.append((place, row))

    def it() -> Iterator[tuple[int, dict[str, Any]]]:
        yield from rows

    return Source(name=name, rows=it(), unit="files", total=len(rows))


def _fmt(v: Any) -> str:
    return str(int(v)) if float(v).is_integer() else f"{float(v):g}"


def write_voc(
    out: Path, rows: Iterable[dict[str, Any]], target: CocoTarget, source: str = "consensus"
) -> int:
    """Write export ``rows`` as one VOC XML file per record in the folder ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for row in rows:
        media = (row.get("fields") or {}).get(target.image_field)
        url = media if isinstance(media, str) else (media or {}).get("url", "")
        if source == "consensus":
            values = {q: c.get("value") for q, c in (row.get("consensus") or {}).items()}
        elif source == "gold":
            values = row.get("gold") or {}
        elif source == "suggestions":
            values = {s["question"]: s["value"] for s in row.get("suggestions") or []}
        else:
            raise ValidationError(
                "VOC annotations come from consensus, suggestions or gold", field="coco_from"
            )
        ann = ET.Element("annotation")
        ET.SubElement(ann, "filename").text = url.rsplit("/", 1)[-1]
        ET.SubElement(ann, "path").text = url
        if isinstance(media, dict) and media.get("width") and media.get("height"):
            size = ET.SubElement(ann, "size")
            ET.SubElement(size, "width").text = str(media["width"])
            ET.SubElement(size, "height").text = str(media["height"])
            ET.SubElement(size, "depth").text = "3"
        for b in values.get(target.bbox) or [] if target.bbox else []:
            obj = ET.SubElement(ann, "object")
            ET.SubElement(obj, "name").text = b["label"]
            bb = ET.SubElement(obj, "bndbox")
            for tag, v in (
                ("xmin", b["x"]),
                ("ymin", b["y"]),
                ("xmax", b["x"] + b["w"]),
                ("ymax", b["y"] + b["h"]),
            ):
                ET.SubElement(bb, tag).text = _fmt(v)
        ET.indent(ann)
        dest = out / f"{row['external_id']}.xml"
        dest.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(ann).write(dest, encoding="utf-8", xml_declaration=True)
        n += 1
    return n
