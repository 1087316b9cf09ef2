"""The dashboard's Leaderboard and Agent review panels in a real browser against a real `assay serve`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .conftest import Server, login, shot

# A 1x1 PNG as a data: URL (a bare "a.png" is now a local media path, and must exist).
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

pytestmark = pytest.mark.browser

STRENGTH = {"gpt-strong": 3, "llama-mid": 2, "tiny-weak": 1}
PAIRS = [("gpt-strong", "llama-mid"), ("llama-mid", "tiny-weak"), ("tiny-weak", "gpt-strong")]
STEPS = [("planner", "search_flights"), ("planner", "book_hotel"), ("executor", "charge_card")]


def answer_all(
    server: Server, token: str, pid: int, answer: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    with httpx.Client(
        base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as http:
        while (r := http.post(f"/projects/{pid}/next")).status_code == 200:
            lease = r.json()
            s = http.post(
                f"/assignments/{lease['assignment_id']}/responses",
                json={"values": answer(lease["record"]), "idempotency_key": str(uuid.uuid4())},
            )
            assert s.status_code == 201, s.text
        assert r.status_code == 204, r.text


@pytest.fixture(scope="module")
def setup(server: Server) -> dict[str, Any]:
    ann = server.user("ann", "annotator")
    server.user("boss", "manager")
    arena = server.project(
        {
            "name": "arena",
            "fields": [
                {"name": "prompt", "type": "text"},
                # the simulated annotator below chooses by model: not blind
                {"name": "candidates", "type": "comparison", "show_models": True},
            ],
            "questions": [{"name": "pref", "type": "preference", "field": "candidates", "ties": True}],
            "workflow": {"overlap": 1},
        },
        [
            {
                "external_id": f"c{i}",
                "prompt": f"prompt {i}",
                "candidates": [
                    {"id": "x", "model": PAIRS[i % 3][0], "text": f"answer {i} one"},
                    {"id": "y", "model": PAIRS[i % 3][1], "text": f"answer {i} two"},
                ],
            }
            for i in range(18)
        ],
    )

    def prefer(record: dict[str, Any]) -> dict[str, Any]:
        best = max(record["fields"]["candidates"], key=lambda c: STRENGTH[c["model"]])
        return {"pref": {"choice": best["id"]}}

    answer_all(server, ann["token"], arena["id"], prefer)

    runs = []
    for i in range(4):
        steps: list[dict[str, Any]] = [{"role": "user", "content": "Book me a trip to Lisbon"}]
        for k, (agent, tool) in enumerate(STEPS):
            steps.append(
                {
                    "role": "assistant",
                    "actor": agent,
                    "tool_calls": [{"id": f"c{k}", "name": tool, "arguments": {"run": i}}],
                }
            )
            steps.append({"role": "tool", "tool_results": [{"call_id": f"c{k}", "content": "ok"}]})
        runs.append({"external_id": f"run{i}", "run": {"steps": steps}})
    agents = server.project(
        {
            "name": "agents",
            "fields": [{"name": "run", "type": "trajectory"}],
            "questions": [{"name": "steps", "type": "step_review", "field": "run"}],
            "workflow": {"overlap": 1},
        },
        runs,
    )

    def review(record: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for idx, step in enumerate(record["fields"]["run"]["steps"]):
            for call in step.get("tool_calls") or []:
                bad = call["name"] == "charge_card" or (
                    call["name"] == "book_hotel" and call["arguments"]["run"] < 1
                )
                out[str(step.get("index", idx))] = {"verdict": "wrong_arguments" if bad else "correct"}
        return {"steps": out}

    answer_all(server, ann["token"], agents["id"], review)
    return {"arena": arena, "agents": agents}


def test_leaderboard_panel(browser: Any, server: Server, setup: dict[str, Any]) -> None:
    page = login(browser, server, "boss", viewport=(1280, 1000))
    page.goto(f"/#/p/{setup['arena']['id']}/dashboard")
    page.get_by_role("tab", name="Leaderboard").click()
    panel = page.locator("[data-testid=leaderboard-panel]")
    panel.get_by_role("table", name="Leaderboard").wait_for()
    page.locator("[data-testid=leaderboard-row]").nth(2).wait_for()
    models = page.locator("[data-testid=leaderboard-row] th").all_inner_texts()
    assert models == ["gpt-strong", "llama-mid", "tiny-weak"]
    plot = page.locator("[data-testid=leaderboard-plot]")
    assert plot.get_attribute("aria-label").startswith("Ratings with 95 % intervals: gpt-strong")
    assert panel.get_by_role("table", name="Win-rate matrix").locator("tbody tr").count() == 3
    # no agent tab on a comparison project
    assert page.get_by_role("tab", name="Agent review").count() == 0
    panel.scroll_into_view_if_needed()
    shot(page, "15-leaderboard")
    page.context.close()


def test_agent_review_panel(browser: Any, server: Server, setup: dict[str, Any]) -> None:
    page = login(browser, server, "boss", viewport=(1280, 1000))
    page.goto(f"/#/p/{setup['agents']['id']}/dashboard")
    page.get_by_role("tab", name="Agent review").click()
    tools = page.get_by_role("table", name="Error rate per tool")
    tools.locator("tbody tr th").first.wait_for()
    assert tools.locator("tbody tr th").all_inner_texts() == ["charge_card", "book_hotel", "search_flights"]
    assert tools.locator("tbody tr").first.locator("td").nth(2).inner_text() == "100%"
    assert tools.locator("tbody tr").nth(1).locator("td").nth(2).inner_text() == "25%"
    agents = page.get_by_role("table", name="Error rate per agent")
    assert agents.locator("tbody tr th").all_inner_texts() == ["executor", "planner"]
    plot = page.locator("[data-testid=agent-tools-plot]")
    assert "charge_card 100% of 4 steps" in (plot.get_attribute("aria-label") or "")
    assert page.get_by_role("tab", name="Leaderboard").count() == 0
    shot(page, "16-agent-review")
    page.context.close()


def test_agreement_table_shows_boxes_and_spans(browser: Any, server: Server, setup: dict[str, Any]) -> None:
    """Boxes and spans get Krippendorff's alpha with their own distances (they had none)."""
    workers = ["ag0", "ag1", "ag2"]
    for name in workers:
        server.user(name, "annotator")
    box = {"x": 10, "y": 10, "w": 20, "h": 20, "label": "car"}
    p = server.project(
        {
            "name": "agreement-types",
            "fields": [{"name": "text", "type": "text"}, {"name": "photo", "type": "image"}],
            "questions": [
                {"name": "objects", "type": "bbox", "field": "photo", "labels": ["car"]},
                {"name": "entities", "type": "span", "field": "text", "labels": ["PER"]},
            ],
            "workflow": {"overlap": 3},
        },
        [
            {
                "external_id": f"a{i}",
                "text": "Ada met Grace",
                "photo": {"url": PNG, "width": 100, "height": 100},
                "responses": [
                    {
                        "user": w,
                        "values": {
                            "objects": [box | {"x": 10 + i * 20 + k}],
                            "entities": [{"start": 0, "end": 3 + (k == 2) * i % 2, "label": "PER"}],
                        },
                    }
                    for k, w in enumerate(workers)
                ],
            }
            for i in range(4)
        ],
    )
    page = login(browser, server, "boss")
    page.goto(f"/#/p/{p['id']}/dashboard")
    table = page.get_by_role("table", name="Agreement per question")
    table.wait_for()
    # The table is drawn before the figures arrive: wait until both questions have their row and
    # every figure is there (an empty table would satisfy "every figure" at once).
    page.wait_for_function(
        """() => { const t = document.querySelector('table[aria-label="Agreement per question"]');
        const heads = [...t.querySelectorAll('tbody tr th')].map(th => th.textContent.trim());
        const nums = [...t.querySelectorAll('td.num')];
        return heads.includes('objects') && heads.includes('entities')
          && nums.length > 0 && nums.every(td => td.textContent.trim() !== '—'); }"""
    )
    rows = {
        r.locator("th").text_content(): r.locator("td").all_text_contents()
        for r in table.locator("tbody tr").all()
    }
    assert rows["objects"][:2] == ["bbox", "iou"] and float(rows["objects"][2]) > 0.5
    assert rows["entities"][:2] == ["span", "span_overlap"] and float(rows["entities"][2]) <= 1
    shot(page, "09-dashboard-agreement")
    page.context.close()
