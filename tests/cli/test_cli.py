"""The CLI end to end on a real database file: init, users, projects, import, export, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from assay.cli.main import app

runner = CliRunner()

SCHEMA = """
name: sentiment
fields:
  - {name: text, type: text}
questions:
  - {name: sentiment, type: label, options: [positive, negative]}
workflow: {overlap: 2}
"""


def run(*args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path) -> list[str]:
    return ["--db", db_url]


def test_init_users_project_import_export(cli_db: list[str], tmp_path: Path) -> None:
    out = json.loads(run("init", *cli_db, "--home", str(tmp_path), "--json"))
    assert out["admin"] == "admin" and out["token"].startswith("assay_")
    again = json.loads(run("init", *cli_db, "--home", str(tmp_path), "--json"))
    assert again["token"] is None  # a token is shown once only

    user = json.loads(
        run("users", "add", "ann", "--role", "annotator", "--skills", "de,physician", *cli_db, "--json")
    )
    assert user["token"].startswith("assay_") and user["role"] == "annotator"
    users = json.loads(run("users", "list", *cli_db, "--json"))
    assert [u["name"] for u in users] == ["admin", "ann"]
    assert users[1]["skills"] == ["de", "physician"]

    schema = tmp_path / "s.yaml"
    schema.write_text(SCHEMA)
    created = json.loads(run("project", "create", "--schema", str(schema), *cli_db, "--json"))
    assert created["name"] == "sentiment"
    data = tmp_path / "r.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": f"t{i}"}) + "\n" for i in range(30)))
    rep = json.loads(run("import", "sentiment", str(data), *cli_db, "--json"))
    assert rep["created"] == 30
    shown = json.loads(run("project", "show", "sentiment", *cli_db, "--json"))
    assert shown["records"] == 30 and shown["schema_version"] == 1
    listed = json.loads(run("project", "list", *cli_db, "--json"))
    assert [p["name"] for p in listed] == ["sentiment"]
    out_file = tmp_path / "out.parquet"
    rep = json.loads(
        run("export", "sentiment", "--format", "parquet", "--out", str(out_file), *cli_db, "--json")
    )
    assert rep["rows"] == 30 and out_file.exists()


def test_errors_name_the_place_and_exit_1(cli_db: list[str], tmp_path: Path) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text(SCHEMA)
    run("project", "create", "--schema", str(schema), *cli_db)
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": 1, "text": "a"}\n{"id": 2, "text": "b", "gold": {"sentiment": "meh"}}\n')
    result = runner.invoke(app, ["import", "sentiment", str(data), *cli_db])
    assert result.exit_code == 1
    assert "bad.jsonl" in result.output and "line 2" in result.output and "sentiment" in result.output
    bad_schema = tmp_path / "bad.yaml"
    bad_schema.write_text("name: x\nfields: [{name: t, type: txt}]\nquestions: []\n")
    result = runner.invoke(app, ["project", "create", "--schema", str(bad_schema), *cli_db])
    assert result.exit_code == 1 and "bad.yaml" in result.output
    result = runner.invoke(app, ["project", "show", "nope", *cli_db])
    assert result.exit_code == 1 and "not_found" in result.output


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((*prefix, name))
        if hasattr(cmd, "commands"):
            out += _commands(cmd, (*prefix, name))
    return out


def test_every_command_has_help_and_json_where_it_prints_data() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root)
    assert ("project", "create") in commands and ("import",) in commands
    for path in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage" in result.output


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "init", "--home", str(tmp_path / "h"), "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert json.loads(proc.stdout)["token"].startswith("assay_")
    assert (tmp_path / "h" / "assay.db").exists()


def test_cli_reference_is_current() -> None:
    from assay.cli.reference import render

    docs = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    assert docs.read_text(encoding="utf-8") == render(), (
        "regenerate: python -m assay.cli.reference > docs/cli.md"
    )


def test_import_checks_local_media_files(cli_db: list[str], tmp_path: Path) -> None:
    from PIL import Image

    home = tmp_path / "home"
    run("init", *cli_db, "--home", str(home), "--json")
    (home / "media").mkdir()
    Image.new("RGB", (20, 10)).save(home / "media" / "a.png")
    schema = tmp_path / "s.yaml"
    schema.write_text(
        "name: pics\nfields: [{name: photo, type: image}]\nquestions: [{name: ok, type: label, options: [y, n]}]\n"
    )
    run("project", "create", "--schema", str(schema), *cli_db, "--home", str(home))
    data = tmp_path / "pics.jsonl"
    data.write_text('{"id": "a", "photo": "media/a.png"}\n{"id": "b", "photo": "media/b.png"}\n')
    result = runner.invoke(app, ["import", "pics", str(data), *cli_db, "--home", str(home)])
    assert result.exit_code != 0
    assert "pics.jsonl" in result.output and "line 2" in result.output and "'photo'" in result.output
    assert "no media file media/b.png" in result.output
    data.write_text('{"id": "a", "photo": {"url": "media/a.png", "width": 20, "height": 10}}\n')
    assert "1 new" in run("import", "pics", str(data), *cli_db, "--home", str(home))


def test_coco_in_and_out_from_the_command_line(cli_db: list[str], tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[3] / "shared" / "data" / "boxes" / "coco_panopticapi_sample"
    home = tmp_path / "home"
    run("init", *cli_db, "--home", str(home), "--json")
    import shutil

    shutil.copytree(sample / "sample_data" / "input_images", home / "media" / "val2017")
    labels = "[person, horse, truck, sports ball, grass-merged, gravel, sky-other-merged, tree-merged]"
    schema = tmp_path / "s.yaml"
    schema.write_text(
        f"name: det\nfields: [{{name: image, type: image}}]\n"
        f"questions: [{{name: objects, type: bbox, field: image, labels: {labels}}}]\n"
    )
    run("project", "create", "--schema", str(schema), *cli_db, "--home", str(home))
    coco = sample / "sample_data" / "panoptic_coco_detection_format.json"
    args = ["--format", "coco", "--coco-as", "gold", "--media-prefix", "media/val2017/"]
    out = run("import", "det", str(coco), *args, *cli_db, "--home", str(home))
    assert "2 new" in out
    dest = tmp_path / "det.json"
    run(
        "export",
        "det",
        "--format",
        "coco",
        "--coco-from",
        "gold",
        "--out",
        str(dest),
        *cli_db,
        "--home",
        str(home),
    )
    doc = json.loads(dest.read_text())
    assert len(doc["images"]) == 2 and len(doc["annotations"]) == 50
    assert doc["images"][0]["file_name"].startswith("media/val2017/")


def test_yolo_in_and_out_from_the_command_line(cli_db: list[str], tmp_path: Path) -> None:
    from tests.formats.test_yolo import dataset

    home = tmp_path / "home"
    run("init", *cli_db, "--home", str(home), "--json")
    root = dataset(home / "media" / "ds")
    schema = tmp_path / "s.yaml"
    schema.write_text(
        "name: det\nfields: [{name: image, type: image}]\n"
        "questions: [{name: objects, type: bbox, field: image, labels: [person, car]}]\n"
    )
    run("project", "create", "--schema", str(schema), *cli_db, "--home", str(home))
    out = run("import", "det", str(root), "--media-prefix", "media/ds/", *cli_db, "--home", str(home))
    assert "3 new" in out
    dest = tmp_path / "yolo-out"
    run(
        "export",
        "det",
        "--format",
        "yolo",
        "--coco-from",
        "suggestions",
        "--out",
        str(dest),
        *cli_db,
        "--home",
        str(home),
    )
    assert sorted(p.name for p in (dest / "labels" / "train").iterdir()) == ["a.txt", "b.txt"]


def test_import_probes_media_in_a_bucket_and_names_a_wrong_duration(
    cli_db: list[str], tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.mediafiles import mp4
    from tests.s3 import s3fs_for

    fs = s3fs_for(s3_endpoint)
    if not fs.exists("cli-media"):
        fs.mkdir("cli-media")
    fs.pipe("cli-media/walks/w1.mp4", mp4(1.0, 32, 24, fps=10))
    monkeypatch.setenv("ASSAY_MEDIA_BUCKETS", "s3://cli-media/walks")
    monkeypatch.setenv("ASSAY_S3_ENDPOINT_URL", s3_endpoint)
    home = tmp_path / "home"
    run("init", *cli_db, "--home", str(home), "--json")
    schema = tmp_path / "s.yaml"
    schema.write_text(
        "name: walks\nfields: [{name: film, type: video}]\n"
        "questions: [{name: parts, type: segment, field: film, labels: [walk]}]\n"
    )
    run("project", "create", "--schema", str(schema), *cli_db, "--home", str(home))
    data = tmp_path / "walks.jsonl"
    data.write_text(
        '{"id": "a", "film": {"url": "s3://cli-media/walks/w1.mp4"}}\n'
        '{"id": "b", "film": {"url": "s3://cli-media/walks/w1.mp4", "duration": 4}}\n'
    )
    result = runner.invoke(app, ["import", "walks", str(data), *cli_db, "--home", str(home)])
    assert result.exit_code != 0
    assert "walks.jsonl" in result.output and "line 2" in result.output and "film.duration" in result.output
    assert "declares 4 s but s3://cli-media/walks/w1.mp4 lasts 1 s" in result.output
    data.write_text('{"id": "a", "film": {"url": "s3://cli-media/walks/w1.mp4"}}\n')
    assert "1 new" in run("import", "walks", str(data), *cli_db, "--home", str(home))
    out = tmp_path / "out.jsonl"
    run("export", "walks", "--out", str(out), *cli_db, "--home", str(home))
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["fields"]["film"] == {
        "url": "s3://cli-media/walks/w1.mp4",
        "width": 32,
        "height": 24,
        "duration": 1.0,
        "fps": 10.0,
    }


def test_conll_from_the_command_line(cli_db: list[str], tmp_path: Path) -> None:
    from tests.formats.test_conll import CONLL, tags

    home = tmp_path / "home"
    run("init", *cli_db, "--home", str(home), "--json")
    schema = tmp_path / "s.yaml"
    schema.write_text(
        "name: ner\nfields: [{name: text, type: text}]\n"
        "questions: [{name: entities, type: span, field: text, labels: [PER, ORG, LOC, MISC]}]\n"
    )
    run("project", "create", "--schema", str(schema), *cli_db, "--home", str(home))
    src = tmp_path / "train.conll"
    src.write_text(CONLL, encoding="utf-8")
    out = run("import", "ner", str(src), "--coco-as", "gold", *cli_db, "--home", str(home))  # .conll: auto
    assert "3 new" in out
    dest = tmp_path / "ner.conll"
    args = ["--format", "conll", "--coco-from", "gold", "--out", str(dest)]
    run("export", "ner", *args, *cli_db, "--home", str(home))
    assert tags(dest.read_text(encoding="utf-8")) == tags(CONLL)
    bad = tmp_path / "bad.conll"
    bad.write_text("Good B-PER\nBad B-CITY\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "ner", str(bad), *cli_db, "--home", str(home)])
    assert result.exit_code != 0 and "line 2" in result.output and "'CITY'" in result.output
