"""Crafted input gets a 4xx that names the place, never a 500 (issue 20, item 4), on both databases."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Live
from tests.api.test_security import assert_problem, setup_world
from tests.factories import make_project

NUL = "a\u0000b"


def test_ids_below_the_databases_range_are_refused(live: Live) -> None:
    w = setup_world(live)
    admin, ann = live.client(w["admin"]), live.client(w["ann1"])
    tiny = "-" + "9" * 20
    for client, method, path in [
        (admin, "GET", f"/projects/{tiny}"),
        (admin, "GET", f"/records/{tiny}"),
        (admin, "GET", "/projects/-1"),
        (ann, "POST", f"/projects/{tiny}/next"),
        (ann, "POST", f"/assignments/{tiny}/responses"),
        (admin, "DELETE", f"/tokens/{tiny}"),
    ]:
        r = client.request(method, path, json={"values": {}})
        assert 400 <= r.status_code < 500, (path, r.text)
    body = assert_problem(admin.get(f"/projects/{w['p']['id']}/responses", params={"user": tiny}), 422)
    assert body["field"] == "query.user"


def test_cursors_of_other_digits_are_refused(live: Live) -> None:
    w = setup_world(live)
    admin = live.client(w["admin"])
    for cursor in ("³", "١٢", "-1", "1e3", " 1"):
        body = assert_problem(admin.get(f"/projects/{w['p']['id']}/records", params={"cursor": cursor}), 422)
        assert body["field"] == "cursor"
    # a project named by such digits is looked up by name, not as an id
    from assay.domain.errors import NotFound
    from assay.services import projects
    from assay.services.actors import SYSTEM

    with pytest.raises(NotFound):
        projects.get_project(live.store, SYSTEM, "³")


def test_record_rows_that_are_not_objects_are_refused_naming_the_line(live: Live) -> None:
    w = setup_world(live)
    admin = live.client(w["admin"])
    pid = w["p"]["id"]
    for rows in ([{"id": "ok", "text": "x"}, 1], [{"id": "ok", "text": "x"}, "text"], [None], [[1, 2]]):
        body = assert_problem(admin.post(f"/projects/{pid}/records", json=rows), 422)
        assert body["line"] == len(rows)
    nd = b'{"id": "ok", "text": "x"}\n[1]\n'
    body = assert_problem(
        admin.post(f"/projects/{pid}/records", content=nd, headers={"Content-Type": "application/x-ndjson"}),
        422,
    )
    assert body["line"] == 2
    assert all(r["external_id"] != "ok" for r in admin.get(f"/projects/{pid}/records").json()["items"])


def test_a_leaderboard_of_an_unknown_question_is_refused(live: Live) -> None:
    w = setup_world(live)
    admin = live.client(w["admin"])
    arena = make_project(
        live.store,
        {
            "name": "arena",
            "fields": [{"name": "c", "type": "comparison"}],
            "questions": [{"name": "pref", "type": "preference", "field": "c"}],
        },
    )
    for pid in (arena["id"], w["p"]["id"]):
        body = assert_problem(admin.get(f"/projects/{pid}/leaderboard", params={"question": "nope"}), 422)
        assert body["field"] == "question"
        assert_problem(admin.get(f"/projects/{pid}/agent-stats", params={"question": "nope"}), 422)


def test_nul_characters_are_refused_everywhere_and_counted_at_login(live: Live) -> None:
    w = setup_world(live)
    admin, ann = live.client(w["admin"]), live.client(w["ann1"])
    pid = w["p"]["id"]
    anon = live.client()
    for _ in range(10):
        assert_problem(anon.post("/auth/login", json={"name": NUL, "password": "whatever1"}), 401)
    assert_problem(anon.post("/auth/login", json={"name": NUL, "password": "whatever1"}), 429)
    calls: list[tuple[Any, str, str, Any]] = [
        (admin, "POST", f"/projects/{pid}/records", [{"id": "n1", "text": NUL}]),
        (admin, "POST", f"/projects/{pid}/records", [{"id": NUL, "text": "x"}]),
        (admin, "POST", f"/projects/{pid}/records", [{"id": "n2", "text": "x", "metadata": {"k": NUL}}]),
        (admin, "POST", "/users", {"name": NUL}),
        (admin, "POST", "/workspaces", {"name": NUL}),
        (admin, "POST", "/projects", {"schema": {**w["p"]["schema"], "name": NUL}}),
        (admin, "PATCH", f"/projects/{pid}", {"guidelines": NUL}),
        (admin, "POST", "/tokens", {"name": NUL}),
    ]
    for client, method, path, body in calls:
        r = client.request(method, path, json=body)
        assert r.status_code == 422, (path, body, r.text)
    assert_problem(admin.post(f"/projects/{pid}/members", json={"user": NUL}), 404)  # no such user
    lease = ann.post(f"/projects/{pid}/next").json()
    aid = lease["assignment_id"]
    assert_problem(ann.post(f"/assignments/{aid}/skip", json={"reason": NUL, "flag": True}), 422)
    assert_problem(ann.put(f"/assignments/{aid}/draft", json={"values": {NUL: "a"}}), 422)
    assert_problem(ann.post(f"/assignments/{aid}/responses", json={"values": {"label": NUL}}), 422)
    key = {"values": {"label": "a"}, "idempotency_key": NUL}
    assert_problem(ann.post(f"/assignments/{aid}/responses", json=key), 422)
    assert ann.post(f"/assignments/{aid}/responses", json={"values": {"label": "a"}}).status_code == 201


def test_uploads_that_are_not_utf8_or_named_dot_dot_are_refused_or_taken(live: Live) -> None:
    w = setup_world(live)
    admin = live.client(w["admin"])
    pid = w["p"]["id"]
    latin1 = "id,text\nx1,caf\xe9\n".encode("latin-1")
    body = assert_problem(admin.post(f"/projects/{pid}/imports", files={"file": ("r.csv", latin1)}), 422)
    assert body["file"] == "r.csv" and body["line"] == 2 and "UTF-8" in body["detail"]
    jsonl = b'{"id": "dd", "text": "x"}\n'
    r = admin.post(f"/projects/{pid}/imports", files={"file": ("..", jsonl)}, data={"format": "jsonl"})
    assert r.status_code == 201, r.text
    for name in ("..", ".", "../../x.jsonl", "/"):
        r = admin.post(f"/projects/{pid}/imports", files={"file": (name, jsonl)})
        assert r.status_code in (201, 422), (name, r.text)


def test_names_are_nfkc_and_refuse_invisible_characters(live: Live) -> None:
    w = setup_world(live)
    admin = live.client(w["admin"])
    for invisible in ("ann1\u200b", "ann\u200d1", "\u202eann1", "ann\u00ad1", "a\tb", "\u3164"):
        assert_problem(admin.post("/users", json={"name": invisible}), 422)
        assert_problem(admin.post("/workspaces", json={"name": invisible}), 422)
        named = {**w["p"]["schema"], "name": invisible}
        assert_problem(admin.post("/projects", json={"schema": named}), 422)
    assert_problem(admin.post("/users", json={"name": "ａｎｎ1"}), 409)  # fullwidth: it is ann1
    made = admin.post("/users", json={"name": "  new\u00a0 user  "})
    assert made.status_code == 201 and made.json()["name"] == "new user"
    ws = admin.post("/workspaces", json={"name": "ﬁnance"})
    assert ws.status_code == 201 and ws.json()["name"] == "finance"
    assert_problem(admin.post("/workspaces", json={"name": "finance"}), 409)
