"""The audit log's hash chain: what it costs a write, and how fast ``assay audit verify`` reads;
dataset versions: what a freeze and a diff of a large project cost in time and memory.

    .venv/bin/python bench/traceability.py [--events 1000000] [--writes 2000] [--pg URL]
    .venv/bin/python bench/traceability.py --snapshot 1000000 [--snapshot-small 100000] [--pg URL]

*Write cost*: ``--writes`` transactions of three audit events each (a dispatch answer writes two or
three) through ``Store.tx`` on a fresh SQLite file, chained (the code as it is) against the same
inserts with the chain left out (the raw floor: the rows without ``seq``/``hash``); with ``--pg``,
on a scratch PostgreSQL database, the chain's trigger on against off (``DISABLE TRIGGER``). The
figure is the extra time per event. *Verify*: ``--events`` chained events written straight into
a SQLite file (sqlite3, one transaction), then ``audit.verify`` over all of them: events/s; with
``--pg``, over a tenth as many. Write costs: the best of three alternating runs
(the machine is shared); verify: one run. Printed as JSON lines.

*Snapshot* (``--snapshot N``): a project of N records, each with one answer and a consensus label,
written straight into a fresh SQLite file (and with ``--pg`` a scratch PostgreSQL database); then,
each in a child process of its own so that its peak RSS is its own: ``dataset freeze`` (v1); 1 % of
the labels changed, 1 % of the confidences changed, 0.5 % records added; ``freeze`` again (v2);
``diff v1 v2`` (every change to a JSON Lines file). The floors, from the same run: a plain pyarrow
write of the same rows (records joined to their label, read through the driver's cursor, written
in batches of 10,000) and a plain pyarrow read of both versions' files. ``--snapshot-small`` runs
the same at a smaller size first, to show memory does not grow with N. One run each.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import sqlalchemy as sa  # noqa: E402

from assay.services import audit  # noqa: E402
from assay.services.actors import SYSTEM  # noqa: E402
from assay.store import audit_chain  # noqa: E402
from assay.store import events as event_store  # noqa: E402
from assay.store.engine import Store, open_store  # noqa: E402
from assay.store.tables import events  # noqa: E402
from assay.store.types import utcnow  # noqa: E402

PER_TX = 3


def _write(store: Store, n: int, chained: bool) -> float:
    raw = events.insert()
    t0 = time.perf_counter()
    for i in range(n):
        with store.tx() as conn:
            if chained:
                for k in range(PER_TX):
                    event_store.write_event(
                        conn,
                        "response.submitted",
                        "response",
                        i * PER_TX + k,
                        actor_id=7,
                        project_id=1,
                        after={"record_id": i, "value": {"label": "positive"}},
                    )
            else:  # the same rows, inserted as the store did before the chain
                rows = [
                    {
                        "at": utcnow(),
                        "actor_id": 7,
                        "action": "response.submitted",
                        "object_type": "response",
                        "object_id": str(i * PER_TX + k),
                        "project_id": 1,
                        "before": None,
                        "after": {"record_id": i, "value": {"label": "positive"}},
                    }
                    for k in range(PER_TX)
                ]
                conn.execute(raw, rows)
    return time.perf_counter() - t0


def write_cost_sqlite(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as d:
        store = open_store(f"sqlite:///{d}/w.db")
        _write(store, n // 10, True)  # warm up
        chained, floor = _rounds(lambda: _write(store, n, True), lambda: _write(store, n, False))
        store.dispose()
    return _cost("sqlite", n, chained, floor)


def write_cost_pg(url: str, n: int) -> dict[str, object]:
    name, admin, scratch = _scratch(url)
    try:
        store = open_store(scratch)
        _write(store, n // 10, True)

        def unchained() -> float:
            with store.engine.begin() as c:
                c.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER events_chain")
            try:
                return _write(store, n, True)
            finally:
                with store.engine.begin() as c:
                    c.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER events_chain")

        chained, floor = _rounds(lambda: _write(store, n, True), unchained)
        store.dispose()
    finally:
        _drop(admin, name)
    return _cost("postgresql", n, chained, floor)


ROUNDS = 3


def _rounds(a: Callable[[], float], b: Callable[[], float]) -> tuple[float, float]:
    """The best of ``ROUNDS`` alternating runs of each (the machine is shared: noise only adds)."""
    ta, tb = [], []
    for _ in range(ROUNDS):
        ta.append(a())
        tb.append(b())
    return min(ta), min(tb)


def _cost(db: str, n: int, chained: float, floor: float) -> dict[str, object]:
    per_event = (chained - floor) / (n * PER_TX) * 1e6
    return {
        "measure": "write cost",
        "database": db,
        "transactions": n,
        "events_per_tx": PER_TX,
        "chained_s": round(chained, 3),
        "unchained_s": round(floor, 3),
        "extra_us_per_event": round(per_event, 1),
        "ratio": round(chained / floor, 3),
    }


def _scratch(url: str) -> tuple[str, sa.Engine, str]:
    name = f"assay_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return name, admin, sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def _drop(admin: sa.Engine, name: str) -> None:
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _fill_sqlite(path: Path, n: int) -> float:
    open_store(f"sqlite:///{path}").dispose()
    t0 = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    prev, at = "", "2026-12-07 12:00:00.000000"
    batch = []
    for seq in range(1, n + 1):
        after = f'{{"record_id":{seq},"value":{{"label":"positive"}}}}'
        fields = (at, "7", "response.submitted", "response", str(seq), "1", "null", after)
        prev = audit_chain.link(prev, seq, fields)
        batch.append((at, 7, "response.submitted", "response", str(seq), 1, "null", after, seq, prev))
        if len(batch) == 50_000:
            db.executemany(_INSERT, batch)
            batch.clear()
    db.executemany(_INSERT, batch)
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - t0


_INSERT = (
    "INSERT INTO events (at, actor_id, action, object_type, object_id, project_id, before, after, seq, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def verify_sqlite(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "v.db"
        fill = _fill_sqlite(path, n)
        size = path.stat().st_size
        store = open_store(f"sqlite:///{path}")
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        result = audit.verify(store, SYSTEM)
        took = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        store.dispose()
    assert result["ok"] and result["events"] == n, result
    return {
        "measure": "verify",
        "database": "sqlite",
        "events": n,
        "file_mb": round(size / 2**20),
        "fill_s": round(fill, 1),
        "verify_s": round(took, 2),
        "events_per_s": round(n / took),
        # on a shared machine the wall clock waits for other work: per CPU second of this process
        "verify_cpu_s": round(cpu, 1),
        "events_per_cpu_s": round(n / cpu),
        # peak resident memory of the process before and after verify (KiB → MiB): flat when streamed
        "max_rss_mb_before_verify": round(rss0 / 1024),
        "max_rss_mb_after_verify": round(rss1 / 1024),
    }


def verify_pg(url: str, n: int) -> dict[str, object]:
    name, admin, scratch = _scratch(url)
    try:
        store = open_store(scratch)
        with store.engine.begin() as c:  # the trigger chains them: one statement per 10,000
            for start in range(0, n, 10_000):
                c.exec_driver_sql(
                    "INSERT INTO events (at, actor_id, action, object_type, object_id, project_id, after) "
                    "SELECT now(), 7, 'response.submitted', 'response', g::text, 1, "
                    "json_build_object('record_id', g) FROM generate_series(%(a)s::bigint, %(b)s::bigint) g",
                    {"a": start + 1, "b": min(start + 10_000, n)},
                )
        t0 = time.perf_counter()
        result = audit.verify(store, SYSTEM)
        took = time.perf_counter() - t0
        store.dispose()
    finally:
        _drop(admin, name)
    assert result["ok"] and result["events"] == n, result
    return {
        "measure": "verify",
        "database": "postgresql",
        "events": n,
        "verify_s": round(took, 2),
        "events_per_s": round(n / took),
    }


# ------------------------------------------------------------------------------------------
# dataset versions: freeze and diff

SNAP_SCHEMA = {
    "name": "snap",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b", "c"]}],
    "workflow": {"overlap": 1},
}
LABELS = ("a", "b", "c")


def _snap_fill(url: str, n: int) -> float:
    """A project of ``n`` records, one answer and one consensus label each, written in bulk."""
    from assay.services import accounts, projects

    store = open_store(url)
    projects.create_project(store, SYSTEM, SNAP_SCHEMA)
    accounts.add_user(store, SYSTEM, "ann", role="annotator")
    with store.read() as conn:
        pid = conn.exec_driver_sql("SELECT id FROM projects WHERE name = 'snap'").scalar_one()
        uid = conn.exec_driver_sql("SELECT id FROM users WHERE name = 'ann'").scalar_one()
    store.dispose()
    t0 = time.perf_counter()
    _bulk(url, pid, uid, 0, n)
    return time.perf_counter() - t0


def _bulk(url: str, pid: int, uid: int, start: int, stop: int) -> None:
    at = "2026-12-07 12:00:00.000000"
    pg = not url.startswith("sqlite")
    if pg:
        import psycopg

        raw: Any = psycopg.connect(
            sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        mark = "%s"
    else:
        raw = sqlite3.connect(sa.make_url(url).database, isolation_level=None)
        raw.execute("BEGIN")
        mark = "?"
    cur = raw.cursor()
    for lo in range(start, stop, 20_000):
        hi = min(lo + 20_000, stop)
        recs = [
            (pid, f"r{i:08d}", json.dumps({"text": f"record number {i}: the quick brown fox"}),
             json.dumps({"source": "bench", "n": i}), 0, None, False, "done", 1, 0, at, at)
            for i in range(lo, hi)
        ]  # fmt: skip
        cur.executemany(
            "INSERT INTO records (project_id, external_id, fields, metadata, priority, gold, is_gold, status, "
            f"submitted, leased, created_at, updated_at) VALUES ({', '.join([mark] * 12)})",
            recs,
        )
        cur.execute(
            f"SELECT id, external_id FROM records WHERE project_id = {mark} AND external_id >= {mark} "
            f"AND external_id <= {mark}",
            (pid, f"r{lo:08d}", f"r{hi - 1:08d}"),
        )
        ids = {ext: rid for rid, ext in cur.fetchall()}
        resp = [
            (
                pid,
                ids[f"r{i:08d}"],
                uid,
                json.dumps({"label": LABELS[i % 3]}),
                "submitted",
                1000,
                1,
                1,
                at,
                at,
            )
            for i in range(lo, hi)
        ]
        cur.executemany(
            'INSERT INTO responses (project_id, record_id, user_id, "values", status, duration_ms, '
            f"schema_version, guidelines_version, created_at, updated_at) VALUES ({', '.join([mark] * 10)})",
            resp,
        )
        cur.execute(
            f"SELECT record_id, id FROM responses WHERE project_id = {mark} AND record_id >= {mark} "
            f"AND record_id <= {mark}",
            (pid, min(ids.values()), max(ids.values())),
        )
        rids = dict(cur.fetchall())
        cons = [
            (pid, ids[f"r{i:08d}"], "label", json.dumps(LABELS[i % 3]), 0.9, "weighted_vote",
             json.dumps([rids[ids[f"r{i:08d}"]]]), at)
            for i in range(lo, hi)
        ]  # fmt: skip
        cur.executemany(
            "INSERT INTO consensus (project_id, record_id, question, value, confidence, method, response_ids, "
            f"updated_at) VALUES ({', '.join([mark] * 8)})",
            cons,
        )
    if pg:
        raw.commit()
    else:
        raw.execute("COMMIT")
    raw.close()


def _snap_change(url: str, n: int) -> dict[str, int]:
    """1 % of the labels changed (every 100th record), 1 % of the confidences (every 100th, offset
    50), 0.5 % records added."""
    store = open_store(url, migrate=False)
    with store.tx() as conn:
        pid = conn.exec_driver_sql("SELECT id FROM projects WHERE name = 'snap'").scalar_one()
        uid = conn.exec_driver_sql("SELECT id FROM users WHERE name = 'ann'").scalar_one()
        ids = [f"r{i:08d}" for i in range(0, n, 100)]
        for lo in range(0, len(ids), 500):
            chunk = ids[lo : lo + 500]
            conn.execute(
                sa.text(
                    "UPDATE consensus SET value = :v WHERE record_id IN "
                    "(SELECT id FROM records WHERE project_id = :p AND external_id IN :ids)"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"v": json.dumps("changed"), "p": pid, "ids": chunk},
            )
        ids2 = [f"r{i:08d}" for i in range(50, n, 100)]
        for lo in range(0, len(ids2), 500):
            conn.execute(
                sa.text(
                    "UPDATE consensus SET confidence = 0.5 WHERE record_id IN "
                    "(SELECT id FROM records WHERE project_id = :p AND external_id IN :ids)"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"p": pid, "ids": ids2[lo : lo + 500]},
            )
    store.dispose()
    added = n // 200
    _bulk(url, pid, uid, n, n + added)
    return {"label_changed": len(ids), "confidence_changed": len(ids2), "added": added}


def _snap_child(phase: str, url: str, home: str, out: str) -> None:
    import resource

    from assay.services import datasets

    if phase == "idle":  # what the child costs before it does anything: the libraries loaded
        import pyarrow.parquet  # noqa: F401

        store = open_store(url, migrate=False)
        with store.read() as conn:
            conn.exec_driver_sql("SELECT 1")
        result: dict[str, Any] = {}
        took = 0.0
    elif phase in ("freeze1", "freeze2"):
        store = open_store(url, migrate=False)
        t0 = time.perf_counter()
        v = datasets.freeze(store, SYSTEM, Path(home), "snap", name="v1" if phase == "freeze1" else "v2")
        took = time.perf_counter() - t0
        result = {"records": v["record_count"], "labels": v["labels"]}
    elif phase == "diff":
        store = open_store(url, migrate=False)
        t0 = time.perf_counter()
        d = datasets.diff(store, SYSTEM, Path(home), "snap", "v1", "v2", limit=0, out=Path(out))
        took = time.perf_counter() - t0
        result = {"counts": {k: v for k, v in d["counts"].items() if v}}
    elif phase == "floor_write":
        took, rows = _floor_write(url, Path(out))
        result = {"records": rows}
    else:  # floor_read
        import pyarrow.parquet as pq

        t0 = time.perf_counter()
        rows = 0
        for folder in sorted(Path(home).glob("datasets/*/v*-*")):
            for name in ("records.parquet", "labels.parquet"):
                for batch in pq.ParquetFile(folder / name).iter_batches(batch_size=10_000):
                    rows += batch.num_rows
        took = time.perf_counter() - t0
        result = {"rows": rows}
    use = resource.getrusage(resource.RUSAGE_SELF)
    peak = use.ru_maxrss / 1024
    cpu = use.ru_utime + use.ru_stime  # the whole child's, start-up included
    print(
        json.dumps(
            {
                "phase": phase,
                "seconds": round(took, 2),
                "cpu_s": round(cpu, 1),
                "peak_mib": round(peak),
                **result,
            }
        )
    )


def _floor_write(url: str, out: Path) -> tuple[float, int]:
    """The same rows (each record with its answer and label) read through the driver's cursor and
    written with pyarrow in batches of 10,000: no ordering by key, no hashing, no JSON handling."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            (c, pa.string())
            for c in ("external_id", "fields", "metadata", "status", "answer", "label", "method")
        ]
        + [("priority", pa.int64()), ("confidence", pa.float64())]
    )
    store = open_store(url, migrate=False)
    t0 = time.perf_counter()
    rows = 0
    cast = "::text" if not url.startswith("sqlite") else ""
    with store.read() as conn:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cur.execute(
            f'SELECT r.external_id, r.fields{cast}, r.metadata{cast}, r.status, s."values"{cast}, '
            f"c.value{cast}, c.method, r.priority, c.confidence FROM records r "
            "LEFT JOIN responses s ON s.record_id = r.id LEFT JOIN consensus c ON c.record_id = r.id "
            "ORDER BY r.id"
        )
        with pq.ParquetWriter(out, schema, compression="zstd") as w:
            while batch := cur.fetchmany(10_000):
                cols = list(zip(*batch, strict=True))
                w.write_table(
                    pa.table({f.name: list(col) for f, col in zip(schema, cols, strict=True)}, schema=schema)
                )
                rows += len(batch)
    store.dispose()
    return time.perf_counter() - t0, rows


