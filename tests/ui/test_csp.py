"""The UI under its Content-Security-Policy in a real Chromium: it works, and the policy holds.

Every browser test that signs in also fails on any CSP violation (``tests/ui/conftest.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from assay.api.headers import UI_POLICY

from .conftest import CSP_VIOLATIONS, Server, login, png_data_url

pytestmark = pytest.mark.browser


def test_the_ui_works_within_its_policy_and_refuses_the_rest(browser: Any, server: Server) -> None:
    server.user("csp-boss", "manager")
    p = server.project(
        {
            "name": "csp",
            "fields": [{"name": "photo", "type": "image"}, {"name": "notes", "type": "markdown"}],
            "questions": [{"name": "ok", "type": "label", "options": ["yes", "no"]}],
            "guidelines": "Look at the **photo**.",
        },
        [
            {"external_id": f"c{i}", "photo": {"url": png_data_url(32, 24)}, "notes": "# Notes\n\n*fine*"}
            for i in range(2)
        ],
    )
    page = login(browser, server, "csp-boss")
    page.goto(f"/#/p/{p['id']}/dashboard")
    document = page.reload()  # (a change of #fragment alone loads nothing)
    assert document is not None and document.headers["content-security-policy"] == UI_POLICY
    assert document.headers["x-frame-options"] == "DENY"
    page.get_by_test_id("who").wait_for(state="attached")
    page.goto(f"/#/p/{p['id']}/work")
    page.locator("[data-testid=record]").wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('img'); return i && i.naturalWidth > 0; }"
    )
    page.keyboard.press("1")
    rid = page.locator("[data-testid=record]").get_attribute("data-record-id")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "rid => { const r = document.querySelector('[data-testid=record]'); return !r || r.dataset.recordId !== rid; }",
        arg=rid,
    )
    assert [r["values"] for r in server.responses(p["id"])] == [{"ok": "yes"}]
    assert not CSP_VIOLATIONS  # everything above ran within the policy

    # An inline script (as an injection would add) is refused, and reported.
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
            " document.body.appendChild(s); }"
        )
    assert page.evaluate("window.__ran") is None
    CSP_VIOLATIONS.clear()  # (that one was the point)

    # Another site cannot show assay in a frame.
    other = page.context.new_page()
    with other.expect_console_message(lambda m: "frame-ancestors" in m.text):
        other.set_content(f'<iframe src="{server.url}/"></iframe>')
    assert other.frames[-1].evaluate("document.body === null || !document.querySelector('#app')")
    page.context.close()
