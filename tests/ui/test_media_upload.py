"""Uploading media from the dashboard: a manager picks image files, the browser sends them to
POST /projects/{id}/media, the server stores them by content, and "Add as record" makes a record
of each that the records browser shows by its thumbnail (made by the server from the stored file)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from .conftest import CSP_VIOLATIONS, Server, login, png_data_url, shot

pytestmark = pytest.mark.browser


def _jpeg(w: int, h: int, color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "JPEG")
    return buf.getvalue()


def test_media_uploaded_in_the_dashboard_become_records_with_thumbnails(browser: Any, server: Server) -> None:
    server.user("upload-boss", "manager")
    p = server.project(
        {
            "name": "uploads",
            "fields": [{"name": "photo", "type": "image"}],
            "questions": [{"name": "boxes", "type": "bbox", "field": "photo", "labels": ["car"]}],
        },
        [{"external_id": "seed", "photo": png_data_url(8, 8)}],
    )
    red, blue = _jpeg(320, 200, (220, 20, 20)), _jpeg(64, 48, (20, 20, 220))
    page = login(browser, server, "upload-boss")
    page.goto(f"/#/p/{p['id']}/dashboard")
    page.get_by_role("tab", name="Import / export").click()
    page.get_by_test_id("media-files").set_input_files(
        [
            {"name": "red.jpg", "mimeType": "image/jpeg", "buffer": red},
            {"name": "blue.jpg", "mimeType": "image/jpeg", "buffer": blue},
        ]
    )
    page.get_by_role("button", name="Upload media").click()
    listed = page.get_by_test_id("uploaded-media").locator("li")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=uploaded-media] li').length === 2"
        " && !document.querySelector('[role=progressbar]')"
    )
    paths = [listed.nth(i).get_attribute("data-path") for i in range(2)]
    assert all(path and path.startswith(f"media/uploads/{p['id']}/") for path in paths)
    assert (server.home / str(paths[0])).read_bytes() == red  # stored as sent
    assert "320×200" in listed.nth(0).inner_text()
    listed.nth(0).get_by_role("button", name="Add as record").click()
    page.get_by_test_id("media-added").wait_for()
    listed.nth(1).get_by_role("button", name="Add as record").click()
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=media-added]')?.textContent ?? '').includes('blue.jpg')"
    )
    shot(page, "media-upload")
    items = server.api.get(f"/projects/{p['id']}/records", params={"limit": 100}).json()["items"]
    by_url = {r["fields"]["photo"]["url"]: r for r in items if isinstance(r["fields"]["photo"], dict)}
    assert by_url[paths[0]]["fields"]["photo"] == {"url": paths[0], "width": 320, "height": 200}
    assert by_url[paths[1]]["fields"]["photo"]["width"] == 64
    # the records browser shows each record's thumbnail, made by the server from the stored file
    page.get_by_role("tab", name="Records").click()
    page.wait_for_function(
        """() => { const imgs = [...document.querySelectorAll('[data-testid=record-thumb]')];
                   return imgs.length === 3 && imgs.every((i) => i.complete && i.naturalWidth > 0); }"""
    )
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=record-thumb]')].map((i) => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight])"
    )
    shot(page, "records-thumbnails")
    served = sorted((w, h) for src, w, h in sizes if "/thumbnail/photo" in src)
    assert served == [(64, 48), (256, 160)]  # the big one scaled to 256 on its longer side
    assert not CSP_VIOLATIONS
