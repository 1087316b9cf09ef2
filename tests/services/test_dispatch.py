"""Dispatch rules at the service level, on SQLite and PostgreSQL (HTTP load tests live in tests/api)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from assay.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from assay.services import dispatch, imports, review
from assay.services.actors import SYSTEM, Actor
from assay.store import dispatch as dstore
from assay.store.engine import Store, open_store
from assay.store.tables import assignments, events, records, responses, reviews
from assay.store.types import utcnow
from tests.factories import make_project, make_user

# How long a test waits for an event it caused (a lock taken, a thread done) before it calls it a
# failure: long, as on a loaded machine the event comes late, never early.
EVENT_WAIT = 120


def schema(**workflow: Any) -> dict[str, Any]:
    return {
        "name": "labels",
        "fields": [{"name": "text", "type": "text"}],
        "questions": [{"name": "label", "type": "label", "options": ["a", "b", "c"]}],
        "workflow": {"overlap": 3, **workflow},
    }


def load(store: Store, project: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    imports.import_rows(store, SYSTEM, project["id"], enumerate(rows, 1))


def drain(store: Store, project: dict[str, Any], actor: Actor, answer: Any = "a", limit: int = 10_000) -> int:
    n = 0
    while n < limit:
        lease = dispatch.next_assignment(store, actor, project["id"])
        if lease is None:
            return n
        value = answer(lease) if callable(answer) else answer
        dispatch.submit_response(store, actor, lease["assignment_id"], {"label": value})
        n += 1
    return n


def submitted_per_record(store: Store) -> Counter[int]:
    with store.read() as conn:
        rows = conn.execute(sa.select(responses.c.record_id).where(responses.c.status == "submitted")).all()
    return Counter(r.record_id for r in rows)


def test_overlap_and_no_repeat(store: Store) -> None:
    p = make_project(store, schema())
    load(store, p, [{"id": i, "text": f"t{i}"} for i in range(10)])
    people = [make_user(store, f"ann{i}")[0] for i in range(5)]
    done = Counter({a.name: drain(store, p, a) for a in people})
    assert sum(done.values()) == 30
    assert set(submitted_per_record(store).values()) == {3}
    with store.read() as conn:
        pairs = conn.execute(sa.select(responses.c.record_id, responses.c.user_id)).all()
        statuses = {r.status for r in conn.execute(sa.select(records.c.status))}
    assert len(pairs) == len(set(pairs))
    assert statuses == {"done"}


def test_next_while_holding_returns_same_lease_and_draft(store: Store) -> None:
    p = make_project(store, schema())
    load(store, p, [{"id": i, "text": f"t{i}"} for i in range(3)])
    ann, _ = make_user(store, "ann")
    first = dispatch.next_assignment(store, ann, p["id"])
    assert first is not None
    dispatch.save_draft(store, ann, first["assignment_id"], {"label": "b"})
    again = dispatch.next_assignment(store, ann, p["id"])
    assert again is not None
    assert again["assignment_id"] == first["assignment_id"] and again["draft"] == {"label": "b"}
    resp, created = dispatch.submit_response(store, ann, first["assignment_id"], {"label": "c"})
    assert created and resp["values"] == {"label": "c"}
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(responses)).scalar_one() == 1


def test_idempotent_submit_stores_one_response(store: Store) -> None:
    p = make_project(store, schema())
    load(store, p, [{"id": 1, "text": "x"}])
    ann, _ = make_user(store, "ann")
    lease = dispatch.next_assignment(store, ann, p["id"])
    assert lease is not None
    r1, c1 = dispatch.submit_response(
        store, ann, lease["assignment_id"], {"label": "a"}, idempotency_key="k1"
    )
    r2, c2 = dispatch.submit_response(
        store, ann, lease["assignment_id"], {"label": "a"}, idempotency_key="k1"
    )
    assert (c1, c2) == (True, False) and r1["id"] == r2["id"]
    with pytest.raises(Conflict):
        dispatch.submit_response(store, ann, lease["assignment_id"], {"label": "a"}, idempotency_key="k2")
    assert submitted_per_record(store) == Counter({r1["record_id"]: 1})


def test_expired_lease_frees_its_slot(store: Store) -> None:
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": 1, "text": "x"}])
    slow, _ = make_user(store, "slow")
    fast, _ = make_user(store, "fast")
    lease = dispatch.next_assignment(store, slow, p["id"])
    assert lease is not None
    assert dispatch.next_assignment(store, fast, p["id"]) is None  # the only slot is leased
    with store.tx() as conn:
        conn.execute(assignments.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    # Other contributors' overdue leases are swept at most once a second per project and process.
    time.sleep(dispatch.SWEEP_SECONDS)
    again = dispatch.next_assignment(store, fast, p["id"])
    assert again is not None and again["record"]["id"] == lease["record"]["id"]
    dispatch.submit_response(store, fast, again["assignment_id"], {"label": "a"})
    with pytest.raises(Conflict):  # the late answer finds no free slot
        dispatch.submit_response(store, slow, lease["assignment_id"], {"label": "b"})
    assert submitted_per_record(store) == Counter({lease["record"]["id"]: 1})


@pytest.mark.parametrize("sweeps", [False, True], ids=["at-once", "by-its-own-sweep"])
def test_own_expired_lease_is_expired_on_the_next_call(
    store: Store, monkeypatch: pytest.MonkeyPatch, sweeps: bool
) -> None:
    """At once, whatever the sweep interval; and once only when the sweep of overdue leases that a
    `next` runs now and then expires it first (read just before): its slot is given back once, and
    one event says it expired."""
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": 1, "text": "x"}, {"id": 2, "text": "y"}])
    ann, _ = make_user(store, "ann")
    first = dispatch.next_assignment(store, ann, p["id"])
    assert first is not None
    with store.tx() as conn:
        conn.execute(assignments.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    if sweeps:
        monkeypatch.setattr(dispatch, "_last_sweep", {})  # this call sweeps
    second = dispatch.next_assignment(store, ann, p["id"])
    assert second is not None and second["record"]["id"] != first["record"]["id"]
    with store.read() as conn:
        rows = conn.execute(
            sa.select(assignments.c.id, assignments.c.status).order_by(assignments.c.id)
        ).all()
        leased = conn.execute(sa.select(records.c.external_id, records.c.leased).order_by(records.c.id)).all()
        expired = conn.execute(
            sa.select(sa.func.count()).where(
                events.c.action == "assignment.expired", events.c.object_id == str(first["assignment_id"])
            )
        ).scalar()
    assert [r.status for r in rows] == ["expired", "leased"]
    assert [tuple(r) for r in leased] == [("1", 0), ("2", 1)]
    assert expired == 1


def test_one_contributor_holds_one_lease_per_project(store: Store) -> None:
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": i, "text": str(i)} for i in range(3)])
    ann, _ = make_user(store, "ann")
    lease = dispatch.next_assignment(store, ann, p["id"])
    assert lease is not None
    # The database refuses a second lease even if a caller got past the service's check.
    with pytest.raises(sa.exc.IntegrityError), store.tx() as conn:
        conn.execute(
            assignments.insert().values(
                project_id=p["id"],
                record_id=lease["record"]["id"] + 1,
                user_id=ann.id,
                status="leased",
                leased_at=utcnow(),
                expires_at=utcnow() + timedelta(minutes=5),
            )
        )


def test_lease_carries_its_records_suggestions(store: Store) -> None:
    p = make_project(store, schema(overlap=1))
    rows = [
        {
            "id": f"r{i}",
            "text": f"t{i}",
            "suggestions": [
                {"question": "label", "value": "abc"[i % 3], "score": 0.5 + i / 10, "model": f"m{i}"},
                {"question": "label", "value": "c"},
            ],
        }
        for i in range(4)
    ]
    load(store, p, rows)
    ann, _ = make_user(store, "ann")
    seen = {}
    while (lease := dispatch.next_assignment(store, ann, p["id"])) is not None:
        seen[lease["record"]["fields"]["text"]] = lease["record"]["suggestions"]
        dispatch.submit_response(store, ann, lease["assignment_id"], {"label": "a"})
    assert seen == {
        f"t{i}": [
            {"question": "label", "value": "abc"[i % 3], "score": 0.5 + i / 10, "model": f"m{i}"},
            {"question": "label", "value": "c", "score": None, "model": None},
        ]
        for i in range(4)
    }


def test_concurrent_next_calls_of_one_contributor_share_one_lease(store: Store) -> None:
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": i, "text": str(i)} for i in range(20)])
    ann, _ = make_user(store, "ann")
    got: list[Any] = []
    start = threading.Barrier(8)

    def call() -> None:
        start.wait()
        lease = dispatch.next_assignment(store, ann, p["id"])
        got.append(lease and lease["assignment_id"])

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 1 and got[0] is not None
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(assignments)).scalar() == 1
        assert conn.execute(sa.select(sa.func.sum(records.c.leased))).scalar() == 1


def test_skills_routing(store: Store) -> None:
    p = make_project(store, schema(overlap=1))
    load(
        store,
        p,
        [{"id": "med", "text": "chest pain", "skills": ["physician"]}, {"id": "easy", "text": "hello"}],
    )
    crowd, _ = make_user(store, "crowd")
    doc, _ = make_user(store, "doc", skills=["physician", "german"])
    seen_by_crowd = []
    while (lease := dispatch.next_assignment(store, crowd, p["id"])) is not None:
        seen_by_crowd.append(lease["record"]["fields"]["text"])
        dispatch.submit_response(store, crowd, lease["assignment_id"], {"label": "a"})
    assert seen_by_crowd == ["hello"]
    lease = dispatch.next_assignment(store, doc, p["id"])
    assert lease is not None and lease["record"]["fields"]["text"] == "chest pain"


def test_priority_order(store: Store) -> None:
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": i, "text": f"t{i}", "priority": i % 3} for i in range(6)])
    ann, _ = make_user(store, "ann")
    order = []
    while (lease := dispatch.next_assignment(store, ann, p["id"])) is not None:
        order.append(lease["record"]["fields"]["text"])
        dispatch.submit_response(store, ann, lease["assignment_id"], {"label": "a"})
    assert order == ["t2", "t5", "t1", "t4", "t0", "t3"]


def test_a_record_of_higher_priority_comes_first_even_right_after_a_pick(store: Store) -> None:
    # On PostgreSQL a contributor's walk starts where its last pick was; that must not hide a
    # record that sorts ahead of it.
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": f"r{i}", "text": f"t{i}"} for i in range(4)])
    ann, _ = make_user(store, "ann")
    first = dispatch.next_assignment(store, ann, p["id"])
    assert first is not None and first["record"]["fields"]["text"] == "t0"
    answer, _ = dispatch.submit_response(store, ann, first["assignment_id"], {"label": "a"}, then_next=True)
    assert answer["next"]["record"]["fields"]["text"] == "t1"
    urgent = [{"id": "urgent", "text": "u", "priority": 5}, {"id": "more urgent", "text": "v", "priority": 7}]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(urgent, 1))
    answer, _ = dispatch.submit_response(
        store, ann, answer["next"]["assignment_id"], {"label": "a"}, then_next=True
    )
    assert answer["next"]["record"]["fields"]["text"] == "v"
    answer, _ = dispatch.submit_response(
        store, ann, answer["next"]["assignment_id"], {"label": "a"}, then_next=True
    )
    assert answer["next"]["record"]["fields"]["text"] == "u"


def test_a_record_freed_behind_the_last_pick_is_served(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": f"r{i}", "text": f"t{i}"} for i in range(3)])
    ann, _ = make_user(store, "ann")
    bob, _ = make_user(store, "bob")
    bobs = dispatch.next_assignment(store, bob, p["id"])
    anns = dispatch.next_assignment(store, ann, p["id"])
    assert bobs is not None and anns is not None
    assert [bobs["record"]["fields"]["text"], anns["record"]["fields"]["text"]] == ["t0", "t1"]
    dispatch.release_assignment(store, bob, bobs["assignment_id"])  # t0 is free again, behind ann's pick
    got = []
    lease: dict[str, Any] | None = anns
    while lease is not None:
        answer, _ = dispatch.submit_response(
            store, ann, lease["assignment_id"], {"label": "a"}, then_next=True
        )
        lease = answer["next"]
        if lease is not None:
            got.append(lease["record"]["fields"]["text"])
    assert sorted(got) == ["t0", "t2"]  # nothing is lost; t0 may come after t2 for a moment
    # Once the contributor's walk starts from the head again, a freed record is served in its turn.
    monkeypatch.setattr(dispatch, "HINT_SECONDS", 0.0)
    q = make_project(store, schema(overlap=1), name="second")
    load(store, q, [{"id": f"r{i}", "text": f"t{i}"} for i in range(3)])
    bobs = dispatch.next_assignment(store, bob, q["id"])
    anns = dispatch.next_assignment(store, ann, q["id"])
    assert bobs is not None and anns is not None
    dispatch.release_assignment(store, bob, bobs["assignment_id"])
    answer, _ = dispatch.submit_response(store, ann, anns["assignment_id"], {"label": "a"}, then_next=True)
    assert answer["next"]["record"]["fields"]["text"] == "t0"


def test_a_pick_probes_the_contributors_past_leases_instead_of_reading_them(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Did this contributor have the record?" is one probe of the (record, contributor) index
    # per candidate. PostgreSQL turned it into a join that read all of the contributor's past
    # leases on every pick (hundreds here, thousands after a day's work), and once the tables
    # had statistics it walked the primary key instead of the dispatch index.
    if store.is_sqlite:
        pytest.skip("query plans: PostgreSQL")
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": f"r{i}", "text": f"t{i}"} for i in range(400)])
    ann, _ = make_user(store, "ann")
    assert drain(store, p, ann, limit=300) == 300
    monkeypatch.setattr(dispatch, "HINT_SECONDS", 3600.0)  # (however slow the machine, no walk from the head)
    with _explained(store) as (watched, plans):
        lease = dispatch.next_assignment(watched, ann, p["id"])  # a walk from the head
        for _ in range(20):  # walks from the last pick (psycopg prepares on the 6th, PostgreSQL
            # weighs a generic plan from the prepared statement's 6th run on)
            assert lease is not None
            answer, _ = dispatch.submit_response(
                watched, ann, lease["assignment_id"], {"label": "a"}, then_next=True
            )
            lease = answer["next"]
        with watched.engine.connect() as c:  # (the one connection the calls took in turn)
            kept = c.exec_driver_sql(
                "SELECT generic_plans FROM pg_prepared_statements WHERE statement LIKE '%%FOR UPDATE SKIP%%'"
            ).all()
    # The answer's statement is planned once for any parameters, not afresh on every run.
    assert [n for (n,) in kept] and all(n > 0 for (n,) in kept), kept
    picks = [json.loads(m.split("plan:", 1)[1]) for m in plans if "FOR UPDATE SKIP LOCKED" in m]
    assert len(picks) == 21
    for plan in picks:
        scans = [
            n for cte, n in _nodes(plan["Plan"]) if cte == "CTE picked" and n["Node Type"].endswith("Scan")
        ]
        seen = [n for n in scans if n.get("Relation Name") == "assignments"]
        assert seen and all(n.get("Index Name") == "uq_assignments_record_id_user_id" for n in seen), seen
        assert sum(n["Actual Rows"] * n["Actual Loops"] for n in seen) <= 2, seen
        walks = [n for n in scans if n.get("Relation Name") == "records" and n["Alias"].startswith("pick")]
        assert walks and all(n.get("Index Name") == "ix_records_dispatch" for n in walks), walks


def test_a_contributor_with_no_gold_left_does_not_walk_the_whole_project(store: Store) -> None:
    # Gold is looked for from a random record on; once the contributor has answered every gold
    # record, that walk finds nothing, on each lease. It must pass the gold records only (the
    # dispatch index), not every record past the pivot (the primary key).
    if store.is_sqlite:
        pytest.skip("query plans: PostgreSQL")
    p = make_project(store, schema(overlap=1, gold_rate=1.0))
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": f"t{i}"} for i in range(3000)]
    for i in range(0, 3000, 150):
        rows[i]["gold"] = {"label": "a"}
    load(store, p, rows)
    ann, _ = make_user(store, "ann")
    assert drain(store, p, ann, limit=20) == 20  # (gold rate 1: the 20 gold records first)
    with _explained(store) as (watched, plans):
        for _ in range(12):
            lease = dispatch.next_assignment(watched, ann, p["id"])
            assert lease is not None
            dispatch.submit_response(watched, ann, lease["assignment_id"], {"label": "a"})
    picks = [json.loads(m.split("plan:", 1)[1]) for m in plans if "FOR UPDATE SKIP LOCKED" in m]
    assert len(picks) >= 36  # each lease: from a pivot, from the head (gold), and a record
    for plan in picks:
        walked = sum(
            (n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"]
            for _, n in _nodes(plan["Plan"])
            if n.get("Relation Name") == "records" and n.get("Alias", "").startswith("pick")
        )
        assert walked <= 25, walked


def test_the_gold_range_is_two_index_lookups(store: Store) -> None:
    # Gold is picked from a random place between the project's first and last gold record. Those
    # two ids were found by walking the primary key from each end until a gold record of the
    # project came: through every record of the projects imported after it.
    p = make_project(store, schema(overlap=1, gold_rate=1.0))
    load(store, p, [{"id": f"g{i}", "text": "g", "gold": {"label": "a"}} for i in range(5)])
    later = make_project(store, schema(overlap=1), name="imported later")
    load(store, later, [{"id": f"r{i}", "text": "r"} for i in range(2000)])
    ann, _ = make_user(store, "ann")
    if store.is_sqlite:

        def lease() -> None:
            assert dispatch.next_assignment(store, ann, p["id"]) is not None

        steps = _sqlite_plan(store, "min(records.id)", lease)
        assert (
            sum(bool(re.search(r"USING (COVERING )?INDEX ix_records_gold\b", step)) for step in steps) == 2
        ), steps
        return
    with _explained(store) as (watched, plans):
        assert dispatch.next_assignment(watched, ann, p["id"]) is not None
    ranges = [json.loads(m.split("plan:", 1)[1]) for m in plans if "min(records.id)" in m]
    assert len(ranges) == 1
    scans = [n for _, n in _nodes(ranges[0]["Plan"]) if n.get("Relation Name") == "records"]
    assert len(scans) == 2 and all(n.get("Index Name") == "ix_records_gold" for n in scans), scans
    # (the project's gold rows at most, whatever else the table holds)
    assert all(n.get("Rows Removed by Filter", 0) == 0 and n["Actual Rows"] <= 5 for n in scans), scans


def test_a_contributors_gold_record_is_read_from_the_gold_index(store: Store) -> None:
    # Each answer the consensus reads carries its author's gold count and sum in the project.
    # SQLite read them through ix_responses_project_user, walking every answer the author had
    # given there, gold or not: an import of N records answered by one contributor was quadratic.
    # (PostgreSQL chose the gold index before too: its half guards against a change of plan.)
    p = make_project(store, schema(overlap=1))
    make_user(store, "ann")
    answered = [{"user": "ann", "values": {"label": "a"}}]
    rows = [{"id": f"r{i}", "text": "r", "responses": answered} for i in range(300)]
    load(
        store,
        p,
        rows
        + [{"id": f"g{i}", "text": "g", "gold": {"label": "a"}, "responses": answered} for i in range(3)],
    )
    last = [{"id": "last", "text": "r", "responses": answered}]
    if store.is_sqlite:
        steps = _sqlite_plan(store, "gold_score IS NOT NULL", lambda: load(store, p, last))
        reads = [step for step in steps if re.match(r"SEARCH g\b", step)]
        assert reads and all("INDEX ix_responses_gold_scores " in step for step in reads), steps
        return
    with _explained(store) as (watched, plans):

        @sa.event.listens_for(watched.engine, "connect")
        def _no_seq_scans(dbapi_conn: Any, _record: Any) -> None:
            # (a test's table is small enough for a scan to be cheapest: which index, if one?)
            with dbapi_conn.cursor() as cur:
                cur.execute("SET enable_seqscan = off")
            dbapi_conn.commit()

        load(watched, p, last)
    read = [json.loads(m.split("plan:", 1)[1]) for m in plans if "gold_score IS NOT NULL" in m]
    assert read
    scans = [n for plan in read for _, n in _nodes(plan["Plan"]) if n.get("Alias") == "g"]
    indexes = {c["Index Name"] for n in scans for _, c in _nodes(n) if "Index Name" in c}
    assert scans and indexes == {"ix_responses_gold_scores"}, scans
    # (the author's 3 gold answers at most, of its 301)
    assert all(n.get("Rows Removed by Filter", 0) == 0 and n["Actual Rows"] <= 3 for n in scans), scans


def _sqlite_plan(store: Store, marker: str, action: Callable[[], Any]) -> list[str]:
    """The steps of SQLite's plan (EXPLAIN QUERY PLAN) for the first statement holding ``marker``
    that ``action`` sends, with its parameters."""
    asked: list[tuple[str, Any]] = []

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def _ask(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if marker in statement:
            asked.append((statement, parameters))

    try:
        action()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", _ask)
    assert asked
    with store.read() as conn:
        return [r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + asked[0][0], asked[0][1])]


@contextmanager
def _explained(store: Store) -> Iterator[tuple[Store, list[str]]]:
    """Another store on the same database (with statistics, as a live one has), whose
    statements' plans, as they ran, are collected (PostgreSQL's auto_explain, as notices)."""
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("ANALYZE")
    plans: list[str] = []
    watched = open_store(store.engine.url.render_as_string(hide_password=False), migrate=False)

    try:
        with watched.engine.connect() as c:
            c.exec_driver_sql("LOAD 'auto_explain'")
    except sa.exc.DBAPIError as e:
        watched.dispose()
        pytest.skip(f"PostgreSQL's auto_explain cannot be loaded here: {e.orig}")
    watched.dispose()

    @sa.event.listens_for(watched.engine, "connect")
    def _explain(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
        with dbapi_conn.cursor() as cur:
            cur.execute("LOAD 'auto_explain'")
            for setting in (
                "log_min_duration = 0",
                "log_analyze = on",
                "log_format = json",
                "log_level = notice",
            ):
                cur.execute(f"SET auto_explain.{setting}")
        dbapi_conn.commit()

    try:
        yield watched, plans
    finally:
        watched.dispose()


def _nodes(node: dict[str, Any], cte: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Each node of a plan, with the name of the CTE it is part of."""
    if node.get("Subplan Name", "").startswith("CTE "):
        cte = node["Subplan Name"]
    return [(cte, node), *(n for child in node.get("Plans", []) for n in _nodes(child, cte))]


