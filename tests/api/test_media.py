"""Local media over HTTP: a record's image/audio/video file is served from the media roots only
(with its content type and byte ranges), and an import refuses a missing file, a path outside the
roots and a declared image size the file does not have, naming line and field."""

from __future__ import annotations

import io
import json
import os
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from assay.services import imports
from assay.services.actors import SYSTEM
from assay.settings import Settings
from tests.api.conftest import Live, running
from tests.factories import make_project, make_user

SCHEMA = {
    "name": "photos",
    "fields": [
        {"name": "photo", "type": "image"},
        {"name": "clip", "type": "audio", "required": False},
        {"name": "note", "type": "text", "required": False},
    ],
    "questions": [{"name": "boxes", "type": "bbox", "field": "photo", "labels": ["cat"]}],
}


def png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def wav(seconds: float) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * int(8000 * seconds))
    return buf.getvalue()


@dataclass
class Media:
    live: Live
    home: Path
    extra: Path
    outside: Path
    project: int
    token: str

    def get(self, record: int, field: str, **kw: Any) -> Any:
        return self.live.client(self.token).get(f"/records/{record}/media/{field}", **kw)

    def add(self, rows: list[dict[str, Any]]) -> Any:
        return self.live.client(self.token).post(f"/projects/{self.project}/records", json=rows)

    def record(self, external_id: str) -> int:
        r = self.live.client(self.token).get(f"/projects/{self.project}/records", params={"limit": 1000})
        [found] = [x for x in r.json()["items"] if x["external_id"] == external_id]
        return int(found["id"])


@pytest.fixture
def media(db_url: str, tmp_path: Path) -> Iterator[Media]:
    home, extra, outside = tmp_path / "home", tmp_path / "bucket", tmp_path / "elsewhere"
    for d in (home / "media", extra / "frames", outside):
        d.mkdir(parents=True)
    (home / "media" / "cat.png").write_bytes(png(40, 30))
    (home / "media" / "purr.wav").write_bytes(wav(1.0))
    (extra / "frames" / "0001.png").write_bytes(png(16, 9))
    (outside / "secret.png").write_bytes(png(8, 8))
    settings = Settings(home=home, database_url=db_url, media_roots=(str(extra),))
    with running(db_url, settings) as live:
        p = make_project(live.store, SCHEMA)
        _, token = make_user(live.store, "boss", role="manager")
        yield Media(live, home, extra, outside, int(p["id"]), token)


