"""The dashboard's Versions tab in a real browser against a real `assay serve`: freeze two versions,
compare them, and read the data card of the project and of a frozen version with its charts."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Server, login, shot

pytestmark = pytest.mark.browser


def test_versions_panel(browser: Any, server: Server) -> None:
    server.user("curator", "manager")
    p = server.project(
        {
            "name": "versions-demo",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "options": ["positive", "negative"]}],
        },
        [{"external_id": f"r{i}", "text": f"text {i}"} for i in range(4)],
    )
    page = login(browser, server, "curator", viewport=(1280, 900))
    page.goto(f"/#/p/{p['id']}/dashboard")
    page.get_by_role("tab", name="Versions & data card").click()
    panel = page.get_by_test_id("versions-panel")
    form = panel.get_by_role("form", name="Freeze a version")
    form.get_by_role("button", name="Freeze").click()
    panel.get_by_test_id("frozen").filter(has_text="Froze 4 records as v1").wait_for()
    r = server.api.post(f"/projects/{p['id']}/records", json=[{"external_id": "late", "text": "later"}])
    assert r.status_code == 201, r.text
    form.get_by_label("Name").fill("second")
    form.get_by_role("button", name="Freeze").click()
    panel.get_by_test_id("frozen").filter(has_text="as second").wait_for()
    assert panel.get_by_test_id("version").count() == 2

    compare = panel.get_by_role("form", name="Compare versions")
    compare.get_by_label("From").select_option("v1")
    compare.get_by_label("To").select_option("second")
    compare.get_by_role("button", name="Compare").click()
    panel.get_by_test_id("diff-counts").filter(has_text="1 added").wait_for()
    assert "late" in panel.get_by_test_id("change").first.inner_text()

    card = panel.get_by_test_id("datacard")
    card.get_by_text("Dataset Card for versions-demo").first.wait_for()  # the project as it stands
    card.get_by_label("Data card of").select_option("v1")
    card.get_by_text("Dataset Card for versions-demo (v1)").wait_for()
    assert "Frozen version v1" in card.inner_text()
    assert "pretty_name: versions-demo" in card.get_by_test_id("card-header").text_content()
    img = card.get_by_test_id("card-agreement")
    assert img.get_attribute("src").startswith("data:image/svg+xml")
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=card-agreement]'); return i && i.complete && i.naturalWidth > 0; }"
    )
    shot(page, "30-versions-panel")
