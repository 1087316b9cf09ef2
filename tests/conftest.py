"""Test fixtures: every store test runs on a real SQLite file and on a real PostgreSQL server.

PostgreSQL comes from ``ASSAY_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1/test``):
a database of its own is made for this test session on that server, and each test starts
from empty tables. Without the variable the PostgreSQL half is skipped with a message;
with ``ASSAY_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) a missing server is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from assay.store.engine import Store, open_store
from assay.store.tables import metadata

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PG_URL = os.environ.get("ASSAY_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("ASSAY_REQUIRE_POSTGRES") == "1"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or a clean skip where that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "assay.db"
    store = open_store(f"sqlite:///{path}")
    store.dispose()
    return path


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("ASSAY_REQUIRE_POSTGRES=1 but ASSAY_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests skipped: set ASSAY_TEST_DATABASE_URL to a server to run them")
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"assay_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as e:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {PG_URL} is required but unreachable: {e}")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable: {e}")
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    open_store(url).dispose()
    yield url
    with admin.connect() as c:
        c.exec_driver_sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


def _truncate(url: str) -> None:
    engine = sa.create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as c:
        c.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        # procrastinate's queue (made on first use by the job tier): no job of an earlier test stays.
        if c.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar() is not None:
            c.exec_driver_sql("TRUNCATE procrastinate_jobs, procrastinate_workers RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A URL of an empty, migrated database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "assay.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_server_url")
    _truncate(url)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url, migrate=False)
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API (moto in server mode) on a free port of 127.0.0.1, for the session."""
    from tests.s3 import moto_s3

    with moto_s3() as endpoint:
        yield endpoint