def test_a_records_local_media_is_served_with_type_and_ranges(media: Media) -> None:
    r = media.add(
        [
            {
                "id": "a",
                "photo": {"url": "media/cat.png", "width": 40, "height": 30},
                "clip": "media/purr.wav",
            },
            {"id": "b", "photo": str(media.extra / "frames" / "0001.png")},  # absolute, under a root
            {"id": "c", "photo": "frames/0001.png"},  # relative to a configured root
        ]
    )
    assert r.status_code == 201, r.text
    a = media.record("a")
    got = media.get(a, "photo")
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/png"
    assert got.content == (media.home / "media" / "cat.png").read_bytes()
    assert "max-age" in got.headers["cache-control"]
    whole = (media.home / "media" / "purr.wav").read_bytes()
    part = media.get(a, "clip", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-type"] == "audio/x-wav" or part.headers["content-type"].startswith("audio/")
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    assert part.content == whole[100:200]
    for ext in ("b", "c"):
        assert (
            media.get(media.record(ext), "photo").content
            == (media.extra / "frames" / "0001.png").read_bytes()
        )
    assert media.get(a, "note").status_code == 422  # not a media field
    anonymous = media.live.client().get(f"/records/{a}/media/photo")
    assert anonymous.status_code == 401
    outsider = media.live.client(make_user(media.live.store, "worker", role="annotator")[1])
    assert outsider.get(f"/records/{a}/media/photo").status_code == 404  # no lease on it


def test_an_import_names_a_missing_file_an_outside_path_and_a_wrong_size(media: Media) -> None:
    ok = {"id": "ok", "photo": "media/cat.png"}
    cases = [
        ({"id": "x", "photo": "media/dog.png"}, "photo", "no media file media/dog.png"),
        (
            {"id": "x", "photo": {"url": "media/../../elsewhere/secret.png"}},
            "photo.url",
            "outside the media roots",
        ),
        ({"id": "x", "photo": str(media.outside / "secret.png")}, "photo", "outside the media roots"),
        ({"id": "x", "photo": "file:///etc/passwd"}, "photo", "file:// URLs are refused"),
        (
            {"id": "x", "photo": {"url": "media/cat.png", "width": 41, "height": 30}},
            "photo.width",
            "is 40×30",
        ),
    ]
    for row, field, message in cases:
        r = media.add([ok, row])
        assert r.status_code == 422, (row, r.text)
        body = r.json()
        assert (body["line"], body["field"]) == (2, field), body
        assert message in body["detail"] or message in str(body), body
    (media.home / "media" / "link.png").symlink_to(media.outside / "secret.png")
    r = media.add([{"id": "l", "photo": "media/link.png"}])  # a link out of the roots
    assert r.status_code == 422 and "outside the media roots" in r.text
    r = media.live.client(media.token).get(f"/projects/{media.project}/records")
    assert r.json()["items"] == []  # all or nothing


def test_a_path_out_of_the_roots_is_never_served(media: Media) -> None:
    # Records that point out of the roots (written without the import's check, or a file
    # replaced by a link afterwards) are refused when served.
    (media.home / "media" / "later.png").write_bytes(png(4, 4))
    assert media.add([{"id": "later", "photo": "media/later.png"}]).status_code == 201
    rows = [
        {"id": "up", "photo": "media/../../elsewhere/secret.png"},
        {"id": "abs", "photo": str(media.outside / "secret.png")},
        {"id": "db", "photo": "assay.db"},  # the data directory itself is not a media root
        {"id": "gone", "photo": "media/nothing.png"},
    ]
    (media.home / "assay.db").write_bytes(b"SQLite format 3\x00")
    imports.import_rows(media.live.store, SYSTEM, media.project, enumerate(rows, 1))
    assert media.get(media.record("up"), "photo").status_code == 403
    assert media.get(media.record("abs"), "photo").status_code == 403
    assert media.get(media.record("gone"), "photo").status_code == 404
    assert media.get(media.record("db"), "photo").status_code == 403
    later = media.home / "media" / "later.png"
    later.unlink()
    os.symlink(media.outside / "secret.png", later)
    assert media.get(media.record("later"), "photo").status_code == 403


def test_an_uploaded_file_is_stored_by_its_content_and_served(media: Media) -> None:
    c = media.live.client(media.token)
    up = c.post(f"/projects/{media.project}/media", files={"file": ("../../evil name.PNG", png(12, 7))})
    assert up.status_code == 201, up.text
    saved = up.json()
    assert saved["path"].startswith(f"media/uploads/{media.project}/") and saved["path"].endswith(".png")
    assert ".." not in saved["path"] and "evil" not in saved["path"]
    assert (saved["width"], saved["height"], saved["content_type"]) == (12, 7, "image/png")
    again = c.post(f"/projects/{media.project}/media", files={"file": ("other.png", png(12, 7))})
    assert again.json()["path"] == saved["path"]  # the same bytes are stored once
    r = media.add([{"id": "u", "photo": {"url": saved["path"], "width": 12, "height": 7}}])
    assert r.status_code == 201, r.text
    assert media.get(media.record("u"), "photo").content == png(12, 7)
    bad = c.post(f"/projects/{media.project}/media", files={"file": ("notes.html", b"<script>")})
    assert bad.status_code == 422 and "not an image, audio or video" in bad.text
    fake = c.post(f"/projects/{media.project}/media", files={"file": ("x.png", b"not a png")})
    assert fake.status_code == 422 and "not an image" in fake.text
    assert sorted(p.name for p in (media.home / "media" / "uploads" / str(media.project)).iterdir()) == [
        Path(saved["path"]).name
    ]  # nothing left of the refused ones
    worker = media.live.client(make_user(media.live.store, "up-worker", role="annotator")[1])
    assert (
        worker.post(f"/projects/{media.project}/media", files={"file": ("a.png", png(2, 2))}).status_code
        == 403
    )


def test_coco_comes_in_over_http_with_its_images_checked(media: Media) -> None:
    doc = {
        "images": [{"id": 5, "file_name": "cat.png", "width": 40, "height": 30}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": 9, "image_id": 5, "category_id": 1, "bbox": [1, 2, 10, 10]}],
    }
    c = media.live.client(media.token)
    files = {"file": ("boxes.json", json.dumps(doc).encode())}
    form = {"format": "coco", "coco_as": "gold", "media_prefix": "media/"}
    r = c.post(f"/projects/{media.project}/imports", files=files, data=form)
    assert r.status_code == 201, r.text
    rec = c.get(f"/records/{media.record('5')}").json()
    assert rec["gold"]["boxes"][0]["id"] == 9 and rec["fields"]["photo"]["url"] == "media/cat.png"
    r = c.post(f"/projects/{media.project}/imports", files=files, data=form | {"media_prefix": "nope/"})
    assert (
        r.status_code == 422 and r.json()["file"] == "boxes.json" and "no media file nope/cat.png" in r.text
    )
    exported = c.get(f"/projects/{media.project}/export", params={"format": "coco"})
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/json"
    gold = c.get(f"/projects/{media.project}/export", params={"format": "coco", "coco_from": "gold"}).json()
    assert [(a["id"], a["bbox"]) for a in gold["annotations"]] == [(9, [1, 2, 10, 10])]
    yolo = c.post(f"/projects/{media.project}/imports", files=files, data={"format": "yolo"})
    assert yolo.status_code == 422 and "folder" in yolo.text


def test_local_audio_and_video_are_probed_and_thumbnails_cached(media: Media) -> None:
    r = media.add(
        [
            {"id": "v", "photo": {"url": "media/cat.png"}, "clip": {"url": "media/purr.wav"}},
            {"id": "s", "photo": "media/cat.png"},  # a plain path stays a plain path
        ]
    )
    assert r.status_code == 201, r.text
    c = media.live.client(media.token)
    v = c.get(f"/records/{media.record('v')}").json()
    assert v["fields"]["photo"] == {"url": "media/cat.png", "width": 40, "height": 30}
    assert v["fields"]["clip"] == {"url": "media/purr.wav", "duration": 1.0}
    assert c.get(f"/records/{media.record('s')}").json()["fields"]["photo"] == "media/cat.png"
    bad = media.add(
        [
            {"id": "ok", "photo": "media/cat.png"},
            {"id": "w", "photo": "media/cat.png", "clip": {"url": "media/purr.wav", "duration": 2}},
        ]
    )
    assert bad.status_code == 422 and (bad.json()["line"], bad.json()["field"]) == (2, "clip.duration")
    assert "declares 2 s but media/purr.wav lasts 1 s" in bad.json()["detail"]
    got = c.get(f"/records/{media.record('v')}/thumbnail/photo")
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    cached = list((media.home / "cache" / "thumbnails").rglob("*.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == got.content
    assert c.get(f"/records/{media.record('v')}/thumbnail/photo").content == got.content
    assert len(list((media.home / "cache" / "thumbnails").rglob("*.jpg"))) == 1  # made once


def test_the_thumbnails_job_makes_them_ahead_and_names_what_it_cannot(
    media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.services import jobs

    monkeypatch.setenv("ASSAY_HOME", str(media.home))
    monkeypatch.setenv("ASSAY_MEDIA_ROOTS", str(media.extra))
    rows = [
        {"id": "a", "photo": "media/cat.png"},
        {"id": "b", "photo": {"url": "frames/0001.png"}},
        {"id": "web", "photo": "https://example.org/a.png"},  # the browser's to load: skipped
        {"id": "gone", "photo": "media/nothing.png"},  # written without the import's check
    ]
    imports.import_rows(media.live.store, SYSTEM, media.project, enumerate(rows, 1))
    job = jobs.enqueue(media.live.store, SYSTEM, media.project, "thumbnails", submit=False)
    assert jobs.run_job(media.live.store, job["id"]) == "succeeded"
    got = jobs.get_job(media.live.store, SYSTEM, job["id"])
    assert got["result"] == {"thumbnails": 2}
    assert (got["done"], got["failed"]) == (3, 1)
    assert any("field photo: no media file media/nothing.png" in e for e in got["item_errors"]), got
    assert len(list((media.home / "cache" / "thumbnails").rglob("*.jpg"))) == 2
    # the route then answers from the cache
    thumb = media.live.client(media.token).get(f"/records/{media.record('b')}/thumbnail/photo")
    assert thumb.status_code == 200
    assert len(list((media.home / "cache" / "thumbnails").rglob("*.jpg"))) == 2
