"""`assay import` of an agent-trace file names the trace format and `assay import-traces`
instead of failing on an unknown column (issue 24, item 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli.main import app

runner = CliRunner()

SCHEMA = """
name: agents
fields:
  - {name: run, type: trajectory}
questions:
  - {name: steps, type: step_review, field: run}
"""

TAU = {
    "task_id": 7,
    "traj": [
        {"role": "user", "content": "refund order 1"},
        {"role": "assistant", "content": "ok"},
    ],
    "reward": 1.0,
    "info": {},
}
CHAT = {
    "id": "c1",
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
}


@pytest.mark.parametrize(("trace", "fmt"), [(TAU, "tau-bench"), (CHAT, "openai-chat")])
def test_importing_a_trace_file_says_to_use_import_traces(
    db_url: str, tmp_path: Path, trace: dict, fmt: str
) -> None:
    db = ["--db", db_url]
    (tmp_path / "s.yaml").write_text(SCHEMA)
    assert runner.invoke(app, ["project", "create", "--schema", str(tmp_path / "s.yaml"), *db]).exit_code == 0
    traces = tmp_path / "runs.jsonl"
    traces.write_text(json.dumps(trace) + "\n")
    result = runner.invoke(app, ["import", "agents", str(traces), *db])
    assert result.exit_code == 1
    assert f"holds agent traces ({fmt})" in result.output
    assert "assay import-traces agents runs.jsonl" in result.output
    # the command it names works
    done = runner.invoke(app, ["import-traces", "agents", str(traces), *db])
    assert done.exit_code == 0, done.output
    # a file of records with a wrong column still says which column
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "task": 3}) + "\n")
    result = runner.invoke(app, ["import", "agents", str(bad), *db])
    assert result.exit_code == 1 and "unknown column 'task'" in result.output
