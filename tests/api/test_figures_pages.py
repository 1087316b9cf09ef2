"""The dashboard's figure routes over real HTTP, on SQLite and PostgreSQL: the leaderboard of a
comparison project and the agent-review error rates of a trajectory project, with answers
planted through dispatch so the right numbers are known."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from assay.sdk import Client
from assay.services import dispatch, imports, projects
from assay.services.actors import SYSTEM, Actor
from assay.store.engine import Store
from tests.api.conftest import Live
from tests.factories import make_project, make_user, reveal_lease

STRENGTH = {"strong": 3, "mid": 2, "weak": 1}
PAIRS = [("strong", "mid"), ("mid", "weak"), ("strong", "weak"), ("weak", "strong"), ("mid", "strong")]


def comparison_schema() -> dict[str, Any]:
    return {
        "name": f"arena-{uuid.uuid4().hex[:6]}",
        "fields": [{"name": "prompt", "type": "text"}, {"name": "candidates", "type": "comparison"}],
        "questions": [{"name": "pref", "type": "preference", "field": "candidates", "ties": True}],
        "workflow": {"overlap": 1},
    }


def agent_schema() -> dict[str, Any]:
    return {
        "name": f"agents-{uuid.uuid4().hex[:6]}",
        "fields": [{"name": "run", "type": "trajectory"}],
        "questions": [
            {"name": "steps", "type": "step_review", "field": "run"},
            {"name": "success", "type": "label", "options": ["yes", "no"], "required": False},
        ],
        "workflow": {"overlap": 1},
    }


def answer_all(
    store: Store, actor: Actor, pid: int, answer: Callable[[dict[str, Any]], dict[str, Any]]
) -> int:
    n = 0
    while (lease := dispatch.next_assignment(store, actor, pid)) is not None:
        dispatch.submit_response(
            store,
            actor,
            lease["assignment_id"],
            answer(reveal_lease(store, lease)["record"]),
            duration_ms=1000,
        )
        n += 1
    return n


def arena(store: Store) -> tuple[dict[str, Any], str]:
    """3 models; the stronger one of each pair wins, 1 record in 6 is a tie; categories by topic."""
    p = make_project(store, comparison_schema())
    rows = []
    for i in range(30):
        a, b = PAIRS[i % len(PAIRS)]
        rows.append(
            {
                "external_id": f"c{i}",
                "fields": {
                    "prompt": f"prompt {i}",
                    "candidates": [
                        {"id": "x", "model": a, "text": f"{a} says {i}"},
                        {"id": "y", "model": b, "text": f"{b} says {i}"},
                    ],
                },
                "metadata": {"topic": "code" if i % 2 else "chat"},
            }
        )
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    actor, _ = make_user(store, f"ann-{uuid.uuid4().hex[:6]}")
    projects.add_member(store, SYSTEM, p["id"], actor.name, "annotator")

    def pick(record: dict[str, Any]) -> dict[str, Any]:
        if int(record["fields"]["prompt"].split()[1]) % 6 == 5:
            return {"pref": {"choice": "tie"}}
        cands = record["fields"]["candidates"]
        best = max(cands, key=lambda c: STRENGTH[c["model"]])
        return {"pref": {"choice": best["id"]}}

    assert answer_all(store, actor, p["id"], pick) == 30
    boss, token = make_user(store, f"boss-{uuid.uuid4().hex[:6]}", role="manager")
    projects.add_member(store, SYSTEM, p["id"], boss.name, "manager")
    return p, token


def test_leaderboard_orders_the_stronger_model_first(live: Live) -> None:
    p, token = arena(live.store)
    http = live.client(token)
    r = http.get(f"/projects/{p['id']}/leaderboard")
    assert r.status_code == 200, r.text
    board = r.json()
    rows = board["rows"]
    assert [row["model"] for row in rows] == ["strong", "mid", "weak"]
    for row in rows:
        assert row["ci_low"] <= row["rating"] <= row["ci_high"]
        assert set(row) >= {"model", "rating", "ci_low", "ci_high", "wins", "losses", "ties"}
    # 30 records, 5 ties (one record in 6), 25 decided: strong wins every game, weak none.
    by = {row["model"]: row for row in rows}
    assert sum(row["wins"] for row in rows) == 25 and sum(row["losses"] for row in rows) == 25
    assert by["strong"]["losses"] == 0 and by["weak"]["wins"] == 0
    assert sum(row["ties"] for row in rows) == 10  # each tie counts for both sides
    wr = board["win_rates"]
    i, j = wr["models"].index("strong"), wr["models"].index("weak")
    assert wr["matrix"][i][j] > 0.5 > wr["matrix"][j][i]
    assert board["comparisons"] == 30 and board["question"] == "pref"

    r = http.get(f"/projects/{p['id']}/leaderboard", params={"category": "topic"})
    assert r.status_code == 200, r.text
    cats = r.json()["categories"]
    assert set(cats) == {"code", "chat"}
    assert all(rows[0]["model"] == "strong" for rows in cats.values())

    with Client(live.url, token=token) as sdk:
        assert [row["model"] for row in sdk.leaderboard(p["id"])["rows"]] == ["strong", "mid", "weak"]
        assert set(sdk.leaderboard(p["id"], category="topic")["categories"]) == {"code", "chat"}


TOOLS_BY_AGENT = [("planner", "search"), ("planner", "book"), ("executor", "pay")]


def agent_project(store: Store) -> tuple[dict[str, Any], str]:
    """4 runs of 3 tool steps; planted verdicts: pay always wrong arguments, book a wrong tool in
    runs 0 and 2, search always right."""
    p = make_project(store, agent_schema())
    rows = []
    for i in range(4):
        steps: list[dict[str, Any]] = [{"role": "user", "content": "book me a trip"}]
        for k, (agent, tool) in enumerate(TOOLS_BY_AGENT):
            steps.append(
                {
                    "role": "assistant",
                    "actor": agent,
                    "tool_calls": [{"id": f"c{k}", "name": tool, "arguments": {"run": i}}],
                }
            )
            steps.append({"role": "tool", "tool_results": [{"call_id": f"c{k}", "content": "ok"}]})
        rows.append({"external_id": f"run{i}", "fields": {"run": {"steps": steps}}})
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    actor, _ = make_user(store, f"rev-{uuid.uuid4().hex[:6]}")
    projects.add_member(store, SYSTEM, p["id"], actor.name, "annotator")

    def review(record: dict[str, Any]) -> dict[str, Any]:
        steps = record["fields"]["run"]["steps"]
        run = next(c["arguments"]["run"] for s in steps for c in s.get("tool_calls") or [])
        verdicts = {}
        for idx, step in enumerate(steps):
            calls = step.get("tool_calls") or []
            if not calls:
                continue
            tool = calls[0]["name"]
            v = "correct"
            if tool == "pay":
                v = "wrong_arguments"
            elif tool == "book" and run % 2 == 0:
                v = "wrong_tool"
            verdicts[str(step.get("index", idx))] = {"verdict": v}
        return {"steps": verdicts, "success": "no"}

    assert answer_all(store, actor, p["id"], review) == 4
    boss, token = make_user(store, f"boss-{uuid.uuid4().hex[:6]}", role="manager")
    projects.add_member(store, SYSTEM, p["id"], boss.name, "manager")
    return p, token


def test_agent_stats_error_rates_match_planted_verdicts(live: Live) -> None:
    p, token = agent_project(live.store)
    http = live.client(token)
    r = http.get(f"/projects/{p['id']}/agent-stats")
    assert r.status_code == 200, r.text
    figures = r.json()
    tools = {t["name"]: t for t in figures["tools"]}
    assert {k: (t["steps"], t["errors"]) for k, t in tools.items()} == {
        "pay": (4, 4),
        "book": (4, 2),
        "search": (4, 0),
    }
    assert [t["name"] for t in figures["tools"]] == ["pay", "book", "search"]  # worst first
    assert tools["pay"]["error_rate"] == 1.0 and tools["book"]["error_rate"] == 0.5
    agents = {a["name"]: a for a in figures["agents"]}
    assert agents["executor"]["error_rate"] == 1.0
    assert agents["planner"]["steps"] == 8 and agents["planner"]["errors"] == 2
    runs = {t["external_id"]: t for t in figures["trajectories"]}
    assert len(runs) == 4 and all(t["n_steps"] == 7 for t in runs.values())
    # the first error: book (step 3) in even runs, pay (step 5) in odd ones
    assert runs["run0"]["first_error_step"] == 3 and runs["run1"]["first_error_step"] == 5
    assert figures["success_rate"] == 0.0

    with Client(live.url, token=token) as sdk:
        assert sdk.agent_stats(p["id"])["tools"][0]["name"] == "pay"


def test_projects_without_the_question_get_409(live: Live) -> None:
    p, token = agent_project(live.store)
    q, _ = arena(live.store)
    boss, btoken = make_user(live.store, f"boss-{uuid.uuid4().hex[:6]}", role="manager")
    projects.add_member(live.store, SYSTEM, q["id"], boss.name, "manager")
    r = live.client(token).get(f"/projects/{p['id']}/leaderboard")
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "conflict" and "preference or ranking" in r.json()["detail"]
    r = live.client(btoken).get(f"/projects/{q['id']}/agent-stats")
    assert r.status_code == 409 and "step_review" in r.json()["detail"]
    # a question the caller names that does not fit is bad input
    r = live.client(token).get(f"/projects/{p['id']}/leaderboard", params={"question": "steps"})
    assert r.status_code == 422 and r.json()["field"] == "question"
    r = live.client(token).get(f"/projects/{p['id']}/agent-stats", params={"method": "nope"})
    assert r.status_code == 422


def test_figures_need_a_manager(live: Live) -> None:
    p, _ = agent_project(live.store)
    ann, token = make_user(live.store, f"ann-{uuid.uuid4().hex[:6]}")
    projects.add_member(live.store, SYSTEM, p["id"], ann.name, "annotator")
    assert live.client(token).get(f"/projects/{p['id']}/agent-stats").status_code in (403, 404)
    assert live.client().get(f"/projects/{p['id']}/agent-stats").status_code == 401
