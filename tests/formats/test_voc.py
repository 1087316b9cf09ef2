"""Pascal VOC XML in and out: a file per image, boxes from bndbox, a round trip, bad files named."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.domain.errors import ValidationError
from assay.formats.coco import CocoOptions
from assay.services import exports, imports
from assay.services.actors import SYSTEM
from assay.store import records as rec_store
from assay.store.engine import Store
from tests.factories import make_project

XML = """<annotation><folder>VOC2007</folder><filename>{name}</filename>
<size><width>500</width><height>375</height><depth>3</depth></size>
<object><name>car</name><bndbox><xmin>48</xmin><ymin>240</ymin><xmax>195</xmax><ymax>371</ymax></bndbox></object>
<object><name>person</name><bndbox><xmin>8.5</xmin><ymin>12</ymin><xmax>352</xmax><ymax>348</ymax></bndbox></object>
</annotation>"""
SCHEMA = {
    "name": "voc",
    "fields": [{"name": "image", "type": "image"}],
    "questions": [{"name": "objects", "type": "bbox", "field": "image", "labels": ["car", "person"]}],
}


def boxes_of(folder: Path) -> dict[str, list[tuple[str, ...]]]:
    import xml.etree.ElementTree as ET

    out = {}
    for f in sorted(folder.rglob("*.xml")):
        root = ET.parse(f).getroot()
        out[f.relative_to(folder).as_posix()] = sorted(
            (
                o.findtext("name") or "",
                *(str(float(o.findtext(f"bndbox/{k}") or 0)) for k in ("xmin", "ymin", "xmax", "ymax")),
            )
            for o in root.findall("object")
        )
    return out


def test_voc_round_trip(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "Annotations"
    src.mkdir()
    for stem in ("000005", "000007"):
        (src / f"{stem}.xml").write_text(XML.format(name=f"{stem}.jpg"))
    p = make_project(store, SCHEMA)
    imports.import_file(
        store, SYSTEM, p["id"], src, fmt="voc", coco=CocoOptions(as_="gold", media_prefix="media/voc/")
    )
    with store.read() as conn:
        rec = rec_store.get_record_by_external_id(conn, p["id"], "000005")
    assert rec is not None
    assert rec["fields"]["image"] == {"url": "media/voc/000005.jpg", "width": 500, "height": 375}
    assert {"x": 48.0, "y": 240.0, "w": 147.0, "h": 131.0, "label": "car", "rotation": 0} in rec["gold"][
        "objects"
    ]
    out = tmp_path / "out"
    exports.export_file(store, SYSTEM, p["id"], out, fmt="voc", coco_from="gold")
    assert boxes_of(out) == boxes_of(src)


def test_a_bad_voc_file_is_named(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "Annotations"
    src.mkdir()
    (src / "a.xml").write_text(XML.format(name="a.jpg"))
    (src / "b.xml").write_text(XML.format(name="b.jpg").replace("<name>car</name>", "<name>bus</name>"))
    p = make_project(store, SCHEMA)
    with pytest.raises(ValidationError) as e:
        imports.import_file(store, SYSTEM, p["id"], src, fmt="voc")
    assert (
        e.value.file == str(src / "b.xml")
        and e.value.field == "object[0].name"
        and "'bus'" in e.value.message
    )
    with store.read() as conn:
        assert rec_store.count_records(conn, p["id"]) == 0
