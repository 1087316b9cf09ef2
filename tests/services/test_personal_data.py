"""Personal data end to end on both engines: masking on import (and what was recorded), refusal
(all or nothing, the error naming line, field and kind, never the value), erasure of a
contributor whose answers keep counting, and exports without contributor names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assay.cli.main import app
from assay.domain.errors import NotFound, PermissionDenied, Unauthenticated, ValidationError
from assay.services import accounts, audit, dispatch, explain, exports, imports, personal_data
from assay.services.actors import SYSTEM
from assay.store import records as rec_store
from assay.store.engine import Store
from tests.factories import make_project, make_user


def _schema(policy: str, **privacy: Any) -> dict[str, Any]:
    return {
        "name": f"pii-{policy}",
        "fields": [{"name": "text", "type": "text"}, {"name": "note", "type": "text", "required": False}],
        "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
        "workflow": {"overlap": 2},
        "privacy": {"personal_data": policy, **privacy},
    }


ROWS = [
    {"id": "r1", "text": "Hi, I'm Will Smith: call (415) 555-2671 or mail will@example.com"},
    {"id": "r2", "text": "Pay DE89 3704 0044 0532 0130 00 with 4111 1111 1111 1111", "note": "ok"},
    {"id": "r3", "text": "nothing personal here"},
]


def _fields(store: Store, pid: int) -> dict[str, dict[str, Any]]:
    with store.read() as conn:
        return {r["external_id"]: r["fields"] for r in exports.iter_export_rows(conn, pid)}


def test_mask_on_import_stores_placeholders_and_what_was_found(store: Store) -> None:
    p = make_project(store, _schema("mask"))
    report = imports.import_rows(store, SYSTEM, p["id"], enumerate(ROWS, 1))
    assert report.personal_data == {"card": 1, "email": 1, "iban": 1, "name": 1, "phone": 1}
    fields = _fields(store, p["id"])
    assert fields["r1"]["text"] == "Hi, I'm [NAME]: call [PHONE] or mail [EMAIL]"
    assert fields["r2"] == {"text": "Pay [IBAN] with [CARD]", "note": "ok"}
    assert fields["r3"]["text"] == "nothing personal here"

    # the record of what was masked: kind, field, span at the placeholder; never the value
    rid = explain.find_record(store, SYSTEM, p["id"], "r1")
    found = explain.explain_record(store, SYSTEM, rid)["personal_data"]
    text = fields["r1"]["text"]
    assert [(f["kind"], f["field"], text[f["start"] : f["end"]], f["action"]) for f in found] == [
        ("name", "text", "[NAME]", "masked"),
        ("phone", "text", "[PHONE]", "masked"),
        ("email", "text", "[EMAIL]", "masked"),
    ]
    with store.read() as conn:
        rows = list(exports.iter_export_rows(conn, p["id"], lineage=True))
    dumped = json.dumps(rows)
    for raw in ("Will Smith", "555-2671", "will@example.com", "DE89", "4111"):
        assert raw not in dumped
    assert personal_data.project_findings(store, SYSTEM, p["id"])["found"]["email"] == {"masked": 1}
    # the import's audit event counts what was found
    log = audit.verify(store, SYSTEM)
    assert log["ok"]

    # a re-import replaces what was found before
    imports.import_rows(store, SYSTEM, p["id"], enumerate([{"id": "r1", "text": "clean now"}], 1))
    assert explain.explain_record(store, SYSTEM, rid)["personal_data"] == []


def test_allow_keeps_the_text_and_records_the_findings(store: Store) -> None:
    p = make_project(store, _schema("allow", detect=["email"]))
    imports.import_rows(store, SYSTEM, p["id"], enumerate(ROWS, 1))
    assert _fields(store, p["id"])["r1"]["text"] == ROWS[0]["text"]
    rid = explain.find_record(store, SYSTEM, p["id"], "r1")
    found = explain.explain_record(store, SYSTEM, rid)["personal_data"]
    assert [(f["kind"], ROWS[0]["text"][f["start"] : f["end"]], f["action"]) for f in found] == [
        ("email", "will@example.com", "allowed")
    ]


def test_refuse_names_line_field_and_kind_and_keeps_nothing(store: Store) -> None:
    p = make_project(store, _schema("refuse", fields=["text"]))
    rows = [{"id": "ok", "text": "fine"}, *ROWS]
    with pytest.raises(ValidationError) as e:
        imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1), name="in.jsonl")
    err = e.value
    assert err.line == 2 and err.field == "fields.text" and err.file == "in.jsonl"
    assert "personal data (name)" in err.message and "Will" not in str(err.to_dict())
    with store.read() as conn:
        assert rec_store.count_records(conn, p["id"]) == 0  # not even the good first row


def test_masking_would_move_given_spans(store: Store) -> None:
    schema = _schema("mask")
    schema["questions"].append(
        {"name": "ents", "type": "span", "field": "text", "labels": ["PER"], "required": False}
    )
    p = make_project(store, schema)
    row = {"id": "s", "text": "Will Smith here", "gold": {"ents": [{"start": 0, "end": 10, "label": "PER"}]}}
    with pytest.raises(ValidationError, match="would move the spans of 'ents'") as e:
        imports.import_rows(store, SYSTEM, p["id"], enumerate([row], 1))
    assert e.value.line == 1 and e.value.field == "fields.text"


def test_bad_policies_are_refused_with_their_place(store: Store) -> None:
    for privacy, where in (
        ({"personal_data": "hide"}, "privacy.personal_data"),
        ({"fields": ["nope"]}, "privacy.fields[0]"),
        ({"phone_regions": ["XX"]}, "privacy.phone_regions"),
    ):
        schema = _schema("mask") | {"privacy": privacy}
        with pytest.raises(ValidationError) as e:
            make_project(store, schema)
        assert e.value.field == where


def _answered(store: Store) -> tuple[dict[str, Any], dict[str, str]]:
    p = make_project(store, _schema("mask") | {"name": "erasure"})
    imports.import_rows(store, SYSTEM, p["id"], enumerate(ROWS[:2], 1))
    tokens = {}
    for name, value in (("ann", "a"), ("bob", "a")):
        who, tokens[name] = make_user(store, name)
        while (lease := dispatch.next_assignment(store, who, p["id"])) is not None:
            dispatch.submit_response(store, who, lease["assignment_id"], {"label": value})
    return p, tokens


def test_erasure_pseudonymises_and_the_answers_keep_counting(store: Store, tmp_path: Path) -> None:
    p, tokens = _answered(store)
    rid = explain.find_record(store, SYSTEM, p["id"], "r1")
    before = explain.explain_record(store, SYSTEM, rid)["consensus"]["label"]

    done = personal_data.erase_contributor(store, SYSTEM, "ann")
    pseudonym = done["pseudonym"]
    assert pseudonym.startswith("erased-") and "ann" not in pseudonym and done["tokens_removed"] == 1
    names = {u["name"] for u in accounts.list_users(store, SYSTEM)}
    assert "ann" not in names and pseudonym in names
    with pytest.raises(Unauthenticated):
        accounts.authenticate_token(store, tokens["ann"])
    # the answers stay and keep counting: same consensus, same inputs, now under the pseudonym
    after = explain.explain_record(store, SYSTEM, rid)["consensus"]["label"]
    assert (after["value"], after["confidence"]) == (before["value"], before["confidence"])
    assert {i["user"] for i in after["inputs"]} == {pseudonym, "bob"}
    from assay.services import consensus

    consensus.recompute_project(store, SYSTEM, p["id"])
    again = explain.explain_record(store, SYSTEM, rid)["consensus"]["label"]
    assert len(again["inputs"]) == 2 and again["value"] == "a"
    # audited, and the chain still verifies
    events = [e for e in _events(store) if e["action"] == "user.erased"]
    assert len(events) == 1 and events[0]["after"]["pseudonym"] == pseudonym
    assert "ann" not in json.dumps(events[0], default=str)
    assert audit.verify(store, SYSTEM)["ok"]
    # erasing again finds no "ann"; a model has nothing personal; only admins erase
    with pytest.raises(NotFound):
        personal_data.erase_contributor(store, SYSTEM, "ann")
    make_user(store, "bot", kind="model")
    with pytest.raises(ValidationError, match="is a model"):
        personal_data.erase_contributor(store, SYSTEM, "bot")
    boss, _ = make_user(store, "boss", role="manager")
    with pytest.raises(PermissionDenied):
        personal_data.erase_contributor(store, boss, "bob")


def _events(store: Store) -> list[dict[str, Any]]:
    from assay.store import events as event_store

    with store.read() as conn:
        return event_store.list_events(conn, after_id=0, limit=10_000)


def test_exports_can_drop_contributor_names(store: Store, tmp_path: Path) -> None:
    p, _ = _answered(store)
    for mode, expect in (("names", {"ann", "bob"}), ("pseudonyms", {"contributor-1", "contributor-2"})):
        out = tmp_path / f"{mode}.jsonl"
        exports.export_file(store, SYSTEM, p["id"], out, contributors=mode)
        users = {r["user"] for line in out.read_text().splitlines() for r in json.loads(line)["responses"]}
        assert users == expect
    out = tmp_path / "none.jsonl"
    exports.export_file(store, SYSTEM, p["id"], out, fmt="jsonl", lineage=True, contributors="none")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all("user" not in r for row in rows for r in row["responses"])
    assert "ann" not in out.read_text() and "bob" not in out.read_text()
    with pytest.raises(ValidationError) as e:
        exports.export_file(store, SYSTEM, p["id"], tmp_path / "x.jsonl", contributors="hidden")
    assert e.value.field == "contributors" and not (tmp_path / "x.jsonl").exists()


def test_erase_and_personal_data_on_the_command_line(store: Store, tmp_path: Path) -> None:
    p, _ = _answered(store)
    url = store.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    shown = runner.invoke(app, ["personal-data", str(p["name"]), "--db", url])
    assert shown.exit_code == 0, shown.output
    assert "email: 1 masked" in shown.output
    erased = runner.invoke(app, ["users", "erase", "bob", "--yes", "--db", url, "--json"])
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.output)["pseudonym"].startswith("erased-")
    out = tmp_path / "o.jsonl"
    exported = runner.invoke(
        app, ["export", str(p["name"]), "--out", str(out), "--contributors", "pseudonyms", "--db", url]
    )
    assert exported.exit_code == 0, exported.output
    assert "contributor-1" in out.read_text()


def test_chat_messages_are_screened_one_by_one(store: Store) -> None:
    schema = {
        "name": "pii-chat",
        "fields": [{"name": "chat", "type": "chat"}],
        "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
        "privacy": {"personal_data": "mask", "detect": ["email", "phone"]},
    }
    p = make_project(store, schema)
    chat = [
        {"role": "user", "content": "my mail is jo@example.com"},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": "or call (415) 555-2671"},
    ]
    imports.import_rows(store, SYSTEM, p["id"], enumerate([{"id": "c", "chat": chat}], 1))
    stored = _fields(store, p["id"])["c"]["chat"]
    assert [m["content"] for m in stored] == ["my mail is [EMAIL]", "noted", "or call [PHONE]"]
    rid = explain.find_record(store, SYSTEM, p["id"], "c")
    found = explain.explain_record(store, SYSTEM, rid)["personal_data"]
    assert [(f["field"], f["kind"]) for f in found] == [
        ("chat[0].content", "email"),
        ("chat[2].content", "phone"),
    ]

    refusing = make_project(
        store, schema | {"name": "pii-chat-refuse", "privacy": {"personal_data": "refuse"}}
    )
    with pytest.raises(ValidationError) as e:
        imports.import_rows(store, SYSTEM, refusing["id"], enumerate([{"id": "c", "chat": chat}], 1))
    assert e.value.field == "fields.chat[0].content" and e.value.line == 1