def test_gold_mixing_rate_and_gold_never_leaks(store: Store) -> None:
    p = make_project(store, schema(overlap=1, gold_rate=0.2))
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": f"t{i}"} for i in range(500)]
    rows += [{"id": f"g{i}", "text": f"g{i}", "gold": {"label": "a"}} for i in range(500)]
    load(store, p, rows)
    ann, _ = make_user(store, "ann")
    gold = 0
    for _ in range(400):
        lease = dispatch.next_assignment(store, ann, p["id"])
        assert lease is not None
        assert "gold" not in lease["record"] and "is_gold" not in lease["record"]
        gold += lease["record"]["fields"]["text"].startswith("g")
        dispatch.submit_response(store, ann, lease["assignment_id"], {"label": "a"})
    assert 0.2 - 0.07 <= gold / 400 <= 0.2 + 0.07


def test_qualification_gate(store: Store) -> None:
    p = make_project(store, schema(overlap=1, qualification={"count": 3, "min_accuracy": 0.66}))
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": f"t{i}"} for i in range(5)]
    rows += [{"id": f"g{i}", "text": f"g{i}", "gold": {"label": "b"}} for i in range(5)]
    load(store, p, rows)
    good, _ = make_user(store, "good")
    bad, _ = make_user(store, "bad")
    for who, answer in ((good, "b"), (bad, "c")):
        for _ in range(3):
            lease = dispatch.next_assignment(store, who, p["id"])
            assert lease is not None and lease["record"]["fields"]["text"].startswith("g")
            dispatch.submit_response(store, who, lease["assignment_id"], {"label": answer})
    lease = dispatch.next_assignment(store, good, p["id"])
    assert lease is not None and lease["record"]["fields"]["text"].startswith("t")
    with pytest.raises(PermissionDenied, match="not qualified"):
        dispatch.next_assignment(store, bad, p["id"])


