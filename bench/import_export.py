"""Import and export throughput for N text records on SQLite and PostgreSQL, with peak memory.

    .venv/bin/python bench/import_export.py [--records 1000000] [--pg URL] [--skip-pg]

Each phase runs in a fresh child process so that its peak RSS is its own: the import
streams a JSONL file of N records into a new project; the export streams it back out.
Targets (issue #2): import ≥ 50,000 records/s, export ≥ 100,000 records/s, memory flat in N.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCHEMA = {
    "name": "bench",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b", "c"]}],
    "workflow": {"overlap": 3},
}


def make_file(path: Path, n: int) -> None:
    with open(path, "w") as f:
        for i in range(n):
            f.write(
                f'{{"external_id": "r{i}", "text": "record number {i}: the quick brown fox jumps over the lazy dog"}}\n'
            )


def child(phase: str, url: str, data: str, out: str) -> None:
    from assay.services import exports, imports, projects
    from assay.services.actors import SYSTEM
    from assay.store.engine import open_store

    store = open_store(url)
    t = time.perf_counter()
    if phase == "import":
        projects.create_project(store, SYSTEM, SCHEMA)
        rep = imports.import_file(store, SYSTEM, "bench", Path(data))
        n = rep.rows
    else:
        rep2 = exports.export_file(store, SYSTEM, "bench", Path(out), fmt="jsonl")
        n = rep2.rows
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"phase": phase, "rows": n, "seconds": dt, "per_s": n / dt, "peak_mib": peak}))


def run_phase(phase: str, url: str, data: Path, out: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", phase, url, str(data), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fresh_pg(url: str) -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"assay_bench_{os.getpid()}"
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_pg(url: str, db_url: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.make_url(db_url).database}"')
    admin.dispose()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument(
        "--pg",
        default=os.environ.get(
            "ASSAY_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    ap.add_argument("--skip-pg", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "records.jsonl"
        make_file(data, args.records)
        print(f"{args.records:,} text records, {data.stat().st_size / 2**20:.0f} MiB of JSONL\n")
        print(f"{'database':<11} {'phase':<7} {'records/s':>11} {'seconds':>8} {'peak RSS':>9}")
        targets = [("sqlite", f"sqlite:///{tmp}/assay.db", None)]
        if not args.skip_pg:
            targets.append(("postgresql", fresh_pg(args.pg), args.pg))
        for name, url, admin in targets:
            try:
                for phase in ("import", "export"):
                    r = run_phase(phase, url, data, Path(tmp) / f"out-{name}.jsonl")
                    print(
                        f"{name:<11} {phase:<7} {r['per_s']:>11,.0f} {r['seconds']:>8.2f} {r['peak_mib']:>7.0f} MiB"
                    )
            finally:
                if admin:
                    drop_pg(admin, url)
    print("\ntargets: import >= 50,000/s, export >= 100,000/s, memory flat in the number of records")


if __name__ == "__main__":
    main()
