"""Label Studio and assay through the same workload, in one run: the ratios.

Runs ``../shared/peers/label_studio_bench.py`` (imports, one and eight annotators doing next →
submit, a task list, exports; server CPU and peak memory per phase) on Label Studio, then on assay
(:class:`bench.peer_assay.AssayTarget`: ``assay serve`` on SQLite, 1 worker) with a new connection
per request as Label Studio is measured, then on assay with kept-alive connections; and prints
each measure side by side, with how many times better assay does (× > 1: assay is faster, or
uses less). The peer script builds Label Studio's virtualenv under ``/tmp/peers`` on first use.

    python bench/peers.py                      # 10,000 tasks
    python bench/peers.py --sizes 10000 100000
    python bench/peers.py --quick --sizes 2000 # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT.parent / "shared" / "peers" / "label_studio_bench.py"

# (label, path in a size's "phases", True where more is better)
MEASURES: list[tuple[str, tuple[str, ...], bool]] = [
    ("cold start to healthy (s)", ("start", "seconds_to_healthy"), False),
    ("import, tasks/s", ("import", "tasks_per_s"), True),
    ("import of 100 tasks, p50 ms", ("import_small", "latency", "p50_ms"), False),
    ("next while holding a task, p50 ms", ("next_idle", "latency", "p50_ms"), False),
    ("1 annotator: next → submit cycles/s", ("stream_1", "annotations_per_s"), True),
    ("1 annotator: next p50 ms", ("stream_1", "next_latency", "p50_ms"), False),
    ("1 annotator: submit p50 ms", ("stream_1", "submit_latency", "p50_ms"), False),
    ("1 annotator: server CPU ms per cycle", ("stream_1", "server_cpu_ms_per_op"), False),
    ("8 annotators: cycles/s", ("stream_8", "annotations_per_s"), True),
    ("8 annotators: next p95 ms", ("stream_8", "next_latency", "p95_ms"), False),
    ("8 annotators: submit p95 ms", ("stream_8", "submit_latency", "p95_ms"), False),
    ("8 annotators: errors", ("stream_8", "errors"), False),
    ("8 annotators: tasks handed out twice", ("stream_8", "duplicate_task_assignments"), False),
    ("task list page, p50 ms", ("list_tasks", "latency", "p50_ms"), False),
    ("export of project A (s)", ("export_annotated", "seconds"), False),
    ("export of all of A's tasks (s)", ("export_all", "seconds"), False),
    ("import with one annotation each, tasks/s", ("import_annotated", "tasks_per_s"), True),
    ("export of N annotations (s)", ("export_b", "seconds"), False),
]


def run_peer(target: str, conn: str, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(PEER), "--target", target, "--conn", conn, "--out", str(out)]
    cmd += ["--sizes", *map(str, args.sizes), "--data-root", str(args.data_root / target.split(":")[-1])]
    if args.quick:
        cmd.append("--quick")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    print(f"[{target}, {conn}] {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True, env=env, stdout=None if args.verbose else subprocess.DEVNULL)
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def value(size: dict[str, Any], path: tuple[str, ...]) -> float | None:
    cur: Any = size["phases"]
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur if isinstance(cur, int | float) else None


def times_better(ls: float | None, assay: float | None, more_is_better: bool) -> str:
    if ls is None or assay is None or ls <= 0 or assay <= 0:
        return "–"
    return f"{(assay / ls if more_is_better else ls / assay):,.1f}×"


def fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:,.2f}".rstrip("0").rstrip(".")


def table(ls: dict[str, Any], fresh: dict[str, Any], kept: dict[str, Any]) -> str:
    rows = []
    for a, b, c in zip(ls["sizes"], fresh["sizes"], kept["sizes"], strict=True):
        rows += [
            f"\nN = {a['n']:,} tasks",
            "| measure | Label Studio | assay | × | assay, kept-alive connections | × |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, path, more in MEASURES:
            x, y, z = value(a, path), value(b, path), value(c, path)
            better = "–" if label.endswith(("errors", "twice")) else times_better(x, y, more)
            kept_better = "–" if label.endswith(("errors", "twice")) else times_better(x, z, more)
            rows.append(f"| {label} | {fmt(x)} | {fmt(y)} | {better} | {fmt(z)} | {kept_better} |")
        mem = [s.get("server_peak_rss_mb") for s in (a, b, c)]
        rows.append(
            f"| server peak memory (MiB) | {fmt(mem[0])} | {fmt(mem[1])} | {times_better(mem[0], mem[1], False)}"
            f" | {fmt(mem[2])} | {times_better(mem[0], mem[2], False)} |"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    ap.add_argument("--quick", action="store_true", help="the peer script's smoke settings")
    ap.add_argument("--data-root", type=Path, default=Path("/tmp/peers/data"))
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/peers"))
    ap.add_argument("--verbose", action="store_true", help="show the peer script's output")
    args = ap.parse_args()
    if not PEER.exists():
        raise SystemExit(f"no peer script at {PEER}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    ls = run_peer("label-studio", "fresh", args.out_dir / "label-studio.json", args)
    target = "bench.peer_assay:AssayTarget"
    fresh = run_peer(target, "fresh", args.out_dir / "assay-fresh.json", args)
    kept = run_peer(target, "keepalive", args.out_dir / "assay-keepalive.json", args)
    print(
        f"\nLabel Studio {ls['versions'].get('label-studio')} and assay {fresh['versions']['assay']}, same run,"
    )
    print("a new connection per request unless said; × = how many times better assay does.")
    print("Submits to known task ids without next (submit_1, submit_8) have no counterpart in assay;")
    print("on Label Studio they add up to 3,000 annotations to project A before its list and exports.")
    print("assay's export of project A is of all its records (it has no 'annotated only' export).")
    print(table(ls, fresh, kept))


if __name__ == "__main__":
    main()
