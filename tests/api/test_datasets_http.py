"""Dataset versions over HTTP: freeze, list, show, diff and export; bad input named, nothing written."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import yaml

from assay.services import imports
from assay.services.actors import SYSTEM
from tests.api.conftest import Live
from tests.factories import make_project, make_user


def test_versions_over_http(live: Live) -> None:
    p = make_project(live.store)
    rows = [{"id": f"r{i}", "text": f"t{i}", "metadata": {"split": "a" if i < 3 else "b"}} for i in range(5)]
    imports.import_rows(live.store, SYSTEM, p["id"], enumerate(rows, 1))
    _, token = make_user(live.store, "mgr", role="manager")
    _, annotator = make_user(live.store, "ann")
    c = live.client(token)
    base = f"/projects/{p['id']}/datasets"

    r = c.post(base, json={"name": "v1"})
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["record_count"] == 5 and v1["manifest"]["created_by"] == "mgr"
    imports.import_rows(live.store, SYSTEM, p["id"], enumerate([{"id": "r9", "text": "new"}], 1))
    r = c.post(base, json={"name": "only-a", "filters": ["metadata.split=a"]})
    assert r.status_code == 201 and r.json()["record_count"] == 3
    assert c.post(base, json={}).json()["name"] == "v3"
    assert [v["name"] for v in c.get(base).json()["items"]] == ["v1", "only-a", "v3"]

    shown = c.get(f"{base}/v1").json()
    assert shown["verified"] and shown["manifest"]["counts"]["records"] == 5

    d = c.get(f"{base}/v1/diff", params={"against": "v3"}).json()
    assert d["counts"]["added"] == 1 and d["changes"] == [{"change": "added", "external_id": "r9"}]
    d = c.get(f"{base}/v3/diff", params={"against": "only-a", "limit": 1}).json()
    assert d["counts"]["removed"] == 3 and len(d["changes"]) == 1 and d["truncated"]

    r = c.get(f"{base}/v1/export", params={"format": "jsonl"})
    assert r.status_code == 200
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert [x["external_id"] for x in lines] == [f"r{i}" for i in range(5)]
    r = c.get(f"{base}/v1/export", params={"format": "parquet"})
    assert pq.read_table(io.BytesIO(r.content)).num_rows == 5

    card = c.get(f"{base}/v1/datacard", params={"license": "cc-by-4.0"}).json()
    header = yaml.safe_load(card["markdown"][4:].partition("\n---\n")[0])
    assert header["license"] == "cc-by-4.0" and card["figures"]["records"] == 5
    assert card["figures"]["version"]["name"] == "v1" and card["agreement_svg"].startswith("<svg")
    assert card["labels_svg"].startswith("<svg")

    # bad input: named, and nothing written
    bad = c.post(base, json={"name": "x", "filters": ["split=a"]})
    assert bad.status_code == 422 and "filter[0]" in bad.text
    assert c.post(base, json={"name": "v1"}).status_code == 409
    missing = c.get(f"{base}/v7/diff", params={"against": "v1"})
    assert missing.status_code == 404 and "'v7'" in missing.text
    assert [v["name"] for v in c.get(base).json()["items"]] == ["v1", "only-a", "v3"]
    assert live.client(annotator).get(base).status_code == 403
