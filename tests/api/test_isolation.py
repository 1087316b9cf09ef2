"""Workspaces isolate managers: a manager of one workspace can neither reach into another nor
learn its names, and nobody grants a role above its own (issue 20, item 1)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from assay.domain.errors import NotFound
from assay.services import accounts, imports
from assay.services.actors import SYSTEM
from tests.api.conftest import Live
from tests.api.test_security import assert_problem, schema
from tests.factories import make_project, make_user


def two_workspaces(live: Live) -> dict[str, Any]:
    """``default`` (blue) and ``red``, each with a manager, an annotator and a project with gold."""
    accounts.create_workspace(live.store, SYSTEM, "red")
    blue_p = make_project(live.store, schema())
    red_p = make_project(live.store, {**schema(), "name": "red-secret-project"}, workspace="red")
    rows = [{"id": "g", "text": "gold text", "gold": {"label": "a"}}, {"id": "r", "text": "red text"}]
    imports.import_rows(live.store, SYSTEM, red_p["id"], enumerate(rows, 1))
    _, mblue = make_user(live.store, "mblue", role="manager")
    _, mred = make_user(live.store, "mred", role="manager", workspace="red")
    make_user(live.store, "ann-blue")
    make_user(live.store, "ann-red", workspace="red")
    _, admin = make_user(live.store, "root", role="admin")
    return {"blue_p": blue_p, "red_p": red_p, "mblue": mblue, "mred": mred, "admin": admin}


def test_a_manager_adds_users_and_projects_only_to_its_own_workspace(live: Live) -> None:
    w = two_workspaces(live)
    m = live.client(w["mblue"])
    # the reported escalation: a manager in red, then red's records and gold
    foreign = assert_problem(
        m.post("/users", json={"name": "spy", "role": "manager", "workspace": "red"}), 404
    )
    missing = assert_problem(
        m.post("/users", json={"name": "spy", "role": "manager", "workspace": "nope"}), 404
    )
    assert foreign["detail"].replace("red", "X") == missing["detail"].replace("nope", "X")
    assert_problem(m.post("/projects", json={"schema": schema(), "workspace": "red"}), 404)
    assert_problem(m.post("/users", json={"name": "boss2", "role": "admin"}), 403)
    made = m.post("/users", json={"name": "helper", "role": "manager"})  # its own workspace
    assert made.status_code == 201, made.text
    helper = live.client(made.json()["token"])
    red = w["red_p"]["id"]
    for path in (f"/projects/{red}/records", f"/projects/{red}/export", f"/projects/{red}"):
        assert_problem(helper.get(path), 404)
        assert_problem(m.get(path), 404)
    assert {x["name"] for x in m.get("/workspaces").json()["items"]} == {"default"}
    # the red manager is confined the same way
    r = live.client(w["mred"])
    assert_problem(r.post("/users", json={"name": "spy2", "role": "annotator", "workspace": "default"}), 404)
    assert r.post("/users", json={"name": "red-ann-2"}).status_code == 201


def test_a_manager_lists_only_its_workspaces_users(live: Live) -> None:
    w = two_workspaces(live)
    names = {u["name"] for u in live.client(w["mblue"]).get("/users").json()["items"]}
    assert {"mblue", "ann-blue"} <= names and not names & {"mred", "ann-red"}
    red_names = {u["name"] for u in live.client(w["mred"]).get("/users").json()["items"]}
    assert red_names == {"mred", "ann-red"}
    everyone = {u["name"] for u in live.client(w["admin"]).get("/users").json()["items"]}
    assert {"mblue", "mred", "ann-red", "ann-blue", "root"} <= everyone


def test_project_names_do_not_leak_across_workspaces(live: Live) -> None:
    w = two_workspaces(live)
    m = live.client(w["mblue"])
    same = m.post("/projects", json={"schema": {**schema(), "name": "red-secret-project"}})
    assert same.status_code == 201, same.text  # red's name is no business of blue's
    assert_problem(m.post("/projects", json={"schema": {**schema(), "name": "red-secret-project"}}), 409)
    # by name, each manager finds its own; the admin must say which
    assert live.store is not None
    from assay.services import projects

    assert (
        projects.get_project(live.store, accounts_actor(live, "mred"), "red-secret-project")["id"]
        == (w["red_p"]["id"])
    )
    from assay.domain.errors import ValidationError

    with pytest.raises(ValidationError, match="name one by id"):
        projects.get_project(live.store, SYSTEM, "red-secret-project")


def accounts_actor(live: Live, name: str) -> Any:
    from assay.services.actors import actor_from_row
    from assay.store import accounts as acc

    with live.store.read() as conn:
        row = acc.get_user_by_name(conn, name)
    assert row is not None
    return actor_from_row(row)


def test_members_come_from_the_projects_workspace_and_roles_stay_at_most_ones_own(live: Live) -> None:
    w = two_workspaces(live)
    m = live.client(w["mblue"])
    pid = w["blue_p"]["id"]
    foreign = assert_problem(m.post(f"/projects/{pid}/members", json={"user": "ann-red"}), 404)
    missing = assert_problem(m.post(f"/projects/{pid}/members", json={"user": "nobody"}), 404)
    assert foreign["detail"].replace("ann-red", "X") == missing["detail"].replace("nobody", "X")
    assert_problem(m.post(f"/projects/{pid}/members", json={"user": "ann-blue", "role": "admin"}), 403)
    assert_problem(m.post(f"/projects/{pid}/members", json={"user": "ann-blue", "role": "boss"}), 422)
    assert m.post(f"/projects/{pid}/members", json={"user": "mblue", "role": "manager"}).status_code == 201
    assert m.post(f"/projects/{pid}/members", json={"user": "ann-blue", "role": "manager"}).status_code == 201
    admin = live.client(w["admin"])
    assert (
        admin.post(f"/projects/{pid}/members", json={"user": "ann-blue", "role": "admin"}).status_code == 201
    )


def _import(client: httpx.Client, pid: int, user: str, ext: str) -> httpx.Response:
    row = {"id": ext, "text": "t", "responses": [{"user": user, "values": {"label": "a"}}]}
    return client.post(f"/projects/{pid}/records", json=[{"id": "plain", "text": "p"}, row])


def test_imported_answers_are_attributed_only_to_people_who_may_work_on_the_project(live: Live) -> None:
    w = two_workspaces(live)
    m = live.client(w["mblue"])
    pid = w["blue_p"]["id"]
    foreign = assert_problem(_import(m, pid, "ann-red", "x1"), 422)
    missing = assert_problem(_import(m, pid, "nobody", "x1"), 422)
    assert foreign["detail"].replace("ann-red", "X") == missing["detail"].replace("nobody", "X")
    assert foreign["line"] == 2 and foreign["field"] == "responses[0].user"
    assert_problem(_import(m, pid, "root", "x1"), 403)  # an admin's name
    assert _import(m, pid, "ann-blue", "x1").status_code == 201
    assert _import(m, pid, "mblue", "x2").status_code == 201  # its own equal role: fine
    records = live.client(w["admin"]).get(f"/projects/{pid}/records").json()["items"]
    assert {r["external_id"] for r in records} == {"plain", "x1", "x2"}  # the refused imports kept nothing


def test_a_manager_sets_passwords_only_of_users_it_manages(live: Live) -> None:
    two_workspaces(live)
    mblue = accounts_actor(live, "mblue")
    accounts.set_password(live.store, mblue, "ann-blue", "a long secret")
    for name in ("ann-red", "root", "nobody"):
        with pytest.raises(NotFound):
            accounts.set_password(live.store, mblue, name, "a long secret")
