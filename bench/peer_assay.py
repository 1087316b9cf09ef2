"""assay as a target of Label Studio's peer benchmark (``../shared/peers/label_studio_bench.py``).

The peer script drives a labeling server through a fixed workload (imports, one and eight
annotators doing next → submit, a task list, exports) and accounts for it the same way whatever
the server: latency percentiles, the server's CPU and peak memory per phase. :class:`AssayTarget`
implements its ``Target`` interface for ``assay serve`` on SQLite with one worker, as Label Studio
runs here, so that the two are compared in one run (``bench/peers.py`` runs both and prints the
ratios)::

    python bench/peers.py --sizes 10000
    PYTHONPATH=. python ../shared/peers/label_studio_bench.py --target bench.peer_assay:AssayTarget

How the workload maps onto assay's API (``/api/v1``):

* a task is a record of a project with one text field and one label question (A–D);
* ``next`` is ``POST /projects/{id}/next``; it hands the driver the record's id (so that the
  driver's count of tasks handed out twice counts records), and ``submit`` answers the lease that
  ``next`` gave for it (``POST /assignments/{id}/responses``);
* a task imported with one annotation is a record carrying one answer of an annotator;
* the task list is ``GET /projects/{id}/records?limit=30``, each page from the cursor of the page
  before (assay pages by cursor, not by number);
* an export is ``GET /projects/{id}/export`` (JSONL, every record with its answers): assay has no
  "annotated tasks only" export, so ``export_annotated`` exports all the project's records;
* answers to known task ids without ``next`` (the phases ``submit_1`` and ``submit_8``) have no
  counterpart: an answer in assay needs a lease. ``import_tasks`` gives the driver no task ids,
  and those phases do nothing (0 annotations). On Label Studio they add up to 3,000 annotations
  to project A before its list and export phases, which therefore export more there.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["AssayTarget"]

CLI = "from assay.cli.main import main; main()"
LABELS = ["A", "B", "C", "D"]
SCHEMA = {
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": LABELS}],
}


class AssayTarget:
    """``assay serve`` (SQLite, 1 worker) behind the peer benchmark's ``Target`` interface."""

    name = "assay"
    pid: int
    port: int

    def setup(self, args: Any) -> dict[str, str]:
        return {"assay": metadata.version("assay"), "python": sys.version.split()[0]}

    def start(self, workdir: Path, args: Any) -> float:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        self.db = f"sqlite:///{workdir / 'assay.db'}"
        self.env = {**os.environ, "ASSAY_HOME": str(workdir)}
        self.port = args.port or _free_port()
        self.log = open(workdir.parent / f"{workdir.name}.assay.log", "w")  # noqa: SIM115
        self.next_ext = 0
        self.cursors: dict[tuple[int, int], str | None] = {}
        self.leases: dict[tuple[str, int], int] = {}  # (annotator, record id) -> its lease
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "serve", "--db", self.db, "--port", str(self.port), "--workers", "1"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        self.pid = self.proc.pid
        deadline = t0 + args.start_timeout_s
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"assay serve exited early (rc={self.proc.returncode}); see {self.log.name}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("assay serve did not become healthy in time")
        seconds = time.perf_counter() - t0
        # The admin is made as an operator would, with the CLI on the same database.
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CLI,
                "users",
                "add",
                "bench-admin",
                "--role",
                "admin",
                "--json",
                "--db",
                self.db,
            ],
            capture_output=True,
            text=True,
            check=True,
            env=self.env,
        ).stdout
        self.admin = "Bearer " + json.loads(out)["token"]
        return seconds

    def stop(self) -> dict[str, Any]:
        info: dict[str, Any] = {"pid": self.pid}
        if self.proc.poll() is None:
            t0 = time.perf_counter()
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
                info["killed"] = True
            info["stop_s"] = round(time.perf_counter() - t0, 2)
        info["returncode"] = self.proc.returncode
        self.log.close()
        return info

    def admin_auth(self) -> str:
        return self.admin

    def make_annotators(self, k: int) -> list[str]:
        tokens = []
        for i in range(k):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request(
                "POST",
                "/api/v1/users",
                json.dumps({"name": f"annotator{i}", "role": "annotator"}),
                {"Authorization": self.admin, "Content-Type": "application/json"},
            )
            reply = conn.getresponse()
            tokens.append("Bearer " + _ok((reply.status, reply.read()), 201)["token"])
            conn.close()
        return tokens

    def create_project(self, http: Any, title: str) -> int:
        body = _ok(http.request("POST", "/api/v1/projects", {"schema": {"name": title, **SCHEMA}}), 201)
        return int(body["id"])

    def import_tasks(self, http: Any, project: int, tasks: list[dict[str, Any]]) -> list[int]:
        rows = [t if "id" in t else self._row(t) for t in tasks]
        body = _ok(http.request("POST", f"/api/v1/projects/{project}/records", rows, timeout=1800), 201)
        if body["rows"] != len(tasks):
            raise RuntimeError(f"import count mismatch: {body['rows']} != {len(tasks)}")
        return []  # (see the module's docstring: answers go to leases, not to task ids)

    def _row(self, task: dict[str, Any]) -> dict[str, Any]:
        self.next_ext += 1
        return {"id": f"t{task.get('ext_id', f'x{self.next_ext}')}", "text": task["text"]}

    def annotated_task(self, data: dict[str, Any], label: str) -> dict[str, Any]:
        return {**self._row(data), "responses": [{"user": "annotator0", "values": {"label": label}}]}

    def next_task(self, http: Any, project: int) -> int | None:
        status, body = http.request("POST", f"/api/v1/projects/{project}/next")
        if status == 204:
            return None
        lease = _ok((status, body), 200)
        record = int(lease["record"]["id"])
        self.leases[http.auth, record] = int(lease["assignment_id"])
        return record

    def submit(self, http: Any, project: int, task_id: int, label: str) -> None:
        answer = {"values": {"label": label}, "duration_ms": 3500}
        _ok(
            http.request(
                "POST", f"/api/v1/assignments/{self.leases.pop((http.auth, task_id))}/responses", answer
            ),
            201,
        )

    def list_page(self, http: Any, project: int, page: int, page_size: int) -> int:
        query = f"limit={page_size}"
        if page > 1:
            cursor = self.cursors.get((project, page - 1))
            if cursor is None:
                return 0
            query += f"&cursor={cursor}"
        body = _ok(http.request("GET", f"/api/v1/projects/{project}/records?{query}"), 200)
        self.cursors[project, page] = body["next_cursor"]
        return len(body["items"])

    def export(self, http: Any, project: int, all_tasks: bool, timeout: float) -> dict[str, Any]:
        buf = bytearray()
        t0 = time.perf_counter()
        status, _ = http.request(
            "GET", f"/api/v1/projects/{project}/export", timeout=timeout, sink=buf.extend
        )
        seconds = time.perf_counter() - t0
        if status != 200:
            raise RuntimeError(f"export: {status} {bytes(buf[:200])!r}")
        rows = [json.loads(line) for line in bytes(buf).splitlines() if line.strip()]
        answers = sum(len(r.get("responses") or []) for r in rows)
        return {"seconds": round(seconds, 3), "bytes": len(buf), "tasks": len(rows), "annotations": answers}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ok(reply: tuple[int, bytes], status: int) -> Any:
    got, body = reply
    if got != status:
        raise RuntimeError(f"HTTP {got} (expected {status}): {body[:300]!r}")
    return json.loads(body)
