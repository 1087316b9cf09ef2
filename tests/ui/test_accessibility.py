"""Accessibility: axe-core (from npm, in frontend/node_modules) runs on every page of the UI in
Chromium; no serious or critical violation is allowed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Server, login
from .test_dashboard_panels import answer_all

pytestmark = pytest.mark.browser

AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"


def _axe_source() -> str:
    if not AXE.exists():
        msg = f"{AXE} is missing: cd frontend && npm ci"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return Path(AXE).read_text(encoding="utf-8")


def violations(page: Any) -> list[str]:
    """Serious and critical axe violations of the page as it is now, one line each."""
    if not page.evaluate("() => !!window.axe"):
        # evaluated through the browser's debugging protocol: the page's CSP (no inline
        # scripts) stays on and is not weakened for the test
        page.evaluate(_axe_source() + "\n;void 0")
    found = page.evaluate(
        """async () => {
          const r = await axe.run(document, { resultTypes: ['violations'] });
          return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`);
        }"""
    )
    return list(found)


@pytest.fixture(scope="module")
def projects(server: Server) -> dict[str, Any]:
    ann = server.user("ann", "annotator")
    server.user("rev", "reviewer")
    server.user("boss", "manager")
    pref = server.project(
        {
            "name": "a11y-pref",
            "fields": [{"name": "prompt", "type": "text"}, {"name": "candidates", "type": "comparison"}],
            "questions": [
                {"name": "pref", "type": "preference", "field": "candidates", "strength": True},
                {"name": "helpful", "type": "rating", "scale": 5},
                {"name": "rationale", "type": "text", "required": False},
                {"name": "tags", "type": "multi_label", "options": ["long", "rude"], "required": False},
            ],
            "workflow": {"overlap": 1, "review_rate": 1.0},
        },
        [
            {
                "external_id": f"k{i}",
                "prompt": f"prompt {i}",
                "candidates": [{"model": "m1", "text": "one"}, {"model": "m2", "text": "two"}],
            }
            for i in range(3)
        ],
    )
    answer_all(
        server, ann["token"], pref["id"], lambda r: {"pref": {"choice": "A", "strength": 2}, "helpful": 3}
    )
    pref2 = server.project(
        {
            "name": "a11y-work",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [
                {"name": "topic", "type": "label", "options": ["billing", "shipping"]},
                {"name": "note", "type": "text", "required": False},
            ],
        },
        [{"external_id": "w1", "text": "Where is my parcel?"}],
    )
    return {"pref": pref, "work": pref2}


def test_login_page(browser: Any, server: Server) -> None:
    ctx = browser.new_context(base_url=server.url)
    page = ctx.new_page()
    page.goto("/")
    page.get_by_label("Name").wait_for()
    assert violations(page) == []
    # the check sees what it should: a planted image without a text alternative is critical
    page.evaluate(
        "() => { const i = document.createElement('img'); i.src = '/x.png'; document.body.append(i); }"
    )
    assert any("image-alt" in v for v in violations(page))
    ctx.close()


def test_every_page_signed_in(browser: Any, server: Server, projects: dict[str, Any]) -> None:
    found: dict[str, list[str]] = {}
    page = login(browser, server, "boss", viewport=(1280, 900))
    page.get_by_text("a11y-pref").first.wait_for()
    found["home"] = violations(page)
    page.goto(f"/#/p/{projects['work']['id']}/work")
    page.locator("[data-testid=record]").wait_for()
    found["workbench"] = violations(page)
    page.goto(f"/#/p/{projects['pref']['id']}/dashboard")
    tabs = page.get_by_role("tab")
    page.get_by_role("tab", name="Leaderboard").wait_for()
    # Count the page's requests in flight, so that each tab is checked once its data has arrived.
    page.evaluate(
        """() => { window.__inflight = 0; const f = window.fetch;
        window.fetch = (...a) => { window.__inflight++; return f(...a).finally(() => window.__inflight--); }; }"""
    )
    for name in tabs.all_inner_texts():
        tab = page.get_by_role("tab", name=name)
        tab.click()
        page.locator(f"#{tab.get_attribute('aria-controls')}").wait_for()
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.wait_for_function("() => window.__inflight === 0")
        found[f"dashboard/{name}"] = violations(page)
    page.context.close()
    page = login(browser, server, "rev", viewport=(1280, 900))
    page.goto(f"/#/p/{projects['pref']['id']}/review")
    page.get_by_test_id("review-item").wait_for()
    found["review"] = violations(page)
    page.keyboard.press("c")
    page.get_by_test_id("correct-form").wait_for()
    found["review/correct"] = violations(page)
    page.context.close()
    assert {k: v for k, v in found.items() if v} == {}
