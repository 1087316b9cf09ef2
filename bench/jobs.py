"""Pre-labeling at scale through the job tier: procrastinate workers on PostgreSQL, one killed mid-run.

    .venv/bin/python bench/jobs.py [--records 100000] [--workers 4] [--kill-at 0.3]
        [--db postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

A project of ``--records`` records is pre-labeled by ``--workers`` sharded ``prelabel`` jobs, run by
as many real ``assay worker`` processes, against the deterministic OpenAI-compatible test endpoint
(real client, real HTTP, in this process). When ``--kill-at`` of the records are done, one worker
is killed with SIGKILL and a new one started; its job is found stalled and retried from its
checkpoint. Printed (one JSON line): the wall time, suggestions per second, the calls the endpoint
answered (the killed step's calls are made again), and how many records have no suggestion or
more than one (both must be 0). The database is made for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from tests.rlhf.fake_llm import FakeLLM  # noqa: E402

from assay.services import imports, jobs, projects  # noqa: E402
from assay.services.actors import SYSTEM  # noqa: E402
from assay.store.engine import open_store  # noqa: E402

SCHEMA = {
    "name": "bench-prelabel",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "sentiment", "type": "label", "options": ["positive", "negative"]}],
}


def worker(url: str, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "assay", "worker", "--db", url, "--heartbeat", "1", "--stalled-after", "5"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--kill-at", type=float, default=0.3)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument(
        "--db",
        default=os.environ.get("ASSAY_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    args = ap.parse_args()

    name = f"assay_bench_jobs_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(sa.make_url(args.db), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(args.db).set(database=name).render_as_string(hide_password=False)
    llm = FakeLLM().start()
    llm.answerer = lambda model, prompt: '{"sentiment": "positive", "score": 0.8}'
    procs: list[subprocess.Popen[bytes]] = []
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}.log", "ab")  # noqa: SIM115
    store = open_store(url)
    try:
        p = projects.create_project(store, SYSTEM, SCHEMA)
        rows = ({"id": f"r{i}", "text": f"record number {i}"} for i in range(args.records))
        t0 = time.perf_counter()
        imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
        import_s = time.perf_counter() - t0
        spec = {
            "type": "openai", "model": "bench-labeler", "base_url": llm.base_url,
            "max_concurrency": args.concurrency, "max_retries": 2,
        }  # fmt: skip
        queued = [
            jobs.enqueue(
                store,
                SYSTEM,
                p["id"],
                "prelabel",
                {"connector": spec, "batch": args.batch, "shard": [k, args.workers]},
            )  # fmt: skip
            for k in range(args.workers)
        ]
        start = time.perf_counter()
        procs = [worker(url, log) for _ in range(args.workers)]
        killed_at: float | None = None
        while True:
            states = [jobs.get_job(store, SYSTEM, j["id"]) for j in queued]
            done = sum(s["done"] for s in states)
            if killed_at is None and done >= args.kill_at * args.records:
                victim = procs[0]
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed_at = time.perf_counter() - start
                procs.append(worker(url, log))
            if all(s["state"] in ("succeeded", "failed", "cancelled") for s in states):
                break
            time.sleep(0.5)
        wall = time.perf_counter() - start
        with store.read() as conn:
            per_record = conn.exec_driver_sql(
                "SELECT n, count(*) FROM (SELECT r.id, count(s.id) AS n FROM records r"
                " LEFT JOIN suggestions s ON s.record_id = r.id GROUP BY r.id) t GROUP BY n"
            ).all()
        counts = {int(n): int(c) for n, c in per_record}
        print(
            json.dumps(
                {
                    "records": args.records,
                    "workers": args.workers,
                    "import_seconds": round(import_s, 2),
                    "wall_seconds": round(wall, 2),
                    "suggestions_per_second": round(args.records / wall, 1),
                    "endpoint_calls": llm.ok_calls,
                    "killed_at_seconds": None if killed_at is None else round(killed_at, 2),
                    "states": [s["state"] for s in states],
                    "attempts": [s["attempts"] for s in states],
                    "records_without_suggestion": counts.get(0, 0),
                    "records_with_more_than_one": sum(c for n, c in counts.items() if n > 1),
                }
            ),
            flush=True,
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        llm.stop()
        store.dispose()
        with admin.connect() as c:
            c.exec_driver_sql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                " AND pid <> pg_backend_pid()"
            )
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()


if __name__ == "__main__":
    main()
