"""Connections: a pooled PostgreSQL connection that died while idle is replaced, not failed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from assay.store import engine as engine_mod
from assay.store.engine import Store


def test_idle_connection_killed_by_the_server_is_replaced(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store.is_sqlite:
        pytest.skip("a PostgreSQL server connection")
    with store.tx() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    # The database drops the pooled connection (a restart, an idle timeout) while nobody uses it.
    killer = sa.create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    with killer.connect() as k:
        assert k.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    killer.dispose()
    monkeypatch.setattr(engine_mod, "IDLE_PING_SECONDS", 0.0)  # as if it had been idle long enough
    with store.tx() as conn:  # the checkout's ping finds it dead and the pool connects again
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid


def _prepared_on_server(conn: sa.Connection) -> set[str]:
    return set(conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars())


def test_a_rollback_keeps_the_connections_prepared_statements(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store.is_sqlite:
        pytest.skip("a PostgreSQL server connection")
    hot = "SELECT count(*) FROM responses WHERE id > %(n)s"
    with store.tx() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS kept (n int)")
    for _ in range(6):  # psycopg prepares a statement on its fifth execution
        with store.tx() as conn:
            conn.exec_driver_sql(hot, {"n": 0})
    with store.tx() as conn:
        before = _prepared_on_server(conn)
        raw = conn.connection.driver_connection
    assert any("FROM responses" in s for s in before)

    class Refused(Exception):
        pass

    # A transaction that wrote and then failed in Python, and one that failed in the database.
    with pytest.raises(Refused), store.tx() as conn:
        conn.exec_driver_sql("INSERT INTO kept VALUES (1)")
        raise Refused
    with pytest.raises(sa.exc.DBAPIError), store.tx() as conn:
        conn.exec_driver_sql("INSERT INTO kept VALUES (2)")
        conn.exec_driver_sql("SELECT 1 / 0")
    # The idle check on checkout ends its transaction with a rollback too.
    monkeypatch.setattr(engine_mod, "IDLE_PING_SECONDS", 0.0)
    with store.tx() as conn:
        assert conn.connection.driver_connection is raw  # (the pool's one idle connection)
        assert conn.exec_driver_sql("SELECT count(*) FROM kept").scalar() == 0  # both rolled back
        assert _prepared_on_server(conn) >= before
        assert raw._prepared._names  # psycopg still knows them: it will not prepare them again


def _names(store: Store) -> set[str]:
    from assay.store.tables import workspaces

    with store.read() as conn:
        return set(conn.execute(sa.select(workspaces.c.name)).scalars())


def _add(conn: sa.Connection, name: str) -> None:
    from assay.store.tables import workspaces

    conn.execute(sa.insert(workspaces).values(name=name))


class _Refused(Exception):
    pass


def test_calls_in_a_shared_transaction_commit_together_and_a_refusal_before_writing_stays_out(
    store: Store,
) -> None:
    from assay.services.actors import SYSTEM
    from assay.services.audit import audit
    from assay.store.tables import events

    with store.shared_tx() as shared:
        with store.tx() as conn:
            _add(conn, "first")
        with pytest.raises(_Refused), store.tx() as conn:
            conn.execute(sa.select(sa.literal(1)))  # a read: nothing written
            audit(conn, SYSTEM, "test.refused", "workspace", 0)  # an event not yet sent
            raise _Refused
        assert not shared.spoiled
        with store.tx() as conn:
            _add(conn, "third")
        assert _names(store) == set()  # nothing is visible before the whole commits
    assert _names(store) == {"first", "third"}
    with store.read() as conn:
        assert not conn.execute(sa.select(events.c.id).where(events.c.action == "test.refused")).all()


@pytest.mark.parametrize("failure", ["wrote then raised", "database refused"])
def test_a_call_that_wrote_or_was_refused_by_the_database_spoils_the_shared_transaction(
    store: Store, failure: str
) -> None:
    with pytest.raises(_Refused), store.shared_tx() as shared:
        with store.tx() as conn:
            _add(conn, "first")
        with pytest.raises((_Refused, sa.exc.DBAPIError)), store.tx() as conn:
            if failure == "wrote then raised":
                _add(conn, "second")
                raise _Refused
            _add(conn, "first")  # a unique name taken: the database refuses it
        assert shared.spoiled
        with pytest.raises(RuntimeError, match="spoiled"), store.tx():
            pass
        raise _Refused  # (leaving with an error rolls it back)
    assert _names(store) == set()  # all of it rolled back


def test_a_shared_transaction_does_not_wait_long_for_a_lock(store: Store) -> None:
    if store.is_sqlite:
        pytest.skip("row locks: PostgreSQL")
    import time

    from assay.store.tables import workspaces

    with store.tx() as conn:
        _add(conn, "locked")
    holder = store.engine.connect()
    tx = holder.begin()
    holder.execute(sa.select(workspaces.c.id).where(workspaces.c.name == "locked").with_for_update())
    try:
        started = time.monotonic()
        with (
            pytest.raises(sa.exc.DBAPIError, match="lock timeout"),
            store.shared_tx() as shared,
            store.tx() as conn,
        ):
            conn.execute(sa.update(workspaces).where(workspaces.c.name == "locked").values(name="x"))
        assert shared.spoiled and time.monotonic() - started < 5
    finally:
        tx.rollback()
        holder.close()
