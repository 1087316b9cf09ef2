"""Who may do what: to a project, in a workspace, to another user. Every service asks here.

A project is open to every member of its workspace unless it names its own members; then
only to them. The role that counts on a project is the one its member list gives, else the
workspace membership's. The role that counts in a workspace is the membership's. An admin
(the instance's, ``role == "admin"``) may do everything, everywhere.

Workspaces isolate: a manager manages the workspaces it is a manager of and nothing else. It
adds users, projects and project members there only; it sees and names only the users of those
workspaces (another workspace's user is "no user named …", as one that does not exist); it
attributes answers only to users who may work on the project; and it never grants a role above
its own (:func:`require_grant`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from assay.domain.errors import NotFound, PermissionDenied, ValidationError
from assay.domain.numbers import parse_id
from assay.services.actors import ROLE_RANK, Actor, actor_from_row
from assay.store import accounts as acc
from assay.store import projects as proj_store

__all__ = [
    "DEFAULT_WORKSPACE",
    "authorize",
    "default_workspace_id",
    "author_role",
    "is_id",
    "load_project",
    "load_workspace",
    "managed_workspace_ids",
    "manages_user",
    "project_role",
    "require",
    "require_grant",
    "workspace_role",
]


def project_role(conn: Connection, actor: Actor, project: dict[str, Any]) -> str | None:
    """The actor's role on the project, or None when the project is not open to it."""
    if actor.is_admin:
        return "admin"
    if actor.id is None:
        return None
    return acc.project_role(conn, int(project["id"]), int(project["workspace_id"]), actor.id)


def is_id(ref: int | str) -> bool:
    """Whether a project reference is an id (a number a row can have), else a name."""
    return isinstance(ref, int) or parse_id(ref) is not None


def load_project(
    conn: Connection, actor: Actor, ref: int | str, *, need: str = "annotator"
) -> dict[str, Any]:
    """The project by id or name, if the actor may see it and has at least role ``need`` there.

    A project the actor may not see is reported as not found (no enumeration of ids or names).
    """
    project: dict[str, Any] | None = None
    role: str | None = None
    by_id = is_id(ref)
    if by_id and actor.id is not None and not actor.is_admin:
        project, role = acc.project_with_role(conn, int(ref), actor.id)  # one statement for both
    elif by_id:
        project = proj_store.get_project(conn, int(ref))
        role = project_role(conn, actor, project) if project else None
    if (project is None or role is None) and isinstance(ref, str):
        project, role = _by_name(conn, actor, ref)
    return authorize(project, role, ref, need)


