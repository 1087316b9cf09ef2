"""Hot statements: the same rows, types and errors on SQLite and on PostgreSQL's driver-level path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from assay.domain.errors import Unavailable
from assay.services import imports
from assay.services.actors import SYSTEM
from assay.store import dispatch as dstore
from assay.store.engine import Store
from assay.store.statements import DEFERRED, run
from assay.store.tables import responses
from tests.factories import make_project, make_user

SCHEMA = {
    "name": "s",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
    "workflow": {"overlap": 1},
}


def _leased(store: Store) -> tuple[int, int, int]:
    p = make_project(store, SCHEMA)
    imports.import_rows(store, SYSTEM, p["id"], enumerate([{"id": "r1", "text": "x"}], 1))
    user, _ = make_user(store, "ann")
    assert user.id is not None
    with store.tx() as conn:
        record = dstore.lease_record(
            conn,
            int(p["id"]),
            user.id,
            gold=False,
            skill_keys=["x"],
            expires_at=datetime.now(UTC) + timedelta(minutes=5),
            view_of=lambda fields: {"order": {}},
        )
    assert record is not None and record["assignment_id"] is not None
    return int(p["id"]), user.id, int(record["assignment_id"])


def test_lease_in_one_statement_gives_the_same_lease(store: Store) -> None:
    p = make_project(store, SCHEMA)
    imports.import_rows(
        store, SYSTEM, p["id"], enumerate([{"id": "r1", "text": "x"}, {"id": "r2", "text": "y"}], 1)
    )
    user, _ = make_user(store, "ann")
    assert user.id is not None
    expires = datetime.now(UTC) + timedelta(minutes=5)
    with store.tx() as conn:
        record = dstore.lease_record(
            conn, int(p["id"]), user.id, gold=False, skill_keys=[], expires_at=expires
        )
        assert record is not None and record["fields"] == {"text": "x"} and record["view"] is None
        held = dstore.held_lease(conn, int(p["id"]), user.id)
        assert (
            held is not None and held["id"] == record["assignment_id"] and held["record_id"] == record["id"]
        )
        assert abs((held["expires_at"] - expires).total_seconds()) < 0.001
        # A second lease of the same contributor in the project is refused by the one-lease index.
        again = dstore.lease_record(
            conn, int(p["id"]), user.id, gold=False, skill_keys=[], expires_at=expires
        )
        assert again is not None and again["assignment_id"] is None and again["fields"] == {"text": "y"}


def test_rows_come_back_with_their_types(store: Store) -> None:
    pid, uid, aid = _leased(store)
    with store.read() as conn:
        held = dstore.held_lease(conn, pid, uid)
        ctx = dstore.submit_context(conn, aid, uid, None)
    assert held is not None and ctx is not None
    assert held["id"] == aid and held["view"] == {"order": {}}  # JSON parsed
    assert held["expires_at"].tzinfo is not None  # UTC-aware, as SQLAlchemy gives it
    assert ctx["fields"] == {"text": "x"} and ctx["suggestions"] == [] and ctx["old_consensus"] == []
    assert ctx["is_gold"] is False and ctx["gold_n"] == 0 and ctx["draft_id"] is None
    with store.read() as conn:
        assert dstore.submit_context(conn, aid, uid + 1, None) is None  # not that user's


def test_python_side_defaults_and_rowcount(store: Store) -> None:
    pid, uid, aid = _leased(store)
    with store.tx() as conn:
        rid = dstore.insert_response(
            conn,
            project_id=pid,
            record_id=1,
            user_id=uid,
            values={"label": "a"},
            status="draft",
            schema_version=1,
            guidelines_version=1,
        )
        assert dstore.take_slot(conn, 10_000) is False  # rowcount 0: no such record
    with store.read() as conn:
        row = conn.execute(sa.select(responses).where(responses.c.id == rid)).one()
    assert row.values == {"label": "a"} and row.created_at is not None


def test_database_errors_are_wrapped_and_roll_back(store: Store) -> None:
    pid, uid, aid = _leased(store)
    row = {
        "project_id": pid,
        "record_id": 1,
        "user_id": uid,
        "values": {"label": "a"},
        "status": "submitted",
        "schema_version": 1,
        "guidelines_version": 1,
        "idempotency_key": "k",
    }
    with store.tx() as conn:
        dstore.insert_response(conn, **row)
    with pytest.raises(sa.exc.IntegrityError), store.tx() as conn:
        dstore.set_assignment_status(conn, aid, "submitted")
        dstore.insert_response(conn, **row)  # the same idempotency key: unique (user_id, idempotency_key)
    with store.read() as conn:
        assert (
            run(
                conn,
                "test.count",
                lambda pg: sa.select(sa.func.count().label("n")).select_from(responses),
                {},
            ).one()["n"]
            == 1
        )
        assert dstore.get_assignment(conn, aid)["status"] == "leased"  # rolled back with it


def test_events_of_a_transaction_are_written_together_in_order(store: Store) -> None:
    from assay.store.events import list_events, write_event

    with store.tx() as conn:
        for i in range(3):
            write_event(conn, "test.step", "thing", i, after={"i": i, "nested": [i, {"x": None}]})
        assert list_events(conn, action="test.step") == []  # collected until the commit
    with store.read() as conn:
        got = list_events(conn, action="test.step")
    assert [(e["object_id"], e["after"]) for e in got] == [
        (str(i), {"i": i, "nested": [i, {"x": None}]}) for i in range(3)
    ]
    assert all(e["at"].tzinfo is not None for e in got)


def _answer(pid: int, uid: int, aid: int, **extra: object) -> dict[str, object]:
    return {
        "project_id": pid,
        "record_id": 1,
        "user_id": uid,
        "assignment_id": aid,
        "values": {"label": "a"},
        "status": "submitted",
        "schema_version": 1,
        "guidelines_version": 1,
        **extra,
    }


def _count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(responses)).scalar_one())


def test_deferred_writes_go_out_with_the_statement_that_carries_them(store: Store) -> None:
    pid, uid, aid = _leased(store)
    pg = store.dialect == "postgresql"
    with store.tx() as conn:
        ctx = dstore.submit_context(conn, aid, uid, None)
        assert ctx is not None and (ctx.get("new_id") is not None) == pg
        rid = dstore.insert_response(conn, **_answer(pid, uid, aid), id=ctx.get("new_id"))
        counters = dstore.settle_submit(conn, 1, from_lease=True, before=ctx)
        assert counters == {"submitted": 1, "target": ctx["target"]}
        waiting = conn.info[DEFERRED]
        assert len(waiting) == (2 if pg else 0)  # SQLite runs each at once
        dstore.set_assignment_status(conn, aid, "submitted", carry=True)
        assert waiting == []
        # what the carrier took along is in the database: a read after it sees it
        assert _count(conn) == 1
        record = dstore.record_for_update(conn, 1)
        assert record is not None and (record["submitted"], record["leased"], record["status"]) == (
            1,
            0,
            "done",
        )
    with store.read() as conn:
        got = dstore.get_response(conn, rid)
        assert got is not None and got["values"] == {"label": "a"}
        assert dstore.get_assignment(conn, aid)["status"] == "submitted"


def test_a_read_first_sends_the_writes_waiting(store: Store) -> None:
    pid, uid, aid = _leased(store)
    with store.tx() as conn:
        ctx = dstore.submit_context(conn, aid, uid, None)
        assert ctx is not None
        dstore.insert_response(conn, **_answer(pid, uid, aid), id=ctx.get("new_id"))
        assert _count(conn) == 1  # through SQLAlchemy (conn.execute)
        dstore.settle_submit(conn, 1, from_lease=True, before=ctx)
        assert dstore.record_for_update(conn, 1)["submitted"] == 1  # through a hot statement
        assert conn.info[DEFERRED] == []


def test_deferred_writes_roll_back_and_their_errors_surface(store: Store) -> None:
    pid, uid, aid = _leased(store)
    with store.tx() as conn:
        ctx = dstore.submit_context(conn, aid, uid, None)
        assert ctx is not None
        dstore.insert_response(conn, **_answer(pid, uid, aid, idempotency_key="k"), id=ctx.get("new_id"))
    # a second answer with the same key breaks the unique (user_id, idempotency_key) index: the
    # error comes from the statement that sends it, and nothing of the transaction stays
    with pytest.raises(sa.exc.IntegrityError), store.tx() as conn:
        ctx = dstore.submit_context(conn, aid, uid, None)
        assert ctx is not None
        dstore.insert_response(conn, **_answer(pid, uid, aid, idempotency_key="k"), id=ctx.get("new_id"))
        dstore.settle_submit(conn, 1, from_lease=True, before=ctx)
        dstore.set_assignment_status(conn, aid, "submitted", carry=True)
    with pytest.raises(RuntimeError), store.tx() as conn:
        ctx = dstore.submit_context(conn, aid, uid, None)
        assert ctx is not None
        dstore.insert_response(conn, **_answer(pid, uid, aid), id=ctx.get("new_id"))
        raise RuntimeError("refused before the commit")
    with store.read() as conn:
        assert _count(conn) == 1
        assert dstore.get_assignment(conn, aid)["status"] == "leased"
        assert dstore.record_for_update(conn, 1)["submitted"] == 0


def test_two_writes_of_one_statement_never_share_a_carrier(store: Store) -> None:
    from assay.store.consensus import record_consensus, upsert_consensus

    pid, uid, aid = _leased(store)
    row = {"project_id": pid, "record_id": 1, "question": "label", "method": "mode", "response_ids": []}
    with store.tx() as conn:
        upsert_consensus(conn, [{**row, "value": "a", "confidence": 0.5}])
        # the same row again: together in one statement PostgreSQL would refuse it
        upsert_consensus(conn, [{**row, "value": "b", "confidence": 0.9}])
    with store.read() as conn:
        assert record_consensus(conn, 1)["label"]["value"] == "b"


def test_project_for_lease_reads_project_role_and_held_lease_together(store: Store) -> None:
    pid, uid, aid = _leased(store)
    stranger, _ = make_user(store, "stranger")
    assert stranger.id is not None
    with store.read() as conn:
        project, role, held = dstore.project_for_lease(conn, pid, uid)
        assert project is not None and project["id"] == pid and "held_id" not in project
        assert role == "annotator"
        assert held is not None and held["id"] == aid and held["user_id"] == uid
        assert held["expires_at"].tzinfo is not None
        assert dstore.project_for_lease(conn, 999_999, uid) == (None, None, None)
        _, _, none_held = dstore.project_for_lease(conn, pid, stranger.id)
        assert none_held is None
    with store.tx() as conn:
        dstore.set_assignment_status(conn, aid, "submitted")
    with store.read() as conn:
        assert dstore.project_for_lease(conn, pid, uid)[2] is None


def test_named_parameters_repeated_with_a_literal_percent_and_past_fifty(store: Store) -> None:
    """Each SQL text is turned into ``$n`` placeholders once: a name used twice is one parameter,
    ``%%`` stays a literal ``%``, and a statement with more than 50 parameters (as one carrying
    writes has) gets every value in its place."""
    names = [f"v{i}" for i in range(60)]

    def build(pg: bool) -> sa.Select[tuple[object, ...]]:
        total = sum((sa.bindparam(n, type_=sa.Integer) for n in names), sa.literal(0))
        twice = sa.bindparam("word", type_=sa.String) + sa.bindparam("word", type_=sa.String)
        return sa.select(
            total.label("total"),
            twice.label("twice"),
            sa.literal_column("'50%'").label("pct"),
        )

    params: dict[str, object] = {n: i for i, n in enumerate(names)} | {"word": "ab"}
    with store.read() as conn:
        for _ in range(2):  # the second time from the cache of converted texts
            row = run(conn, "test:placeholders", build, params).one()
            assert row["total"] == sum(range(60)) and row["twice"] == "abab" and row["pct"] == "50%"


def test_a_connection_lost_in_use_fails_that_statement_and_the_next_gets_a_new_one(store: Store) -> None:
    if store.is_sqlite:
        pytest.skip("a PostgreSQL server connection")

    def count(conn: sa.Connection) -> int:
        rows = run(
            conn, "test.count", lambda pg: sa.select(sa.func.count().label("n")).select_from(responses), {}
        )
        return int(rows.one()["n"])

    with store.tx() as conn:  # a hot statement: the connection keeps its cursor
        assert count(conn) == 0
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    killer = sa.create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    with killer.connect() as k:
        assert k.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    killer.dispose()
    with pytest.raises(Unavailable) as failed, store.tx() as conn:  # (503: ask again)
        count(conn)
    cause = failed.value.__cause__
    assert isinstance(cause, sa.exc.DBAPIError) and cause.connection_invalidated
    with store.tx() as conn:  # a new connection, and a new cursor on it
        assert count(conn) == 0
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
