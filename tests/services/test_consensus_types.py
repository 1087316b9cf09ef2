"""Consensus, confidence and agreement for every question type, through submits (both databases).

Three contributors answer two records with planted answers: near-identical on record 1, in
disagreement on record 2. The consensus must be the planted answer with a confidence in [0, 1]
that is high where they agree and lower where they do not, and the dashboard's agreement must
exist for every question.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.domain import QUESTION_TYPES
from assay.services import consensus, dispatch, exports, imports, stats
from assay.services.actors import SYSTEM
from assay.store.engine import Store
from assay.store.tables import consensus as cons_table
from assay.store.tables import records
from tests.factories import make_project, make_user

STEPS = {
    "steps": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "a"},
        {"role": "assistant", "content": "b"},
    ]
}
TEXT = "😀 Ada Lovelace met Charles Babbage in London."
SCHEMA: dict[str, Any] = {
    "name": "every-type",
    "fields": [
        {"name": "text", "type": "text"},
        {"name": "photo", "type": "image"},
        {"name": "audio", "type": "audio"},
        {"name": "pair", "type": "comparison"},
        {"name": "run", "type": "trajectory"},
    ],
    "questions": [
        {"name": "label", "type": "label", "options": ["a", "b", "c"]},
        {"name": "tags", "type": "multi_label", "options": ["x", "y", "z"]},
        {"name": "rating", "type": "rating", "scale": 5},
        {"name": "number", "type": "number"},
        {"name": "text_q", "type": "text"},
        {"name": "ents", "type": "span", "field": "text", "labels": ["PER", "LOC"]},
        {"name": "pref", "type": "preference", "field": "pair"},
        {"name": "rank", "type": "ranking", "field": "pair"},
        {"name": "boxes", "type": "bbox", "field": "photo", "labels": ["person"]},
        {"name": "polys", "type": "polygon", "field": "photo", "labels": ["road"]},
        {"name": "pose", "type": "keypoints", "field": "photo", "labels": ["person"]},
        {"name": "turns", "type": "segment", "field": "audio", "labels": ["speech"]},
        {"name": "review", "type": "step_review", "field": "run"},
        {"name": "skip", "type": "step_set", "field": "run"},
        {"name": "first", "type": "step_pick", "field": "run"},
    ],
    "workflow": {"overlap": 3},
}


def _box(dx: float) -> list[dict[str, Any]]:
    return [{"x": 10 + dx, "y": 20, "w": 30, "h": 40, "label": "person"}]


def _answer(worker: int, agree: bool) -> dict[str, Any]:
    """Worker ``worker``'s answer; near-identical across workers when ``agree``."""
    d = worker if agree else worker * 40
    odd = not agree and worker == 2
    return {
        "label": "c" if odd else "a",
        "tags": ["y"] if odd else ["x", "y"],
        "rating": 1 if odd else 4,
        "number": 99.0 if odd else 2.5,
        "text_q": "something else entirely" if odd else "The answer is 42" + ("." if worker else ""),
        "ents": [
            {"start": 2, "end": 14 + (0 if agree else worker), "label": "PER"},
            {"start": 38, "end": 44, "label": "LOC"},
        ],
        "pref": {"choice": "b" if odd else "a"},
        "rank": ["b", "a"] if odd else ["a", "b"],
        "boxes": _box(d * 0.5) + ([{"x": 300, "y": 300, "w": 10, "h": 10, "label": "person"}] if odd else []),
        "polys": [{"points": [[0 + d, 0], [50 + d, 0], [50 + d, 50], [0 + d, 50]], "label": "road"}],
        "pose": [
            {"points": [[100 + d * 0.2, 100, 2], [120, 100 + d * 0.2, 2], [110, 130, 2]], "label": "person"}
        ],
        "turns": [{"start": 1.0 + 0.01 * d, "end": 3.0, "label": "speech"}],
        "review": {"0": {"verdict": "correct"}, "1": {"verdict": "harmful" if odd else "correct"}},
        "skip": [2] if not odd else [1],
        "first": 1 if not odd else 2,
    }


def _record(i: int) -> dict[str, Any]:
    return {
        "id": f"r{i}",
        "text": TEXT,
        "photo": {"url": f"r{i}.png", "width": 640, "height": 480},
        "audio": {"url": "a.wav", "duration": 10.0},
        "pair": [{"model": "a", "text": "A"}, {"model": "b", "text": "B"}],
        "run": STEPS,
    }


def _ext(lease: dict[str, Any]) -> str:
    return str(lease["record"]["fields"]["photo"]["url"]).removesuffix(".png")


