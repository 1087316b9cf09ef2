"""The SDK against a real server (Uvicorn in a thread), on SQLite and PostgreSQL; and the CLI's --url."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from assay.domain.errors import AssayError, NotFound, PermissionDenied, ValidationError
from assay.sdk import Client, ConflictError, InvalidInput, Lease, NotFoundError, Project, TransportError
from tests.api.conftest import Live, live  # noqa: F401  (the fixture)
from tests.factories import make_user

SCHEMA: dict[str, Any] = {
    "name": "sdk",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
    "workflow": {"overlap": 1, "review_rate": 1.0},
}


class Flaky(httpx.HTTPTransport):
    """Fails the first ``n`` requests with a connection error, then behaves."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.seen = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.seen <= self.n:
            raise httpx.ConnectError("flaky", request=request)
        return super().handle_request(request)


def test_full_round_trip(live: Live, tmp_path: Path) -> None:  # noqa: F811
    _, admin_token = make_user(live.store, "boss", role="admin")
    with Client(live.url, admin_token) as admin:
        assert admin.health()["status"] == "ok"
        assert admin.me().name == "boss"
        project = admin.create_project(SCHEMA)
        assert isinstance(project, Project) and project.project_schema.name == "sdk"
        for i in range(3):
            admin.create_project(SCHEMA, name=f"more{i}")
        assert [p.name for p in admin.projects(page_size=2)] == ["sdk", "more0", "more1", "more2"]
        report = admin.add_records("sdk", [{"id": i, "text": f"t{i}"} for i in range(3)])
        assert (report.rows, report.created) == (3, 3)
        file = tmp_path / "more.jsonl"
        file.write_text('{"id": 10, "text": "x"}\n')
        assert admin.import_file(project.id, file).created == 1
        with pytest.raises(InvalidInput) as info:
            admin.add_records("sdk", [{"id": 11, "text": "ok"}, {"id": 12, "nope": 1}])
        assert info.value.line == 2 and info.value.field == "nope"
        assert isinstance(info.value, ValidationError)
        ann = admin.add_user("ann", role="annotator", skills=["x"])
        rev = admin.add_user("rev", role="reviewer")
        assert {u.name for u in admin.users()} >= {"boss", "ann", "rev"}
        assert admin.update_project("sdk", guidelines="Be kind.").guidelines_version == 2
        admin.add_member("more0", "ann", "annotator")
        assert [m.name for m in admin.members("more0")] == ["ann"]
    with Client(live.url, ann.token) as a:
        lease = a.next("sdk")
        assert isinstance(lease, Lease) and lease.fields == {"text": "t0"}
        assert a.record(lease.record_id).fields == {"text": "t0"}
        a.save_draft(lease.assignment_id, {"label": "b"})
        assert a.assignment(lease.assignment_id).draft == {"label": "b"}
        first = a.submit(lease.assignment_id, {"label": "a"}, idempotency_key="k1", duration_ms=900)
        again = a.submit(lease.assignment_id, {"label": "a"}, idempotency_key="k1")
        assert first.created and not again.created and first.id == again.id
        with pytest.raises(ConflictError):
            a.submit(lease.assignment_id, {"label": "a"}, idempotency_key="k2")
        with pytest.raises(NotFoundError) as missing:
            a.record(lease.record_id)
        assert isinstance(missing.value, NotFound) and missing.value.status == 404
        second = a.next(project.id)
        assert second is not None
        a.skip(second.assignment_id, reason="unclear")
        third = a.next(project.id)
        assert third is not None
        a.release(third.assignment_id)
        assert [r.id for r in a.responses(project.id)] == [first.id]
        with pytest.raises(PermissionDenied):
            a.project_stats(project.id)
        assert a.my_stats()["total"]["answered"] == 1
        made = a.create_token("laptop")
        assert made.id in [t.id for t in a.tokens()]
        a.revoke_token(made.id)
    with Client(live.url, rev.token) as r:
        queue = list(r.reviews("sdk"))
        assert [q.reason for q in queue] == ["sampled"]
        decision = r.decide_review(queue[0].review_id, "correct", corrected_values={"label": "b"})
        assert decision.corrected_values == {"label": "b"}
        assert r.record(lease.record_id).responses is not None
        assert any(e["action"] == "review.decided" for e in r.record_history(lease.record_id))
        assert [c["consensus"]["label"]["value"] for c in r.consensus("sdk")] == ["b"]
        people = r.contributors("sdk")
        assert people[0].name == "ann" and people[0].time_ms == 900
        assert r.project_stats("sdk")["progress"]["responses"] == 1
        assert len(list(r.records("sdk", filter="done"))) == 1
        why = r.explain(lease.record_id)
        assert (
            why["consensus"]["label"]["value"] == "b" and why["answers"][0]["reviews"][0]["reviewer"] == "rev"
        )
    with Client(live.url, admin_token) as admin:
        assert admin.recompute_consensus("sdk", "mv")["method"] == "mv"
        out = admin.export("sdk", tmp_path / "out.jsonl", lineage=True)
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        assert len(rows) == 4 and rows[0]["responses"][0]["duration_ms"] == 900
        hidden = admin.export("sdk", tmp_path / "anon.jsonl", contributors="pseudonyms")
        assert json.loads(hidden.read_text().splitlines()[0])["responses"][0]["user"] == "contributor-1"
        assert admin.add_suggestions(lease.record_id, [{"question": "label", "value": "a", "score": 0.9}])
        assert len(list(admin.events("sdk", page_size=5))) > 5
        with pytest.raises(NotFoundError):
            admin.project("no-such-project")


