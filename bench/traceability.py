"""The audit log's hash chain: what it costs a write, and how fast ``assay audit verify`` reads.

    .venv/bin/python bench/traceability.py [--events 1000000] [--writes 2000] [--pg URL]

*Write cost*: ``--writes`` transactions of three audit events each (a dispatch answer writes two or
three) through ``Store.tx`` on a fresh SQLite file, chained (the code as it is) against the same
inserts with the chain left out (the raw floor: the rows without ``seq``/``hash``); with ``--pg``,
on a scratch PostgreSQL database, the chain's trigger on against off (``DISABLE TRIGGER``). The
figure is the extra time per event. *Verify*: ``--events`` chained events written straight into
a SQLite file (sqlite3, one transaction), then ``audit.verify`` over all of them: events/s; with
``--pg``, over a tenth as many. Write costs: the best of three alternating runs
(the machine is shared); verify: one run. Printed as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

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
        store = open_store(f"sqlite:///{path}")
        t0 = time.perf_counter()
        result = audit.verify(store, SYSTEM)
        took = time.perf_counter() - t0
        store.dispose()
    assert result["ok"] and result["events"] == n, result
    return {
        "measure": "verify",
        "database": "sqlite",
        "events": n,
        "fill_s": round(fill, 1),
        "verify_s": round(took, 2),
        "events_per_s": round(n / took),
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--writes", type=int, default=2000)
    ap.add_argument("--pg", default=None, help="a PostgreSQL server URL (a scratch database is made)")
    args = ap.parse_args()
    print(json.dumps(write_cost_sqlite(args.writes)), flush=True)
    if args.pg:
        print(json.dumps(write_cost_pg(args.pg, args.writes)), flush=True)
    print(json.dumps(verify_sqlite(args.events)), flush=True)
    if args.pg:
        print(json.dumps(verify_pg(args.pg, max(1, args.events // 10))), flush=True)


if __name__ == "__main__":
    main()