def test_submit_then_next_chains_leases(store: Store) -> None:
    p = make_project(store, schema(overlap=2))
    load(store, p, [{"id": i, "text": f"t{i}"} for i in range(10)])
    for name in ("a", "b"):
        who, _ = make_user(store, name)
        lease = dispatch.next_assignment(store, who, p["id"])
        answered = 0
        while lease is not None:
            key = f"{name}-{answered}"
            response, created = dispatch.submit_response(
                store, who, lease["assignment_id"], {"label": "a"}, idempotency_key=key, then_next=True
            )
            assert created and response["record_id"] == lease["record"]["id"]
            answered += 1
            if response["next"] is not None:
                # A repeat of the same submit stores nothing and returns the lease the first one gave.
                again, created = dispatch.submit_response(
                    store, who, lease["assignment_id"], {"label": "a"}, idempotency_key=key, then_next=True
                )
                assert not created and again["id"] == response["id"]
                assert again["next"]["assignment_id"] == response["next"]["assignment_id"]
            lease = response["next"]
        assert answered == 10
    assert submitted_per_record(store) == Counter({rid: 2 for rid in submitted_per_record(store)})
    assert len(submitted_per_record(store)) == 10


def test_submit_then_next_says_why_there_is_no_lease_and_keeps_the_answer(store: Store) -> None:
    p = make_project(store, schema(overlap=1, qualification={"count": 2, "min_accuracy": 1.0}))
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": f"t{i}"} for i in range(3)]
    rows += [{"id": f"g{i}", "text": f"g{i}", "gold": {"label": "b"}} for i in range(3)]
    load(store, p, rows)
    bad, _ = make_user(store, "bad")
    lease = dispatch.next_assignment(store, bad, p["id"])
    assert lease is not None
    first, _ = dispatch.submit_response(store, bad, lease["assignment_id"], {"label": "c"}, then_next=True)
    assert first["next"] is not None and "next_problem" not in first
    last, _ = dispatch.submit_response(
        store, bad, first["next"]["assignment_id"], {"label": "c"}, then_next=True
    )
    assert last["next"] is None and "not qualified" in last["next_problem"]["detail"]
    with store.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(responses)).scalar()
    assert n == 2  # both answers were stored


