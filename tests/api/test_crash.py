"""``kill -9`` of ``assay serve`` during a load of submits: every acknowledged submit survives."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from assay.services import imports
from assay.services.actors import SYSTEM
from assay.store.engine import open_store
from assay.store.tables import responses
from tests.api.conftest import API, spawn_server, stop_server
from tests.factories import make_project, make_user


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_acknowledged_submits_survive_kill_9(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url, migrate=False)
    p = make_project(
        store,
        {
            "name": "crash",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
            "workflow": {"overlap": 1},
        },
    )
    imports.import_rows(
        store, SYSTEM, p["id"], enumerate([{"id": i, "text": f"t{i}"} for i in range(5000)], 1)
    )
    tokens = [make_user(store, f"ann{i}")[1] for i in range(6)]
    proc, url = spawn_server(db_url, tmp_path)
    acked: list[tuple[int, str]] = []  # (response id, idempotency key) of every 2xx submit
    stop = threading.Event()

    def worker(token: str) -> None:
        with httpx.Client(base_url=url + API, headers={"Authorization": f"Bearer {token}"}, timeout=5) as c:
            while not stop.is_set():
                try:
                    lease = c.post(f"/projects/{p['id']}/next")
                    if lease.status_code != 200:
                        return
                    key = str(uuid.uuid4())
                    r = c.post(
                        f"/assignments/{lease.json()['assignment_id']}/responses",
                        json={"values": {"label": "a"}, "idempotency_key": key},
                    )
                    if r.is_success:
                        acked.append((r.json()["id"], key))
                except httpx.TransportError:
                    return  # the server died under us

    threads = [threading.Thread(target=worker, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-load: requests are in flight
    proc.wait()
    stop.set()
    for t in threads:
        t.join(10)
    stop_server(proc)
    assert len(acked) >= 150
    with store.read() as conn:
        rows = {
            r.id: (r.idempotency_key, r.status)
            for r in conn.execute(sa.select(responses.c.id, responses.c.idempotency_key, responses.c.status))
        }
    lost = [(rid, key) for rid, key in acked if rows.get(rid) != (key, "submitted")]
    assert lost == []
    # the restarted server carries on where it stopped
    proc, url = spawn_server(db_url, tmp_path)
    try:
        with httpx.Client(base_url=url + API, headers={"Authorization": f"Bearer {tokens[0]}"}) as c:
            lease: Any = c.post(f"/projects/{p['id']}/next")
            assert lease.status_code == 200
            done = c.post(
                f"/assignments/{lease.json()['assignment_id']}/responses", json={"values": {"label": "b"}}
            )
            assert done.status_code == 201
    finally:
        stop_server(proc)
        store.dispose()
