"""The annotator's workbench in a real browser against a real `assay serve`."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Server, login, png_data_url, shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def setup(server: Server) -> dict[str, Any]:
    server.user("ann", "annotator")
    server.user("rev", "reviewer")
    server.user("boss", "manager")
    cls = server.project(
        {
            "name": "sentiment",
            "fields": [{"name": "review", "type": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "options": ["positive", "negative", "mixed"]}],
            "workflow": {"overlap": 1, "review_rate": 1.0},
            "guidelines": "Label the **overall** sentiment.",
        },
        [{"external_id": f"r{i}", "review": f"Review number {i}: it was {'great' if i % 2 else 'bad'}."} for i in range(10)],
    )
    return {"cls": cls}


def test_sign_in_page_is_what_a_visitor_sees(browser: Any, server: Server) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=server.url)
    page = ctx.new_page()
    page.goto("/")
    page.get_by_role("heading", name="Sign in to assay").wait_for()
    shot(page, "01-sign-in")
    ctx.close()


def test_label_ten_records_with_the_keyboard(browser: Any, server: Server, setup: dict[str, Any]) -> None:
    page = login(browser, server, "ann")
    shot(page, "02-home")
    page.get_by_role("link", name="sentiment").first.click()
    chosen = []
    for i in range(10):
        rec = page.locator("[data-testid=record]")
        rec.wait_for()
        rid = rec.get_attribute("data-record-id")
        key = "1" if i % 3 else "2"
        page.keyboard.press(key)
        if i == 0:
            shot(page, "03-workbench-label")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "rid => { const r = document.querySelector('[data-testid=record]'); return !r || r.dataset.recordId !== rid; }",
            arg=rid,
        )
        chosen.append((rid, "positive" if key == "1" else "negative"))
    page.get_by_test_id("all-done").wait_for()
    got = {str(r["record_id"]): r["values"]["sentiment"] for r in server.responses(setup["cls"]["id"])}
    assert got == {rid: v for rid, v in chosen}
    page.context.close()