def test_quality_bar_pauses(store: Store) -> None:
    p = make_project(store, schema(overlap=1, gold_rate=1.0, quality_bar=0.8))
    load(store, p, [{"id": f"g{i}", "text": f"g{i}", "gold": {"label": "b"}} for i in range(20)])
    bad, _ = make_user(store, "bad")
    with pytest.raises(PermissionDenied, match="paused"):
        for _ in range(20):
            lease = dispatch.next_assignment(store, bad, p["id"])
            assert lease is not None
            dispatch.submit_response(store, bad, lease["assignment_id"], {"label": "a"})


def test_invalid_answer_changes_nothing(store: Store) -> None:
    p = make_project(store, schema())
    load(store, p, [{"id": 1, "text": "x"}])
    ann, _ = make_user(store, "ann")
    lease = dispatch.next_assignment(store, ann, p["id"])
    assert lease is not None
    with pytest.raises(ValidationError) as info:
        dispatch.submit_response(store, ann, lease["assignment_id"], {"label": "zzz"})
    assert info.value.field is not None and "label" in info.value.field
    with pytest.raises(ValidationError):
        dispatch.submit_response(store, ann, lease["assignment_id"], {})
    assert submitted_per_record(store) == Counter()
    dispatch.submit_response(store, ann, lease["assignment_id"], {"label": "b"})  # the lease still stands


