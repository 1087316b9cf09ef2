"""Dispatch benchmark: N simulated annotators doing next → submit against a running ``assay serve``.

Starts the server itself (SQLite with 1 worker; PostgreSQL with 2), loads a project through
the services, then runs the annotators as threads in a few client processes, each with a
kept-alive HTTP/1.1 connection. Prints throughput and p50/p95/p99 latency of ``next``, of
``submit`` and of the whole cycle, the CPU time each cycle cost the server, the database and
the clients, and checks that no record was handed out twice. Each run also prints how long a
fixed piece of Python work took on the machine just before it, and a round trip between two
processes (``machine_speed``): the same work has cost up to about twice the CPU in some hours as
in others, so runs compare only at a like speed.

The clients share the machine with the server, so they are kept light: a plain socket client
(about a tenth of httpx's CPU per request; ``--client httpx`` uses httpx instead).

Each database runs twice: ``separate`` (next, then submit: two requests per record) and
``chained`` (the submit carries ``"next": true`` and brings the next lease: one request, as the
web workbench does); ``--mode`` picks one.

    python bench/dispatch.py                                   # SQLite and PostgreSQL, 32 annotators
    python bench/dispatch.py --mode chained --db postgresql
    python bench/dispatch.py --db sqlite --annotators 8 --records 5000
    python bench/dispatch.py --think-ms 1000                  # paced annotators (0.5-1.5 s per answer)

PostgreSQL comes from ``--pg`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
a database of its own is made for the run and dropped after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


from assay.services import accounts, imports, projects  # noqa: E402
from assay.services.actors import SYSTEM  # noqa: E402
from assay.store.engine import open_store  # noqa: E402
from assay.store.tables import assignments  # noqa: E402

SERVE = "from assay.cli.main import app; from assay.cli import serve; serve.register(app); app()"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def start_server(db: str, home: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--db", db, "--port", str(port), "--workers", str(workers)],
        env={**os.environ, "ASSAY_HOME": str(home)},
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def setup(db: str, n_records: int, n_annotators: int, overlap: int) -> tuple[int, list[str]]:
    store = open_store(db)
    schema = {
        "name": f"bench-{uuid.uuid4().hex[:6]}",
        "fields": [{"name": "text", "type": "text"}],
        "questions": [{"name": "label", "type": "label", "options": ["pos", "neg", "neu"]}],
        "workflow": {"overlap": overlap},
    }
    p = projects.create_project(store, SYSTEM, schema)
    rows = ((i, {"id": f"r{i}", "text": f"record {i} " * 8}) for i in range(n_records))
    imports.import_rows(store, SYSTEM, p["id"], rows)
    tokens = [
        accounts.add_user(store, SYSTEM, f"bench-{uuid.uuid4().hex[:8]}", role="annotator").token
        for _ in range(n_annotators)
    ]
    store.dispose()
    return int(p["id"]), tokens


class RawClient:
    """A kept-alive HTTP/1.1 connection that sends JSON POSTs: just enough client for this load."""

    def __init__(self, url: str, token: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.head = f"Host: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        self.sock.sendall(
            f"POST /api/v1{path} HTTP/1.1\r\n{self.head}Content-Length: {len(data)}\r\n\r\n".encode() + data
        )
        status = int(self.file.readline().split()[1])
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        payload = self.file.read(length) if length else b""
        return status, json.loads(payload) if payload else None

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class HttpxClient:
    def __init__(self, url: str, token: str) -> None:
        self.c = httpx.Client(
            base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        r = self.c.post(path, json=body)
        return r.status_code, r.json() if r.content else None

    def close(self) -> None:
        self.c.close()


def annotator(
    url: str,
    token: str,
    pid: int,
    end: float,
    think: float,
    kind: str,
    chain: bool,
    out: dict[str, list[Any]],
) -> None:
    labels = ("pos", "neg", "neu")
    rng = random.Random(token)
    if think:  # people do not start in step, nor take the same time per answer
        time.sleep(rng.uniform(0, think))
    c = RawClient(url, token) if kind == "raw" else HttpxClient(url, token)
    try:
        if chain:
            chained(c, token, pid, end, think, rng, out)
            return
        i = 0
        while time.monotonic() < end:
            t0 = time.perf_counter()
            status, lease = c.post(f"/projects/{pid}/next")
            t1 = time.perf_counter()
            if status == 204:
                return
            if status != 200:
                out["errors"].append(status)
                continue
            status, _ = c.post(
                f"/assignments/{lease['assignment_id']}/responses",
                {
                    "values": {"label": labels[i % 3]},
                    "duration_ms": 1000,
                    "idempotency_key": uuid.uuid4().hex,
                },
            )
            t2 = time.perf_counter()
            if status != 201:
                out["errors"].append(status)
            out["next"].append(t1 - t0)
            out["submit"].append(t2 - t1)
            out["cycle"].append(t2 - t0)
            out["records"].append((lease["record"]["id"], token[-8:]))
            i += 1
            if think:
                time.sleep(rng.uniform(0.5 * think, 1.5 * think))
    finally:
        c.close()


def chained(
    c: RawClient | HttpxClient, token: str, pid: int, end: float, think: float, rng: random.Random, out: Any
) -> None:
    """Each answer also asks for the next lease (``"next": true``): one request per record."""
    labels = ("pos", "neg", "neu")
    t0 = time.perf_counter()
    status, lease = c.post(f"/projects/{pid}/next")
    out["next"].append(time.perf_counter() - t0)
    i = 0
    while status in (200, 201) and lease is not None and time.monotonic() < end:
        body = {"values": {"label": labels[i % 3]}, "duration_ms": 1000, "idempotency_key": uuid.uuid4().hex}
        t0 = time.perf_counter()
        status, answer = c.post(f"/assignments/{lease['assignment_id']}/responses", body | {"next": True})
        t1 = time.perf_counter()
        if status != 201:
            out["errors"].append(status)
            return
        out["submit"].append(t1 - t0)
        out["cycle"].append(t1 - t0)
        out["records"].append((lease["record"]["id"], token[-8:]))
        lease = answer["next"]
        i += 1
        if think:
            time.sleep(rng.uniform(0.5 * think, 1.5 * think))


def client_process(
    url: str, tokens: list[str], pid: int, end: float, think: float, kind: str, chain: bool, q: Any
) -> None:
    out: dict[str, list[Any]] = {"next": [], "submit": [], "cycle": [], "records": [], "errors": []}
    threads = [
        threading.Thread(target=annotator, args=(url, t, pid, end, think, kind, chain, out)) for t in tokens
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["cpu"] = [time.process_time()]
    q.put(out)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (Linux /proc; 0 for one that is gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for t in Path(f"/proc/{p}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                todo += [int(c) for c in (t / "children").read_text().split()]
    return out


def postgres_pids() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


def run(label: str, db: str, workers: int, args: argparse.Namespace, chain: bool) -> dict[str, Any]:
    speed = machine_speed()
    pid, tokens = setup(db, args.records, args.annotators, args.overlap)
    home = Path(tempfile.mkdtemp(prefix="assay-bench-"))
    proc, url = start_server(db, home, workers)
    try:
        procs = max(1, min(args.client_procs, len(tokens)))
        q: Any = mp.get_context("fork").Queue()
        server_pids = tree(proc.pid)
        db_pids = postgres_pids() if db.startswith("postgresql") else []
        cpu0 = cpu_seconds(server_pids), cpu_seconds(db_pids)
        start = time.monotonic()
        end = start + args.seconds
        ps = [
            mp.get_context("fork").Process(
                target=client_process,
                args=(url, tokens[i::procs], pid, end, args.think_ms / 1000, args.client, chain, q),
            )
            for i in range(procs)
        ]
        for p in ps:
            p.start()
        parts = [q.get() for _ in ps]
        for p in ps:
            p.join()
        elapsed = time.monotonic() - start
        db_pids = sorted(set(db_pids) | set(postgres_pids())) if db_pids else []
        cpu = {
            "server": cpu_seconds(server_pids) - cpu0[0],
            "database": cpu_seconds(db_pids) - cpu0[1],
            "clients": sum(part["cpu"][0] for part in parts),
        }
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(home, ignore_errors=True)
    merged: dict[str, list[Any]] = {k: [x for part in parts for x in part[k]] for k in parts[0] if k != "cpu"}
    handed = Counter(r for r, _ in merged["records"])
    pairs = Counter(merged["records"])
    store = open_store(db, migrate=False)
    with store.read() as conn:
        leases = conn.execute(
            sa.select(assignments.c.record_id, sa.func.count())
            .where(assignments.c.project_id == pid)
            .group_by(assignments.c.record_id)
        ).all()
    store.dispose()
    over = sum(1 for _, n in leases if n > args.overlap)
    n = len(merged["cycle"])
    res = {
        "label": label,
        "annotators": args.annotators,
        "think_ms": args.think_ms,
        "cycles": n,
        "seconds": round(elapsed, 1),
        "submits_per_s": round(n / elapsed, 1),
        "errors": len(merged["errors"]),
        "handed_out_twice": sum(1 for c in handed.values() if c > args.overlap) + over,
        "same_annotator_twice": sum(1 for c in pairs.values() if c > 1),
        "cpu_ms_per_cycle": {k: round(v * 1000 / max(n, 1), 2) for k, v in cpu.items()},
        "machine": speed,
    }
    for k in ("next", "submit", "cycle"):
        ms = [x * 1000 for x in merged[k]]
        res[k] = {p: round(pct(ms, p), 2) for p in (50, 95, 99)}
    return res


def pg_database(server: str) -> tuple[str, sa.Engine, str]:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"assay_bench_{os.getpid()}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return sa.make_url(server).set(database=name).render_as_string(hide_password=False), admin, name


def machine_speed() -> tuple[float, float]:
    """How fast the machine is just now: ms of CPU for a fixed piece of Python work (JSON,
    hashing, dicts), and µs per round trip between two processes over a socket (two wake-ups).
    Best of 5 and median of 3. On the 2-core machine the same bench work, its own unchanged client
    included, has cost up to about twice the CPU in some hours as in others; the first figure
    stayed put then, so the second (what every request and statement pays) is the one to watch."""
    import hashlib

    doc = {"values": {"label": "pos", "spans": list(range(40))}, "duration_ms": 1000, "key": "k" * 32}
    best = float("inf")
    for _ in range(5):
        t0 = time.process_time()
        for i in range(3000):
            text = json.dumps({**doc, "i": i})
            hashlib.sha256(text.encode()).hexdigest()
            json.loads(text)
        best = min(best, time.process_time() - t0)
    trips = sorted(_round_trip_us() for _ in range(3))
    return round(best * 1000, 1), round(trips[1], 1)


def _round_trip_us(n: int = 3000) -> float:
    a, b = socket.socketpair()
    child = os.fork()
    if child == 0:  # (echo each byte back)
        a.close()
        for _ in range(n):
            b.recv(1)
            b.send(b"x")
        os._exit(0)
    b.close()
    t0 = time.perf_counter()
    for _ in range(n):
        a.send(b"x")
        a.recv(1)
    took = time.perf_counter() - t0
    os.waitpid(child, 0)
    a.close()
    return took / n * 1e6


def show(res: dict[str, Any]) -> None:
    print(
        f"{res['label']:<33} {res['annotators']:>3} ann  think {res['think_ms']:>5} ms  "
        f"{res['cycles']:>6} cycles in {res['seconds']:>5} s = {res['submits_per_s']:>7} submits/s  "
        f"errors {res['errors']}  handed out twice {res['handed_out_twice']}  same annotator twice {res['same_annotator_twice']}"
    )
    for k in ("next", "submit", "cycle"):
        d = res[k]
        print(f"    {k:<7} p50 {d[50]:>7.2f} ms   p95 {d[95]:>7.2f} ms   p99 {d[99]:>7.2f} ms")
    cpu = res["cpu_ms_per_cycle"]
    print("    CPU per cycle  " + "   ".join(f"{k} {v:.2f} ms" for k, v in cpu.items()))
    work, trip = res["machine"]
    print(f"    machine        {work:.1f} ms of fixed Python work, {trip:.1f} µs per process round trip")


MODE = {False: "", True: ", chained"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--annotators", type=int, default=32)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--overlap", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    ap.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean pause of each annotator between answers (uniform 0.5-1.5x, random start)",
    )
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw", help="HTTP client of the annotators")
    ap.add_argument(
        "--mode",
        choices=["separate", "chained", "both"],
        default="both",
        help="separate: next, then submit (2 requests per record); chained: submit with next=true (1)",
    )
    ap.add_argument("--client-procs", type=int, default=2, help="processes the annotator threads run in")
    ap.add_argument(
        "--peer", action="store_true", help="also run ../shared/peers/label_studio_bench.py --quick"
    )
    args = ap.parse_args()
    modes = {"separate": [False], "chained": [True], "both": [False, True]}[args.mode]
    results = []
    if args.db in ("sqlite", "both"):
        tmp = Path(tempfile.mkdtemp(prefix="assay-bench-db-"))
        for chain in modes:
            db = f"sqlite:///{tmp / f'assay-{chain}.db'}"
            results.append(run(f"sqlite, 1 worker{MODE[chain]}", db, 1, args, chain))
            show(results[-1])
        shutil.rmtree(tmp, ignore_errors=True)
    if args.db in ("postgresql", "both"):
        url, admin, name = pg_database(args.pg)
        try:
            for chain in modes:
                results.append(run(f"postgresql, 2 workers{MODE[chain]}", url, 2, args, chain))
                show(results[-1])
        finally:
            with admin.connect() as c:
                c.exec_driver_sql(
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                )
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            admin.dispose()
    if args.peer:
        peer = ROOT.parent / "shared" / "peers" / "label_studio_bench.py"
        subprocess.run([sys.executable, str(peer), "--quick", "--out", "/tmp/ls-quick.json"], check=False)


if __name__ == "__main__":
    main()
