"""``assay import-traces`` through the command line (registered on a copy of the app)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from assay.cli import traces
from assay.cli.main import app as main_app
from tests.traces.test_import import AGENT_SCHEMA

FIX = Path(__file__).parent / "fixtures"


def test_import_traces_command(db_url: str, tmp_path: Path) -> None:
    app = typer.Typer()
    app.registered_commands = list(main_app.registered_commands)
    app.registered_groups = list(main_app.registered_groups)
    if not any(c.name == "import-traces" for c in app.registered_commands):
        traces.register(app)
    runner = CliRunner()
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(AGENT_SCHEMA))
    db = ["--db", db_url]
    r = runner.invoke(app, ["project", "create", "--schema", str(schema), *db])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["import-traces", "agent-review", str(FIX / "otel.json"), "--json", *db])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["rows"] == 1 and out["formats"] == {"otel": 1}
    r = runner.invoke(
        app, ["import-traces", "agent-review", str(FIX / "steps.jsonl"), "--format", "anthropic", *db]
    )
    assert r.exit_code != 0
