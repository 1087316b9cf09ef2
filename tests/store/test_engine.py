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