def _by_name(conn: Connection, actor: Actor, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The one project of this name the actor may see (names are unique within a workspace)."""
    seen = [(p, r) for p in proj_store.projects_named(conn, name) if (r := project_role(conn, actor, p))]
    if len(seen) > 1:
        ids = ", ".join(str(p["id"]) for p, _ in seen)
        raise ValidationError(
            f"{len(seen)} projects are named {name!r} (ids {ids}, in different workspaces); name one by id",
            field="project",
        )
    return seen[0] if seen else (None, None)


def authorize(project: dict[str, Any] | None, role: str | None, ref: int | str, need: str) -> dict[str, Any]:
    """The project with its ``role``, if that role is at least ``need``; else not found or forbidden."""
    if project is None or role is None:
        raise NotFound(f"no project {ref!r}")
    require(role, need)
    project["role"] = role
    return project


def require(role: str, need: str) -> None:
    if ROLE_RANK.get(role, -1) < ROLE_RANK[need]:
        raise PermissionDenied(f"this needs the {need} role on the project; you are {role}")


def require_grant(own: str | None, role: str) -> None:
    """Nobody grants a role above its own (a manager makes managers, never admins)."""
    if role not in ROLE_RANK:
        raise ValidationError(f"unknown role {role!r}; one of {', '.join(ROLE_RANK)}", field="role")
    if own is None or ROLE_RANK[role] > ROLE_RANK.get(own, -1):
        raise PermissionDenied(f"you cannot grant the {role} role: it is above yours ({own})", field="role")


DEFAULT_WORKSPACE = "default"


def default_workspace_id(conn: Connection) -> int:
    """The default workspace (made when missing): where an admin's users and projects go unless
    it names another."""
    ws = acc.get_workspace_by_name(conn, DEFAULT_WORKSPACE)
    return int(ws["id"]) if ws else acc.insert_workspace(conn, DEFAULT_WORKSPACE)


def workspace_role(conn: Connection, actor: Actor, workspace_id: int) -> str | None:
    """The actor's role in the workspace (its membership's), or None when it is not a member."""
    if actor.is_admin:
        return "admin"
    if actor.id is None:
        return None
    return acc.user_workspace_role(conn, workspace_id, actor.id)


def load_workspace(conn: Connection, actor: Actor, name: str | None, *, need: str) -> dict[str, Any]:
    """The workspace named, if the actor has at least role ``need`` in it, with ``role`` set.

    Unnamed: for an admin the default workspace, for anyone else the one workspace where it has
    that role (naming one is needed when there are several). A workspace the actor is not a
    member of is reported as not found, like one that does not exist.
    """
    if actor.is_admin and name in (None, DEFAULT_WORKSPACE):  # (made on first use)
        found = acc.get_workspace(conn, default_workspace_id(conn))
    elif name is None:
        mine = [w for w in _memberships(conn, actor) if ROLE_RANK.get(w["role"], -1) >= ROLE_RANK[need]]
        if not mine:
            raise PermissionDenied(f"this needs the {need} role in a workspace; you have none")
        if len(mine) > 1:
            names = ", ".join(repr(w["name"]) for w in mine)
            raise ValidationError(f"name the workspace: you are a {need} in {names}", field="workspace")
        found = mine[0]
    else:
        found = acc.get_workspace_by_name(conn, name)
    role = workspace_role(conn, actor, int(found["id"])) if found else None
    if found is None or role is None:
        raise NotFound(f"no workspace named {name!r}", field="workspace")
    if ROLE_RANK.get(role, -1) < ROLE_RANK[need]:
        raise PermissionDenied(f"this needs the {need} role in workspace {found['name']!r}; you are {role}")
    return {**found, "role": role}


def _memberships(conn: Connection, actor: Actor) -> list[dict[str, Any]]:
    return acc.list_workspaces(conn, user_id=actor.id) if actor.id is not None else []


def managed_workspace_ids(conn: Connection, actor: Actor) -> list[int] | None:
    """The workspaces the actor manages (manager or above there); None: every one (an admin)."""
    if actor.is_admin:
        return None
    rank = ROLE_RANK["manager"]
    return [int(w["id"]) for w in _memberships(conn, actor) if ROLE_RANK.get(w["role"], -1) >= rank]


def manages_user(conn: Connection, actor: Actor, user: dict[str, Any]) -> bool:
    """Whether the actor may act on this user (set its password, act for it): an admin on anyone;
    a manager on a user of a workspace it manages whose role there is not above its own."""
    if actor.is_admin:
        return True
    if user.get("role") == "admin" or actor.id is None:
        return False
    for w in _memberships(conn, actor):
        mine = ROLE_RANK.get(w["role"], -1)
        theirs = acc.user_workspace_role(conn, int(w["id"]), int(user["id"]))
        if mine >= ROLE_RANK["manager"] and theirs is not None and ROLE_RANK.get(theirs, 99) <= mine:
            return True
    return False


def author_role(conn: Connection, project: dict[str, Any], user: dict[str, Any] | None) -> str | None:
    """The role on the project of the user an answer is attributed to; None when it may not work
    there (or does not exist): answers come only from people and models who may."""
    if user is None or not user.get("active", True):
        return None
    return project_role(conn, actor_from_row(user), project)
