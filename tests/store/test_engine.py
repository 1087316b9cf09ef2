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
