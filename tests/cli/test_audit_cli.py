"""``assay audit verify|anchor`` and the actor every CLI command names in the audit log."""

from __future__ import annotations

import getpass
import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from assay.cli.main import app

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _events(db: Path) -> list[tuple[int, int | None, str]]:
    with sqlite3.connect(db) as c:
        return list(c.execute("SELECT id, actor_id, action FROM events ORDER BY seq"))


def test_verify_names_the_first_broken_event_and_an_anchor_catches_a_cut(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path)]
    run("init", *home)
    for name in ("ann", "bob", "cid"):
        run("users", "add", name, *home)
    assert "audit log intact" in run("audit", "verify", *home)
    anchor = tmp_path / "anchor.json"
    head = json.loads(run("audit", "anchor", "--out", str(anchor), "--json", *home))
    assert json.loads(anchor.read_text())["hash"] == head["hash"] and head["seq"] == len(
        _events(tmp_path / "assay.db")
    )

    db = tmp_path / "assay.db"
    with sqlite3.connect(db) as c:  # the last event cut off: the chain holds, the anchor does not
        c.execute("DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)")
    run("audit", "verify", *home)
    out = run("audit", "verify", "--anchor", str(anchor), *home, code=1)
    assert f"broken at seq {head['seq']}" in out

    second = _events(db)[1]
    with sqlite3.connect(db) as c:
        c.execute("UPDATE events SET action = 'user.deleted' WHERE id = ?", (second[0],))
    out = run("audit", "verify", *home, code=1)
    assert f"broken at seq 2 (event {second[0]})" in out
    result = json.loads(run("audit", "verify", "--json", *home, code=1))
    assert result["broken"]["event_id"] == second[0] and result["events"] == 1


def test_cli_commands_name_their_actor(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path)]
    run("init", *home)  # the first admin: the actor when the OS user is no assay user
    after_init = len(_events(tmp_path / "assay.db"))
    run("users", "add", "ann", "--role", "annotator", *home)
    run("--as", "ann", "users", "add", "bob", *home)
    run("users", "add", getpass.getuser(), "--role", "manager", *home)
    run("project", "create", "--name", "p", "--schema", _schema(tmp_path), *home)
    run("--as", "nobody", "users", "add", "eve", *home, code=1)
    with sqlite3.connect(tmp_path / "assay.db") as c:
        ids = dict(c.execute("SELECT name, id FROM users"))
    made = {action: actor for _, actor, action in _events(tmp_path / "assay.db")}
    by_action = [(actor, action) for _, actor, action in _events(tmp_path / "assay.db")]
    assert (ids["admin"], "user.created") in by_action  # ann, by the first admin
    assert (ids["ann"], "user.created") in by_action  # bob, as ann
    assert made["project.created"] == ids[getpass.getuser()]  # the OS user's own assay user
    assert None not in [actor for actor, _ in by_action[after_init:]]  # never anonymous


def _schema(tmp_path: Path) -> str:
    path = tmp_path / "schema.yaml"
    path.write_text(
        "name: p\nfields:\n  - {name: text, type: text}\n"
        "questions:\n  - {name: l, type: label, options: [a, b]}\n"
    )
    return str(path)
