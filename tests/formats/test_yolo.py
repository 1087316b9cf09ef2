"""YOLO datasets in and out: boxes normalised to the image's own size (read from the file),
polygons of the segment format, a bad label line named by file and line, and a round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from assay.domain.errors import ValidationError
from assay.formats.coco import CocoOptions
from assay.services import exports, imports
from assay.services.actors import SYSTEM
from assay.store import records as rec_store
from assay.store.engine import Store
from tests.factories import make_project

LABELS_A = "0 0.500000 0.500000 0.250000 0.500000\n1 0.100000 0.200000 0.050000 0.100000\n"
LABELS_B = "1 0.250000 0.500000 0.500000 0.400000\n"


def dataset(root: Path) -> Path:
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    Image.new("RGB", (640, 480)).save(root / "images" / "train" / "a.jpg")
    Image.new("RGB", (100, 50)).save(root / "images" / "train" / "b.png")
    Image.new("RGB", (10, 10)).save(root / "images" / "train" / "empty.png")
    (root / "labels" / "train" / "a.txt").write_text(LABELS_A)
    (root / "labels" / "train" / "b.txt").write_text(LABELS_B)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnames:\n  0: person\n  1: car\n")
    return root


def schema(name: str, polygon: bool = False) -> dict[str, Any]:
    qs: list[dict[str, Any]] = [
        {"name": "objects", "type": "bbox", "field": "image", "labels": ["person", "car"]}
    ]
    if polygon:
        qs.append(
            {
                "name": "outlines",
                "type": "polygon",
                "field": "image",
                "labels": ["person", "car"],
                "required": False,
            }
        )
    return {"name": name, "fields": [{"name": "image", "type": "image"}], "questions": qs}


def parsed(folder: Path) -> dict[str, list[list[float]]]:
    return {
        p.relative_to(folder / "labels").with_suffix("").as_posix(): sorted(
            [float(x) for x in line.split()] for line in p.read_text().splitlines()
        )
        for p in (folder / "labels").rglob("*.txt")
    }


def test_a_yolo_dataset_comes_in_and_goes_back_out(store: Store, tmp_path: Path) -> None:
    root = dataset(tmp_path / "ds")
    p = make_project(store, schema("yolo"))
    report = imports.import_file(
        store, SYSTEM, p["id"], root / "data.yaml", fmt="yolo", coco=CocoOptions(media_prefix="media/ds/")
    )
    assert report.rows == 3
    with store.read() as conn:
        rec = rec_store.get_record_by_external_id(conn, p["id"], "train/a")
        assert rec is not None
        [sug] = rec_store.suggestions_for_records(conn, [rec["id"]])[rec["id"]]
    assert rec["fields"]["image"] == {"url": "media/ds/images/train/a.jpg", "width": 640, "height": 480}
    assert {"x": 240.0, "y": 120.0, "w": 160.0, "h": 240.0, "label": "person", "rotation": 0} in sug["value"]
    out = tmp_path / "out"
    exports.export_file(store, SYSTEM, p["id"], out, fmt="yolo", coco_from="suggestions")
    want = {"train/a": sorted([float(x) for x in line.split()] for line in LABELS_A.splitlines()),
            "train/b": sorted([float(x) for x in line.split()] for line in LABELS_B.splitlines())}  # fmt: skip
    assert parsed(out) == want
    assert "person" in (out / "data.yaml").read_text()


def test_segments_become_polygons(store: Store, tmp_path: Path) -> None:
    root = dataset(tmp_path / "ds")
    (root / "labels" / "train" / "b.txt").write_text("1 0.1 0.2 0.5 0.2 0.5 0.8\n")
    p = make_project(store, schema("seg", polygon=True))
    imports.import_file(store, SYSTEM, p["id"], root, fmt="auto", coco=CocoOptions(as_="gold"))
    with store.read() as conn:
        rec = rec_store.get_record_by_external_id(conn, p["id"], "train/b")
    assert rec is not None and rec["gold"]["outlines"] == [
        {"points": [[10.0, 10.0], [50.0, 10.0], [50.0, 40.0]], "label": "car"}
    ]


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [("0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.1 0.1\n", 2, "class 7 is not in"), ("0 0.5 x 0.2 0.2\n", 1, "must be"),
     ("0 1.5 0.5 0.2 0.2\n", 1, "normalised")],
)  # fmt: skip
def test_a_bad_label_line_is_named_and_nothing_is_imported(
    store: Store, tmp_path: Path, content: str, line: int, message: str
) -> None:
    root = dataset(tmp_path / "ds")
    (root / "labels" / "train" / "b.txt").write_text(content)
    p = make_project(store, schema("bad"))
    with pytest.raises(ValidationError) as e:
        imports.import_file(store, SYSTEM, p["id"], root, fmt="yolo")
    assert e.value.file == str(root / "labels" / "train" / "b.txt") and e.value.line == line
    assert message in e.value.message
    with store.read() as conn:
        assert rec_store.count_records(conn, p["id"]) == 0
