"""Record content in Arabic or Hebrew reads right to left inside an English UI: every piece of
record content carries dir="auto" (DESIGN.md; issue 24, UI languages)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Server, login
from .test_workbench import _open

pytestmark = pytest.mark.browser


def test_record_content_takes_its_own_direction(browser: Any, server: Server) -> None:
    server.user("nur", "annotator")
    p = server.project(
        {
            "name": "directions",
            "fields": [
                {"name": "ar", "type": "text"},
                {"name": "en", "type": "text"},
                {"name": "chat", "type": "chat"},
            ],
            "questions": [
                {"name": "ok", "type": "label", "options": ["yes", "no"]},
                {"name": "note", "type": "text", "required": False},
            ],
        },
        [
            {
                "external_id": "d1",
                "ar": "وصل المبلغ المسترد، شكرا",
                "en": "The refund arrived, thanks",
                "chat": [{"role": "user", "content": "שלום, איפה החבילה שלי?"}],
            }
        ],
    )
    page = login(browser, server, "nur")
    _open(page, p)
    dirs = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=record] [dir=auto]')]
             .map(e => [e.textContent.trim().slice(0, 6), getComputedStyle(e).direction])"""
    )
    by_start = {text: d for text, d in dirs}
    assert by_start["وصل ال"] == "rtl" and by_start["The re"] == "ltr" and by_start["שלום, "] == "rtl"
    assert page.evaluate("() => getComputedStyle(document.body).direction") == "ltr"  # the UI stays English
    box = page.locator("#q-note-in")
    assert box.get_attribute("dir") == "auto"
    page.context.close()
