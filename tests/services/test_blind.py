"""Blind comparisons (DESIGN.md; issue 24, item 7): whoever answers through a lease never sees
which model wrote a candidate, unless the comparison field says ``show_models: true``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assay.services import blind, dispatch, records
from assay.services.actors import SYSTEM
from assay.store.engine import Store
from tests.factories import make_project, make_user

MODELS = ("gpt-secret-4", "llama-hidden-70b")


def _project(store: Store, *, show_models: bool = False) -> dict[str, Any]:
    field: dict[str, Any] = {"name": "candidates", "type": "comparison"}
    if show_models:
        field["show_models"] = True
    p = make_project(
        store,
        {
            "name": f"arena-{show_models}",
            "fields": [{"name": "prompt", "type": "text"}, field],
            "questions": [
                {"name": "pref", "type": "preference", "field": "candidates", "ties": True, "strength": True},
                {"name": "rank", "type": "ranking", "field": "candidates", "required": False},
            ],
            "workflow": {"overlap": 1},
        },
    )
    from assay.services import imports

    cands = [
        {"model": m, "text": f"answer {k}", "cost": 0.01, "params": {"temperature": 0.7}}
        for k, m in enumerate(MODELS)
    ]
    rows = [
        {
            "external_id": "r1",
            "prompt": "Say hi",
            "candidates": cands,
            "metadata": {"source": "tickets", "generation": {"models": list(MODELS), "run": "gen-1"}},
            "suggestions": [{"question": "pref", "value": {"choice": MODELS[0]}, "model": "judge-1"}],
        }
    ]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    return p


def test_a_lease_names_no_model_and_answers_come_back_with_real_ids(store: Store) -> None:
    p = _project(store)
    ann, _ = make_user(store, "ann")
    lease = dispatch.next_assignment(store, ann, p["id"])
    assert lease is not None
    text = json.dumps(lease, default=str)
    for m in MODELS:
        assert m not in text  # not in the fields, the view, the suggestions
    cands = lease["record"]["fields"]["candidates"]
    assert [c["id"] for c in cands] == ["A", "B"] and all(set(c) == {"id", "text"} for c in cands)
    assert lease["view"]["order"]["candidates"] == ["A", "B"] and lease["view"]["blind"] == ["candidates"]
    shown = blind.reveal(store, int(lease["assignment_id"]))["candidates"]
    assert [c["text"] for c in cands] == [shown["A"]["text"], shown["B"]["text"]]
    assert lease["record"]["metadata"] == {"source": "tickets"}  # how candidates were made is withheld
    [sug] = lease["record"]["suggestions"]
    assert sug["value"]["choice"] in ("A", "B") and shown[sug["value"]["choice"]]["model"] == MODELS[0]

    # a draft in letters is kept in real ids and comes back in letters
    dispatch.save_draft(store, ann, int(lease["assignment_id"]), {"pref": {"choice": "B"}})
    again = dispatch.get_assignment(store, ann, int(lease["assignment_id"]))
    assert again["draft"] == {"pref": {"choice": "B"}}

    dispatch.submit_response(
        store, ann, int(lease["assignment_id"]), {"pref": {"choice": "B", "strength": 2}, "rank": ["B", "A"]}
    )
    [row] = records.list_records(store, SYSTEM, p["id"])
    full = records.get_record(store, SYSTEM, int(row["id"]))
    [resp] = full["responses"]
    assert resp["values"]["pref"] == {"choice": shown["B"]["model"], "strength": 2}
    assert resp["values"]["rank"] == [shown["B"]["model"], shown["A"]["model"]]


@pytest.mark.parametrize("who", ["annotator", "manager"])
def test_a_project_may_show_models(store: Store, who: str) -> None:
    p = _project(store, show_models=True)
    user, _ = make_user(store, f"u-{who}", role=who)
    lease = dispatch.next_assignment(store, user, p["id"])
    assert lease is not None
    assert {c["model"] for c in lease["record"]["fields"]["candidates"]} == set(MODELS)
    assert "blind" not in lease["view"]
