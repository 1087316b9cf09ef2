"""Who may do what to a project: one predicate per action, used by every service.

A project is open to every member of its workspace unless it names its own members; then
only to them. The role that counts on a project is the one its member list gives, else the
workspace membership's, else the user's own. An admin may do everything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from assay.domain.errors import NotFound, PermissionDenied
from assay.domain.numbers import MAX_ID
from assay.services.actors import ROLE_RANK, Actor
from assay.store import accounts as acc
from assay.store import projects as proj_store

__all__ = ["authorize", "is_id", "load_project", "project_role", "require"]


def project_role(conn: Connection, actor: Actor, project: dict[str, Any]) -> str | None:
    """The actor's role on the project, or None when the project is not open to it."""
    if actor.is_admin:
        return "admin"
    if actor.id is None:
        return None
    return acc.project_role(conn, int(project["id"]), int(project["workspace_id"]), actor.id)


def is_id(ref: int | str) -> bool:
    """Whether a project reference is an id (a number a row can have), else a name."""
    return (isinstance(ref, int) or ref.isdigit()) and int(ref) <= MAX_ID


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
    if project is None and isinstance(ref, str):
        project = proj_store.get_project_by_name(conn, ref)
        role = project_role(conn, actor, project) if project else None
    return authorize(project, role, ref, need)


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
