"""Exports over HTTP: CSV cells a spreadsheet would run as formulas are made text (issue 20, item 3)."""

from __future__ import annotations

from assay.services import accounts, imports
from assay.services.actors import SYSTEM
from assay.store import records as rec_store
from tests.api.conftest import Live
from tests.api.test_security import assert_problem
from tests.factories import make_project, make_user
from tests.formats.test_csv_formulas import SCHEMA


def test_the_api_export_escapes_unless_asked_for_raw(live: Live) -> None:
    admin = accounts.add_user(live.store, SYSTEM, "root", role="admin").token
    p = make_project(live.store, SCHEMA)
    imports.import_rows(live.store, SYSTEM, p["id"], enumerate([{"id": "@evil", "text": "=1+1"}], 1))
    c = live.client(admin)
    escaped = c.get(f"/projects/{p['id']}/export", params={"format": "csv"}).text
    assert "'@evil" in escaped and "'=1+1" in escaped
    raw = c.get(f"/projects/{p['id']}/export", params={"format": "csv", "csv_formulas": "raw"}).text
    assert "\n@evil," in raw.replace("\r\n", "\n") and "=1+1" in raw and "'=1+1" not in raw
    bad = c.get(f"/projects/{p['id']}/export", params={"format": "csv", "csv_formulas": "maybe"})
    assert bad.status_code == 422


def test_conll_over_http(live: Live) -> None:
    from tests.formats.test_conll import CONLL
    from tests.formats.test_conll import SCHEMA as NER

    p = make_project(live.store, NER)
    _, token = make_user(live.store, "boss", role="admin")
    c = live.client(token)
    files = {"file": ("dev.conll", CONLL.encode())}
    r = c.post(f"/projects/{p['id']}/imports", files=files, data={"format": "conll", "coco_as": "gold"})
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 3
    got = c.get(f"/projects/{p['id']}/export", params={"format": "conll", "coco_from": "gold"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/plain")
    assert got.text == CONLL + "\n"
    with live.store.read() as conn:
        assert rec_store.get_record_by_external_id(conn, p["id"], "dev-2") is not None
    bad = {"file": ("bad.conll", b"Good B-PER\n\nBad B-CITY\n")}
    body = assert_problem(c.post(f"/projects/{p['id']}/imports", files=bad, data={"format": "conll"}), 422)
    assert body["file"] == "bad.conll" and body["line"] == 3 and body["field"] == "column 2"
