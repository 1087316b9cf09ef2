"""The authorization matrix: every API route × every role × an object of the caller's own
workspace and of another, over HTTP, against the access each route declares next to itself
(``x-access``, :mod:`assay.api.access`). A route without a declaration fails the suite.

What a declaration means (:func:`expected`): ``public`` — anyone; ``signed-in`` — any user;
``admin`` — instance admins; ``role:R`` — a user with role R somewhere (``GET /users``);
``workspace:R`` — role R in the workspace the body names (another workspace: 404);
``project:R`` — role R on the project the path names (another workspace's project: 404, a role
too low: 403); ``record:R`` — likewise, but a role too low gets 404 (an annotator sees a record
only while it holds a lease on it); ``holder`` — the caller's own lease (another's: 404);
``owner`` — the caller's own token (another's: 404; an admin may revoke any). Anonymous callers
get 401 from every route but public ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from assay.api.access import RULES
from assay.api.app import API_PREFIX, create_app
from assay.services import accounts, dispatch, imports, jobs
from assay.services.actors import ROLE_RANK, SYSTEM, Actor
from assay.settings import Settings
from assay.store import records as rec_store
from assay.store.tables import reviews
from tests.api.conftest import Live
from tests.factories import make_project, make_user

ROLES = (None, "annotator", "reviewer", "manager", "admin")
SCOPES = ("own", "other")
WORKSPACE = {"own": "default", "other": "red"}
PASSWORD = "matrix password"


def expected(rule: str, role: str | None, scope: str) -> int | None:
    """The status a caller gets for ``rule`` (None: it is let through to the route's work)."""
    if rule == "public":
        return None
    if role is None:
        return 401
    if rule == "signed-in":
        return None
    if rule == "admin":
        return None if role == "admin" else 403
    kind, _, need = rule.partition(":")
    if kind == "holder":
        return None if scope == "own" else 404
    if kind == "owner":
        return None if scope == "own" or role == "admin" else 404
    if role == "admin":
        return None
    enough = ROLE_RANK[role] >= ROLE_RANK[need]
    if kind == "role":
        return None if enough else 403
    if kind == "workspace":
        return 403 if not enough else (None if scope == "own" else 404)
    if scope == "other":
        return 404
    if enough:
        return None
    return 404 if kind == "record" else 403


SCHEMA = {
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
    "workflow": {"overlap": 50, "review_rate": 1.0},
}


@dataclass
class Side:
    """One workspace's objects: a project open to all its members, a worker who answers (for
    reviews and responses), and a record nobody is given (it comes last)."""

    project: int
    worker: Actor
    record: int


@dataclass
class World:
    live: Live
    sides: dict[str, Side]
    callers: dict[str | None, tuple[Actor | None, str | None]]  # role → (actor, token)

    def fresh_answer(self, scope: str) -> dict[str, Any]:
        side = self.sides[scope]
        lease = dispatch.next_assignment(self.live.store, side.worker, side.project)
        assert lease is not None
        response, _ = dispatch.submit_response(
            self.live.store, side.worker, lease["assignment_id"], {"label": "a"}
        )
        return response

    def lease_of(self, actor: Actor, project: int) -> int:
        lease = dispatch.next_assignment(self.live.store, actor, project)
        assert lease is not None
        return int(lease["assignment_id"])


def build_world(live: Live) -> World:
    accounts.create_workspace(live.store, SYSTEM, "red")
    sides = {}
    for scope, ws in WORKSPACE.items():
        p = make_project(live.store, {**SCHEMA, "name": f"matrix-{scope}"}, workspace=ws)
        rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": f"t{i}"} for i in range(300)]
        rows.append({"id": "probe", "text": "never leased", "priority": -1})
        imports.import_rows(live.store, SYSTEM, p["id"], enumerate(rows, 1))
        worker, _ = make_user(live.store, f"worker-{scope}", workspace=ws)
        with live.store.read() as conn:
            probe = rec_store.get_record_by_external_id(conn, p["id"], "probe")
        assert probe is not None
        sides[scope] = Side(p["id"], worker, int(probe["id"]))
    callers: dict[str | None, tuple[Actor | None, str | None]] = {None: (None, None)}
    for role in ROLES[1:]:
        assert role is not None
        callers[role] = make_user(live.store, f"caller-{role}", role=role, password=PASSWORD)
    return World(live, sides, callers)


# Per route: how to fill its path parameters and its body for a caller and a scope.
Params = Callable[[World, Actor | None, str], dict[str, Any]]


def _unique() -> str:
    return uuid.uuid4().hex[:10]


def _path_value(world: World, path: str, name: str, actor: Actor | None, scope: str) -> Any:
    side = world.sides[scope]
    store = world.live.store
    if name == "project_id":
        if path.endswith("/members"):  # (naming a member closes a project to the others)
            return make_project(store, {**SCHEMA, "name": f"m-{_unique()}"}, workspace=WORKSPACE[scope])["id"]
        return side.project
    if name == "record_id":
        return side.record
    if name == "field":  # (a text field: the media route answers 422 to those let through)
        return "text"
    if name == "assignment_id":
        holder = actor if scope == "own" and actor is not None else world.sides["other"].worker
        return world.lease_of(holder, world.sides["own" if holder is actor else "other"].project)
    if name == "token_id":
        owner = actor if scope == "own" and actor is not None else world.sides["other"].worker
        tid, _ = accounts.create_token(store, owner, name="matrix")
        return tid
    if name == "review_id":
        answer = world.fresh_answer(scope)  # (the project sends every answer to review)
        with store.read() as conn:
            return conn.execute(
                sa.select(reviews.c.id).where(reviews.c.response_id == answer["id"])
            ).scalar_one()
    if name == "response_id":
        return world.fresh_answer(scope)["id"]
    if name == "version":  # a version of the side's project, frozen once
        from assay.services import datasets

        assert world.live.home is not None
        if not any(v["name"] == "m" for v in datasets.list_versions(store, SYSTEM, side.project)):
            datasets.freeze(store, SYSTEM, world.live.home, side.project, name="m")
        return "m"
    if name == "job_id":
        return jobs.enqueue(store, SYSTEM, side.project, "consensus", submit=False)["id"]
    if name == "user_id":  # (a fresh person each time: erasure happens once)
        return make_user(store, f"u-{_unique()}", workspace=WORKSPACE[scope])[0].id
    raise AssertionError(f"the matrix does not know how to fill {{{name}}} of {path}")


def _body(world: World, method: str, path: str, scope: str) -> dict[str, Any]:
    """Keyword arguments of httpx's request: a body each route takes."""
    ws = WORKSPACE[scope]
    side = world.sides[scope]
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/auth/login"): {"json": {"name": "caller-annotator", "password": PASSWORD}},
        ("POST", "/tokens"): {"json": {"name": "matrix"}},
        ("POST", "/users"): {"json": {"name": f"u-{_unique()}", "workspace": ws}},
        ("POST", "/workspaces"): {"json": {"name": f"w-{_unique()}"}},
        ("POST", "/projects"): {"json": {"schema": {**SCHEMA, "name": f"p-{_unique()}"}, "workspace": ws}},
        ("PATCH", "/projects/{project_id}"): {"json": {"guidelines": f"g {_unique()}"}},
        ("POST", "/projects/{project_id}/members"): {"json": {"user": side.worker.name, "role": "annotator"}},
        ("POST", "/projects/{project_id}/records"): {"json": [{"id": _unique(), "text": "x"}]},
        ("POST", "/projects/{project_id}/imports"): {
            "files": {"file": ("m.jsonl", b'{"id": "imp", "text": "x"}\n')}
        },
        ("POST", "/projects/{project_id}/media"): {"files": {"file": ("x.wav", b"RIFF....WAVEfmt ")}},
        ("POST", "/projects/{project_id}/jobs"): {"json": {"kind": "consensus"}},
        ("POST", "/projects/{project_id}/datasets"): {"json": {}},
        ("POST", "/projects/{project_id}/exposure"): {"json": {"ms": 1000, "context": "work"}},
        ("POST", "/safety/campaigns"): {"json": {"name": f"c-{_unique()}", "workspace": ws}},
        ("POST", "/projects/{project_id}/safety/novelty"): {"json": {"turns": ["x"]}},
        ("POST", "/projects/{project_id}/safety/attacks"): {
            "json": {"attacks": [{"prompt": "x", "category": "vcr", "tactic": "direct"}]}
        },
        ("POST", "/records/{record_id}/suggestions"): {
            "json": {"suggestions": [{"question": "label", "value": "a"}]}
        },
        ("POST", "/assignments/{assignment_id}/responses"): {"json": {"values": {"label": "a"}}},
        ("PUT", "/assignments/{assignment_id}/draft"): {"json": {"values": {}}},
        ("POST", "/reviews/{review_id}"): {"json": {"verdict": "accept"}},
        ("POST", "/responses/{response_id}/review"): {"json": {"verdict": "accept"}},
    }
    return bodies.get((method, path), {})


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # under /api/v1, with {placeholders}
    params: tuple[str, ...]  # its path parameters
    access: str | None


