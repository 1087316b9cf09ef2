"""A local image (a path under the data directory's media folder) shows in the workbench, under
the UI's Content-Security-Policy, and a box drawn on it is stored in the image's pixels."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from .conftest import CSP_VIOLATIONS, Server, login

pytestmark = pytest.mark.browser


def test_a_local_image_renders_and_takes_a_box(browser: Any, server: Server) -> None:
    (server.home / "media").mkdir(exist_ok=True)
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (20, 120, 200)).save(buf, "JPEG")
    (server.home / "media" / "street.jpg").write_bytes(buf.getvalue())
    server.user("media-boss", "manager")
    p = server.project(
        {
            "name": "local-media",
            "fields": [{"name": "photo", "type": "image"}],
            "questions": [{"name": "boxes", "type": "bbox", "field": "photo", "labels": ["car"]}],
        },
        [{"external_id": "m1", "photo": {"url": "media/street.jpg", "width": 320, "height": 240}}],
    )
    page = login(browser, server, "media-boss")
    page.goto(f"/#/p/{p['id']}/work")
    page.locator("[data-testid=record]").wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('.imgwrap img'); return i && i.complete && i.naturalWidth > 0; }"
    )
    size = page.evaluate(
        "() => { const i = document.querySelector('.imgwrap img'); return [i.naturalWidth, i.naturalHeight, i.getAttribute('src')]; }"
    )
    assert size[:2] == [320, 240]
    assert "/api/v1/records/" in size[2] and size[2].endswith("/media/photo")
    box = page.get_by_test_id("image-overlay").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.75, steps=5)
    page.mouse.up()
    rid = page.locator("[data-testid=record]").get_attribute("data-record-id")
    page.locator("[data-testid=region-boxes]").wait_for()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "rid => { const r = document.querySelector('[data-testid=record]'); return !r || r.dataset.recordId !== rid; }",
        arg=rid,
    )
    [answer] = server.responses(p["id"])
    [drawn] = answer["values"]["boxes"]
    assert drawn["label"] == "car"
    assert abs(drawn["x"] - 80) <= 3 and abs(drawn["y"] - 60) <= 3  # the image's own pixels
    assert abs(drawn["w"] - 160) <= 4 and abs(drawn["h"] - 120) <= 4
    assert not CSP_VIOLATIONS


def test_a_local_audio_file_loads_and_seeks(browser: Any, server: Server) -> None:
    import wave

    (server.home / "media").mkdir(exist_ok=True)
    with wave.open(str(server.home / "media" / "tone.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x20" * 8000 * 3)  # 3 seconds
    server.user("audio-boss", "manager")
    p = server.project(
        {
            "name": "local-audio",
            "fields": [{"name": "call", "type": "audio"}],
            "questions": [{"name": "parts", "type": "segment", "field": "call", "labels": ["speech"]}],
        },
        [{"external_id": "a1", "call": "media/tone.wav"}],
    )
    page = login(browser, server, "audio-boss")
    page.goto(f"/#/p/{p['id']}/work")
    page.locator("[data-testid=record]").wait_for()
    page.wait_for_function(
        "() => { const a = document.querySelector('audio'); return a && a.readyState >= 1; }"
    )
    assert abs(page.evaluate("document.querySelector('audio').duration") - 3.0) < 0.05
    assert page.evaluate("document.querySelector('audio').getAttribute('src')").endswith("/media/call")
    page.evaluate("document.querySelector('audio').currentTime = 2.5")
    page.wait_for_function("() => document.querySelector('audio').seekable.end(0) >= 2.9")
    assert not CSP_VIOLATIONS
