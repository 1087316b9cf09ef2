"""Exports over HTTP: CSV cells a spreadsheet would run as formulas are made text (issue 20, item 3)."""

from __future__ import annotations

from assay.services import accounts, imports
from assay.services.actors import SYSTEM
from tests.api.conftest import Live
from tests.factories import make_project
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
