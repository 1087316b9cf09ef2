"""Dataset versions: freeze → change → freeze → diff names exactly the changes; versions are
immutable (their files checked against their hashes), exported as frozen, audited with their actor."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from assay.cli.main import app
from assay.domain.errors import Conflict, NotFound, ValidationError
from assay.formats import snapshot as snap
from assay.services import datasets, imports, review
from assay.services.actors import SYSTEM
from assay.store.engine import Store
from assay.store.tables import dataset_versions
from tests.factories import make_project, make_user

SCHEMA = {
    "name": "ds",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
    "workflow": {"overlap": 2},
}


def _answers(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"user": u, "values": {"label": v}} for u, v in pairs]


def _project(store: Store) -> None:
    make_project(store, SCHEMA)
    for u in ("ann", "bob", "carl", "dave"):
        make_user(store, u)
    rows: list[dict[str, Any]] = [
        {
            "id": f"r{i}",
            "text": f"t{i}",
            "metadata": {"split": "train"},
            "responses": _answers(("ann", "a"), ("bob", "a")),
        }
        for i in range(1, 5)
    ]
    rows.append(
        {
            "id": "r5",
            "text": "t5",
            "metadata": {"split": "test"},
            "responses": _answers(("ann", "a"), ("bob", "a"), ("carl", "b")),
        }
    )
    imports.import_rows(store, SYSTEM, "ds", enumerate(rows, 1))


def _change(store: Store) -> None:
    """A record added (r6), one's text edited (r2), one's label corrected to b by a reviewer (r3),
    one answered once more, the same label more sure (r5)."""
    imports.import_rows(
        store,
        SYSTEM,
        "ds",
        enumerate(
            [
                {"id": "r6", "text": "t6"},
                {"id": "r2", "text": "t2 edited", "metadata": {"split": "train"}},
                {
                    "id": "r5",
                    "text": "t5",
                    "metadata": {"split": "test"},
                    "responses": _answers(("dave", "a")),
                },
            ],
            1,
        ),
    )
    rev, _ = make_user(store, "rev", role="reviewer")
    with store.read() as conn:
        ids = conn.execute(
            sa.text(
                "SELECT s.id FROM responses s JOIN records r ON r.id = s.record_id "
                "WHERE r.external_id = 'r3' ORDER BY s.id"
            )
        ).scalars()
        answers = list(ids)
    for rid in answers:
        review.review_response(store, rev, rid, "correct", corrected_values={"label": "b"}, comment="it is b")


def test_freeze_change_freeze_diff_names_exactly_the_changes(store: Store, tmp_path: Path) -> None:
    _project(store)
    v1 = datasets.freeze(store, SYSTEM, tmp_path, "ds", name="v1")
    assert v1["record_count"] == 5 and v1["manifest"]["counts"] == {
        "records": 5,
        "gold_records": 0,
        "labels": 5,
        "responses": 11,
    }
    _change(store)
    v2 = datasets.freeze(store, SYSTEM, tmp_path, "ds")
    assert v2["name"] == "v2" and v2["content_hash"] != v1["content_hash"]

    d = datasets.diff(store, SYSTEM, tmp_path, "ds", "v1", "v2")
    found = {(c["change"], c["external_id"]) for c in d["changes"]}
    assert found == {
        ("added", "r6"),
        ("content_changed", "r2"),
        ("label_changed", "r3"),
        ("confidence_changed", "r5"),
    }
    assert d["counts"] == {
        "added": 1,
        "removed": 0,
        "content_changed": 1,
        "label_changed": 1,
        "confidence_changed": 1,
    }
    by = {c["external_id"]: c for c in d["changes"]}
    assert by["r2"]["parts"] == ["fields"]
    lab = by["r3"]
    assert (lab["question"], lab["old"], lab["new"]) == ("label", "a", "b")
    assert [(w["user"], w["value"], w["review"], w["reviewer"], w["corrected"]) for w in lab["who"]] == [
        ("ann", "a", "correct", "rev", "b"),
        ("bob", "a", "correct", "rev", "b"),
    ]
    assert "corrected to" in lab["why"] and "correct by rev" in lab["why"]
    conf = by["r5"]
    assert conf["value"] == "a" and conf["new"] > conf["old"]
    assert sorted(w["user"] for w in conf["who"]) == ["ann", "bob", "carl", "dave"]
    # the other way round: r6 removed, the same edits undone
    back = datasets.diff(store, SYSTEM, tmp_path, "ds", "v2", "v1")
    assert {(c["change"], c["external_id"]) for c in back["changes"]} == {
        ("removed", "r6"),
        ("content_changed", "r2"),
        ("label_changed", "r3"),
        ("confidence_changed", "r5"),
    }
    # nothing changed: nothing to name, and the same content hash
    v3 = datasets.freeze(store, SYSTEM, tmp_path, "ds")
    assert v3["content_hash"] == v2["content_hash"]
    assert datasets.diff(store, SYSTEM, tmp_path, "ds", "v2", "v3")["total"] == 0
    # a filter keeps the records it names
    train = datasets.freeze(store, SYSTEM, tmp_path, "ds", name="train", filters=["metadata.split=train"])
    assert train["record_count"] == 4
    d = datasets.diff(store, SYSTEM, tmp_path, "ds", "v3", "train")
    assert {(c["change"], c["external_id"]) for c in d["changes"]} == {("removed", "r5"), ("removed", "r6")}


def test_a_version_keeps_its_content_and_exports_as_frozen(store: Store, tmp_path: Path) -> None:
    _project(store)
    v1 = datasets.freeze(store, SYSTEM, tmp_path, "ds")
    _change(store)
    folder = tmp_path / v1["path"]
    manifest = json.loads((folder / snap.MANIFEST_FILE).read_text())
    assert manifest["schema_version"] == 1 and manifest["guidelines_version"] == 1
    assert manifest["consensus"]["method"] == "auto"
    assert (
        set(manifest["consensus"]["methods_used"]["label"]) and manifest["consensus"]["parameters"]["overlap"]
    )
    assert (
        manifest["files"]["records.parquet"]["rows"] == 5 and manifest["files"]["labels.parquet"]["rows"] == 5
    )
    assert pq.ParquetFile(folder / snap.RECORDS_FILE).schema_arrow.equals(snap.RECORDS, check_metadata=True)
    assert (
        not os.access(folder / snap.RECORDS_FILE, os.W_OK) or os.geteuid() == 0
    )  # read-only (root writes anyway)
    out = tmp_path / "v1.jsonl"
    rep = datasets.export_version(store, SYSTEM, tmp_path, "ds", "v1", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rep["rows"] == 5 and [r["external_id"] for r in rows] == ["r1", "r2", "r3", "r4", "r5"]
    by = {r["external_id"]: r for r in rows}
    assert by["r2"]["fields"] == {"text": "t2"}  # as frozen, not as edited since
    assert by["r3"]["consensus"]["label"]["value"] == "a"
    assert [a["user"] for a in by["r5"]["responses"]] == ["ann", "bob", "carl"]
    shown = datasets.show(store, SYSTEM, tmp_path, "ds", "v1")
    assert shown["verified"] and not shown["problems"]


def test_a_changed_file_is_detected_and_refused(store: Store, tmp_path: Path) -> None:
    _project(store)
    v1 = datasets.freeze(store, SYSTEM, tmp_path, "ds")
    path = tmp_path / v1["path"] / snap.LABELS_FILE
    table = pq.read_table(path)
    path.chmod(0o644)
    pq.write_table(table.slice(0, 4), path)  # a label dropped
    shown = datasets.show(store, SYSTEM, tmp_path, "ds", "v1")
    assert not shown["verified"] and shown["problems"] == [
        "labels.parquet: its bytes changed since the version was frozen"
    ]
    datasets.freeze(store, SYSTEM, tmp_path, "ds")
    with pytest.raises(Conflict, match="does not match what was frozen"):
        datasets.diff(store, SYSTEM, tmp_path, "ds", "v1", "v2")
    with pytest.raises(Conflict, match="labels.parquet"):
        datasets.export_version(store, SYSTEM, tmp_path, "ds", "v1", tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


def test_bad_input_names_the_place_and_changes_nothing(store: Store, tmp_path: Path) -> None:
    _project(store)

    def nothing_changed() -> None:
        with store.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(dataset_versions)).scalar_one() == 0
        assert not (tmp_path / "datasets").exists() or not any((tmp_path / "datasets").rglob("*.parquet"))

    with pytest.raises(ValidationError) as e:
        datasets.freeze(store, SYSTEM, tmp_path, "ds", filters=["done", "colour=red"])
    assert e.value.field == "filter[1]" and "unknown filter 'colour=red'" in str(e.value)
    with pytest.raises(ValidationError) as e:
        datasets.freeze(store, SYSTEM, tmp_path, "ds", name="../v1")
    assert e.value.field == "name"
    with pytest.raises(ValidationError, match="keep none") as e:
        datasets.freeze(store, SYSTEM, tmp_path, "ds", filters=["metadata.split=nowhere"])
    assert e.value.field == "filter"
    with pytest.raises(NotFound):
        datasets.freeze(store, SYSTEM, tmp_path, "no-such-project")
    nothing_changed()
    datasets.freeze(store, SYSTEM, tmp_path, "ds", name="v1")
    with pytest.raises(Conflict) as c:
        datasets.freeze(store, SYSTEM, tmp_path, "ds", name="v1")
    assert c.value.field == "name"
    with pytest.raises(NotFound) as n:
        datasets.diff(store, SYSTEM, tmp_path, "ds", "v1", "v9")
    assert n.value.field == "version" and "'v9'" in str(n.value)
    with pytest.raises(NotFound, match="not at"):
        datasets.show(store, SYSTEM, tmp_path / "elsewhere", "ds", "v1")
    assert len(list((tmp_path / "datasets").rglob("manifest.json"))) == 1


def test_cli_freezes_as_a_named_user_and_the_audit_log_says_so(tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path)]
    assert runner.invoke(app, ["init", *home]).exit_code == 0
    assert runner.invoke(app, ["users", "add", "alice", "--role", "manager", *home]).exit_code == 0
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    assert runner.invoke(app, ["project", "create", "--schema", str(schema), *home]).exit_code == 0
    data = tmp_path / "r.jsonl"
    data.write_text("".join(json.dumps({"id": f"r{i}", "text": f"t{i}"}) + "\n" for i in range(3)))
    assert runner.invoke(app, ["import", "ds", str(data), *home]).exit_code == 0
    r = runner.invoke(app, ["--as", "alice", "dataset", "freeze", "ds", "--name", "first", "--json", *home])
    assert r.exit_code == 0, r.output
    frozen = json.loads(r.output)
    assert frozen["manifest"]["created_by"] == "alice" and frozen["record_count"] == 3
    data.write_text(json.dumps({"id": "r9", "text": "new"}) + "\n")
    assert runner.invoke(app, ["import", "ds", str(data), *home]).exit_code == 0
    assert runner.invoke(app, ["dataset", "freeze", "ds", *home]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["dataset", "list", "ds", "--json", *home]).output)
    assert [v["name"] for v in listed] == ["first", "v2"]
    r = runner.invoke(
        app, ["dataset", "diff", "ds", "first", "v2", "--out", str(tmp_path / "d.jsonl"), *home]
    )
    assert r.exit_code == 0 and "1 added" in r.output and "added r9" in r.output
    assert [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()] == [
        {"change": "added", "external_id": "r9"}
    ]
    r = runner.invoke(app, ["dataset", "export", "ds", "first", "--out", str(tmp_path / "f.csv"), *home])
    assert r.exit_code == 0 and len((tmp_path / "f.csv").read_text().splitlines()) == 4
    assert runner.invoke(app, ["dataset", "show", "ds", "first", *home]).exit_code == 0
    bad = runner.invoke(app, ["dataset", "freeze", "ds", "--filter", "nope", *home])
    assert bad.exit_code == 1 and "filter[0]" in bad.output
    from assay.store.engine import open_store

    store = open_store(f"sqlite:///{tmp_path / 'assay.db'}")
    try:
        with store.read() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT u.name, e.after FROM events e JOIN users u ON u.id = e.actor_id "
                    "WHERE e.action = 'dataset_version.created' ORDER BY e.id"
                )
            ).all()
    finally:
        store.dispose()
    assert [name for name, _ in rows][0] == "alice" and len(rows) == 2


def test_versions_in_an_object_store(store: Store, tmp_path: Path, s3_endpoint: str) -> None:
    """With ASSAY_DATASETS_URL the files go to the bucket (a real S3 API: moto's server); a version
    read elsewhere is fetched into the local cache, checked, and a changed object is caught."""
    from tests.s3 import s3fs_for

    fs = s3fs_for(s3_endpoint)
    bucket = f"versions-{os.getpid()}-{id(store) % 10_000}"
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    place = datasets.Place(tmp_path / "a", f"s3://{bucket}/assay", s3_endpoint)
    _project(store)
    v1 = datasets.freeze(store, SYSTEM, place, "ds", name="v1")
    assert v1["path"].startswith(f"s3://{bucket}/assay/") and v1["path"].endswith(
        v1["path"].rsplit("/", 1)[1]
    )
    key = v1["path"].split("://", 1)[1]
    assert sorted(p.rsplit("/", 1)[1] for p in fs.ls(key)) == [
        "labels.parquet",
        "manifest.json",
        "records.parquet",
    ]
    _change(store)
    datasets.freeze(store, SYSTEM, place, "ds", name="v2")
    # another server, another data directory: the versions come from the bucket
    elsewhere = datasets.Place(tmp_path / "b", None, s3_endpoint)
    d = datasets.diff(store, SYSTEM, elsewhere, "ds", "v1", "v2")
    assert d["counts"]["added"] == 1 and d["counts"]["label_changed"] == 1
    assert datasets.show(store, SYSTEM, elsewhere, "ds", "v1")["verified"]
    # an object changed in the bucket: a fresh reader sees it
    fs.pipe(f"{key}/labels.parquet", b"not parquet")
    shown = datasets.show(store, SYSTEM, datasets.Place(tmp_path / "c", None, s3_endpoint), "ds", "v1")
    assert shown["problems"] == ["labels.parquet: its bytes changed since the version was frozen"]
    with pytest.raises(ValidationError) as e:
        datasets.freeze(store, SYSTEM, datasets.Place(tmp_path, "/tmp/not-a-bucket"), "ds")
    assert e.value.field == "ASSAY_DATASETS_URL"


def test_a_database_that_does_not_sort_by_code_point_freezes_the_same(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the order is forced to COLLATE "C" (one sorted query through a server-side
    cursor) where the database's collation would sort otherwise; the version is the same."""
    from assay.store import datasets as ds_store

    _project(store)
    imports.import_rows(
        store, SYSTEM, "ds", enumerate([{"id": x, "text": x} for x in ("B", "a", "a-b", "ab", "é")], 1)
    )
    plain = datasets.freeze(store, SYSTEM, tmp_path, "ds", name="plain")
    monkeypatch.setattr(datasets, "PAGE", 3)  # several pages
    monkeypatch.setattr(ds_store, "code_point_order", lambda conn: conn.dialect.name != "postgresql")
    forced = datasets.freeze(store, SYSTEM, tmp_path, "ds", name="forced")
    assert forced["content_hash"] == plain["content_hash"]
    rows = [r["external_id"] for r in datasets.iter_version_rows(tmp_path / forced["path"])]
    assert rows == sorted(rows) and len(rows) == 10
