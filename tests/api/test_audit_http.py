"""The audit routes (admins: verify the chain, read its head) and a project's data card over HTTP."""

from __future__ import annotations

import yaml

from assay.services import imports
from assay.services.actors import SYSTEM
from tests.api.conftest import Live
from tests.factories import make_project, make_user


def test_admin_verifies_the_chain_and_reads_its_head(live: Live) -> None:
    p = make_project(live.store)
    imports.import_rows(live.store, SYSTEM, p["id"], enumerate([{"id": "r", "text": "t"}], 1))
    _, admin_token = make_user(live.store, "boss", role="admin")
    _, manager_token = make_user(live.store, "mgr", role="manager")
    admin = live.client(admin_token)
    head = admin.get("/audit/anchor").json()
    result = admin.get("/audit/verify").json()
    assert result["ok"] and result["head"] == {"seq": head["seq"], "hash": head["hash"]}
    anchored = admin.get("/audit/verify", params={"anchor_seq": head["seq"], "anchor_hash": "0" * 64}).json()
    assert not anchored["ok"] and anchored["broken"]["seq"] == head["seq"]
    assert live.client(manager_token).get("/audit/verify").status_code == 403

    card = admin.get(f"/projects/{p['id']}/datacard", params={"license": "mit", "language": ["en", "fr"]})
    assert card.status_code == 200
    body = card.json()
    header = yaml.safe_load(body["markdown"][4:].partition("\n---\n")[0])
    assert header["license"] == "mit" and header["language"] == ["en", "fr"]
    assert body["figures"]["records"] == 1 and body["agreement_svg"].startswith("<svg")
