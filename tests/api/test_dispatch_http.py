"""Dispatch over real HTTP, on SQLite and PostgreSQL: many annotators at once, idempotent submits,
expiring leases, skills routing, gold mixing, qualification and the review flow."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from assay.services import imports
from assay.services.actors import SYSTEM
from assay.store.engine import Store
from assay.store.tables import assignments, responses
from tests.api.conftest import API, Live, spawn_server, stop_server
from tests.factories import make_project, make_user


def schema(**workflow: Any) -> dict[str, Any]:
    return {
        "name": f"p-{uuid.uuid4().hex[:8]}",
        "fields": [{"name": "text", "type": "text"}],
        "questions": [{"name": "label", "type": "label", "options": ["a", "b", "c"]}],
        "workflow": {"overlap": 3, **workflow},
    }


def load(store: Store, project: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    imports.import_rows(store, SYSTEM, project["id"], enumerate(rows, 1))


def submitted_pairs(store: Store) -> list[tuple[int, int]]:
    with store.read() as conn:
        q = sa.select(responses.c.record_id, responses.c.user_id).where(responses.c.status == "submitted")
        return [(r.record_id, r.user_id) for r in conn.execute(q)]


def annotate(client: httpx.Client, pid: int, answer: Any = "a", limit: int = 100_000) -> list[dict[str, Any]]:
    """next → submit until 204; returns the leases it got."""
    got = []
    while len(got) < limit:
        r = client.post(f"/projects/{pid}/next")
        if r.status_code == 204:
            break
        assert r.status_code == 200, r.text
        lease = r.json()
        value = answer(lease) if callable(answer) else answer
        s = client.post(
            f"/assignments/{lease['assignment_id']}/responses",
            json={"values": {"label": value}, "duration_ms": 1500, "idempotency_key": str(uuid.uuid4())},
        )
        assert s.status_code == 201, s.text
        got.append(lease)
    return got


def test_32_annotators_drain_2000_records_with_overlap_3(db_url: str, tmp_path: Path, store: Store) -> None:
    p = make_project(store, schema())
    load(store, p, [{"id": i, "text": f"t{i}"} for i in range(2000)])
    tokens = [make_user(store, f"ann{i}")[1] for i in range(32)]
    proc, url = spawn_server(db_url, tmp_path)
    errors: list[BaseException] = []
    counts: Counter[int] = Counter()

    def worker(i: int, token: str) -> None:
        try:
            with httpx.Client(
                base_url=url + API, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as c:
                counts[i] = len(annotate(c, p["id"], answer="abc"[i % 3]))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    try:
        threads = [threading.Thread(target=worker, args=(i, t)) for i, t in enumerate(tokens)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop_server(proc)
    assert not errors, errors[0]
    pairs = submitted_pairs(store)
    assert len(pairs) == 6000 == sum(counts.values())
    assert len(set(pairs)) == len(pairs)  # never twice from one annotator
    assert set(Counter(r for r, _ in pairs).values()) == {3}
    assert len(Counter(r for r, _ in pairs)) == 2000


def test_annotators_chaining_submit_and_next_drain_a_project(live: Live) -> None:
    p = make_project(live.store, schema(overlap=2))
    load(live.store, p, [{"id": i, "text": f"t{i}"} for i in range(300)])
    tokens = [make_user(live.store, f"chain{i}")[1] for i in range(8)]
    errors: list[BaseException] = []

    def worker(token: str) -> None:
        try:
            c = live.client(token)
            r = c.post(f"/projects/{p['id']}/next")
            lease = r.json() if r.status_code == 200 else None
            while lease is not None:
                s = c.post(
                    f"/assignments/{lease['assignment_id']}/responses",
                    json={"values": {"label": "a"}, "idempotency_key": str(uuid.uuid4()), "next": True},
                )
                assert s.status_code == 201, s.text
                assert s.json()["record_id"] == lease["record"]["id"]
                lease = s.json()["next"]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    pairs = submitted_pairs(live.store)
    assert len(pairs) == 600 and len(set(pairs)) == 600
    assert set(Counter(r for r, _ in pairs).values()) == {2}


def test_repeated_submit_with_same_key_stores_one_response(live: Live) -> None:
    p = make_project(live.store, schema())
    load(live.store, p, [{"id": 1, "text": "x"}])
    _, token = make_user(live.store, "ann")
    c = live.client(token)
    lease = c.post(f"/projects/{p['id']}/next").json()
    body = {"values": {"label": "a"}, "idempotency_key": "retry-1", "duration_ms": 10}
    first = c.post(f"/assignments/{lease['assignment_id']}/responses", json=body)
    again = c.post(f"/assignments/{lease['assignment_id']}/responses", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = c.post(f"/assignments/{lease['assignment_id']}/responses", json=body | {"idempotency_key": "k2"})
    assert other.status_code == 409
    assert len(submitted_pairs(live.store)) == 1


def test_killed_clients_lease_expires_and_slot_is_served_again(live: Live) -> None:
    p = make_project(live.store, schema(overlap=1, lease_seconds=1))
    load(live.store, p, [{"id": 1, "text": "x"}])
    _, t_gone = make_user(live.store, "gone")
    _, t_next = make_user(live.store, "next")
    gone = live.client(t_gone)
    lease = gone.post(f"/projects/{p['id']}/next").json()
    gone.close()  # the client dies holding the lease
    other = live.client(t_next)
    assert other.post(f"/projects/{p['id']}/next").status_code == 204
    time.sleep(1.3)
    again = other.post(f"/projects/{p['id']}/next")
    assert again.status_code == 200 and again.json()["record"]["id"] == lease["record"]["id"]
    r = other.post(f"/assignments/{again.json()['assignment_id']}/responses", json={"values": {"label": "b"}})
    assert r.status_code == 201
    late = live.client(t_gone).post(
        f"/assignments/{lease['assignment_id']}/responses", json={"values": {"label": "a"}}
    )
    assert late.status_code == 409 and late.json()["code"] == "conflict"
    assert len(submitted_pairs(live.store)) == 1


def test_skills_routing(live: Live) -> None:
    p = make_project(live.store, schema(overlap=1))
    rows = [{"id": f"med{i}", "text": f"med{i}", "skills": ["physician"]} for i in range(3)]
    load(live.store, p, rows + [{"id": f"e{i}", "text": f"easy{i}"} for i in range(3)])
    _, crowd = make_user(live.store, "crowd")
    _, doc = make_user(live.store, "doc", skills=["physician", "german"])
    seen = [lease["record"]["fields"]["text"] for lease in annotate(live.client(crowd), p["id"])]
    assert sorted(seen) == ["easy0", "easy1", "easy2"]
    seen = [lease["record"]["fields"]["text"] for lease in annotate(live.client(doc), p["id"])]
    assert sorted(seen) == ["med0", "med1", "med2"]


def test_gold_mixing_rate_over_2000_leases(live: Live) -> None:
    p = make_project(live.store, schema(overlap=1, gold_rate=0.2))
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": f"t{i}"} for i in range(2000)]
    rows += [{"id": f"g{i}", "text": f"g{i}", "gold": {"label": "a"}} for i in range(300)]
    load(live.store, p, rows)
    tokens = [make_user(live.store, f"ann{i}")[1] for i in range(4)]
    leases: list[dict[str, Any]] = []

    def worker(token: str) -> None:
        c = live.client(token)
        for _ in range(500):  # lease and skip: a skipped record never comes back to its annotator
            lease = c.post(f"/projects/{p['id']}/next").json()
            leases.append(lease)
            assert c.post(f"/assignments/{lease['assignment_id']}/skip", json={}).status_code == 204

    threads = [threading.Thread(target=worker, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(leases) == 2000
    for lease in leases:
        assert "gold" not in lease["record"] and "is_gold" not in lease["record"]
    share = sum(lease["record"]["fields"]["text"].startswith("g") for lease in leases) / len(leases)
    assert 0.17 <= share <= 0.23


def test_qualification_gate(live: Live) -> None:
    p = make_project(live.store, schema(overlap=1, qualification={"count": 3, "min_accuracy": 0.66}))
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": f"t{i}"} for i in range(5)]
    rows += [{"id": f"g{i}", "text": f"g{i}", "gold": {"label": "b"}} for i in range(5)]
    load(live.store, p, rows)
    good = live.client(make_user(live.store, "good")[1])
    bad = live.client(make_user(live.store, "bad")[1])
    for c, answer in ((good, "b"), (bad, "c")):
        got = annotate(c, p["id"], answer=answer, limit=3)
        assert all(lease["record"]["fields"]["text"].startswith("g") for lease in got)
    assert good.post(f"/projects/{p['id']}/next").json()["record"]["fields"]["text"].startswith("t")
    refused = bad.post(f"/projects/{p['id']}/next")
    assert refused.status_code == 403 and "not qualified" in refused.json()["detail"]


def test_review_flow(live: Live) -> None:
    p = make_project(live.store, schema(overlap=1, review_rate=1.0))
    load(live.store, p, [{"id": 1, "text": "x"}, {"id": 2, "text": "y"}, {"id": 3, "text": "z"}])
    ann = live.client(make_user(live.store, "ann")[1])
    ann2 = live.client(make_user(live.store, "ann2")[1])
    rev = live.client(make_user(live.store, "rev", role="reviewer")[1])
    assert len(annotate(ann, p["id"], limit=2)) == 2
    assert ann.get(f"/projects/{p['id']}/reviews").status_code == 403
    queue = rev.get(f"/projects/{p['id']}/reviews", params={"limit": 1}).json()
    assert len(queue["items"]) == 1 and queue["next_cursor"]
    rest = rev.get(f"/projects/{p['id']}/reviews", params={"cursor": queue["next_cursor"]}).json()
    items = queue["items"] + rest["items"]
    assert [i["reason"] for i in items] == ["sampled", "sampled"]
    ok = rev.post(
        f"/reviews/{items[0]['review_id']}", json={"verdict": "correct", "corrected_values": {"label": "c"}}
    )
    assert ok.status_code == 200 and ok.json()["corrected_values"] == {"label": "c"}
    assert rev.post(f"/reviews/{items[1]['review_id']}", json={"verdict": "reject"}).status_code == 200
    again = rev.post(f"/reviews/{items[1]['review_id']}", json={"verdict": "accept"})
    assert again.status_code == 409
    bad = rev.post(f"/reviews/{items[0]['review_id']}", json={"verdict": "maybe"})
    assert bad.status_code == 422 and bad.json()["field"] == "body.verdict"
    # the rejected record's slot reopened
    lease = ann2.post(f"/projects/{p['id']}/next").json()
    assert lease["record"]["id"] == items[1]["record"]["id"]
    # reviewing any answer directly; the record's history shows it all
    r = ann2.post(f"/assignments/{lease['assignment_id']}/responses", json={"values": {"label": "a"}}).json()
    direct = rev.post(f"/responses/{r['id']}/review", json={"verdict": "accept", "comment": "fine"})
    assert direct.status_code == 200 and direct.json()["verdict"] == "accept"
    history = rev.get(f"/records/{items[1]['record']['id']}/history").json()["items"]
    actions = [e["action"] for e in history]
    assert "response.submitted" in actions and "review.decided" in actions and "consensus.updated" in actions
    flagged_reviews = rev.get(f"/projects/{p['id']}/records", params={"filter": "done"}).json()["items"]
    assert {r["external_id"] for r in flagged_reviews} == {"1", "2"}


def test_draft_skip_release_and_get_assignment(live: Live) -> None:
    p = make_project(live.store, schema(overlap=1))
    load(live.store, p, [{"id": 1, "text": "x"}, {"id": 2, "text": "y"}])
    c = live.client(make_user(live.store, "ann")[1])
    lease = c.post(f"/projects/{p['id']}/next").json()
    aid = lease["assignment_id"]
    draft = c.put(f"/assignments/{aid}/draft", json={"values": {"label": "b"}})
    assert draft.status_code == 200 and draft.json()["status"] == "draft"
    assert c.get(f"/assignments/{aid}").json()["draft"] == {"label": "b"}
    assert c.post(f"/projects/{p['id']}/next").json()["assignment_id"] == aid  # holding: the same lease
    assert c.post(f"/assignments/{aid}/release").status_code == 204
    lease = c.post(f"/projects/{p['id']}/next").json()
    assert (
        c.post(
            f"/assignments/{lease['assignment_id']}/skip", json={"reason": "typo", "flag": True}
        ).status_code
        == 204
    )
    with live.store.read() as conn:
        statuses = sorted(r.status for r in conn.execute(sa.select(assignments.c.status)))
    assert statuses == ["flagged"]
    mgr = live.client(make_user(live.store, "mgr", role="manager")[1])
    flagged = mgr.get(f"/projects/{p['id']}/records", params={"filter": "flagged"}).json()["items"]
    assert [r["id"] for r in flagged] == [lease["record"]["id"]]