def _consensus(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(
            sa.select(records.c.external_id, cons_table).join(
                cons_table, cons_table.c.record_id == records.c.id
            )
        ).all()
    return {(r.external_id, r.question): dict(r._mapping) for r in rows}


def test_every_type_has_consensus_confidence_and_agreement(store: Store, tmp_path: Path) -> None:
    assert {q["type"] for q in SCHEMA["questions"]} == set(QUESTION_TYPES)
    p = make_project(store, SCHEMA)
    imports.import_rows(store, SYSTEM, p["id"], enumerate([_record(1), _record(2)], 1))
    for w in range(3):
        who, _ = make_user(store, f"w{w}")
        while (lease := dispatch.next_assignment(store, who, p["id"])) is not None:
            agree = _ext(lease) == "r1"
            dispatch.submit_response(store, who, lease["assignment_id"], _answer(w, agree))
    got = _consensus(store)
    for q in SCHEMA["questions"]:
        for rec in ("r1", "r2"):
            row = got[(rec, q["name"])]
            assert 0.0 <= row["confidence"] <= 1.0, (q, row)
            assert len(row["response_ids"]) == 3
        # where they agree, the consensus is at least as sure as where they do not
        assert got[("r1", q["name"])]["confidence"] >= got[("r2", q["name"])]["confidence"], q["name"]
    c = {name: got[("r1", name)]["value"] for _, name in got}
    assert c["label"] == "a" and c["tags"] == ["x", "y"] and c["rating"] == 4 and c["number"] == 2.5
    assert c["text_q"] == "The answer is 42."
    assert c["ents"] == [{"start": 2, "end": 14, "label": "PER"}, {"start": 38, "end": 44, "label": "LOC"}]
    assert TEXT[2:14] == "Ada Lovelace"  # code points, past the emoji
    assert c["pref"] == {"choice": "a"} and c["rank"] == ["a", "b"]
    [box] = c["boxes"]
    assert box["label"] == "person" and abs(box["x"] - 10.5) < 1e-6 and abs(box["w"] - 30) < 1e-6
    assert got[("r1", "boxes")]["confidence"] > 0.8  # three near-identical boxes (was 0.333)
    assert got[("r1", "boxes")]["method"] == "iou_fusion"
    assert len(c["polys"]) == 1 and len(c["pose"]) == 1 and len(c["pose"][0]["points"]) == 3
    [turn] = c["turns"]
    assert turn["label"] == "speech" and 1.0 <= turn["start"] <= 1.02 and turn["end"] == 3.0
    assert c["review"] == {"0": {"verdict": "correct"}, "1": {"verdict": "correct"}}
    assert c["skip"] == [2] and c["first"] == 1
    # on record 2 the odd one out is outvoted, and its extra box is dropped
    r2 = {name: got[("r2", name)]["value"] for _, name in got}
    assert r2["label"] == "a" and r2["rating"] == 4 and len(r2["boxes"]) <= 1
    # the file export writes each consensus in its registry cell; spans carry the text they cover
    out = tmp_path / "every.jsonl"
    exports.export_file(store, SYSTEM, p["id"], out)
    by_id = {r["external_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    spans = by_id["r1"]["consensus"]["ents"]["value"]
    assert [s["text"] for s in spans] == ["Ada Lovelace", "London"]
    assert by_id["r1"]["consensus"]["rating"]["value"] == 4
    figures = stats.project_stats(store, SYSTEM, p["id"])
    assert (
        figures["agreement_distance"]["boxes"] == "iou"
        and figures["agreement_distance"]["ents"] == "span_overlap"
    )
    for q in SCHEMA["questions"]:
        assert figures["agreement"][q["name"]] is not None, q["name"]
        assert -1.0 <= figures["agreement"][q["name"]] <= 1.0


@pytest.mark.parametrize("qtype", ["label", "rating", "bbox"])
def test_a_submit_after_a_recompute_keeps_the_project_method(store: Store, qtype: str) -> None:
    questions = [q for q in SCHEMA["questions"] if q["type"] == qtype]
    schema = {**SCHEMA, "name": f"keep-{qtype}", "questions": questions, "workflow": {"overlap": 4}}
    p = make_project(store, schema)
    imports.import_rows(store, SYSTEM, p["id"], enumerate([_record(i) for i in range(1, 5)], 1))
    users = [make_user(store, f"k{qtype}{w}")[0] for w in range(4)]
    name = questions[0]["name"]
    for who in users[:3]:
        w = users.index(who)
        while (lease := dispatch.next_assignment(store, who, p["id"])) is not None:
            dispatch.submit_response(store, who, lease["assignment_id"], {name: _answer(w, True)[name]})
    consensus.recompute_project(store, SYSTEM, p["id"], "ds")
    fitted = {k: v for k, v in _consensus(store).items() if k[1] == name}
    project_method = {"label": "ds", "rating": "bias_mean", "bbox": "iou_fusion_skills"}[qtype]
    assert {r["method"] for r in fitted.values()} == {project_method}
    # a fourth contributor answers record r1: its row keeps the fit's method and estimates
    lease = dispatch.next_assignment(store, users[3], p["id"])
    assert lease is not None
    dispatch.submit_response(store, users[3], lease["assignment_id"], {name: _answer(0, True)[name]})
    after = _consensus(store)[(_ext(lease), name)]
    assert after["method"] == project_method
    assert after["details"]["incremental"] is True and "fit" in after["details"]
    assert len(after["response_ids"]) == 4 and 0 <= after["confidence"] <= 1


def test_adaptive_overlap_reads_the_confidence_of_boxes(store: Store) -> None:
    """No categorical question: the least confident question decides (here boxes)."""
    schema = {
        **SCHEMA,
        "name": "adaptive-boxes",
        "questions": [q for q in SCHEMA["questions"] if q["type"] == "bbox"],
        "workflow": {"overlap": {"min": 2, "max": 3, "confidence": 0.8}},
    }
    p = make_project(store, schema)
    imports.import_rows(store, SYSTEM, p["id"], enumerate([_record(1), _record(2)], 1))
    far = [{"x": 400, "y": 300, "w": 50, "h": 50, "label": "person"}]
    plan = {"r1": [_box(0), _box(0.5)], "r2": [_box(0), far, _box(1)]}  # r1 agrees, r2 does not
    for w in range(3):
        who, _ = make_user(store, f"ad{w}")
        while (lease := dispatch.next_assignment(store, who, p["id"])) is not None:
            answers = plan[_ext(lease)]
            dispatch.submit_response(
                store, who, lease["assignment_id"], {"boxes": answers[min(w, len(answers) - 1)]}
            )
    got = _consensus(store)
    assert len(got[("r1", "boxes")]["response_ids"]) == 2  # confident after two: done
    assert len(got[("r2", "boxes")]["response_ids"]) == 3  # a third answer was asked for
