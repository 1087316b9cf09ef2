"""Imports into a project: every format, idempotency, all-or-nothing, round trips, events."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.domain.errors import ValidationError
from assay.services import dispatch, exports, imports
from assay.services.actors import SYSTEM
from assay.store import records as rec_store
from assay.store.engine import Store
from assay.store.tables import events, records, responses, suggestions
from tests.factories import RICH_SCHEMA, TEXT_SCHEMA, make_project, make_user, rich_row


def _write(path: Path, rows: list[dict[str, Any]], fmt: str) -> Path:
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "json":
        path.write_text(json.dumps(rows, indent=1))
    elif fmt == "csv":
        cols: list[str] = []
        for r in rows:
            cols += [c for c in r if c not in cols]
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for r in rows:
                w.writerow(
                    [
                        "" if r.get(c) is None else (r[c] if isinstance(r[c], str) else json.dumps(r[c]))
                        for c in cols
                    ]
                )
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = list(dict.fromkeys(c for r in rows for c in r))
        pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows]), path)
    return path


def _all_records(store: Store, project_id: int) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [r for page in rec_store.iter_record_pages(conn, project_id) for r in page]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_import_each_format(store: Store, tmp_path: Path, fmt: str) -> None:
    p = make_project(store)
    rows = [{"external_id": f"r{i}", "text": f"text {i}", "priority": i % 2} for i in range(50)]
    rows[3]["gold"] = {"sentiment": "negative"}
    rows[4]["suggestions"] = [{"question": "sentiment", "value": "neutral", "score": 0.7, "model": "m"}]
    rows[5]["metadata"] = {"source": "web"}
    path = _write(tmp_path / f"in.{fmt}", rows, fmt)
    report = imports.import_file(store, SYSTEM, p["name"], path)
    assert (report.rows, report.created, report.updated) == (50, 50, 0)
    recs = {r["external_id"]: r for r in _all_records(store, p["id"])}
    assert recs["r7"]["fields"] == {"text": "text 7"}
    assert recs["r7"]["priority"] == 1
    assert recs["r3"]["gold"] == {"sentiment": "negative"} and recs["r3"]["is_gold"]
    assert recs["r5"]["metadata"] == {"source": "web"}
    with store.read() as conn:
        sugg = conn.execute(sa.select(suggestions)).all()
    assert [(s.question, s.value, s.score, s.model) for s in sugg] == [("sentiment", "neutral", 0.7, "m")]


def test_reimport_updates_never_duplicates(store: Store, tmp_path: Path) -> None:
    p = make_project(store)
    rows = [{"id": i, "text": f"v1 {i}"} for i in range(100)]
    imports.import_file(store, SYSTEM, p["id"], _write(tmp_path / "a.jsonl", rows, "jsonl"))
    rows2 = [{"id": i, "text": f"v2 {i}"} for i in range(50, 150)]
    rep = imports.import_file(store, SYSTEM, p["id"], _write(tmp_path / "b.jsonl", rows2, "jsonl"))
    assert (rep.created, rep.updated) == (50, 50)
    recs = {r["external_id"]: r["fields"]["text"] for r in _all_records(store, p["id"])}
    assert len(recs) == 150
    assert recs["10"] == "v1 10" and recs["60"] == "v2 60" and recs["149"] == "v2 149"


def test_reimport_replaces_suggestions(store: Store, tmp_path: Path) -> None:
    p = make_project(store)
    s1 = [{"question": "sentiment", "value": "neutral", "model": "m1"}]
    s2 = [{"question": "sentiment", "value": "positive", "model": "m2"}]
    imports.import_file(
        store,
        SYSTEM,
        p["id"],
        _write(tmp_path / "a.jsonl", [{"id": 1, "text": "x", "suggestions": s1}], "jsonl"),
    )
    imports.import_file(
        store,
        SYSTEM,
        p["id"],
        _write(tmp_path / "b.jsonl", [{"id": 1, "text": "x", "suggestions": s2}], "jsonl"),
    )
    with store.read() as conn:
        sugg = conn.execute(sa.select(suggestions.c.value, suggestions.c.model)).all()
    assert [tuple(s) for s in sugg] == [("positive", "m2")]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_bad_row_in_the_middle_changes_nothing(store: Store, tmp_path: Path, fmt: str) -> None:
    p = make_project(store)
    imports.import_file(
        store, SYSTEM, p["id"], _write(tmp_path / "first.jsonl", [{"id": "keep", "text": "old"}], "jsonl")
    )
    with store.read() as conn:
        events_before = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": f"t{i}"} for i in range(10_000)]
    rows[0] = {"id": "keep", "text": "new"}  # an update that must be rolled back too
    rows[6_000] = {"id": "r6000", "text": "t", "gold": {"sentiment": "maybe"}}
    path = _write(tmp_path / f"big.{fmt}", rows, fmt)
    with pytest.raises(ValidationError) as info:
        imports.import_file(store, SYSTEM, p["id"], path)
    err = info.value
    assert err.file == str(path)
    assert err.line == 6_001 if fmt == "jsonl" else err.line == 6_002  # CSV has a header line
    assert err.field is not None and "sentiment" in err.field
    assert str(path) in str(err) and f"line {err.line}" in str(err)
    recs = _all_records(store, p["id"])
    assert [(r["external_id"], r["fields"]["text"]) for r in recs] == [("keep", "old")]
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == events_before


def test_unknown_column_is_named(store: Store, tmp_path: Path) -> None:
    p = make_project(store)
    path = _write(tmp_path / "x.jsonl", [{"id": 1, "text": "a"}, {"id": 2, "txt": "b"}], "jsonl")
    with pytest.raises(ValidationError) as info:
        imports.import_file(store, SYSTEM, p["id"], path)
    assert info.value.line == 2 and "txt" in str(info.value)
    assert _all_records(store, p["id"]) == []


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        ({"metadata": {"n": [1, 2**64]}}, "metadata.n[1]"),
        ({"metadata": {"s": "\ud800"}}, "metadata"),  # (a lone surrogate: no JSON text to store)
        ({"priority": 2**31}, "priority"),
        (
            {"responses": [{"user": "ann", "values": {"sentiment": "positive"}, "duration_ms": 2**31}]},
            "responses[0].duration_ms",
        ),
    ],
)
def test_numbers_beyond_what_is_stored_are_named(
    store: Store, tmp_path: Path, cells: dict[str, Any], field: str
) -> None:
    """An integer in metadata beyond 64 bits or a lone surrogate (a CSV cell parsed as JSON), a
    priority or an answer's duration beyond its column's 32 bits: the import fails naming the line
    and field, not in the database."""
    p = make_project(store)
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": "t"} for i in range(5)]
    rows[3] |= cells
    path = _write(tmp_path / "x.csv", rows, "csv")
    with pytest.raises(ValidationError) as info:
        imports.import_file(store, SYSTEM, p["id"], path)
    assert (info.value.line, info.value.field) == (5, field)  # (after the header line)
    assert _all_records(store, p["id"]) == []


def test_bad_json_line_is_named(store: Store, tmp_path: Path) -> None:
    p = make_project(store)
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 1, "text": "a"}\n{"id": 2, "text": \n')
    with pytest.raises(ValidationError) as info:
        imports.import_file(store, SYSTEM, p["id"], path)
    assert info.value.line == 2 and "JSON" in info.value.message


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_export_import_round_trip_loses_nothing(store: Store, tmp_path: Path, fmt: str) -> None:
    src = make_project(store, RICH_SCHEMA)
    rows = [rich_row(i) for i in range(40)]
    imports.import_file(store, SYSTEM, src["id"], _write(tmp_path / "in.jsonl", rows, "jsonl"))
    for name in ("ann", "bob"):
        who, _ = make_user(store, name)
        for _ in range(5):
            lease = dispatch.next_assignment(store, who, src["id"])
            assert lease is not None
            values = {"preference": {"choice": "b", "strength": 3}, "helpful": 5 if name == "ann" else 2}
            dispatch.submit_response(store, who, lease["assignment_id"], values, duration_ms=1200)
    out = tmp_path / f"out.{fmt}"
    rep = exports.export_file(store, SYSTEM, src["id"], out, fmt=fmt, lineage=True)
    assert rep.rows == 40
    dst = make_project(store, RICH_SCHEMA, name="copy")
    imports.import_file(store, SYSTEM, dst["id"], out)

    def snapshot(pid: int) -> list[tuple[Any, ...]]:
        with store.read() as conn:
            recs = _all_records(store, pid)
            sugg = rec_store.suggestions_for_records(conn, [r["id"] for r in recs])
            answers = rec_store.responses_for_records(conn, pid, [r["id"] for r in recs])
            cons = rec_store.consensus_for_records(conn, pid, [r["id"] for r in recs])
        return [
            (
                r["external_id"],
                r["fields"],
                r["metadata"],
                r["priority"],
                r["gold"],
                [(s["question"], s["value"], s["score"], s["model"]) for s in sugg.get(r["id"], [])],
                sorted(
                    (a["user_name"], str(a["values"]), a["duration_ms"]) for a in answers.get(r["id"], [])
                ),
                sorted((c["question"], str(c["value"])) for c in cons.get(r["id"], [])),
                r["submitted"],  # (open/done is dispatch history: recomputed from the imported answers)
            )
            for r in recs
        ]

    assert snapshot(dst["id"]) == snapshot(src["id"])
    assert len(snapshot(src["id"])) == 40
    assert sum(len(s[6]) for s in snapshot(dst["id"])) == 10  # the answers came along


def test_responses_of_unknown_users_are_refused(store: Store, tmp_path: Path) -> None:
    p = make_project(store)
    row = {"id": 1, "text": "x", "responses": [{"user": "ghost", "values": {"sentiment": "positive"}}]}
    with pytest.raises(ValidationError) as info:
        imports.import_file(store, SYSTEM, p["id"], _write(tmp_path / "a.jsonl", [row], "jsonl"))
    assert info.value.field == "responses[0].user" and info.value.line == 1
    row["responses"] = [{"user": "ghost", "values": {"sentiment": "meh"}}]
    with pytest.raises(ValidationError) as info:
        imports.import_file(store, SYSTEM, p["id"], _write(tmp_path / "b.jsonl", [row], "jsonl"))
    assert info.value.field is not None and info.value.field.startswith("responses[0].values")
    assert _all_records(store, p["id"]) == []


def test_import_and_export_write_events(store: Store, tmp_path: Path) -> None:
    p = make_project(store)
    imports.import_file(
        store, SYSTEM, p["id"], _write(tmp_path / "a.jsonl", [{"id": 1, "text": "x"}], "jsonl")
    )
    exports.export_file(store, SYSTEM, p["id"], tmp_path / "o.jsonl")
    with store.read() as conn:
        rows = conn.execute(sa.select(events.c.action, events.c.after).order_by(events.c.id)).all()
    actions = [r.action for r in rows]
    assert actions == ["project.created", "records.imported", "exported"]
    assert rows[1].after["rows"] == 1 and rows[1].after["created"] == 1


def test_records_table_unique_external_id(store: Store, tmp_path: Path) -> None:
    p = make_project(store)
    rows = [{"id": 1, "text": "a"}, {"id": 1, "text": "b"}]
    imports.import_file(store, SYSTEM, p["id"], _write(tmp_path / "a.jsonl", rows, "jsonl"))
    with store.read() as conn:
        got = conn.execute(sa.select(records.c.fields)).all()
    assert [g.fields for g in got] == [{"text": "b"}]


def test_rows_of_another_schema_are_refused(store: Store, tmp_path: Path) -> None:
    p = make_project(store, TEXT_SCHEMA)
    path = _write(tmp_path / "a.jsonl", [rich_row(1)], "jsonl")
    with pytest.raises(ValidationError):
        imports.import_file(store, SYSTEM, p["id"], path)


def test_imported_answers_count_on_their_records(store: Store) -> None:
    """Answers that come with records are counted on them, and the status follows (done at the
    overlap, gold stays open); the same answers imported again are kept once."""
    p = make_project(store)  # (overlap 3)
    for name in ("ann", "bob", "cy"):
        make_user(store, name)

    def said(*users: str) -> list[dict[str, Any]]:
        return [{"user": u, "values": {"sentiment": "positive"}} for u in users]

    rows = [
        {"id": "full", "text": "t", "responses": said("ann", "bob", "cy")},
        {"id": "one", "text": "t", "responses": said("ann", "ann")},
        {"id": "gold", "text": "t", "gold": {"sentiment": "positive"}, "responses": said("ann", "bob", "cy")},
        {"id": "none", "text": "t"},
    ]
    for _ in range(2):
        report = imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
        got = {r["external_id"]: (r["submitted"], r["status"]) for r in _all_records(store, p["id"])}
        assert got == {"full": (3, "done"), "one": (1, "open"), "gold": (3, "open"), "none": (0, "open")}
    assert report.responses == 0  # (the second time: all there already)
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(responses)).scalar_one() == 7
