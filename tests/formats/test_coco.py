"""COCO in and out, on the real val2017 sample (``../shared/data/boxes/coco_panopticapi_sample``):
boxes arrive as suggestions, gold or answers, an export writes them back, and a file imported,
exported and imported again holds the same boxes. A bad file names the object and imports nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from assay.domain.errors import ValidationError
from assay.formats.coco import CocoOptions
from assay.services import exports, imports
from assay.services.actors import SYSTEM
from assay.services.media import MediaRoots
from assay.settings import Settings
from assay.store import records as rec_store
from assay.store.engine import Store
from tests.factories import make_project, make_user

SAMPLE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "boxes"
    / "coco_panopticapi_sample"
    / "sample_data"
)
LABELS = [
    "grass-merged",
    "gravel",
    "horse",
    "person",
    "sky-other-merged",
    "sports ball",
    "tree-merged",
    "truck",
]


def schema(name: str, polygon: bool = False) -> dict[str, Any]:
    qs: list[dict[str, Any]] = [{"name": "objects", "type": "bbox", "field": "image", "labels": LABELS}]
    if polygon:
        qs.append(
            {"name": "outlines", "type": "polygon", "field": "image", "labels": LABELS, "required": False}
        )
    return {"name": name, "fields": [{"name": "image", "type": "image"}], "questions": qs}


def coco() -> dict[str, Any]:
    return json.loads((SAMPLE / "panoptic_coco_detection_format.json").read_text())


def boxes(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    names = {c["id"]: c["name"] for c in doc["categories"]}
    return sorted(
        (a["image_id"], a["id"], names[a["category_id"]], *a["bbox"], a.get("annotator"))
        for a in doc["annotations"]
    )


def test_coco_boxes_come_in_as_suggestions_with_their_images_checked(store: Store, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(SAMPLE / "input_images", home / "media" / "coco")
    p = make_project(store, schema("coco-in"))
    roots = MediaRoots.from_settings(Settings(home=home))
    opts = CocoOptions(media_prefix="media/coco/")
    path = SAMPLE / "panoptic_coco_detection_format.json"
    report = imports.import_file(store, SYSTEM, p["id"], path, fmt="coco", media=roots, coco=opts)
    assert (report.rows, report.created) == (2, 2)
    with store.read() as conn:
        rec = rec_store.get_record_by_external_id(conn, p["id"], "142238")
        assert rec is not None
        [sug] = rec_store.suggestions_for_records(conn, [rec["id"]])[rec["id"]]
    assert rec["fields"]["image"] == {"url": "media/coco/000000142238.jpg", "width": 640, "height": 427}
    first = next(a for a in coco()["annotations"] if a["image_id"] == 142238)
    assert sug["model"] == "coco" and sug["question"] == "objects"
    x, y, w, h = first["bbox"]
    assert {"id": first["id"], "x": x, "y": y, "w": w, "h": h, "label": "person", "rotation": 0} in sug[
        "value"
    ]
    assert sum(len(s["value"]) for s in [sug]) == sum(
        1 for a in coco()["annotations"] if a["image_id"] == 142238
    )

    out = tmp_path / "out.json"
    exports.export_file(store, SYSTEM, p["id"], out, fmt="coco", coco_from="suggestions")
    back = json.loads(out.read_text())
    assert boxes(back) == boxes(coco())  # every box, its id, image and category name
    assert {i["id"]: i["file_name"] for i in back["images"]} == {
        142238: "media/coco/000000142238.jpg",
        439180: "media/coco/000000439180.jpg",
    }
    # A JPEG whose declared size is wrong stops the import, naming the image.
    wrong = coco()
    wrong["images"][1]["width"] = 641
    bad = tmp_path / "wrong.json"
    bad.write_text(json.dumps(wrong))
    q = make_project(store, schema("coco-wrong"))
    with pytest.raises(ValidationError) as e:
        imports.import_file(store, SYSTEM, q["id"], bad, fmt="coco", media=roots, coco=opts)
    assert (e.value.line, e.value.field) == (2, "image.width") and "640×360" in e.value.message


def test_answers_round_trip_through_coco(store: Store, tmp_path: Path) -> None:
    for who in ("alice", "bob"):
        make_user(store, who)
    doc = coco()
    for k, a in enumerate(doc["annotations"]):
        a["annotator"] = "alice" if k % 3 else "bob"
    src = tmp_path / "two.json"
    src.write_text(json.dumps(doc))
    first = make_project(store, {**schema("rt-1"), "workflow": {"overlap": 2}})
    imports.import_file(store, SYSTEM, first["id"], src, fmt="coco", coco=CocoOptions(as_="answers"))
    out1 = tmp_path / "rt1.json"
    exports.export_file(store, SYSTEM, first["id"], out1, fmt="coco", coco_from="answers")
    second = make_project(store, {**schema("rt-2"), "workflow": {"overlap": 2}})
    imports.import_file(store, SYSTEM, second["id"], out1, fmt="coco", coco=CocoOptions(as_="answers"))
    out2 = tmp_path / "rt2.json"
    exports.export_file(store, SYSTEM, second["id"], out2, fmt="coco", coco_from="answers")
    assert boxes(json.loads(out1.read_text())) == boxes(doc)
    assert json.loads(out2.read_text()) == json.loads(out1.read_text())
    # Gold too, and polygons with their boxes (one annotation, one id).
    poly = make_project(store, schema("rt-poly", polygon=True))
    doc = {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 80}],
        "categories": [{"id": 3, "name": "horse"}],
        "annotations": [
            {
                "id": 11,
                "image_id": 7,
                "category_id": 3,
                "bbox": [10, 10, 30, 20],
                "segmentation": [[10, 10, 40, 10, 40, 30]],
            }
        ],
    }
    src.write_text(json.dumps(doc))
    imports.import_file(store, SYSTEM, poly["id"], src, fmt="coco", coco=CocoOptions(as_="gold"))
    exports.export_file(store, SYSTEM, poly["id"], out2, fmt="coco", coco_from="gold")
    [ann] = json.loads(out2.read_text())["annotations"]
    assert (
        ann["id"] == 11
        and ann["bbox"] == [10, 10, 30, 20]
        and ann["segmentation"] == [[10, 10, 40, 10, 40, 30]]
    )
    assert ann["area"] == 300 and ann["category_id"] == LABELS.index("horse") + 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda d: d["annotations"][5].update(category_id=999),
            "annotations[5].category_id",
            "no category with id 999",
        ),
        (lambda d: d["annotations"][7].update(image_id=1), "annotations[7].image_id", "no image with id 1"),
        (
            lambda d: d["annotations"][2].update(bbox=[1, 2, 0, 4]),
            "annotations[2].bbox",
            "width and height > 0",
        ),
        (lambda d: d["images"][1].update(id=142238), "images[1].id", "comes twice"),
        (
            lambda d: d["annotations"][0].update(category_id=2),
            "annotations[0].category_id",
            "'bicycle' is not a label",
        ),
    ],
)
def test_a_bad_coco_file_names_the_object_and_imports_nothing(
    store: Store, tmp_path: Path, change: Any, field: str, message: str
) -> None:
    doc = coco()
    change(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    p = make_project(store, schema("coco-bad"))
    with pytest.raises(ValidationError) as e:
        imports.import_file(store, SYSTEM, p["id"], path, fmt="coco")
    assert e.value.field == field and message in e.value.message and str(path) == e.value.file
    with store.read() as conn:
        assert rec_store.count_records(conn, p["id"]) == 0


def test_a_polygon_project_refuses_rle_masks(store: Store) -> None:
    p = make_project(store, schema("coco-rle", polygon=True))
    with pytest.raises(ValidationError) as e:
        imports.import_file(
            store, SYSTEM, p["id"], SAMPLE / "panoptic_coco_detection_format.json", fmt="coco"
        )
    assert e.value.field == "annotations[0].segmentation" and "RLE" in e.value.message


KEYPOINTS = (
    Path(__file__).resolve().parents[3]
    / "shared/data/boxes/coco_person_keypoints_excerpt/dataset/coco_test/annotations/person_keypoints_train2017.json"
)


def test_person_keypoints_come_in_and_go_back_out(store: Store, tmp_path: Path) -> None:
    src = json.loads(KEYPOINTS.read_text())
    names = src["categories"][0]["keypoints"]
    p = make_project(
        store,
        {
            "name": "people",
            "fields": [{"name": "image", "type": "image"}],
            "questions": [
                {"name": "boxes", "type": "bbox", "field": "image", "labels": ["person"]},
                {
                    "name": "pose",
                    "type": "keypoints",
                    "field": "image",
                    "labels": ["person"],
                    "keypoint_names": names,
                },
            ],
        },
    )
    report = imports.import_file(store, SYSTEM, p["id"], KEYPOINTS, fmt="coco", coco=CocoOptions(as_="gold"))
    assert report.rows == len(src["images"])
    first = src["annotations"][0]
    with store.read() as conn:
        rec = rec_store.get_record_by_external_id(conn, p["id"], str(first["image_id"]))
    assert rec is not None
    [pose] = [k for k in rec["gold"]["pose"] if k["id"] == first["id"]]
    kp = first["keypoints"]
    assert pose["points"][0] == [kp[0], kp[1], kp[2]] and len(pose["points"]) == 17
    out = tmp_path / "people.json"
    exports.export_file(store, SYSTEM, p["id"], out, fmt="coco", coco_from="gold")
    back = {a["id"]: a for a in json.loads(out.read_text())["annotations"]}
    for a in src["annotations"]:
        assert back[a["id"]]["keypoints"] == a["keypoints"]
        assert back[a["id"]]["num_keypoints"] == a["num_keypoints"]
        assert back[a["id"]]["bbox"] == a["bbox"]
