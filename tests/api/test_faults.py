"""Faults answered as such (issue 20, item 5): dropped database connections, a full disk, and
the ``--workers`` parent killed. Never a 500; no acknowledged write lost."""

from __future__ import annotations

import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from assay.domain.errors import StorageFull
from assay.sdk import Client
from assay.services import imports
from assay.services.actors import SYSTEM
from assay.settings import Settings
from assay.store.engine import open_store
from assay.store.tables import responses
from tests.api.conftest import running
from tests.factories import make_project, make_user

SCHEMA = {
    "name": "faults",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
    "workflow": {"overlap": 1},
}


def _with_app_name(url: str, name: str) -> str:
    return (
        sa.make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)
    )


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_dropped_database_connections_get_a_retry_or_503_never_a_500(db_url: str, tmp_path: Path) -> None:
    """pg_terminate_backend on every connection of the server, five times, under 8 annotators'
    next+submit load and a reader's: each answer is 2xx, 204 or 503 with Retry-After, and every
    answer the server acknowledged is in the database."""
    store = open_store(db_url, migrate=False)
    p = make_project(store, SCHEMA)
    imports.import_rows(
        store, SYSTEM, p["id"], enumerate([{"id": i, "text": f"t{i}"} for i in range(3000)], 1)
    )
    tokens = [make_user(store, f"ann{i}")[1] for i in range(8)]
    app_name = f"assay-faults-{uuid.uuid4().hex[:8]}"
    server_url = _with_app_name(db_url, app_name)
    statuses: list[int] = []
    retry_after: list[str | None] = []
    acked: list[tuple[int, str]] = []
    stop = threading.Event()
    answered = threading.Semaphore(0)

    def annotator(base: str, token: str) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            while not stop.is_set():
                lease = c.post(f"/projects/{p['id']}/next")
                statuses.append(lease.status_code)
                if lease.status_code == 503:
                    retry_after.append(lease.headers.get("retry-after"))
                    continue
                if lease.status_code != 200:
                    return
                key = str(uuid.uuid4())
                r = c.post(
                    f"/assignments/{lease.json()['assignment_id']}/responses",
                    json={"values": {"label": "a"}, "idempotency_key": key},
                )
                statuses.append(r.status_code)
                if r.status_code == 503:
                    retry_after.append(r.headers.get("retry-after"))
                if r.is_success:
                    acked.append((r.json()["id"], key))
                answered.release()

    def reader(base: str, token: str) -> None:  # (the FastAPI routes, through store.read())
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            while not stop.is_set():
                r = c.get(f"/projects/{p['id']}/records", params={"limit": 20})
                statuses.append(r.status_code)
                if r.status_code == 503:
                    retry_after.append(r.headers.get("retry-after"))

    _, admin_token = make_user(store, "boss", role="admin")
    kills = 0
    with running(server_url, Settings(home=tmp_path, database_url=server_url)) as live:
        threads = [threading.Thread(target=annotator, args=(live.url + "/api/v1", t)) for t in tokens]
        threads.append(threading.Thread(target=reader, args=(live.url + "/api/v1", admin_token)))
        for t in threads:
            t.start()
        admin = sa.create_engine(db_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            for _ in range(5):
                for _ in range(40):  # wait for 40 more answers, then cut the server off
                    assert answered.acquire(timeout=60), "the load stopped"
                with admin.connect() as c:
                    kills += c.execute(
                        sa.text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = :name"
                        ),
                        {"name": app_name},
                    ).scalar_one()
            for _ in range(40):  # and it serves again
                assert answered.acquire(timeout=60), "the server did not recover"
        finally:
            stop.set()
            for t in threads:
                t.join(120)
            admin.dispose()
        server_errors = [s for s in statuses if s >= 500 and s != 503]
        assert not server_errors, (server_errors, len(statuses))
        assert all(r is not None and int(r) >= 1 for r in retry_after), retry_after
    assert kills >= 5
    with store.read() as conn:
        stored = {
            (row.id, row.idempotency_key)
            for row in conn.execute(sa.select(responses.c.id, responses.c.idempotency_key))
        }
    missing = [a for a in acked if a not in stored]
    assert not missing, f"{len(missing)} acknowledged answers lost of {len(acked)}"
    print(f"{len(statuses)} answers, {statuses.count(503)} x 503, {kills} connections cut")
    store.dispose()


