"""Who may see and do what over HTTP, and the one error shape on every failure."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from assay.services import imports, projects
from assay.services.actors import SYSTEM
from tests.api.conftest import Live
from tests.factories import make_project, make_user

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def schema(**workflow: Any) -> dict[str, Any]:
    return {
        "name": f"p-{uuid.uuid4().hex[:8]}",
        "fields": [{"name": "text", "type": "text"}],
        "questions": [{"name": "label", "type": "label", "options": ["a", "b", "c"]}],
        "workflow": {"overlap": 1, **workflow},
    }


def assert_problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    if code is not None:
        assert body["code"] == code
    return body


def setup_world(live: Live) -> dict[str, Any]:
    """Two projects (the second names its members), gold and ordinary records, two annotators."""
    p = make_project(live.store, schema(gold_rate=1.0))
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": f"t{i}"} for i in range(3)]
    rows += [{"id": "g0", "text": "gold", "gold": {"label": "b"}}]
    imports.import_rows(live.store, SYSTEM, p["id"], enumerate(rows, 1))
    secret = make_project(live.store, schema())
    imports.import_rows(live.store, SYSTEM, secret["id"], enumerate([{"id": "s", "text": "secret"}], 1))
    _, t1 = make_user(live.store, "ann1")
    _, t2 = make_user(live.store, "ann2")
    _, tr = make_user(live.store, "rev", role="reviewer")
    _, ta = make_user(live.store, "boss", role="admin", password="correct horse")
    make_user(live.store, "insider")
    projects.add_member(live.store, SYSTEM, secret["id"], "insider", "annotator")
    return {"p": p, "secret": secret, "ann1": t1, "ann2": t2, "rev": tr, "admin": ta}


def test_annotator_cannot_read_another_project_or_unleased_records(live: Live) -> None:
    w = setup_world(live)
    a1 = live.client(w["ann1"])
    sid = w["secret"]["id"]
    hidden = assert_problem(a1.get(f"/projects/{sid}"), 404, "not_found")
    missing = assert_problem(a1.get("/projects/999999"), 404, "not_found")
    assert hidden["detail"].replace(str(sid), "N") == missing["detail"].replace("999999", "N")
    assert_problem(a1.post(f"/projects/{sid}/next"), 404)
    assert sid not in [p["id"] for p in a1.get("/projects").json()["items"]]
    admin = live.client(w["admin"])
    secret_record = admin.get(f"/projects/{sid}/records").json()["items"][0]["id"]
    ordinary = admin.get(f"/projects/{w['p']['id']}/records").json()["items"][0]["id"]
    for rid in (secret_record, ordinary, 999_999):  # no lease: all look the same
        body = assert_problem(a1.get(f"/records/{rid}"), 404, "not_found")
        assert body["detail"] == f"no record {rid}"
    assert_problem(a1.get(f"/projects/{w['p']['id']}/records"), 403)
    assert_problem(a1.get(f"/records/{ordinary}/history"), 403)


def test_annotator_sees_leased_record_without_gold_and_only_own_responses(live: Live) -> None:
    w = setup_world(live)
    a1, a2 = live.client(w["ann1"]), live.client(w["ann2"])
    pid = w["p"]["id"]
    seen = []
    while (r := a1.post(f"/projects/{pid}/next")).status_code == 200:
        lease = r.json()
        assert "gold" not in lease["record"] and "is_gold" not in lease["record"]
        record = a1.get(f"/records/{lease['record']['id']}").json()
        assert "gold" not in record and "responses" not in record and "is_gold" not in record
        seen.append(lease["record"]["id"])
        a1.post(f"/assignments/{lease['assignment_id']}/responses", json={"values": {"label": "a"}})
        assert_problem(a1.get(f"/records/{lease['record']['id']}"), 404)  # the lease is over
    assert len(seen) == 4  # three records and the gold one
    mine = a1.get(f"/projects/{pid}/responses").json()["items"]
    assert len(mine) == 4 and all("gold_score" not in r and "is_gold" not in r for r in mine)
    ann1_id = mine[0]["user_id"]
    assert a2.get(f"/projects/{pid}/responses").json()["items"] == []
    assert a2.get(f"/projects/{pid}/responses", params={"user": ann1_id}).json()["items"] == []
    assert_problem(a2.get(f"/assignments/{mine[0]['assignment_id']}"), 404)
    assert_problem(a2.post(f"/responses/{mine[0]['id']}/review", json={"verdict": "accept"}), 403)
    reviewer = live.client(w["rev"]).get(f"/projects/{pid}/responses").json()["items"]
    assert len(reviewer) == 4 and any(r["gold_score"] == 0.0 for r in reviewer)
    assert_problem(a1.get(f"/projects/{pid}/consensus"), 403)
    assert_problem(a1.get(f"/projects/{pid}/export"), 403)


def test_reviewer_cannot_change_the_schema(live: Live) -> None:
    w = setup_world(live)
    rev = live.client(w["rev"])
    pid = w["p"]["id"]
    new = {**w["p"]["schema"], "questions": [{"name": "label", "type": "label", "options": ["x", "y"]}]}
    assert_problem(rev.patch(f"/projects/{pid}", json={"schema": new}), 403, "forbidden")
    assert_problem(rev.patch(f"/projects/{pid}", json={"guidelines": "mine"}), 403)
    admin = live.client(w["admin"])
    r = admin.patch(f"/projects/{pid}", json={"guidelines": "Be careful."})
    assert r.status_code == 200 and r.json()["guidelines_version"] == 2


def test_revoked_token_is_refused(live: Live) -> None:
    w = setup_world(live)
    a1 = live.client(w["ann1"])
    made = a1.post("/tokens", json={"name": "laptop"})
    assert made.status_code == 201
    second = live.client(made.json()["token"])
    assert second.get("/me").json()["name"] == "ann1"
    assert made.json()["id"] in [t["id"] for t in a1.get("/tokens").json()["items"]]
    assert_problem(live.client(w["ann2"]).delete(f"/tokens/{made.json()['id']}"), 404)  # not its token
    assert a1.delete(f"/tokens/{made.json()['id']}").status_code == 204
    body = assert_problem(second.get("/me"), 401, "unauthenticated")
    assert "revoked" in body["detail"]
    assert_problem(live.client("assay_made_up").get("/me"), 401)
    assert_problem(live.client().get("/me"), 401)
    assert_problem(live.client().get("/me", headers={"Authorization": "Basic eDp5"}), 401)
    # next and submit, which API-token callers reach past the middleware stack, refuse the same
    nxt = f"/projects/{w['p']['id']}/next"
    assert_problem(second.post(nxt), 401, "unauthenticated")
    assert_problem(live.client("assay_made_up").post("/assignments/1/responses", json={"values": {}}), 401)
    assert_problem(live.client().post(nxt, headers={"Authorization": "Basic eDp5"}), 401)
    assert_problem(live.client().post(nxt, headers={"Authorization": "Bearer"}), 401)


def test_cookie_session_needs_the_csrf_header(live: Live) -> None:
    w = setup_world(live)
    browser = live.client()
    login = browser.post("/auth/login", json={"name": "boss", "password": "correct horse"})
    assert login.status_code == 200
    csrf = login.json()["csrf_token"]
    set_cookies = login.headers.get_list("set-cookie")
    session = next(c for c in set_cookies if c.startswith("assay_session="))
    assert "HttpOnly" in session and "samesite=lax" in session.lower()
    assert "HttpOnly" not in next(c for c in set_cookies if c.startswith("assay_csrf="))
    assert browser.get("/me").json()["name"] == "boss"  # reads need no header
    body = {"name": "x1", "role": "annotator"}
    assert_problem(browser.post("/users", json=body), 403, "forbidden")
    assert_problem(browser.post("/users", json=body, headers={"X-CSRF-Token": "guess"}), 403)
    ok = browser.post("/users", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    # the hot routes too (they leave cookie callers to the full stack)
    nxt = f"/projects/{w['p']['id']}/next"
    assert_problem(browser.post(nxt), 403, "forbidden")
    assert browser.post(nxt, headers={"X-CSRF-Token": csrf}).status_code in (200, 204)
    assert_problem(browser.post("/assignments/1/responses", json={"values": {}}), 403, "forbidden")
    # a Bearer client needs no CSRF header
    assert live.client(w["admin"]).post("/users", json={"name": "x2"}).status_code == 201
    assert browser.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert_problem(browser.get("/me"), 401)


def test_login_is_rate_limited(live: Live) -> None:
    setup_world(live)
    c = live.client()
    for _ in range(10):
        assert_problem(c.post("/auth/login", json={"name": "boss", "password": "wrong!"}), 401)
    r = c.post("/auth/login", json={"name": "boss", "password": "correct horse"})
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0
    # another name from the same address is not affected
    assert_problem(c.post("/auth/login", json={"name": "ann1", "password": "nope"}), 401)


def test_oversized_bodies_get_413(live: Live) -> None:
    w = setup_world(live)
    admin = live.client(w["admin"])
    big = [{"id": i, "text": "x" * 1000} for i in range(2000)]  # ~2 MB; the test server allows 1 MB
    assert_problem(admin.post(f"/projects/{w['p']['id']}/records", json=big), 413, "too_large")

    def chunks() -> Any:
        for _ in range(300):
            yield b"x" * 10_000

    r = admin.post(
        f"/projects/{w['p']['id']}/records",
        content=chunks(),
        headers={"content-type": "application/x-ndjson"},
    )
    assert_problem(r, 413, "too_large")
    assert admin.get(f"/projects/{w['p']['id']}").json()["records"] == 4
    # submit, served past the middleware stack for token callers: by Content-Length and streamed
    ann = live.client(w["ann1"])
    lease = ann.post(f"/projects/{w['p']['id']}/next").json()
    answer = f"/assignments/{lease['assignment_id']}/responses"
    assert_problem(ann.post(answer, json={"values": {"label": "a" * 2_000_000}}), 413, "too_large")
    r = ann.post(answer, content=chunks(), headers={"content-type": "application/json"})
    assert_problem(r, 413, "too_large")
    assert ann.post(answer, json={"values": {"label": "a"}}).status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "field"),
    [
        ("GET", "/no/such/route", {}, 404, None),
        ("DELETE", "/me", {}, 405, None),
        ("GET", "/projects/abc", {}, 422, "path.project_id"),
        ("GET", "/projects?limit=0", {}, 422, "query.limit"),
        ("GET", "/projects?cursor=zz", {}, 422, "cursor"),
        ("POST", "/projects", {"json": {"name": "x"}}, 422, "body.schema"),
        (
            "POST",
            "/projects",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "body",
        ),
        ("POST", "/projects", {"json": {"schema": {"name": "x", "fields": [], "questions": []}}}, 422, None),
        (
            "POST",
            "/projects/P/records",
            {"json": [{"id": 1, "text": "ok"}, {"id": 2, "text": 5}]},
            422,
            "text",
        ),
        (
            "POST",
            "/projects/P/records",
            {
                "content": b'{"id": 1, "text": "ok"}\n{oops',
                "headers": {"content-type": "application/x-ndjson"},
            },
            422,
            None,
        ),
        ("POST", "/projects/P/records", {"json": {"id": 1}}, 422, "body"),
        # (beyond the column's 32 bits on PostgreSQL; SQLite would have stored it)
        (
            "POST",
            "/projects/P/records",
            {"json": [{"id": 1, "text": "ok"}, {"id": 2, "text": "x", "priority": 2**31}]},
            422,
            "priority",
        ),
        ("GET", "/projects/P/records?filter=nope", {}, 422, "filter"),
        ("POST", "/projects/P/next", {}, 404, None),  # an admin with no lease target: none here
        ("POST", "/assignments/999/responses", {"json": {"values": {}}}, 404, None),
        ("POST", "/assignments/999/responses", {"json": {"duration_ms": 5}}, 422, "body.values"),
        (
            "POST",
            "/assignments/999/responses",
            {"json": {"values": {}, "duration_ms": -1}},
            422,
            "body.duration_ms",
        ),
        (
            "POST",
            "/assignments/999/responses",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "body",
        ),
        ("POST", "/assignments/abc/responses", {"json": {"values": {}}}, 422, "path.assignment_id"),
        ("POST", "/reviews/999", {"json": {"verdict": "accept"}}, 404, None),
        ("GET", "/projects/P/export?format=xlsx", {}, 422, "query.format"),
        ("POST", "/users", {"json": {"name": "ann1"}}, 409, "name"),
        (
            "POST",
            "/users",
            {
                "content": b'{"name": "dear", "role": "annotator", "cost_per_item": 1e400}',  # (JSON's inf)
                "headers": {"content-type": "application/json"},
            },
            422,
            "cost_per_item",
        ),
    ],
)
def test_every_error_is_problem_json(
    live: Live, method: str, path: str, kw: dict[str, Any], status: int, field: str | None
) -> None:
    w = setup_world(live)
    if path == "/projects/P/next":
        path = "/projects/999999/next"
    path = path.replace("/P/", f"/{w['p']['id']}/")
    body = assert_problem(live.client(w["admin"]).request(method, path, **kw), status)
    if field is not None:
        assert body.get("field") == field, body
    if "records" in path and status == 422 and method == "POST" and field != "body":
        assert body["line"] == 2 and body["file"] == "request"


def test_health_openapi_and_stats(live: Live) -> None:
    w = setup_world(live)
    anon = live.client()
    assert anon.get("/health").json()["status"] == "ok"
    spec = anon.get("/openapi.json").json()
    assert "/api/v1/projects/{project_id}/next" in spec["paths"]
    admin = live.client(w["admin"])
    a1 = live.client(w["ann1"])
    pid = w["p"]["id"]
    while (r := a1.post(f"/projects/{pid}/next")).status_code == 200:
        a1.post(
            f"/assignments/{r.json()['assignment_id']}/responses",
            json={"values": {"label": "a"}, "duration_ms": 60_000},
        )
    stats = admin.get(f"/projects/{pid}/stats").json()
    assert stats["progress"]["done"] == 3 and stats["progress"]["responses"] == 4
    assert sum(h["submits"] for h in stats["throughput"]) == 4
    assert stats["confusion"]["label"]["labels"] == ["a", "b", "c"]
    people = admin.get(f"/projects/{pid}/contributors").json()["items"]
    assert people[0]["answered"] == 4 and people[0]["time_ms"] == 240_000
    assert people[0]["gold_accuracy"] == 0.0 and people[0]["agreement"] == 1.0
    mine = a1.get("/me/stats").json()
    assert mine["total"]["answered"] == 4
    assert_problem(a1.get(f"/projects/{pid}/stats"), 403)
    events = admin.get(f"/projects/{pid}/events", params={"limit": 5})
    assert events.status_code == 200 and len(events.json()["items"]) == 5 and events.json()["next_cursor"]


def test_an_id_beyond_the_databases_range_is_refused_with_its_field_named(live: Live) -> None:
    """No such row can exist: a 422 that names the path field, not a database error (500)."""
    w = setup_world(live)
    huge = "9" * 20
    admin, ann = live.client(w["admin"]), live.client(w["ann1"])
    for client, method, path, field in [
        (admin, "GET", f"/projects/{huge}", "project_id"),
        (admin, "GET", f"/records/{huge}", "record_id"),
        (ann, "POST", f"/projects/{huge}/next", "project_id"),  # (served past the middleware stack)
        (ann, "POST", f"/assignments/{huge}/responses", "assignment_id"),
    ]:
        body = assert_problem(client.request(method, path, json={"values": {}}), 422)
        assert any(field in str(e.get("field", "")) for e in body.get("errors", [body])), body
    assert_problem(admin.get(f"/projects/{w['p']['id']}/records", params={"cursor": huge}), 422)
    body = assert_problem(admin.get(f"/projects/{w['p']['id']}/responses", params={"user": huge}), 422)
    assert body["field"] == "query.user"
    lease = ann.post(f"/projects/{w['p']['id']}/next")  # the server is fine
    assert lease.status_code == 200
    # A duration beyond what the column holds (2^31 - 1 ms, about 25 days) is refused too.
    answer = f"/assignments/{lease.json()['assignment_id']}/responses"
    body = assert_problem(ann.post(answer, json={"values": {"label": "a"}, "duration_ms": 2**31}), 422)
    assert body["field"] == "body.duration_ms"
    assert ann.post(answer, json={"values": {"label": "a"}, "duration_ms": 2**31 - 1}).status_code == 201