def test_skip_flag_release(store: Store) -> None:
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": i, "text": f"t{i}"} for i in range(2)])
    ann, _ = make_user(store, "ann")
    other, _ = make_user(store, "other")
    first = dispatch.next_assignment(store, ann, p["id"])
    assert first is not None
    dispatch.release_assignment(store, ann, first["assignment_id"])
    again = dispatch.next_assignment(store, ann, p["id"])
    assert again is not None and again["record"]["id"] == first["record"]["id"]  # released: may come back
    with pytest.raises(ValidationError):
        dispatch.skip_assignment(store, ann, again["assignment_id"], flag=True)
    dispatch.skip_assignment(store, ann, again["assignment_id"], reason="offensive", flag=True)
    nxt = dispatch.next_assignment(store, ann, p["id"])
    assert nxt is not None and nxt["record"]["id"] != first["record"]["id"]  # skipped: never again
    lease = dispatch.next_assignment(store, other, p["id"])
    assert lease is not None and lease["record"]["id"] == first["record"]["id"]  # its slot reopened
    with pytest.raises(NotFound):  # someone else's lease
        dispatch.submit_response(store, ann, lease["assignment_id"], {"label": "a"})


def test_review_flow(store: Store) -> None:
    p = make_project(store, schema(overlap=1, review_rate=1.0))
    load(store, p, [{"id": 1, "text": "x"}, {"id": 2, "text": "y"}])
    ann, _ = make_user(store, "ann")
    ann2, _ = make_user(store, "ann2")
    rev, _ = make_user(store, "rev", role="reviewer")
    assert drain(store, p, ann) == 2
    with pytest.raises(PermissionDenied):
        review.review_queue(store, ann, p["id"])
    queue = review.review_queue(store, rev, p["id"])
    assert [q["reason"] for q in queue] == ["sampled", "sampled"]
    assert queue[0]["record"]["fields"] == {"text": "x"}
    review.decide_review(store, rev, queue[0]["review_id"], "correct", corrected_values={"label": "c"})
    review.decide_review(store, rev, queue[1]["review_id"], "reject")
    with pytest.raises(Conflict):
        review.decide_review(store, rev, queue[1]["review_id"], "accept")
    assert review.review_queue(store, rev, p["id"]) == []
    # The rejected record's slot reopened: another annotator gets it.
    lease = dispatch.next_assignment(store, ann2, p["id"])
    assert lease is not None and lease["record"]["fields"] == {"text": "y"}
    with store.read() as conn:
        verdicts = sorted(r.verdict for r in conn.execute(sa.select(reviews.c.verdict)))
        from assay.store.tables import consensus

        cons = {
            r.record_id: r.value for r in conn.execute(sa.select(consensus.c.record_id, consensus.c.value))
        }
    assert verdicts == ["correct", "reject"]
    assert cons[queue[0]["record"]["id"]] == "c"  # the correction counts