def operations() -> list[Operation]:
    """Every operation of the API, from the application's own route table (its OpenAPI)."""
    app = create_app(Settings(database_url="sqlite://"), store=_NoStore())  # type: ignore[arg-type]
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, op in item.items():
            params = tuple(p["name"] for p in op.get("parameters", []) if p["in"] == "path")
            found.append(Operation(method.upper(), path[len(API_PREFIX) :], params, op.get("x-access")))
    return found


class _NoStore:
    """The route table needs no database."""

    is_sqlite = True
    dialect = "sqlite"


def test_every_route_declares_who_may_call_it() -> None:
    ops = operations()
    assert len(ops) >= 40
    missing = [f"{o.method} {o.path}" for o in ops if o.access not in RULES]
    assert missing == [], "declare access next to these routes (assay.api.access): " + ", ".join(missing)


def test_the_authorization_matrix_holds(live: Live) -> None:
    world = build_world(live)
    wrong: list[str] = []
    calls = 0
    # One client for the whole matrix (a client per call re-reads the CA bundle each time, which
    # alone took minutes on a loaded machine); cookies are cleared so no call carries another's.
    c = httpx.Client(base_url=live.url + API_PREFIX, timeout=60)
    for op in operations():
        assert op.access is not None
        for role in ROLES:
            actor, token = world.callers[role]
            for scope in SCOPES:
                params = {name: _path_value(world, op.path, name, actor, scope) for name in op.params}
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                c.cookies.clear()
                r = c.request(
                    op.method,
                    op.path.format(**params),
                    headers=headers,
                    **_body(world, op.method, op.path, scope),
                )
                calls += 1
                want = expected(op.access, role, scope)
                got = r.status_code
                denied = got in (401, 403, 404)
                if got >= 500 or (want is None and denied) or (want is not None and got != want):
                    wrong.append(
                        f"{op.method} {op.path} as {role} on {scope}: {got} (want {want or 'allowed'})"
                    )
    c.close()
    assert wrong == [], "\n".join(wrong)
    assert calls >= 400
