"""Object-store media over HTTP against a real S3 API (moto's server on 127.0.0.1): records name
``s3://`` objects under a configured prefix; an import checks and probes them (Pillow, PyAV), the
server streams them with byte ranges and makes thumbnails; anything outside the prefixes, a
``file://`` URL and web URLs at private addresses are refused, naming line and field."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from assay.settings import Settings
from tests.api.conftest import Live, running
from tests.factories import make_project, make_user
from tests.mediafiles import mp4, png, wav
from tests.s3 import s3fs_for

SCHEMA = {
    "name": "bucketed",
    "fields": [
        {"name": "photo", "type": "image"},
        {"name": "clip", "type": "audio", "required": False},
        {"name": "film", "type": "video", "required": False},
    ],
    "questions": [{"name": "boxes", "type": "bbox", "field": "photo", "labels": ["cat"]}],
}
BUCKET = "assay-media"
VIDEO = mp4(2.0, 64, 48, fps=25)


@dataclass
class S3Media:
    live: Live
    project: int
    token: str
    endpoint: str

    def client(self) -> Any:
        return self.live.client(self.token)

    def add(self, rows: list[dict[str, Any]]) -> Any:
        return self.client().post(f"/projects/{self.project}/records", json=rows)

    def record(self, external_id: str) -> dict[str, Any]:
        r = self.client().get(f"/projects/{self.project}/records", params={"limit": 1000})
        [found] = [x for x in r.json()["items"] if x["external_id"] == external_id]
        return dict(self.client().get(f"/records/{found['id']}").json())


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> str:
    fs = s3fs_for(s3_endpoint)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    fs.pipe(
        {
            f"{BUCKET}/photos/cat.png": png(40, 30),
            f"{BUCKET}/photos/wide.png": png(300, 100),
            f"{BUCKET}/clips/purr.wav": wav(1.5),
            f"{BUCKET}/clips/walk.mp4": VIDEO,
            f"{BUCKET}/private/secret.png": png(8, 8),
        }
    )
    return s3_endpoint


@pytest.fixture
def s3media(db_url: str, tmp_path: Path, bucket: str) -> Iterator[S3Media]:
    settings = Settings(
        home=tmp_path / "home",
        database_url=db_url,
        media_buckets=(f"s3://{BUCKET}/photos", f"s3://{BUCKET}/clips/"),
        s3_endpoint_url=bucket,
        media_uploads=f"s3://{BUCKET}/photos/uploads",
    )
    with running(db_url, settings) as live:
        p = make_project(live.store, SCHEMA)
        _, token = make_user(live.store, "boss", role="manager")
        yield S3Media(live, int(p["id"]), token, bucket)


def test_object_store_media_are_probed_on_import_and_streamed_with_ranges(s3media: S3Media) -> None:
    r = s3media.add(
        [
            {
                "id": "a",
                "photo": {"url": f"s3://{BUCKET}/photos/cat.png"},
                "clip": {"url": f"s3://{BUCKET}/clips/purr.wav", "duration": 1.5},
                "film": {"url": f"s3://{BUCKET}/clips/walk.mp4"},
            },
            {"id": "b", "photo": f"s3://{BUCKET}/photos/wide.png"},
        ]
    )
    assert r.status_code == 201, r.text
    a = s3media.record("a")
    # what the values leave out is filled in from the files
    assert a["fields"]["photo"] == {"url": f"s3://{BUCKET}/photos/cat.png", "width": 40, "height": 30}
    assert a["fields"]["clip"]["duration"] == 1.5
    assert {k: a["fields"]["film"][k] for k in ("width", "height", "duration", "fps")} == {
        "width": 64,
        "height": 48,
        "duration": 2.0,
        "fps": 25.0,
    }
    c = s3media.client()
    got = c.get(f"/records/{a['id']}/media/photo")
    assert got.status_code == 200 and got.content == png(40, 30)
    assert got.headers["content-type"] == "image/png" and "max-age" in got.headers["cache-control"]
    whole = VIDEO
    part = c.get(f"/records/{a['id']}/media/film", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["content-type"] == "video/mp4"
    assert part.headers["content-range"] == f"bytes 100-1099/{len(whole)}"
    assert part.content == whole[100:1100]
    tail = c.get(f"/records/{a['id']}/media/film", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole[-10:]
    rest = c.get(f"/records/{a['id']}/media/film", headers={"Range": f"bytes={len(whole) - 5}-"})
    assert rest.content == whole[-5:]
    beyond = c.get(f"/records/{a['id']}/media/film", headers={"Range": f"bytes={len(whole)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(whole)}"
    # thumbnails of an object-store image and of a video's first frame
    for field, size in (("photo", (40, 30)), ("film", (64, 48))):
        thumb = c.get(f"/records/{a['id']}/thumbnail/{field}")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg", thumb.text
        with Image.open(io.BytesIO(thumb.content)) as im:
            assert im.size == size  # small files are not enlarged
    b = s3media.record("b")
    thumb = c.get(f"/records/{b['id']}/thumbnail/photo")
    with Image.open(io.BytesIO(thumb.content)) as im:
        assert im.size == (256, 85)
    assert c.get(f"/records/{a['id']}/thumbnail/clip").status_code == 404  # audio has none
    outsider = s3media.live.client(make_user(s3media.live.store, "worker", role="annotator")[1])
    assert outsider.get(f"/records/{a['id']}/media/photo").status_code == 404
    assert s3media.live.client().get(f"/records/{a['id']}/thumbnail/photo").status_code == 401


def test_bad_object_store_and_web_urls_are_refused_naming_line_and_field(s3media: S3Media) -> None:
    port = s3media.endpoint.rsplit(":", 1)[1]
    ok = {"id": "ok", "photo": f"s3://{BUCKET}/photos/cat.png"}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"id": "x", "photo": f"s3://{BUCKET}/private/secret.png"}, "photo", "not under a configured"),
        ({"id": "x", "photo": "s3://other/photos/cat.png"}, "photo", "not under a configured"),
        ({"id": "x", "photo": f"s3://{BUCKET}/photos/../private/secret.png"}, "photo", "not under"),
        ({"id": "x", "photo": f"s3://{BUCKET}/photos/dog.png"}, "photo", "no object"),
        (
            {"id": "x", "photo": {"url": f"s3://{BUCKET}/photos/cat.png", "width": 41, "height": 30}},
            "photo.width",
            "is 40×30",
        ),
        (
            {
                "id": "x",
                "photo": ok["photo"],
                "clip": {"url": f"s3://{BUCKET}/clips/purr.wav", "duration": 3},
            },
            "clip.duration",
            "lasts 1.5 s",
        ),
        (
            {"id": "x", "photo": ok["photo"], "film": {"url": f"s3://{BUCKET}/clips/purr.wav"}},
            "film.url",
            "no video stream",
        ),
        ({"id": "x", "photo": "file:///etc/passwd"}, "photo", "file:// URLs are refused"),
        ({"id": "x", "photo": "http://127.0.0.1:9/a.png"}, "photo", "private, loopback or link-local"),
        ({"id": "x", "photo": "https://10.1.2.3/a.png"}, "photo", "(10.1.2.3)"),
        ({"id": "x", "photo": "https://169.254.169.254/latest/meta-data"}, "photo", "link-local"),
        ({"id": "x", "photo": {"url": "https://[::1]/a.png"}}, "photo.url", "(::1)"),
        ({"id": "x", "photo": "https://localhost/a.png"}, "photo", "private"),
        ({"id": "x", "photo": "https://2130706433/a.png"}, "photo", "(127.0.0.1)"),  # a name that resolves
    ]
    for row, field, message in cases:
        r = s3media.add([ok, row])
        assert r.status_code == 422, (row, r.text)
        body = r.json()
        assert (body["line"], body["field"]) == (2, field), (row, body)
        assert message in body["detail"], (row, body)
    assert s3media.client().get(f"/projects/{s3media.project}/records").json()["items"] == []
    # the configured S3 endpoint is trusted even on loopback (for the operator's own URLs)
    r = s3media.add([ok, {"id": "w", "photo": f"http://127.0.0.1:{port}/{BUCKET}/photos/cat.png"}])
    assert r.status_code == 201, r.text


def test_object_store_media_are_refused_without_a_configured_bucket(
    db_url: str, tmp_path: Path, bucket: str
) -> None:
    settings = Settings(home=tmp_path / "home", database_url=db_url, s3_endpoint_url=bucket)
    with running(db_url, settings) as live:
        p = make_project(live.store, SCHEMA)
        _, token = make_user(live.store, "boss", role="manager")
        r = live.client(token).post(
            f"/projects/{p['id']}/records", json=[{"id": "a", "photo": f"s3://{BUCKET}/photos/cat.png"}]
        )
        assert r.status_code == 422 and "ASSAY_MEDIA_BUCKETS: none" in r.text
        gs = live.client(token).post(
            f"/projects/{p['id']}/records", json=[{"id": "a", "photo": "gs://b/photos/cat.png"}]
        )
        assert gs.status_code == 422 and "not under a configured media bucket" in gs.text


def test_coco_labels_for_images_in_a_bucket(s3media: S3Media) -> None:
    doc = {
        "images": [
            {"id": 1, "file_name": "cat.png", "width": 40, "height": 30},
            {"id": 2, "file_name": "wide.png", "width": 300, "height": 100},
        ],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": 9, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 10]}],
    }
    c = s3media.client()
    form = {"format": "coco", "coco_as": "gold", "media_prefix": f"s3://{BUCKET}/photos/"}
    files = {"file": ("boxes.json", json.dumps(doc).encode())}
    r = c.post(f"/projects/{s3media.project}/imports", files=files, data=form)
    assert r.status_code == 201, r.text
    rec = s3media.record("1")
    assert rec["fields"]["photo"] == {"url": f"s3://{BUCKET}/photos/cat.png", "width": 40, "height": 30}
    assert c.get(f"/records/{rec['id']}/media/photo").content == png(40, 30)
    # a size the bucket's file does not have stops the import, naming the image's object
    doc["images"][1]["height"] = 101
    files = {"file": ("boxes.json", json.dumps(doc).encode())}
    bad = c.post(f"/projects/{s3media.project}/imports", files=files, data=form)
    assert bad.status_code == 422 and bad.json()["file"] == "boxes.json", bad.text
    assert "is 300×100 pixels" in bad.json()["detail"] and bad.json()["field"].endswith("height"), bad.text


def test_uploads_go_to_the_bucket_when_configured(s3media: S3Media) -> None:
    c = s3media.client()
    up = c.post(f"/projects/{s3media.project}/media", files={"file": ("../x/cat.PNG", png(12, 7))})
    assert up.status_code == 201, up.text
    saved = up.json()
    prefix = f"s3://{BUCKET}/photos/uploads/{s3media.project}/"
    assert saved["path"].startswith(prefix) and saved["path"].endswith(".png"), saved
    assert (saved["width"], saved["height"]) == (12, 7)
    fs = s3fs_for(s3media.endpoint)
    assert fs.cat_file(saved["path"].removeprefix("s3://")) == png(12, 7)
    again = c.post(f"/projects/{s3media.project}/media", files={"file": ("y.png", png(12, 7))})
    assert again.json()["path"] == saved["path"]  # stored once, by content
    clip = c.post(f"/projects/{s3media.project}/media", files={"file": ("purr.wav", wav(1.5))})
    assert clip.status_code == 201 and clip.json()["duration"] == 1.5, clip.text
    r = s3media.add([{"id": "up", "photo": {"url": saved["path"]}, "clip": clip.json()["path"]}])
    assert r.status_code == 201, r.text
    rec = s3media.record("up")
    assert rec["fields"]["photo"]["width"] == 12
    assert c.get(f"/records/{rec['id']}/media/photo").content == png(12, 7)
    bad = c.post(f"/projects/{s3media.project}/media", files={"file": ("x.png", b"not a png")})
    assert bad.status_code == 422
    assert len(fs.ls(prefix.removeprefix("s3://"))) == 2  # nothing of the refused one


def test_a_replaced_object_gets_a_new_thumbnail(s3media: S3Media) -> None:
    fs = s3fs_for(s3media.endpoint)
    fs.pipe(f"{BUCKET}/photos/changing.png", png(100, 50, (10, 200, 10)))
    assert s3media.add([{"id": "ch", "photo": f"s3://{BUCKET}/photos/changing.png"}]).status_code == 201
    rid = s3media.record("ch")["id"]
    c = s3media.client()
    first = c.get(f"/records/{rid}/thumbnail/photo").content
    assert c.get(f"/records/{rid}/thumbnail/photo").content == first  # from the cache
    fs.pipe(f"{BUCKET}/photos/changing.png", png(100, 50, (200, 10, 10)))  # same size, new content
    second = c.get(f"/records/{rid}/thumbnail/photo").content
    assert second != first
    with Image.open(io.BytesIO(second)) as im:
        assert im.convert("RGB").getpixel((50, 25))[0] > 150  # the new, red one