def test_retries_idempotent_calls_and_maps_transport_errors(live: Live) -> None:  # noqa: F811
    _, token = make_user(live.store, "boss", role="admin")
    flaky = Flaky(2)
    with Client(live.url, token, transport=flaky, backoff=0.01) as c:
        assert c.me().name == "boss"  # a GET: retried through two failures
        assert flaky.seen == 3
    flaky = Flaky(1)
    with Client(live.url, token, transport=flaky, backoff=0.01) as c, pytest.raises(TransportError):
        c.create_workspace("once")  # a POST without a key: sent once
    with Client("http://127.0.0.1:9", token, retries=1, backoff=0.01) as c, pytest.raises(AssayError):
        c.me()


def test_cli_acts_on_a_remote_server(live: Live, tmp_path: Path) -> None:  # noqa: F811
    from assay.cli.main import app

    _, token = make_user(live.store, "boss", role="admin")
    runner = CliRunner()
    env = {"ASSAY_URL": live.url, "ASSAY_TOKEN": token}
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": 1, "text": "x"}\n{"id": 2, "text": "y"}\n')
    steps = [
        ["project", "create", "--schema", str(schema), "--json"],
        ["project", "list", "--json"],
        ["project", "show", "sdk", "--json"],
        ["import", "sdk", str(data), "--json"],
        ["users", "add", "remote-ann", "--role", "annotator", "--json"],
        ["export", "sdk", "--out", str(tmp_path / "e.csv"), "--format", "csv"],
    ]
    for args in steps:
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, (args, result.output)
    assert (tmp_path / "e.csv").read_text().count("\n") == 3
    bad = runner.invoke(app, ["project", "show", "nope"], env=env)
    assert bad.exit_code == 1 and "not_found" in bad.output


def test_submit_with_next_gives_the_next_lease(live: Live) -> None:  # noqa: F811
    _, admin_token = make_user(live.store, "chief", role="admin")
    with Client(live.url, admin_token) as admin:
        project = admin.create_project(SCHEMA | {"name": "chain"})
        admin.add_records("chain", [{"id": i, "text": f"t{i}"} for i in range(3)])
        ann = admin.add_user("chainer", role="annotator")
    with Client(live.url, ann.token) as a:
        lease = a.next(project.id)
        seen = []
        while lease is not None:
            seen.append(lease.fields["text"])
            answer = a.submit(lease.assignment_id, {"label": "a"}, next=True)
            assert answer.created and answer.record_id == lease.record_id and answer.next_problem is None
            lease = answer.next
            assert lease is None or isinstance(lease, Lease)
        assert sorted(seen) == ["t0", "t1", "t2"]
        assert len(list(a.responses(project.id))) == 3