def _snap_phase(phase: str, url: str, home: Path, out: Path) -> dict[str, Any]:
    import subprocess

    proc = subprocess.run(
        [sys.executable, __file__, "--snapshot-child", phase, url, str(home), str(out)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def snapshot(url: str, n: int, database: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        home = Path(d)
        fill = _snap_fill(url, n)
        idle = _snap_phase("idle", url, home, home / "x")
        f1 = _snap_phase("freeze1", url, home, home / "x")
        floor_w = _snap_phase("floor_write", url, home, home / "floor.parquet")
        changes = _snap_change(url, n)
        f2 = _snap_phase("freeze2", url, home, home / "x")
        diff = _snap_phase("diff", url, home, home / "diff.jsonl")
        floor_r = _snap_phase("floor_read", url, home, home / "x")
        size = sum(p.stat().st_size for p in home.glob("datasets/*/v1-*/*"))
    want = {"label_changed": changes["label_changed"], "confidence_changed": changes["confidence_changed"]}
    want["added"] = changes["added"]
    assert diff["counts"] == want, (diff["counts"], want)
    return {
        "measure": "snapshot",
        "database": database,
        "records": n,
        "fill_s": round(fill, 1),
        "freeze_s": f1["seconds"],
        "freeze_records_per_s": round(n / f1["seconds"]),
        "freeze_peak_mib": f1["peak_mib"],
        "freeze_cpu_s": f1["cpu_s"],
        "floor_write_cpu_s": floor_w["cpu_s"],
        "floor_write_s": floor_w["seconds"],
        "floor_write_peak_mib": floor_w["peak_mib"],
        "freeze_vs_floor": round(f1["seconds"] / floor_w["seconds"], 2),
        "version_mib": round(size / 2**20, 1),
        "freeze2_s": f2["seconds"],
        "diff_s": diff["seconds"],
        "diff_records_per_s": round((2 * n + changes["added"]) / diff["seconds"]),
        "diff_peak_mib": diff["peak_mib"],
        "diff_cpu_s": diff["cpu_s"],
        "floor_read_cpu_s": floor_r["cpu_s"],
        "idle_cpu_s": idle["cpu_s"],
        "diff_counts": diff["counts"],
        "floor_read_s": floor_r["seconds"],
        "floor_read_peak_mib": floor_r["peak_mib"],
        "diff_vs_floor": round(diff["seconds"] / floor_r["seconds"], 2),
        "idle_peak_mib": idle["peak_mib"],
    }


def snapshot_sqlite(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/s.db"
        open_store(url).dispose()
        return snapshot(url, n, "sqlite")


def snapshot_pg(url: str, n: int) -> dict[str, Any]:
    name, admin, scratch = _scratch(url)
    try:
        open_store(scratch).dispose()
        return snapshot(scratch, n, "postgresql")
    finally:
        _drop(admin, name)


def main() -> None:
    if sys.argv[1:2] == ["--snapshot-child"]:
        _snap_child(*sys.argv[2:6])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--writes", type=int, default=2000)
    ap.add_argument("--pg", default=None, help="a PostgreSQL server URL (a scratch database is made)")
    ap.add_argument("--snapshot", type=int, default=0, help="freeze and diff a project of N records (only)")
    ap.add_argument("--snapshot-small", type=int, default=0, help="the same at a smaller size first")
    ap.add_argument("--verify-only", action="store_true", help="skip the write costs")
    args = ap.parse_args()
    if args.snapshot:
        for n in [x for x in (args.snapshot_small, args.snapshot) if x]:
            print(json.dumps(snapshot_sqlite(n)), flush=True)
            if args.pg:
                print(json.dumps(snapshot_pg(args.pg, n)), flush=True)
        return
    if not args.verify_only:
        print(json.dumps(write_cost_sqlite(args.writes)), flush=True)
        if args.pg:
            print(json.dumps(write_cost_pg(args.pg, args.writes)), flush=True)
    print(json.dumps(verify_sqlite(args.events)), flush=True)
    if args.pg:
        print(json.dumps(verify_pg(args.pg, max(1, args.events // 10))), flush=True)


if __name__ == "__main__":
    main()