def test_an_answer_counts_a_correction_made_while_it_waited_for_the_record(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A submit reads the record's answers so far before the record's lock is granted; a review
    # verdict committed while it waited must still count in the consensus it writes.
    p = make_project(store, schema(overlap=2, review_rate=1.0))
    load(store, p, [{"id": 1, "text": "x"}])
    ann, _ = make_user(store, "ann")
    ann2, _ = make_user(store, "ann2")
    rev, _ = make_user(store, "rev", role="reviewer")
    assert drain(store, p, ann) == 1
    lease = dispatch.next_assignment(store, ann2, p["id"])
    assert lease is not None
    [queued] = review.review_queue(store, rev, p["id"])

    decided, go_on = threading.Event(), threading.Event()
    decide = dstore.decide_review
    holder: list[int] = []  # the verdict's PostgreSQL backend

    def slow_decide(conn: Any, *args: Any, **kw: Any) -> None:
        decide(conn, *args, **kw)
        if not store.is_sqlite:
            holder.append(conn.connection.driver_connection.info.backend_pid)
        decided.set()  # the record is locked by the verdict's transaction, not yet committed
        assert go_on.wait(EVENT_WAIT)

    monkeypatch.setattr(dstore, "decide_review", slow_decide)
    reviewer = threading.Thread(
        target=review.decide_review,
        args=(store, rev, queued["review_id"], "correct"),
        kwargs={"corrected_values": {"label": "b"}},
    )
    answered: list[Any] = []
    # SQLite takes the write lock at BEGIN: a submit started while the verdict's transaction is
    # open runs nothing of its own (its first statement reads its context) before that ends.
    started, began = threading.Event(), threading.Event()
    context = dstore.submit_context

    def submit_context(*args: Any, **kw: Any) -> Any:
        began.set()
        return context(*args, **kw)

    monkeypatch.setattr(dstore, "submit_context", submit_context)

    def submit() -> None:
        started.set()
        answered.append(dispatch.submit_response(store, ann2, lease["assignment_id"], {"label": "b"}))

    answer = threading.Thread(target=submit)
    try:
        reviewer.start()
        assert decided.wait(EVENT_WAIT)
        answer.start()
        if store.is_sqlite:
            assert started.wait(EVENT_WAIT) and not began.is_set()
        else:  # until the submit's backend waits for the verdict's (the record's lock)
            with store.engine.connect() as c:
                blocked = "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"
                deadline = time.monotonic() + EVENT_WAIT
                while not c.exec_driver_sql(blocked, (holder[0],)).scalar():
                    assert answer.is_alive() and time.monotonic() < deadline, "the submit never waited"
                    c.rollback()  # (a fresh snapshot of pg_stat_activity)
                    time.sleep(0.01)
    finally:
        go_on.set()
        reviewer.join(EVENT_WAIT)
        answer.join(EVENT_WAIT)
    assert answered, "the submit failed"
    with store.read() as conn:
        from assay.store.tables import consensus

        [cons] = conn.execute(sa.select(consensus.c["value"], consensus.c.confidence)).all()
    assert cons.value == "b" and cons.confidence > 0.9  # both answers now say b (a tie: about 0.5)


def test_later_answers_count_earlier_corrections_and_reliabilities(store: Store) -> None:
    p = make_project(store, schema(overlap=3, review_rate=1.0))
    load(store, p, [{"id": 1, "text": "x"}])
    ann, ann2, ann3 = (make_user(store, n)[0] for n in ("ann", "ann2", "ann3"))
    rev, _ = make_user(store, "rev", role="reviewer")
    assert drain(store, p, ann) == 1
    [queued] = review.review_queue(store, rev, p["id"])
    review.decide_review(store, rev, queued["review_id"], "correct", corrected_values={"label": "b"})
    assert drain(store, p, ann2, "b") == 1
    assert drain(store, p, ann3, "c") == 1
    with store.read() as conn:
        from assay.store.tables import consensus

        [cons] = conn.execute(sa.select(consensus.c["value"], consensus.c.response_ids)).all()
    assert cons.value == "b"  # ann's corrected answer and ann2's, against ann3's
    assert len(cons.response_ids) == 3


def test_disagreement_is_judged_on_corrected_answers(store: Store) -> None:
    p = make_project(store, schema(overlap=2, review_rate=1.0))
    load(store, p, [{"id": "fixed", "text": "x"}, {"id": "left", "text": "y"}])
    ann, ann2 = (make_user(store, n)[0] for n in ("ann", "ann2"))
    rev, _ = make_user(store, "rev", role="reviewer")
    assert drain(store, p, ann) == 2  # "a" to both
    queued = {q["record"]["id"]: q for q in review.review_queue(store, rev, p["id"])}
    assert len(queued) == 2
    with store.read() as conn:
        ids = dict(conn.execute(sa.select(records.c.external_id, records.c.id)).all())
    review.decide_review(
        store, rev, queued[ids["fixed"]]["review_id"], "correct", corrected_values={"label": "b"}
    )
    assert drain(store, p, ann2, "b") == 2
    with store.read() as conn:
        reasons = dict(
            conn.execute(
                sa.select(records.c.external_id, reviews.c.reason)
                .join(responses, responses.c.id == reviews.c.response_id)
                .join(records, records.c.id == responses.c.record_id)
                .where(responses.c.user_id == ann2.id)
            ).all()
        )
    # ann's "a" corrected to "b" agrees with ann2's "b"; the uncorrected "a" does not.
    assert reasons == {"fixed": "sampled", "left": "disagreement"}


def test_gold_failures_go_to_review(store: Store) -> None:
    p = make_project(store, schema(overlap=1, gold_rate=1.0))
    load(store, p, [{"id": "g1", "text": "g", "gold": {"label": "a"}}])
    ann, _ = make_user(store, "ann")
    lease = dispatch.next_assignment(store, ann, p["id"])
    assert lease is not None
    dispatch.submit_response(store, ann, lease["assignment_id"], {"label": "b"})
    with store.read() as conn:
        assert [r.reason for r in conn.execute(sa.select(reviews.c.reason))] == ["gold_failed"]


def test_adaptive_overlap_asks_more_only_when_unsure(store: Store) -> None:
    p = make_project(store, schema(overlap={"min": 2, "max": 4, "confidence": 0.9}))
    load(store, p, [{"id": "easy", "text": "easy"}, {"id": "hard", "text": "hard"}])
    people = [make_user(store, f"a{i}")[0] for i in range(6)]
    answers = {"easy": iter(["a"] * 6), "hard": iter(["a", "b", "c", "a", "b", "c"])}
    for person in people:
        drain(
            store, p, person, answer=lambda lease: next(answers[lease["record"]["fields"]["text"]]), limit=2
        )
    counts = submitted_per_record(store)
    with store.read() as conn:
        ids = {r.external_id: r.id for r in conn.execute(sa.select(records.c.external_id, records.c.id))}
    assert counts[ids["easy"]] == 2 and counts[ids["hard"]] == 4


def test_project_members_limit_who_sees_it(store: Store) -> None:
    p = make_project(store, schema())
    from assay.services import projects

    outsider, _ = make_user(store, "outsider")
    insider, _ = make_user(store, "insider")
    projects.add_member(store, SYSTEM, p["id"], "insider", "annotator")
    with pytest.raises(NotFound):
        dispatch.next_assignment(store, outsider, p["id"])
    assert dispatch.next_assignment(store, insider, p["id"]) is None


def test_home_figures_left_for_me_and_answered_today(store: Store) -> None:
    from assay.services import projects, stats

    p = make_project(store, schema(overlap=2))
    load(store, p, [{"id": i, "text": f"t{i}"} for i in range(5)])
    ann, _ = make_user(store, "ann")
    [mine] = projects.list_projects(store, ann)
    assert mine["left_for_me"] == 5
    assert drain(store, p, ann, limit=3) == 3
    [mine] = projects.list_projects(store, ann)
    assert mine["left_for_me"] == 2
    figures = stats.my_stats(store, ann)
    assert figures["total"]["answered_today"] == 3 and figures["projects"][0]["answered_today"] == 3


def test_a_trajectory_with_a_reference_comes_with_its_tool_call_diff(store: Store) -> None:
    p = make_project(
        store,
        {
            "name": "agents",
            "fields": [{"name": "trace", "type": "trajectory"}],
            "questions": [{"name": "ok", "type": "label", "options": ["yes", "no"]}],
        },
    )
    call = {"role": "assistant", "tool_calls": [{"name": "search", "arguments": {"q": "x"}}]}
    other = {"role": "assistant", "tool_calls": [{"name": "book", "arguments": {"id": 2}}]}
    trace = {
        "steps": [call, other],
        "reference": [call, {**other, "tool_calls": [{"name": "book", "arguments": {"id": 1}}]}],
    }
    load(store, p, [{"id": 1, "trace": trace}])
    ann, _ = make_user(store, "ann")
    lease = dispatch.next_assignment(store, ann, p["id"])
    assert lease is not None
    diff = lease["reference_diff"]["trace"]
    assert diff["counts"]["match"] == 1 and diff["counts"]["different_arguments"] == 1
    assert diff["precision"] == 0.5 and diff["recall"] == 0.5


def test_the_audit_log_tells_a_chained_answer_in_order(store: Store) -> None:
    """A submit with next: its answer's events, then the new lease's, the same on both databases
    (on PostgreSQL the lease statement writes its own event, and the submit's go out with it)."""
    from datetime import datetime

    from assay.store.events import list_events

    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": i, "text": f"t{i}"} for i in range(3)])
    ann, _ = make_user(store, "ann")
    first = dispatch.next_assignment(store, ann, p["id"])
    assert first is not None
    response, _ = dispatch.submit_response(store, ann, first["assignment_id"], {"label": "b"}, then_next=True)
    second = response["next"]
    with store.read() as conn:
        got = list_events(conn, project_id=p["id"])[-4:]
    assert [(e["action"], e["object_id"]) for e in got] == [
        ("assignment.created", str(first["assignment_id"])),
        ("consensus.updated", str(first["record"]["id"])),
        ("response.submitted", str(response["id"])),
        ("assignment.created", str(second["assignment_id"])),
    ]
    leases = [e for e in got if e["action"] == "assignment.created"]
    for event, lease in zip(leases, (first, second), strict=True):
        assert event["actor_id"] == ann.id and event["project_id"] == p["id"]
        assert event["object_type"] == "assignment"
        assert event["after"]["record_id"] == lease["record"]["id"]
        expires = event["after"]["expires_at"]
        assert datetime.fromisoformat(expires) == datetime.fromisoformat(str(lease["lease_expires_at"]))


def test_a_project_number_beyond_any_id_is_looked_up_as_a_name(store: Store) -> None:
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": 1, "text": "x"}])
    ann, _ = make_user(store, "ann")
    with pytest.raises(NotFound):
        dispatch.next_assignment(store, ann, "9" * 20)


def test_a_duration_beyond_what_the_database_holds_is_refused(store: Store) -> None:
    p = make_project(store, schema(overlap=1))
    load(store, p, [{"id": 1, "text": "x"}])
    ann, _ = make_user(store, "ann")
    lease = dispatch.next_assignment(store, ann, p["id"])
    assert lease is not None
    for bad in (2**31, -1):
        with pytest.raises(ValidationError) as e:
            dispatch.submit_response(store, ann, lease["assignment_id"], {"label": "a"}, duration_ms=bad)
        assert e.value.field == "duration_ms"
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(responses)).scalar() == 0
