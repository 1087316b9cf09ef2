"""What a reviewer and a manager read (issue 24, item 6): the records table counts each record's
responses; the review table names every contributor, shows answers as words (not JSON) and fits
its panel; ``/openapi.json`` at the root leads to the API's description, not to the UI page."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from .conftest import Server, login, shot
from .test_dashboard_panels import answer_all

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def arena(server: Server) -> dict[str, Any]:
    ann = server.user("ann", "annotator")
    bob = server.user("bob", "annotator")
    server.user("rev", "reviewer")
    server.user("boss", "manager")
    long = "a considerably long candidate identifier that used to be clipped"
    project = server.project(
        {
            "name": "replies",
            "fields": [{"name": "prompt", "type": "text"}, {"name": "candidates", "type": "comparison"}],
            "questions": [
                {"name": "pref", "type": "preference", "field": "candidates", "ties": True, "strength": True},
                {"name": "rank", "type": "ranking", "field": "candidates", "required": False},
            ],
            "workflow": {"overlap": 2, "review_rate": 1.0},
        },
        [
            {
                "external_id": f"p{i}",
                "prompt": f"prompt {i}",
                "candidates": [
                    {"id": long, "model": "m-one", "text": f"answer {i} one"},
                    {"id": "short", "model": "m-two", "text": f"answer {i} two"},
                ],
            }
            for i in range(3)
        ],
    )
    answer_all(
        server,
        ann["token"],
        project["id"],
        lambda r: {"pref": {"choice": long, "strength": 2}, "rank": [long, "short"]},
    )
    answer_all(server, bob["token"], project["id"], lambda r: {"pref": {"choice": "short", "strength": 3}})
    return project


def test_the_records_table_counts_responses(browser: Any, server: Server, arena: dict[str, Any]) -> None:
    page = login(browser, server, "boss", viewport=(1280, 900))
    page.goto(f"/#/p/{arena['id']}/dashboard")
    # the tabs are all there once the project is read (Leaderboard comes with a comparison)
    page.get_by_role("tab", name="Leaderboard").wait_for()
    page.get_by_role("tab", name="Records").click()
    page.locator("[role=tab][aria-selected=true]", has_text="Records").wait_for()
    cells = page.get_by_test_id("record-responses")
    cells.nth(2).wait_for()
    assert cells.all_inner_texts() == ["2", "2", "2"]
    page.context.close()


def test_the_review_table_names_people_and_reads_as_words(
    browser: Any, server: Server, arena: dict[str, Any]
) -> None:
    page = login(browser, server, "rev", viewport=(1280, 900))
    page.goto(f"/#/p/{arena['id']}/review")
    item = page.get_by_test_id("review-item")
    item.wait_for()
    table = page.get_by_role("table", name="This response beside the others and the consensus")
    heads = table.locator("thead th").all_inner_texts()
    assert "?" not in heads
    this_user = heads[1].removesuffix(" (this)")
    assert {this_user, heads[2]} == {"ann", "bob"}
    text = table.inner_text()
    assert '{"choice"' not in text and "[" not in text
    # a reviewer reads candidates under the record's letters, never their ids (blind, #24)
    this = page.get_by_test_id("this-pref").inner_text()
    assert re.fullmatch(r"[AB], strength [23]", this), this
    assert "short" not in text and "candidate identifier" not in text
    if this_user == "ann":
        assert re.fullmatch(r".*[AB] > [AB]", page.get_by_test_id("this-rank").inner_text())
    # the table fits its panel: the consensus column is not cut off
    fits = table.evaluate("t => t.parentElement.scrollWidth <= t.parentElement.clientWidth + 1")
    consensus = page.get_by_test_id("consensus-pref")
    box, panel = consensus.bounding_box(), item.bounding_box()
    assert fits and box is not None and panel is not None
    assert box["x"] + box["width"] <= panel["x"] + panel["width"] + 1
    shot(page, "24-review-table")
    page.context.close()


def test_openapi_at_the_root_leads_to_the_api(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        r = http.get("/openapi.json", follow_redirects=True)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert r.json()["openapi"].startswith("3.")
        assert http.get("/docs").headers["location"] == "/api/v1/docs"
        missing = http.get("/favicon-that-is-not-there.png")
        assert missing.status_code == 404 and "html" not in missing.headers["content-type"]
        assert "<html" in http.get("/some/page").text.lower()  # the UI's own pages still load
