"""The data card: its YAML header parses and its figures are the project's."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from assay.cli.main import app
from assay.services import datacard, dispatch, imports
from assay.services.actors import SYSTEM
from assay.store.engine import Store
from tests.factories import make_project, make_user

SCHEMA = {
    "name": "cards",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
    "workflow": {"overlap": 3, "gold_rate": 0.5},
}


def _answer_all(store: Store, actor: object, pid: int, value: str) -> int:
    n = 0
    while (lease := dispatch.next_assignment(store, actor, pid)) is not None:  # type: ignore[arg-type]
        dispatch.submit_response(store, actor, lease["assignment_id"], {"label": value})  # type: ignore[arg-type]
        n += 1
    return n


def _header(text: str) -> dict[str, object]:
    assert text.startswith("---\n")
    head, _, _ = text[4:].partition("\n---\n")
    parsed = yaml.safe_load(head)
    assert isinstance(parsed, dict)
    return parsed


def test_card_header_parses_and_its_figures_match_the_project(store: Store) -> None:
    p = make_project(store, SCHEMA)
    rows = [{"id": f"r{i}", "text": f"t{i}"} for i in range(8)]
    rows += [{"id": f"g{i}", "text": f"g{i}", "gold": {"label": "a"}} for i in range(2)]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    ann, _ = make_user(store, "ann")
    bob, _ = make_user(store, "bob")
    bot, _ = make_user(store, "bot", kind="model")
    n_ann = _answer_all(store, ann, p["id"], "a")
    n_bob = _answer_all(store, bob, p["id"], "b")
    n_bot = _answer_all(store, bot, p["id"], "a")
    text, f = datacard.datacard(store, SYSTEM, p["id"], license="cc-by-4.0", languages=("en",))

    header = _header(text)
    assert header["license"] == "cc-by-4.0" and header["language"] == ["en"]
    assert header["size_categories"] == ["n<1K"] and header["task_categories"] == ["text-classification"]
    assert f["records"] == 10 and f["gold_records"] == 2
    assert f["answers"] == n_ann + n_bob + n_bot
    assert f["contributors"] == {"human": 2, "model": 1}
    assert f["answers_by_kind"] == {"human": n_ann + n_bob, "model": n_bot}
    assert f["model_share"] == round(n_bot / (n_ann + n_bob + n_bot), 4)
    assert f["synthetic_share"] == 0.0 and f["origins"] == {"human": 10}
    with store.read() as conn:  # gold accuracy per kind, counted here from the answers
        rows = conn.execute(
            sa.text(
                "SELECT u.kind, avg(r.gold_score) FROM responses r JOIN users u ON u.id = r.user_id "
                "WHERE r.gold_score IS NOT NULL AND r.status = 'submitted' GROUP BY u.kind"
            )
        ).all()
    assert f["gold_accuracy"] == {k: round(float(v), 4) for k, v in rows}
    assert f["gold_accuracy"]["model"] == 1.0  # every gold record says "a", as the model does
    assert "| human | 2 |" in text and "| model | 1 |" in text
    assert f"Model share of answers: {100 * f['model_share']:.1f} %" in text
    assert "from models, not people" in text  # a known limitation


def test_datacard_command_writes_the_card(tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path)]
    assert runner.invoke(app, ["init", *home]).exit_code == 0
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    assert runner.invoke(app, ["project", "create", "--schema", str(schema), *home]).exit_code == 0
    card = tmp_path / "card.md"
    result = runner.invoke(app, ["datacard", "cards", "--out", str(card), "--language", "de", *home])
    assert result.exit_code == 0, result.output
    header = _header(card.read_text())
    assert header["pretty_name"] == "cards" and header["language"] == ["de"] and header["license"] == "other"
    assert "No gold answers" in card.read_text()
    plot = tmp_path / "card-agreement.svg"
    assert ElementTree.fromstring(plot.read_text()).tag.endswith("svg")
    assert "(card-agreement.svg)" in card.read_text()


def test_a_versions_card_parses_and_its_figures_are_the_project_as_frozen(
    store: Store, tmp_path: Path
) -> None:
    from assay.services import datasets

    p = make_project(store, SCHEMA)
    rows = [{"id": f"r{i}", "text": f"t{i}"} for i in range(6)]
    rows += [{"id": f"g{i}", "text": f"g{i}", "gold": {"label": "a"}} for i in range(2)]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    ann, _ = make_user(store, "ann")
    bot, _ = make_user(store, "bot", kind="model")
    _answer_all(store, ann, p["id"], "a")
    _answer_all(store, bot, p["id"], "b")
    _, at_freeze = datacard.datacard(store, SYSTEM, p["id"])
    datasets.freeze(store, SYSTEM, tmp_path, p["id"], name="v1")
    # the project moves on: more records and answers
    imports.import_rows(store, SYSTEM, p["id"], enumerate([{"id": "late", "text": "x"}], 1))
    bob, _ = make_user(store, "bob")
    _answer_all(store, bob, p["id"], "a")
    _, now = datacard.datacard(store, SYSTEM, p["id"])
    assert now["records"] == 9 and now["answers"] > at_freeze["answers"]

    text, f = datacard.version_datacard(store, SYSTEM, tmp_path, p["id"], "v1", license="mit")
    version = f.pop("version")
    assert version["name"] == "v1" and version["filters"] == []
    assert f.pop("agreement") == pytest.approx(at_freeze.pop("agreement"), nan_ok=True)
    assert f == at_freeze  # every other figure as the project stood when frozen
    assert f["label_counts"]["label"] and sum(f["label_counts"]["label"].values()) <= 6
    header = _header(text)
    assert header["license"] == "mit" and header["pretty_name"] == "cards"
    assert header["size_categories"] == ["n<1K"] and header["task_categories"] == ["text-classification"]
    assert "Frozen version `v1`" in text and version["content_hash"] in text
    assert f"{f['records']} records ({f['gold_records']} of them gold)" in text
    svg = ElementTree.fromstring(datacard.labels_svg(f | {"version": version}))
    bars = [e for e in svg.iter() if e.tag.endswith("rect")]
    assert len(bars) == len(f["label_counts"]["label"])


def test_datacard_command_writes_a_versions_card_and_its_charts(tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path)]
    assert runner.invoke(app, ["init", *home]).exit_code == 0
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    assert runner.invoke(app, ["project", "create", "--schema", str(schema), *home]).exit_code == 0
    data = tmp_path / "r.jsonl"
    data.write_text(
        json.dumps({"id": "r1", "text": "t", "responses": [{"user": "admin", "values": {"label": "b"}}]})
        + "\n"
    )
    r = runner.invoke(app, ["import", "cards", str(data), *home])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["dataset", "freeze", "cards", *home]).exit_code == 0
    card = tmp_path / "v1.md"
    r = runner.invoke(app, ["datacard", "cards@v1", "--out", str(card), *home])
    assert r.exit_code == 0, r.output
    assert "cards@v1" in r.output
    text = card.read_text()
    assert _header(text)["pretty_name"] == "cards" and "Frozen version `v1`" in text
    for chart in ("v1-agreement.svg", "v1-labels.svg"):
        assert ElementTree.fromstring((tmp_path / chart).read_text()).tag.endswith("svg")
        assert f"({chart})" in text
    missing = runner.invoke(app, ["datacard", "cards@v9", *home])
    assert missing.exit_code == 1 and "'v9'" in missing.output
