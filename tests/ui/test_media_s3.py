"""Bucket media in the browser: an image and a video in S3 (moto's S3 server on 127.0.0.1, the
server configured with ASSAY_MEDIA_BUCKETS and ASSAY_S3_ENDPOINT_URL) show in the workbench
through the server's media route, the video seekable (byte ranges through the proxy)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.mediafiles import jpeg, webm
from tests.s3 import CREDENTIALS, s3fs_for

from .conftest import CSP_VIOLATIONS, Server, login

pytestmark = pytest.mark.browser
BUCKET = "ui-media"


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory, browser: Any, s3_endpoint: str) -> Iterator[Server]:
    fs = s3fs_for(s3_endpoint)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    fs.pipe({f"{BUCKET}/street.jpg": jpeg(320, 240), f"{BUCKET}/walk.webm": webm(2.0, 64, 48)})
    env = {**CREDENTIALS, "ASSAY_MEDIA_BUCKETS": f"s3://{BUCKET}", "ASSAY_S3_ENDPOINT_URL": s3_endpoint}
    s = Server(tmp_path_factory.mktemp("assay-ui-s3"), env=env)
    yield s
    s.stop()


def test_bucket_media_show_in_the_workbench_through_the_server(browser: Any, s3_server: Server) -> None:
    server = s3_server
    server.user("bucket-boss", "manager")
    p = server.project(
        {
            "name": "bucket-media",
            "fields": [{"name": "photo", "type": "image"}, {"name": "film", "type": "video"}],
            "questions": [{"name": "parts", "type": "segment", "field": "film", "labels": ["walk"]}],
        },
        [
            {
                "external_id": "b1",
                "photo": {"url": f"s3://{BUCKET}/street.jpg"},
                "film": f"s3://{BUCKET}/walk.webm",
            }
        ],
    )
    page = login(browser, server, "bucket-boss")
    page.goto(f"/#/p/{p['id']}/work")
    page.locator("[data-testid=record]").wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('.imgwrap img'); return i && i.complete && i.naturalWidth > 0; }"
    )
    img = page.evaluate(
        "() => { const i = document.querySelector('.imgwrap img'); return [i.naturalWidth, i.naturalHeight, i.getAttribute('src')]; }"
    )
    assert img[:2] == [320, 240] and img[2].endswith("/media/photo")
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && v.readyState >= 1; }"
    )
    video = page.evaluate(
        "() => { const v = document.querySelector('video'); return [v.duration, v.videoWidth, v.getAttribute('src')]; }"
    )
    assert abs(video[0] - 2.0) < 0.1 and video[1] == 64 and video[2].endswith("/media/film")
    page.evaluate("document.querySelector('video').currentTime = 1.5")
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); return !v.seeking && v.currentTime >= 1.4"
        " && v.seekable.length > 0 && v.seekable.end(0) >= 1.9; }"
    )
    assert not CSP_VIOLATIONS
