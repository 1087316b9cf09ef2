"""The dashboard's Jobs panel in a real browser against a real `assay serve` (SQLite: the server
runs the jobs itself): start a consensus recompute, watch it succeed; a job with failed items shows
them; a pre-labeling job queued over the API shows its progress and cost."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Server, login, shot

pytestmark = pytest.mark.browser


def test_jobs_panel(browser: Any, server: Server) -> None:
    server.user("jobboss", "manager")
    p = server.project(
        {
            "name": "jobs-demo",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "options": ["positive", "negative"]}],
        },
        [{"external_id": f"r{i}", "text": f"this is {'great' if i % 2 else 'bad'} {i}"} for i in range(12)],
    )
    rules = {
        "type": "rules",
        "name": "keywords",
        "rules": [{"question": "sentiment", "field": "text", "pattern": r"\bgreat\b", "value": "positive"}],
    }
    r = server.api.post(
        f"/projects/{p['id']}/jobs", json={"kind": "prelabel", "params": {"connector": rules}}
    )
    assert r.status_code == 201, r.text

    page = login(browser, server, "jobboss", viewport=(1280, 800))
    page.goto(f"/#/p/{p['id']}/dashboard")
    # The tab list grows once the project has loaded (a manager's Versions tab comes before Jobs):
    # click only then, or the click lands on the tab that moved into Jobs' place.
    page.get_by_role("heading", name="Dashboard · jobs-demo").wait_for()
    page.get_by_role("tab", name="Jobs").click()
    panel = page.locator("[data-testid=jobs-panel]")
    panel.locator("[data-testid=job-row][data-state=succeeded]").first.wait_for()
    first = panel.locator("[data-testid=job-row]").last  # oldest last: the pre-labeling job
    assert "prelabel" in first.inner_text()
    assert "12 / 12" in first.inner_text() and "failed" not in first.inner_text()  # 'bad': no rule holds
    panel.get_by_role("button", name="Recompute consensus").click()
    panel.locator("[data-testid=job-row]").nth(1).wait_for()
    newest = panel.locator("[data-testid=job-row]").first
    newest.and_(page.locator("[data-state=succeeded]")).wait_for()
    assert "consensus" in newest.inner_text() and "1 / 1" in newest.inner_text()
    panel.get_by_role("button", name="Export (JSONL)").click()
    link = panel.get_by_role("link", name="Download")
    link.wait_for()
    assert link.get_attribute("href").endswith("/file")
    # any kind, parameters as JSON: a rule grader for the other word
    form = panel.get_by_role("form", name="Start a job")
    form.get_by_label("Kind").select_option("prelabel")
    other = {
        "connector": {
            "type": "rules",
            "name": "bad-words",
            "rules": [{"question": "sentiment", "field": "text", "pattern": r"\bbad\b", "value": "negative"}],
        }
    }
    form.get_by_label("Parameters (JSON)").fill(json.dumps(other))
    form.get_by_role("button", name="Start").click()
    panel.locator("[data-testid=job-row]").nth(3).wait_for()
    panel.locator("[data-testid=job-row]").first.and_(page.locator("[data-state=succeeded]")).wait_for()
    assert "12 / 12" in panel.locator("[data-testid=job-row]").first.inner_text()
    form.get_by_label("Parameters (JSON)").fill("{not json")
    form.get_by_role("button", name="Start").click()
    panel.get_by_role("alert").wait_for()
    assert "not JSON" in panel.get_by_role("alert").inner_text()
    shot(page, "20-jobs-panel")
    page.context.close()


def test_ai_first_savings_panel(browser: Any, server: Server) -> None:
    """The AI-first tab: trust per model, Route now (a job), then the savings report's figures."""
    server.user("aiboss", "manager")
    rows = []
    for i in range(60):
        label = "positive" if i % 2 else "negative"
        row: dict[str, Any] = {
            "external_id": f"r{i}",
            "text": f"text {i}",
            "suggestions": [{"question": "sentiment", "value": label, "score": 0.9, "model": "m1"}],
        }
        if i < 30:
            row["gold"] = {"sentiment": label}
        rows.append(row)
    p = server.project(
        {
            "name": "ai-demo",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "options": ["positive", "negative"]}],
            "workflow": {"overlap": 2, "ai_first": {"bar": 0.8, "min_evidence": 5, "audit_rate": 0.1}},
        },
        rows,
    )
    page = login(browser, server, "aiboss", viewport=(1280, 900))
    page.goto(f"/#/p/{p['id']}/dashboard")
    page.get_by_role("tab", name="AI-first").click()
    panel = page.locator("[data-testid=savings-panel]")
    panel.locator("[data-testid=trust-row]").nth(1).wait_for()
    assert panel.locator("[data-testid=trust-row]").first.inner_text().endswith("trusted")
    assert panel.locator("[data-testid=kpi-by-models]").inner_text() == "0"
    panel.get_by_role("button", name="Route now").click()
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=kpi-by-models]')?.textContent) > 20"
    )
    assert panel.locator("[data-testid=acc-models]").inner_text().startswith("100.0%")
    saved = panel.locator("[data-testid=kpi-saved]").inner_text()
    assert saved.endswith("%") and int(saved.rstrip("%")) >= 70
    shot(page, "21-ai-first-savings")
    page.context.close()
