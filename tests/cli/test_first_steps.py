"""What a new user trips on first (issue 24, items 4 and 5): exports that leave nothing behind
on error, commands that refuse to run on a database nobody made, and the admin's password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli.main import app
from assay.services import accounts
from assay.store.engine import open_store

runner = CliRunner()

SCHEMA = """
name: sentiment
fields:
  - {name: text, type: text}
questions:
  - {name: sentiment, type: label, options: [positive, negative]}
"""


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


@pytest.fixture
def labels(db_url: str, tmp_path: Path) -> list[str]:
    """A label-only project with one record."""
    db = ["--db", db_url]
    (tmp_path / "s.yaml").write_text(SCHEMA)
    run("project", "create", "--schema", str(tmp_path / "s.yaml"), *db)
    (tmp_path / "r.jsonl").write_text('{"id": "t1", "text": "hello"}\n')
    run("import", "sentiment", str(tmp_path / "r.jsonl"), *db)
    return db


@pytest.mark.parametrize("fmt", ["dpo", "rm", "kto", "prm"])
def test_a_training_format_the_project_does_not_fit_is_an_error_and_leaves_no_file(
    labels: list[str], tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "out.jsonl"
    text = run("export", "sentiment", "--format", fmt, "--out", str(out), *labels, code=1)
    assert "Traceback" not in text and text.startswith("error (invalid)")
    assert not out.exists()
    folder = tmp_path / "hf"  # a datasets folder is written whole or not at all too
    run("export", "sentiment", "--format", fmt, "--out", str(folder), *labels, code=1)
    assert not folder.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_export_that_fails_keeps_the_file_that_was_there(labels: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("yesterday's export\n")
    run("export", "nope", "--out", str(out), *labels, code=1)
    run("export", "sentiment", "--format", "dpo", "--out", str(out), *labels, code=1)
    assert out.read_text() == "yesterday's export\n"
    run("export", "sentiment", "--out", str(out), *labels)
    assert json.loads(out.read_text())["external_id"] == "t1"


def test_exporting_a_missing_project_leaves_no_file(labels: list[str], tmp_path: Path) -> None:
    for fmt in ("jsonl", "csv", "parquet", "sft"):
        out = tmp_path / f"out.{fmt}"
        text = run("export", "nope", "--format", fmt, "--out", str(out), *labels, code=1)
        assert "no project 'nope'" in text
        assert not out.exists(), fmt


def test_a_mistyped_format_lists_every_format(labels: list[str], tmp_path: Path) -> None:
    text = run("export", "sentiment", "--format", "jsnol", "--out", str(tmp_path / "x"), *labels, code=1)
    for name in ("jsonl", "csv", "parquet", "dpo", "sft"):
        assert name in text
    assert not (tmp_path / "x").exists()


def test_a_command_without_an_initialised_home_says_so_and_makes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_HOME", raising=False)
    monkeypatch.delenv("ASSAY_DATABASE_URL", raising=False)
    text = run("project", "show", "sentiment", code=1)
    assert "assay init" in text and "ASSAY_HOME" in text
    (tmp_path / "p.jsonl").write_text('{"id": "p1", "prompt": "hi"}\n')
    for args in (
        ("users", "list"),
        ("import", "sentiment", "r.jsonl"),
        ("export", "s", "--out", "o.jsonl"),
        ("generate", "p.jsonl", "-p", "arena", "-m", "a", "-m", "b"),
    ):
        assert "assay init" in run(*args, code=1)
    (tmp_path / "p.jsonl").unlink()
    assert list(tmp_path.iterdir()) == []
    run("init", "--home", "data")
    assert "no project 'sentiment'" in run("project", "show", "sentiment", "--home", "data", code=1)


def test_the_admin_can_get_a_password_later(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path)]
    first = run("init", *home)
    assert "assay users password admin" in first  # the way to a web sign-in is named
    url = f"sqlite:///{tmp_path / 'assay.db'}"
    store = open_store(url)
    try:
        with pytest.raises(Exception, match="wrong name or password"):
            accounts.login(store, "admin", "correct horse")
        again = json.loads(run("init", "--password", "correct horse", "--json", *home))
        assert again["token"] is None and again["password_set"] is True
        assert accounts.login(store, "admin", "correct horse").name == "admin"
        run("users", "password", "admin", "--password", "battery staple", *home)
        assert accounts.login(store, "admin", "battery staple").name == "admin"
        text = run("users", "password", "admin", "--password", "short", *home, code=1)
        assert "at least 8 characters" in text
        result = runner.invoke(
            app, ["users", "password", "admin", *home], input="typed secret\ntyped secret\n"
        )
        assert result.exit_code == 0, result.output
        assert "typed secret" not in result.output
        assert accounts.login(store, "admin", "typed secret").name == "admin"
        assert "no user named 'bob'" in run(
            "users", "password", "bob", "--password", "12345678", *home, code=1
        )
    finally:
        store.dispose()
