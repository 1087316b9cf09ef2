"""Exposure to sensitive content over HTTP, on SQLite and PostgreSQL (#27): the UI reports how
long content behind a content warning stayed revealed; a manager reads it per person, each person
their own."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from assay.domain.schema import ProjectSchema
from assay.services import imports
from assay.services.actors import SYSTEM
from assay.store.tables import records
from tests.api.conftest import Live
from tests.factories import make_project, make_user


def _schema() -> dict[str, Any]:
    return {
        "name": f"redteam-{uuid.uuid4().hex[:6]}",
        "fields": [{"name": "attack", "type": "text", "sensitive": True}, {"name": "note", "type": "text"}],
        "questions": [{"name": "harm", "type": "label", "options": ["harmful", "safe"]}],
        "content_warning": "Attacks on violent topics.",
    }


def test_the_schema_says_what_is_sensitive() -> None:
    s = ProjectSchema.from_dict(_schema())
    assert s.sensitive_fields == ["attack"] and s.sensitive_questions == []
    assert "sensitive" not in s.to_dict()["fields"][1]  # only where it is set
    whole = ProjectSchema.from_dict({**_schema(), "fields": [{"name": "attack", "type": "text"}]})
    assert whole.sensitive_fields == ["attack"] and whole.sensitive_questions == ["harm"]
    assert ProjectSchema.from_dict({**_schema(), "content_warning": True}).content_warning == ""
    plain = ProjectSchema.from_dict(
        {**_schema(), "content_warning": None, "fields": [{"name": "a", "type": "text"}]}
    )
    assert plain.sensitive_fields == [] and plain.sensitive_questions == []


def test_exposure_is_recorded_and_reported(live: Live) -> None:
    store = live.store
    p = make_project(store, _schema())
    imports.import_rows(store, SYSTEM, p["id"], enumerate([{"id": "a1", "attack": "x", "note": "n"}], 1))
    with store.read() as conn:
        rid = int(conn.execute(sa.select(records.c.id).where(records.c.project_id == p["id"])).scalar_one())
    ann, ann_token = make_user(store, f"ann-{uuid.uuid4().hex[:6]}")
    rev, rev_token = make_user(store, f"rev-{uuid.uuid4().hex[:6]}", role="reviewer")
    boss, boss_token = make_user(store, f"boss-{uuid.uuid4().hex[:6]}", role="manager")
    a, r, m = live.client(ann_token), live.client(rev_token), live.client(boss_token)

    for ms in (1500, 2500):
        res = a.post(f"/projects/{p['id']}/exposure", json={"ms": ms, "record_id": rid, "context": "work"})
        assert res.status_code == 201, res.text
    assert r.post(f"/projects/{p['id']}/exposure", json={"ms": 4000, "context": "review"}).status_code == 201

    bad = [
        {"ms": 0},
        {"ms": -5},
        {"ms": 25 * 3600 * 1000},
        {"ms": 10, "context": "elsewhere"},
        {"ms": 10, "record_id": rid + 1000},
        {"ms": 10, "extra": 1},
    ]
    for body in bad:
        res = a.post(f"/projects/{p['id']}/exposure", json=body)
        assert res.status_code == 422, (body, res.text)

    # a reviewer may not read the others' figures; a manager may
    assert r.get(f"/projects/{p['id']}/exposure").status_code == 403
    report = m.get(f"/projects/{p['id']}/exposure").json()
    by_name = {i["name"]: i for i in report["items"]}
    assert by_name[ann.name]["total_ms"] == 4000 and by_name[ann.name]["today_ms"] == 4000
    assert by_name[ann.name]["week_ms"] == 4000
    assert by_name[ann.name]["records"] == 1 and by_name[ann.name]["stretches"] == 2
    assert by_name[rev.name]["total_ms"] == 4000 and by_name[rev.name]["records"] == 0
    assert boss.name not in by_name
    assert report["total_ms"] == 8000

    mine = a.get("/me/exposure").json()
    assert mine["total"] == {"total_ms": 4000, "today_ms": 4000, "week_ms": 4000}
    assert [x["project_id"] for x in mine["projects"]] == [p["id"]]
    assert m.get("/me/exposure").json()["projects"] == []
