"""The Alembic migrations build exactly the tables the code describes, on both databases."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from assay.domain.errors import Conflict
from assay.services import imports
from assay.services.actors import SYSTEM
from assay.store.engine import Store, open_store
from assay.store.tables import metadata, records, schema_versions
from tests.factories import TEXT_SCHEMA, make_project


def _ignorable(d: Any) -> bool:
    if not isinstance(d, tuple):
        return False
    if d[0] == "remove_table" and d[1].name == "alembic_version":
        return True
    # procrastinate's queue tables (the job tier makes them on PostgreSQL), not assay's own.
    if d[0] in ("remove_table", "remove_index") and "procrastinate_" in str(d[1].name):
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


def test_project_names_become_unique_per_workspace_and_no_row_is_lost(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """0006 rebuilds the projects table on SQLite: the rows that refer to projects stay."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'old.db'}"
        admin = None
    else:
        name = f"assay_m_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(sa.make_url(db_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.make_url(db_url).set(database=name).render_as_string(hide_password=False)
    store = open_store(url, migrate=False)
    try:
        store.migrate("0005")
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO workspaces (id, name, created_at) VALUES (1, 'a', '2026-01-01')"
            )
            conn.exec_driver_sql(
                "INSERT INTO workspaces (id, name, created_at) VALUES (2, 'b', '2026-01-01')"
            )
        make_project(store, {**TEXT_SCHEMA, "name": "same"}, workspace="a")
        p = make_project(store, {**TEXT_SCHEMA, "name": "other"}, workspace="a")
        imports.import_rows(store, SYSTEM, p["id"], enumerate([{"id": "r1", "text": "kept"}], 1))
        store.migrate()
        with store.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(records)).scalar() == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(schema_versions)).scalar() == 2
        make_project(store, {**TEXT_SCHEMA, "name": "same"}, workspace="b")  # another workspace: fine
        with pytest.raises(Conflict):
            make_project(store, {**TEXT_SCHEMA, "name": "same"}, workspace="a")
        if store.is_sqlite:
            with store.read() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.dispose()
        if admin is not None:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            admin.dispose()
