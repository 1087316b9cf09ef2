"""Span and segment questions in a real browser: highlights in every script, code-point offsets,
and required questions that refuse an empty answer."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from .conftest import Server, login, shot

pytestmark = pytest.mark.browser

# text -> the words to mark in it (as PER); Latin, Arabic, Hebrew, CJK (with a character beyond
# the BMP, two UTF-16 units), and emoji before the entity.
TEXTS = {
    "Ada Lovelace worked with Babbage.": "Ada Lovelace",
    "التقى أحمد بسارة في القاهرة.": "أحمد",
    "דוד פגש את שרה בירושלים.": "שרה",
    "𠮷野家で山田太郎に会った。": "山田太郎",
    "👋🏽 hi 😀 Grace Hopper wrote COBOL.": "Grace Hopper",
}


def _select_and_mark(page: Any, word: str) -> None:
    """Select ``word`` in the span text with a DOM range (UTF-16 offsets), then press 1.

    The page hears of a selection through ``selectionchange``, an event queued after the range
    changes; the key is pressed once that event has been delivered (the page's own listener,
    added earlier, has run by then), never after a guessed delay."""
    page.evaluate(
        """word => new Promise(done => {
        const el = document.querySelector('[data-testid=span-text] [data-off]');
        const node = el.firstChild; const i = node.data.indexOf(word);
        const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + word.length);
        const s = getSelection();
        s.removeAllRanges();
        const heard = () => { if (!s.isCollapsed) { document.removeEventListener('selectionchange', heard); done(); } };
        document.addEventListener('selectionchange', heard);
        s.addRange(r); })""",
        word,
    )
    page.keyboard.press("1")


def _submit(page: Any) -> None:
    rid = page.locator("[data-testid=record]").get_attribute("data-record-id")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "rid => { const r = document.querySelector('[data-testid=record]'); return !r || r.dataset.recordId !== rid; }",
        arg=rid,
    )


def test_span_highlight_is_visible_in_every_script_and_offsets_are_code_points(
    browser: Any, server: Server
) -> None:
    server.user("spanner", "annotator")
    p = server.project(
        {
            "name": "ner-scripts",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "entities", "type": "span", "field": "text", "labels": ["PER", "LOC"]}],
            "workflow": {"overlap": 1},
        },
        [{"external_id": f"s{i}", "text": t} for i, t in enumerate(TEXTS)],
    )
    page = login(browser, server, "spanner")
    page.goto(f"/#/p/{p['id']}/work")
    seen: dict[str, str] = {}
    for n in range(len(TEXTS)):
        page.locator("[data-testid=span-text]").wait_for()
        text = page.locator("[data-testid=span-text]").text_content()
        word = TEXTS[text]
        _select_and_mark(page, word)
        hl = page.locator('[data-testid=span-text] [data-labels="PER"]')
        hl.wait_for()
        # The highlight covers the word: as wide as its text, in the flow of the line.
        assert hl.text_content() == word
        box = hl.bounding_box()
        assert box is not None and box["width"] >= 10 and box["height"] >= 8, (text, box)
        assert hl.evaluate("e => getComputedStyle(e).position") == "static"
        assert hl.evaluate("e => getComputedStyle(e).backgroundColor") not in (
            "rgba(0, 0, 0, 0)",
            "transparent",
        )
        # The chip that lists the span shows the same word.
        assert page.get_by_role("button", name=f"Remove PER “{word}”").count() == 1
        # The question card lists it with its offsets in code points.
        start = text.index(word)
        region = page.locator("[data-testid=region-entities]").text_content()
        assert f"“{word}” [{start}–{start + len(word)}]" in region, region
        shot(page, f"08-span-script-{n}")
        rid = page.locator("[data-testid=record]").get_attribute("data-record-id")
        seen[str(rid)] = text
        _submit(page)
    page.context.close()
    got = {str(r["record_id"]): r["values"]["entities"] for r in server.responses(p["id"])}
    assert set(got) == set(seen)
    for rid, text in seen.items():
        word = TEXTS[text]
        start = text.index(word)  # Python counts code points
        assert got[rid] == [{"start": start, "end": start + len(word), "label": "PER"}], text
        assert text[got[rid][0]["start"] : got[rid][0]["end"]] == word


def _wav(seconds: float = 1.0, rate: int = 8000) -> str:
    n = int(seconds * rate)
    data = b"\x00\x00" * n
    head = (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    )
    return (
        "data:audio/wav;base64,"
        + base64.b64encode(head + b"data" + struct.pack("<I", len(data)) + data).decode()
    )


@pytest.mark.parametrize("kind", ["span", "segment"])
def test_required_span_and_segment_refuse_an_empty_answer(browser: Any, server: Server, kind: str) -> None:
    user = f"empty-{kind}"
    server.user(user, "annotator")
    if kind == "span":
        field = {"name": "text", "type": "text"}
        record = {"external_id": "e1", "text": "Nothing to see here."}
    else:
        field = {"name": "text", "type": "audio"}
        record = {"external_id": "e1", "text": {"url": _wav(), "duration": 1.0}}
    p = server.project(
        {
            "name": f"required-{kind}",
            "fields": [field],
            "questions": [{"name": "marks", "type": kind, "field": "text", "labels": ["A", "B"]}],
            "workflow": {"overlap": 1},
        },
        [record],
    )
    page = login(browser, server, user)
    page.goto(f"/#/p/{p['id']}/work")
    page.locator("[data-testid=record]").wait_for()
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Please answer" in alert.text_content() and "marks" in alert.text_content()
    assert page.locator("[data-testid=record]").count() == 1
    page.context.close()
    assert server.responses(p["id"]) == []
