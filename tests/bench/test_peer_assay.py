"""assay behind Label Studio's peer benchmark (bench/peer_assay.py): the workload runs through it
against a real server with nothing refused, and what it reports is what the server did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT.parent / "shared" / "peers" / "label_studio_bench.py"


def test_the_peer_workload_runs_through_assay(tmp_path: Path) -> None:
    if not PEER.exists():
        pytest.skip(f"the peer benchmark is not available: {PEER}")
    out = tmp_path / "assay.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    cmd = [sys.executable, str(PEER), "--target", "bench.peer_assay:AssayTarget", "--quick"]
    cmd += ["--sizes", "300", "--data-root", str(tmp_path / "data"), "--out", str(out)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    size = json.loads(out.read_text())["sizes"][0]
    phases = size["phases"]
    assert {name for name, p in phases.items() if p.get("status", "ok") != "ok"} == set()
    assert phases["import"]["tasks"] == 300
    for stream, annotators in (("stream_1", 1), ("stream_8", 8)):
        p = phases[stream]
        assert p["clients"] == annotators and p["cycles"] > 0
        assert p["errors"] == 0 and p["duplicate_task_assignments"] == 0
    answered = phases["stream_1"]["cycles"] + phases["stream_8"]["cycles"]
    # (assay exports all of project A's records, each with its answers; the small imports went to C)
    assert phases["export_annotated"]["tasks"] == 300
    assert phases["export_annotated"]["annotations"] == answered
    assert phases["import_annotated"]["tasks"] == phases["export_b"]["annotations"] == 300
    assert not size["stop"].get("killed")  # (it stopped on SIGTERM)
