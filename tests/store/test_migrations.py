"""The Alembic migrations build exactly the tables the code describes, on both databases."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from assay.store.engine import Store
from assay.store.tables import metadata


def _ignorable(d: Any) -> bool:
    if not isinstance(d, tuple):
        return False
    if d[0] == "remove_table" and d[1].name == "alembic_version":
        return True
    # The dispatch index orders by an expression (priority DESC), which SQLite cannot reflect.
    return d[0] in ("add_index", "remove_index") and d[1].name == "ix_records_dispatch"


def test_migrations_match_tables(store: Store) -> None:
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(ctx, metadata) if not _ignorable(d)]
        indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("records")}
    assert diff == []
    assert "ix_records_dispatch" in indexes


def test_sqlite_uses_wal(store: Store) -> None:
    if not store.is_sqlite:
        return
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_records_leave_room_for_in_place_updates(store: Store) -> None:
    if store.is_sqlite:
        return
    with store.read() as conn:
        options = conn.exec_driver_sql("SELECT reloptions FROM pg_class WHERE relname = 'records'").scalar()
    assert "fillfactor=70" in (options or [])
