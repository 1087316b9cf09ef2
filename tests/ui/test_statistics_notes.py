"""Statistics that mislead without a word (issue 24, item 9): alpha about 0 where nearly every
answer agrees is shown beside the observed agreement with the reason; a leaderboard interval of
zero width is not shown as a certainty."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Server, login, shot
from .test_dashboard_panels import answer_all

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def setup(server: Server) -> dict[str, Any]:
    ann = server.user("ann", "annotator")
    bob = server.user("bob", "annotator")
    server.user("boss", "manager")
    labels = server.project(
        {
            "name": "mostly-same",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "ok", "type": "label", "options": ["yes", "no"]}],
            "workflow": {"overlap": 2},
        },
        [{"external_id": f"t{i}", "text": f"text {i}"} for i in range(10)],
    )
    answer_all(server, ann["token"], labels["id"], lambda r: {"ok": "yes"})
    answer_all(
        server,
        bob["token"],
        labels["id"],
        lambda r: {"ok": "no" if r["fields"]["text"] == "text 3" else "yes"},
    )
    arena = server.project(
        {
            "name": "one-sided",
            "fields": [
                {"name": "prompt", "type": "text"},
                {"name": "candidates", "type": "comparison", "show_models": True},
            ],
            "questions": [{"name": "pref", "type": "preference", "field": "candidates"}],
            "workflow": {"overlap": 1},
        },
        [
            {
                "external_id": f"c{i}",
                "prompt": f"p{i}",
                "candidates": [{"model": "always", "text": "a"}, {"model": "never", "text": "b"}],
            }
            for i in range(6)
        ],
    )
    answer_all(server, ann["token"], arena["id"], lambda r: {"pref": {"choice": "always"}})
    return {"labels": labels, "arena": arena}


def test_alpha_beside_observed_agreement(browser: Any, server: Server, setup: dict[str, Any]) -> None:
    stats = server.api.get(f"/projects/{setup['labels']['id']}/stats").json()
    assert stats["agreement"]["ok"] < 0.1 and stats["observed_agreement"]["ok"] == 0.9
    page = login(browser, server, "boss", viewport=(1280, 900))
    page.goto(f"/#/p/{setup['labels']['id']}/dashboard")
    row = page.get_by_test_id("agreement-ok")
    row.wait_for()
    assert "90%*" in row.inner_text()
    assert "nearly every answer is the same" in page.get_by_test_id("alpha-paradox").inner_text()
    page.context.close()


def test_a_zero_width_interval_is_explained(browser: Any, server: Server, setup: dict[str, Any]) -> None:
    rows = server.api.get(f"/projects/{setup['arena']['id']}/leaderboard").json()["rows"]
    assert all(r["ci_low"] == r["ci_high"] for r in rows)  # the bootstrap has nothing to resample
    page = login(browser, server, "boss", viewport=(1280, 900))
    page.goto(f"/#/p/{setup['arena']['id']}/dashboard")
    page.get_by_role("tab", name="Leaderboard").click()
    page.get_by_test_id("leaderboard-row").nth(1).wait_for()
    assert page.get_by_test_id("leaderboard-interval").all_inner_texts() == ["not measurable*"] * 2
    assert "cannot measure" in page.get_by_test_id("zero-width-note").inner_text()
    shot(page, "24-zero-width")
    page.context.close()
