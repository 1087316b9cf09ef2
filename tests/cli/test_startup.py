"""Start-up is a feature (DESIGN.md; issue 24, item 11): ``assay --help`` and any command's
``--help`` load Typer (with the Pydantic it uses for options), Rich and the command modules
only, never the libraries a command runs.
Timing is for bench/startup.py; this test checks which modules load, which cannot flake."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "numpy",
    "scipy",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "uvicorn",
    "pyarrow",
    "httpx",
    "yaml",
    "argon2",
    "assay.domain",
    "assay.quality",
    "assay.services",
    "assay.store",
    "assay.formats",
    "assay.connectors",
    "assay.api",
    "assay.sdk",
)

PROBE = """
import json, sys
from assay.cli.main import app
try:
    app(sys.argv[1:])
except SystemExit as e:
    code = e.code
heavy = sorted({m for m in sys.modules for h in json.loads(HEAVY) if m == h or m.startswith(h + ".")})
print(json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["import", "--help"],
        ["export", "--help"],
        ["generate", "--help"],
        ["serve", "--help"],
        ["quality", "aggregate", "--help"],
        ["users", "password", "--help"],
        ["jobs", "list", "--help"],
        ["prelabel", "--help"],
        ["worker", "--help"],
        ["savings", "--help"],
        ["ai-first", "route", "--help"],
    ],
)
def test_help_loads_no_heavy_library(args: list[str]) -> None:
    code = PROBE.replace("json.loads(HEAVY)", repr(list(HEAVY)))
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, timeout=120
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["code"] in (0, None)
    assert out["heavy"] == [], f"`assay {' '.join(args)}` loaded {out['heavy']}"
