"""A typed API end to end (issue 24): the OpenAPI document describes every success answer's body,
and what the server answers over real HTTP fits it, on SQLite and PostgreSQL.

The walk is generic: every GET operation of the document is called with the ids of a project
with records, answers, reviews, consensus and a job (a route added later is called too, as long
as its path parameters are among :data:`IDS`' names), each answer is validated by the clients'
:class:`tests.openapi_check.AnswerCheck` hook, and the routes that changes something are
exercised by the flow before it (and by the other API tests, whose clients check the same way).
"""

from __future__ import annotations

import re
import time

from assay.api.app import create_app
from assay.services import consensus, dispatch, imports, jobs
from assay.services.actors import SYSTEM
from tests.api.conftest import Live
from tests.factories import RICH_SCHEMA, make_project, make_user, reveal_lease, rich_row
from tests.openapi_check import AnswerCheck, undescribed

# Query parameters a route needs.
QUERY = {"/api/v1/projects/{project_id}/datasets/{version}/diff": "?against=v2"}
# Routes a walk cannot call with these ids alone (they need a file a record names).
SKIP = {"/api/v1/records/{record_id}/media/{field}", "/api/v1/records/{record_id}/thumbnail/{field}"}


def test_every_success_answer_has_a_schema() -> None:
    spec = create_app().openapi()
    assert undescribed(spec) == []
    assert len(spec["paths"]) > 40


def test_an_answer_that_does_not_fit_fails() -> None:
    check = AnswerCheck(create_app().openapi())
    check.check("GET", "/api/v1/health", 200, {"status": "ok", "version": "1", "database": "sqlite"})
    for wrong in ({"status": "ok"}, {"status": "ok", "version": "1", "database": "x", "extra": 1}):
        try:
            check.check("GET", "/api/v1/health", 200, wrong)
        except AssertionError as e:
            assert "does not describe" in str(e)
        else:
            raise AssertionError(f"{wrong} passed")


def _seed(live: Live) -> tuple[dict[str, int], dict[str, str]]:
    store = live.store
    schema = {**RICH_SCHEMA, "workflow": {"overlap": 2, "review_rate": 1.0}}
    project = make_project(store, schema)
    pid = int(project["id"])
    imports.import_rows(store, SYSTEM, pid, enumerate((rich_row(i) for i in range(8)), 1), name="t")
    manager, mtoken = make_user(store, "walk-manager", role="manager")
    _, rtoken = make_user(store, "walk-reviewer", role="reviewer")
    tokens = {"manager": mtoken, "reviewer": rtoken}
    for name in ("walk-a", "walk-b", "walk-c"):
        actor, tokens[name] = make_user(store, name)
        for _ in range(3 if name != "walk-c" else 0):
            lease = dispatch.next_assignment(store, actor, pid)
            assert lease is not None
            shown = reveal_lease(store, lease)["record"]["fields"]["candidates"]
            dispatch.submit_response(
                store,
                actor,
                lease["assignment_id"],
                {"preference": {"choice": shown[0]["id"], "strength": 2}, "helpful": 5},
                duration_ms=900,
            )
    consensus.recompute_project(store, SYSTEM, pid)
    job = jobs.enqueue(store, manager, pid, "export", {"format": "jsonl"})
    jobs.run_job(store, int(job["id"]))  # (or the server's own runner took it first: wait for its end)
    deadline = time.monotonic() + 120
    while jobs.get_job(store, manager, int(job["id"]))["state"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, "the export job did not end"
        time.sleep(0.05)
    assert jobs.get_job(store, manager, int(job["id"]))["state"] == "succeeded"
    return {"project_id": pid, "job_id": int(job["id"])}, tokens


def test_every_get_route_answers_what_the_openapi_says(live: Live) -> None:
    ids, tokens = _seed(live)
    manager = live.client(tokens["manager"])
    annotator = live.client(tokens["walk-c"])
    reviewer = live.client(tokens["reviewer"])
    ids["record_id"] = manager.get(f"/projects/{ids['project_id']}/records").json()["items"][0]["id"]

    # the flows that change something, as each role does them
    lease = annotator.post(f"/projects/{ids['project_id']}/next")
    assert lease.status_code == 200, lease.text
    aid = lease.json()["assignment_id"]
    ids["assignment_id"] = aid
    assert annotator.get(f"/assignments/{aid}").status_code == 200
    assert annotator.put(f"/assignments/{aid}/draft", json={"values": {"helpful": 3}}).status_code == 200
    assert annotator.get(f"/records/{lease.json()['record']['id']}").status_code == 200
    body = {"values": {"preference": {"choice": "A", "strength": 1}, "helpful": 3}, "next": True}
    body |= {"idempotency_key": "walk-1"}
    submitted = annotator.post(f"/assignments/{aid}/responses", json=body)
    assert submitted.status_code == 201
    ids["assignment_id"] = submitted.json()["next"]["assignment_id"]  # held by the annotator
    assert annotator.post(f"/assignments/{aid}/responses", json=body).status_code == 200  # a repeat
    assert annotator.get(f"/projects/{ids['project_id']}/responses").status_code == 200
    assert annotator.get("/me/stats").status_code == 200
    queue = reviewer.get(f"/projects/{ids['project_id']}/reviews").json()["items"]
    assert queue
    decided = reviewer.post(f"/reviews/{queue[0]['review_id']}", json={"verdict": "accept"})
    assert decided.status_code == 200, decided.text
    other = queue[1]["response"]["id"]
    assert reviewer.post(f"/responses/{other}/review", json={"verdict": "reject"}).status_code == 200
    assert manager.post(f"/projects/{ids['project_id']}/consensus", json={}).status_code == 200
    sug = {"suggestions": [{"question": "helpful", "value": 4, "score": 0.5, "model": "m"}]}
    assert manager.post(f"/records/{ids['record_id']}/suggestions", json=sug).status_code == 201
    assert manager.post("/tokens", json={"name": "walk"}).status_code == 201
    assert manager.post("/users", json={"name": "walk-new", "password": "a long secret"}).status_code == 201
    assert (
        manager.patch(f"/projects/{ids['project_id']}", json={"guidelines": "Be brief."}).status_code == 200
    )
    frozen = manager.post(f"/projects/{ids['project_id']}/datasets", json={"name": "v1"})
    assert frozen.status_code == 201, frozen.text
    ids["version"] = "v1"
    assert manager.post(f"/projects/{ids['project_id']}/datasets", json={"name": "v2"}).status_code == 201
    job = manager.post(f"/projects/{ids['project_id']}/jobs", json={"kind": "consensus"}).json()
    assert manager.post(f"/projects/{ids['project_id']}/jobs/{job['id']}/cancel").status_code == 200

    # every GET route of the document, as the manager (the admin for the admin routes)
    spec = create_app().openapi()
    admin_token = make_user(live.store, "walk-admin", role="admin")[1]
    admin = live.client(admin_token)
    called = []
    for path, item in spec["paths"].items():
        op = item.get("get")
        if op is None or path in SKIP or "/safety" in path:  # (a safety campaign's own routes)
            continue
        names = re.findall(r"\{(\w+)\}", path)
        assert set(names) <= set(ids), f"{path}: the walk has no id for {set(names) - set(ids)}"
        url = path.removeprefix("/api/v1").format(**ids) + QUERY.get(path, "")
        who = {"admin": admin, "holder": annotator}.get(op.get("x-access", ""), manager)
        got = who.get(url)
        assert got.status_code < 300, f"GET {url}: {got.status_code} {got.text[:300]}"
        called.append(path)
    assert len(called) > 25
    assert live.answers is not None and live.answers.checked >= len(called)