@contextmanager
def small_tmpfs(path: Path, size: str, options: str = "") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (root only; else the test is skipped)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}{options}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        path.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (root needed): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)
        path.rmdir()


def _fill_but(home: Path, keep: int) -> Path:
    """A file that takes all of ``home``'s free space but ``keep`` bytes."""
    filler = home / "filler"
    filler.write_bytes(b"\0" * (shutil.disk_usage(home).free - keep))
    return filler


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_full_disk_answers_507_and_the_server_recovers(
    db_url: str, tmp_path: Path, sqlite_template: Path
) -> None:
    """The SQLite home on a 8 MB tmpfs, filled up but for a little: an import answers 507 with a
    clear problem (never 500), the records already there stay, and once space is freed the same
    import goes in."""
    with small_tmpfs(tmp_path / "small", "8m") as home:
        db = home / "assay.db"
        shutil.copy(sqlite_template, db)
        url = f"sqlite:///{db}"
        store = open_store(url, migrate=False)
        p = make_project(store, SCHEMA)
        _, token = make_user(store, "boss", role="admin")
        store.dispose()
        filler = _fill_but(home, 256 * 1024)
        rows = [{"id": f"r{i}", "text": "x" * 2000} for i in range(1000)]  # about 2 MB
        with running(url, Settings(home=home, database_url=url)) as live:
            admin = live.client(token)
            r = admin.post(f"/projects/{p['id']}/records", json=rows)
            assert r.status_code == 507, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            body = r.json()
            assert body["code"] == "storage_full" and "disk is full" in body["detail"]
            assert admin.get(f"/projects/{p['id']}").json()["records"] == 0  # nothing half-stored
            with Client(live.url, token) as sdk, pytest.raises(StorageFull, match="disk is full"):
                sdk.add_records(p["id"], rows)  # the SDK's error is the domain's, as locally
            filler.unlink()
            again = admin.post(f"/projects/{p['id']}/records", json=rows)
            assert again.status_code == 201, again.text
            assert admin.get(f"/projects/{p['id']}").json()["records"] == 1000


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_full_disk_on_postgresql_answers_507(db_url: str, tmp_path: Path) -> None:
    """PostgreSQL's records table in a tablespace on an 8 MB tmpfs (owned by the server's user,
    on this machine), filled up but for 256 KiB: an import answers 507 (SQLSTATE 53100), nothing
    is half-stored, and once space is freed the same import goes in."""
    where = Path("/tmp") / f"assay-pg-{uuid.uuid4().hex[:8]}"  # (the postgres user must reach it)
    admin = sa.create_engine(db_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    space = f"assay_small_{uuid.uuid4().hex[:8]}"
    with small_tmpfs(where, "8m", ",mode=0700,uid=postgres,gid=postgres") as home:
        try:
            with admin.connect() as c:
                c.exec_driver_sql(f"CREATE TABLESPACE {space} LOCATION '{home}'")
                c.exec_driver_sql(f"ALTER TABLE records SET TABLESPACE {space}")
        except sa.exc.DBAPIError as e:
            pytest.skip(f"no tablespace on a tmpfs here (the server is not on this machine?): {e}")
        try:
            store = open_store(db_url, migrate=False)
            p = make_project(store, SCHEMA)
            _, token = make_user(store, "boss", role="admin")
            store.dispose()
            filler = _fill_but(home, 256 * 1024)
            rows = [{"id": f"r{i}", "text": uuid.uuid4().hex * 64} for i in range(1000)]  # 2 MB
            with running(db_url, Settings(home=tmp_path, database_url=db_url)) as live:
                client = live.client(token)
                r = client.post(f"/projects/{p['id']}/records", json=rows)
                assert r.status_code == 507, r.text
                assert r.json()["code"] == "storage_full"
                assert client.get(f"/projects/{p['id']}").json()["records"] == 0
                filler.unlink()
                again = client.post(f"/projects/{p['id']}/records", json=rows)
                assert again.status_code == 201, again.text
        finally:
            with admin.connect() as c:
                c.exec_driver_sql("ALTER TABLE records SET TABLESPACE pg_default")
                c.exec_driver_sql(f"DROP TABLESPACE {space}")
            admin.dispose()
