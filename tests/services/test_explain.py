"""Explain a label: the output matches a record's known history (answers, suggestions shown and
kept, a review's correction, the consensus and its inputs, the exported value), on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli.main import app
from assay.services import dispatch, explain, exports, imports, review
from assay.services.actors import SYSTEM
from assay.store.engine import Store
from tests.factories import make_project, make_user

SCHEMA = {
    "name": "explained",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
    "workflow": {"overlap": 3},
    "guidelines": "Pick a or b.",
}


def _history(store: Store) -> tuple[dict[str, object], int]:
    p = make_project(store, SCHEMA)
    rows = [
        {
            "id": "r1",
            "text": "the record",
            "metadata": {"source": "tickets"},
            "suggestions": [{"question": "label", "value": "a", "score": 0.9, "model": "pre-1"}],
        }
    ]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    ann, _ = make_user(store, "ann")
    bob, _ = make_user(store, "bob")
    bot, _ = make_user(store, "bot", kind="model")
    rev, _ = make_user(store, "rev", role="reviewer")
    answers = {}
    for who, value, ms in ((ann, "a", 4000), (bob, "b", 2500), (bot, "b", None)):
        lease = dispatch.next_assignment(store, who, p["id"])
        assert lease is not None
        resp, _ = dispatch.submit_response(
            store, who, lease["assignment_id"], {"label": value}, duration_ms=ms
        )
        answers[who.name] = int(resp["id"])
    # bob's "b" is corrected to "a" by a reviewer: the consensus becomes a (ann a, bob→a, bot b)
    review.review_response(
        store, rev, answers["bob"], "correct", corrected_values={"label": "a"}, comment="see line 2"
    )
    return p | {"answers": answers}, explain.find_record(store, SYSTEM, p["id"], "r1")


def test_explain_matches_the_known_history(store: Store) -> None:
    p, rid = _history(store)
    doc = explain.explain_record(store, SYSTEM, rid)
    answers = p["answers"]
    assert isinstance(answers, dict)

    assert doc["record"]["external_id"] == "r1" and doc["record"]["metadata"] == {"source": "tickets"}
    assert [(s["question"], s["value"], s["model"]) for s in doc["suggestions"]] == [("label", "a", "pre-1")]
    by_user = {a["user"]: a for a in doc["answers"]}
    assert set(by_user) == {"ann", "bob", "bot"}
    assert by_user["bot"]["kind"] == "model" and by_user["ann"]["kind"] == "human"
    assert by_user["ann"]["duration_ms"] == 4000 and by_user["bot"]["duration_ms"] is None
    for a in doc["answers"]:
        assert a["schema_version"] == 1 and a["guidelines_version"] == 1
        assert a["suggestion_shown"] and a["suggestions_shown"][0]["model"] == "pre-1"
    assert by_user["ann"]["suggestions_kept"] == {"label": True}
    assert by_user["bob"]["suggestions_kept"] == {"label": False}
    # the review: who, what, and the value that counts
    (rv,) = by_user["bob"]["reviews"]
    assert rv["reviewer"] == "rev" and rv["verdict"] == "correct" and rv["corrected_values"] == {"label": "a"}
    assert rv["comment"] == "see line 2"
    assert by_user["bob"]["values"] == {"label": "b"} and by_user["bob"]["counts_as"] == {"label": "a"}
    assert by_user["ann"]["reviews"] == []

    c = doc["consensus"]["label"]
    assert c["value"] == "a" and c["method"] and 0 < c["confidence"] <= 1
    inputs = {i["user"]: i for i in c["inputs"]}
    assert set(inputs) == {"ann", "bob", "bot"}
    assert inputs["bob"]["value"] == "a" and inputs["bob"]["corrected"]
    assert inputs["bot"]["value"] == "b" and inputs["bot"]["kind"] == "model"
    assert {i["response_id"] for i in c["inputs"]} == set(answers.values())

    # the exported value is the export's, for the same record
    with store.read() as conn:
        (row,) = [r for r in exports.iter_export_rows(conn, int(p["id"])) if r["external_id"] == "r1"]
    assert c["exported_value"] == row["consensus"]["label"]["value"] == "a"

    actions = [h["action"] for h in doc["history"]]
    assert actions.count("response.submitted") == 3
    assert any(a.startswith("review.") for a in actions) and "consensus.updated" in actions
    assert doc["personal_data"] == []


def test_explain_on_the_command_line(store: Store, tmp_path: Path) -> None:
    p, rid = _history(store)
    url = str(store.engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    text = runner.invoke(app, ["explain", str(p["name"]), "r1", "--db", url])
    assert text.exit_code == 0, text.output
    assert "review: correct by rev" in text.output and 'exported as "a"' in text.output
    as_json = runner.invoke(app, ["explain", str(p["id"]), str(rid), "--db", url, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["record"]["id"] == rid
    missing = runner.invoke(app, ["explain", str(p["name"]), "nope", "--db", url])
    assert missing.exit_code != 0 and "no record 'nope'" in missing.output


def test_an_annotator_cannot_explain(store: Store) -> None:
    from assay.domain.errors import PermissionDenied

    _, rid = _history(store)
    ann2, _ = make_user(store, "ann2")
    with pytest.raises(PermissionDenied):
        explain.explain_record(store, ann2, rid)
