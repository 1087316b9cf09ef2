"""The audit log's hash chain: tampering with the events table is found on SQLite (the file
edited with plain sqlite3) and refused on PostgreSQL (its triggers); verify names the first
broken event."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from assay.domain.errors import PermissionDenied
from assay.services import accounts, audit
from assay.services.actors import SYSTEM
from assay.store import audit_chain
from assay.store.engine import Store
from tests.factories import make_project, make_user


def _some_events(store: Store, n: int = 6) -> None:
    make_project(store)
    for i in range(n - 1):
        make_user(store, f"user-{i}")


def _check(store: Store, **kw: Any) -> dict[str, Any]:
    return audit.verify(store, SYSTEM, **kw)


def _sqlite(store: Store) -> sqlite3.Connection:
    path = store.url.database
    assert path is not None
    return sqlite3.connect(path, isolation_level=None)


def _ids_by_seq(store: Store) -> dict[int, int]:
    with store.read() as conn:
        return {int(s): int(i) for i, s in conn.exec_driver_sql("SELECT id, seq FROM events")}


def test_a_clean_log_verifies_and_the_head_is_the_last_event(store: Store) -> None:
    _some_events(store)
    result = _check(store)
    assert result["ok"] and result["broken"] is None
    with store.read() as conn:
        n, last = conn.execute(sa.text("SELECT count(*), max(seq) FROM events")).one()
    assert result["events"] == n == last and n >= 6
    head = audit.anchor(store, SYSTEM)
    assert head["seq"] == last and head["hash"] == result["head"]["hash"]
    assert _check(store, anchor=head)["ok"]


def test_only_admins_verify(store: Store) -> None:
    manager, _ = make_user(store, "mgr", role="manager")
    with pytest.raises(PermissionDenied):
        audit.verify(store, manager)
    with pytest.raises(PermissionDenied):
        audit.anchor(store, manager)


@pytest.fixture
def sqlite_store(store: Store) -> Store:
    if not store.is_sqlite:
        pytest.skip("SQLite: the file edited by hand")
    _some_events(store, 8)
    assert _check(store)["ok"]
    return store


def test_sqlite_update_is_found_at_the_changed_event(sqlite_store: Store) -> None:
    ids = _ids_by_seq(sqlite_store)
    with _sqlite(sqlite_store) as db:
        db.execute('UPDATE events SET after = \'{"name": "mallory"}\' WHERE id = ?', (ids[4],))
    broken = _check(sqlite_store)["broken"]
    assert broken["seq"] == 4 and broken["event_id"] == ids[4]


def test_sqlite_delete_is_found_at_the_gap(sqlite_store: Store) -> None:
    ids = _ids_by_seq(sqlite_store)
    with _sqlite(sqlite_store) as db:
        db.execute("DELETE FROM events WHERE id = ?", (ids[3],))
    result = _check(sqlite_store)
    assert result["broken"]["seq"] == 3 and result["broken"]["event_id"] == ids[4]
    assert result["events"] == 2


def test_sqlite_delete_with_renumbering_is_found_by_the_hash(sqlite_store: Store) -> None:
    ids = _ids_by_seq(sqlite_store)
    with _sqlite(sqlite_store) as db:
        db.execute("DELETE FROM events WHERE id = ?", (ids[3],))
        db.execute("UPDATE events SET seq = seq - 1 WHERE seq > 3")
    broken = _check(sqlite_store)["broken"]
    assert broken["seq"] == 3 and broken["event_id"] == ids[4]


def test_sqlite_reorder_is_found(sqlite_store: Store) -> None:
    ids = _ids_by_seq(sqlite_store)
    with _sqlite(sqlite_store) as db:  # events 5 and 6 swap places
        db.execute("UPDATE events SET seq = -1 WHERE id = ?", (ids[5],))
        db.execute("UPDATE events SET seq = 5 WHERE id = ?", (ids[6],))
        db.execute("UPDATE events SET seq = 6 WHERE id = ?", (ids[5],))
    broken = _check(sqlite_store)["broken"]
    assert broken["seq"] == 5 and broken["event_id"] == ids[6]


def test_sqlite_insert_with_a_well_made_hash_is_found_at_the_next_event(sqlite_store: Store) -> None:
    """Who inserts an event mid-chain with its right hash still breaks the event after it."""
    ids = _ids_by_seq(sqlite_store)
    with sqlite_store.read() as conn:
        prev = conn.execute(sa.text("SELECT hash FROM events WHERE seq = 2")).scalar_one()
    at = "2026-01-01 00:00:00.000000"
    forged = audit_chain.link(prev, 3, (at, None, "user.created", "user", "99", None, "null", "{}"))
    with _sqlite(sqlite_store) as db:
        for s in sorted((s for s in ids if s >= 3), reverse=True):
            db.execute("UPDATE events SET seq = seq + 1 WHERE seq = ?", (s,))
        db.execute(
            "INSERT INTO events (at, action, object_type, object_id, before, after, seq, hash) "
            "VALUES (?, 'user.created', 'user', '99', 'null', '{}', 3, ?)",
            (at, forged),
        )
    broken = _check(sqlite_store)["broken"]
    assert broken["seq"] == 4 and broken["event_id"] == ids[3]


def test_sqlite_an_event_written_around_the_chain_is_found(sqlite_store: Store) -> None:
    with _sqlite(sqlite_store) as db:
        db.execute(
            "INSERT INTO events (at, action, object_type) VALUES ('2026-01-01 00:00:00.000000', 'x', 'y')"
        )
        new_id = db.execute("SELECT max(id) FROM events").fetchone()[0]
    broken = _check(sqlite_store)["broken"]
    assert broken["event_id"] == new_id and broken["seq"] == 9


def test_sqlite_a_rewritten_chain_or_a_cut_tail_is_found_by_an_anchor(sqlite_store: Store) -> None:
    head = audit.anchor(sqlite_store, SYSTEM)
    ids = _ids_by_seq(sqlite_store)
    with _sqlite(sqlite_store) as db:  # the last two events removed: the chain itself still holds
        db.execute("DELETE FROM events WHERE seq > 6")
    assert _check(sqlite_store)["ok"]
    result = _check(sqlite_store, anchor=head)
    assert not result["ok"] and result["broken"]["seq"] == 7
    # events changed and the chain recomputed from there on: only the anchor tells
    with sqlite_store.read() as conn:
        rows = conn.execute(sa.text("SELECT seq, hash FROM events WHERE seq = 5")).one()
    with _sqlite(sqlite_store) as db:
        db.execute("UPDATE events SET object_id = 'x' WHERE id = ?", (ids[6],))
        fields = db.execute(
            "SELECT at, CAST(actor_id AS TEXT), action, object_type, object_id, CAST(project_id AS TEXT), "
            "CAST(before AS TEXT), CAST(after AS TEXT) FROM events WHERE id = ?",
            (ids[6],),
        ).fetchone()
        db.execute("UPDATE events SET hash = ? WHERE id = ?", (audit_chain.link(rows[1], 6, fields), ids[6]))
    assert _check(sqlite_store)["ok"]
    assert _check(sqlite_store, anchor={"seq": 6, "hash": "0" * 64})["broken"]["seq"] == 6


@pytest.fixture
def pg_store(store: Store) -> Store:
    if store.is_sqlite:
        pytest.skip("PostgreSQL: its triggers")
    _some_events(store)
    return store


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET after = '{}' WHERE seq = 2",
        "DELETE FROM events WHERE seq = 2",
        "DELETE FROM events",
    ],
)
def test_postgresql_refuses_update_and_delete(pg_store: Store, statement: str) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), pg_store.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert _check(pg_store)["ok"]


def test_postgresql_chains_what_any_writer_inserts(pg_store: Store) -> None:
    """The trigger sets seq and hash, whatever the insert says (a forged hash, a seq out of place)."""
    with pg_store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (at, action, object_type, seq, hash) VALUES (now(), 'x', 'y', 1, 'forged')"
        )
    assert _check(pg_store)["ok"]


def test_postgresql_concurrent_writers_make_one_chain(pg_store: Store) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(k: int) -> None:
        try:
            start.wait()
            for i in range(15):
                accounts.add_user(pg_store, SYSTEM, f"w{k}-{i}", role="annotator")
        except BaseException as e:  # (reported below)
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = _check(pg_store)
    assert result["ok"]
    with pg_store.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == result["events"]
