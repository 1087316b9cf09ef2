"""Explain, personal data and erasure over real HTTP: who may call them and what they answer."""

from __future__ import annotations

from assay.services import dispatch, imports
from assay.services.actors import SYSTEM
from tests.api.conftest import Live
from tests.factories import make_project, make_user

SCHEMA = {
    "name": "pii-http",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
    "privacy": {"personal_data": "mask", "detect": ["email"]},
}


def test_explain_personal_data_and_erasure_over_http(live: Live) -> None:
    p = make_project(live.store, SCHEMA)
    imports.import_rows(live.store, SYSTEM, p["id"], enumerate([{"id": "r", "text": "mail a@b.example"}], 1))
    ann, ann_token = make_user(live.store, "ann")
    lease = dispatch.next_assignment(live.store, ann, p["id"])
    assert lease is not None
    dispatch.submit_response(live.store, ann, lease["assignment_id"], {"label": "a"}, duration_ms=1200)
    _, admin_token = make_user(live.store, "boss", role="admin")
    _, rev_token = make_user(live.store, "rev", role="reviewer")
    admin, rev = live.client(admin_token), live.client(rev_token)
    rid = lease["record"]["id"]

    doc = rev.get(f"/records/{rid}/explain").json()
    assert doc["record"]["fields"]["text"] == "mail [EMAIL]"
    (answer,) = doc["answers"]
    assert answer["user"] == "ann" and answer["duration_ms"] == 1200
    assert doc["consensus"]["label"]["exported_value"] == "a"
    assert doc["personal_data"] == [
        {"field": "text", "kind": "email", "start": 5, "end": 12, "action": "masked"}
    ]
    assert live.client(ann_token).get(f"/records/{rid}/explain").status_code in (403, 404)
    assert rev.get("/records/999999/explain").status_code == 404

    found = admin.get(f"/projects/{p['id']}/personal-data").json()
    assert found["found"] == {"email": {"masked": 1}} and found["policy"]["personal_data"] == "mask"
    assert rev.get(f"/projects/{p['id']}/personal-data").status_code == 403

    assert rev.post(f"/users/{ann.id}/erase").status_code == 403
    erased = admin.post(f"/users/{ann.id}/erase")
    assert erased.status_code == 200, erased.text
    pseudonym = erased.json()["pseudonym"]
    assert live.client(ann_token).get("/projects").status_code == 401
    assert rev.get(f"/records/{rid}/explain").json()["answers"][0]["user"] == pseudonym
    assert admin.post("/users/999999/erase").status_code == 404

    out = admin.get(f"/projects/{p['id']}/export", params={"contributors": "none"})
    assert out.status_code == 200 and pseudonym not in out.text and '"user"' not in out.text
    assert admin.get(f"/projects/{p['id']}/export", params={"contributors": "x"}).status_code == 422
