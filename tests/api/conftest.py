"""A real server for the API tests: Uvicorn in a thread (or ``assay serve`` in a process) on a
random port of 127.0.0.1, over the test's database (SQLite file, then PostgreSQL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from assay.api.app import create_app
from assay.settings import Settings
from assay.store.engine import Store, open_store
from tests.openapi_check import AnswerCheck

API = "/api/v1"


class ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test runner owns the signals
        pass


@dataclass
class Live:
    """A running server and a store on the same database, for setting up and checking."""

    url: str
    store: Store
    clients: list[httpx.Client] = field(default_factory=list)
    home: Path | None = None  # the server's data directory
    answers: AnswerCheck | None = None
    """Checks every 2xx JSON answer a client gets against the app's OpenAPI document."""

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        hooks = {"response": [self.answers]} if self.answers else {}
        c = httpx.Client(base_url=self.url + API, headers=headers, timeout=60, event_hooks=hooks, **kw)
        self.clients.append(c)
        return c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(db_url: str, settings: Settings) -> Iterator[Live]:
    """The application over ``db_url`` with ``settings``, served by Uvicorn in a thread.

    Uvicorn's own X-Forwarded-For handling is off, as under ``assay serve``: the application
    believes it from ``settings.trusted_proxies`` only.
    """
    server_store = open_store(db_url, migrate=False)
    app = create_app(settings, store=server_store)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_level="warning", access_log=False, proxy_headers=False
    )
    server = ThreadServer(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    store = open_store(db_url, migrate=False)
    live = Live(
        f"http://127.0.0.1:{config.port}", store, home=settings.home, answers=AnswerCheck(app.openapi())
    )
    try:
        yield live
    finally:
        for c in live.clients:
            c.close()
        server.should_exit = True
        thread.join(10)
        store.dispose()
        server_store.dispose()


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with running(db_url, Settings(home=tmp_path, database_url=db_url, max_body_bytes=1_000_000)) as live:
        yield live


SERVE = "from assay.cli.main import app; from assay.cli import serve; serve.register(app); app()"


def spawn_server(
    db_url: str, home: Path, *, workers: int = 1, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``assay serve`` in its own process; returns it and its base URL once it answers."""
    port = port or free_port()
    env = {**os.environ, "ASSAY_HOME": str(home)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVE,
            "serve",
            "--db",
            db_url,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(url + API + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr:
        proc.stderr.close()
