"""The records browser explains a label (issue 26, item 3): a manager opens a record and reads,
beside its history, the consensus with its method, confidence and inputs (a reviewer's correction
marked), each answer with who, time spent, versions and review, and the personal data masked on
import (by kind, never the value)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import Server, login, shot
from .test_dashboard_panels import answer_all

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def explained(server: Server) -> dict[str, Any]:
    ann = server.user("ann-x", "annotator")
    bob = server.user("bob-x", "annotator")
    rev = server.user("rev-x", "reviewer")
    server.user("boss-x", "manager")
    project = server.project(
        {
            "name": "explained",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "label", "type": "label", "options": ["yes", "no"]}],
            "workflow": {"overlap": 2},
            "privacy": {"personal_data": "mask", "detect": ["email"]},
        },
        [{"external_id": "e1", "text": "write to someone@example.com"}],
    )
    answer_all(server, ann["token"], project["id"], lambda r: {"label": "yes"})
    answer_all(server, bob["token"], project["id"], lambda r: {"label": "no"})
    with httpx.Client(
        base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {rev['token']}"}, timeout=60
    ) as http:
        responses = http.get(f"/projects/{project['id']}/responses").json()["items"]
        bobs = next(r for r in responses if r["user_id"] == bob["id"])
        done = http.post(
            f"/responses/{bobs['id']}/review",
            json={"verdict": "correct", "corrected_values": {"label": "yes"}},
        )
        assert done.status_code in (200, 201), done.text
    return project


def test_a_record_explains_its_label(browser: Any, server: Server, explained: dict[str, Any]) -> None:
    page = login(browser, server, "boss-x", viewport=(1280, 1000))
    page.goto(f"/#/p/{explained['id']}/dashboard")
    page.get_by_role("tab", name="Records").click()
    page.get_by_role("button", name="e1").click()
    section = page.get_by_test_id("explain")
    section.wait_for()
    consensus = page.get_by_test_id("explain-consensus").inner_text()
    assert (
        consensus.startswith("label: yes by ")
        and "confidence" in consensus
        and consensus.endswith("exported as yes")
    )
    inputs = page.get_by_test_id("explain-input").all_inner_texts()
    assert any(t.startswith("ann-x (human)") for t in inputs)
    assert any(t.startswith("bob-x (human)") and "corrected by review" in t for t in inputs)
    answers = page.get_by_test_id("explain-answer").all_inner_texts()
    assert len(answers) == 2 and any("correct by rev-x" in a for a in answers)
    assert all("v1 / v1" in a for a in answers)
    masked = page.get_by_test_id("explain-personal-data").inner_text()
    assert "email in text (masked)" in masked and "someone@example.com" not in page.content()
    shot(page, "explain-record")
    page.context.close()
