"""`assay demo` and `assay serve` on a port in use say so before doing anything (issue 24, item 9)."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from assay.cli.main import app

runner = CliRunner()


def test_a_busy_port_is_told_before_the_demo_is_seeded(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        home = tmp_path / "demo"
        result = runner.invoke(app, ["demo", "--home", str(home), "--port", port])
        assert result.exit_code == 1
        assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output
        assert "Traceback" not in result.output
        assert not (home / "assay.db").exists()  # nothing was seeded
        result = runner.invoke(app, ["serve", "--home", str(tmp_path / "s"), "--port", port])
        assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output
