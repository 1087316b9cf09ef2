"""Projects: create from a schema, list, show, and edit with versioned schema and guidelines."""

from __future__ import annotations

from typing import Any

from assay.domain import events as ev
from assay.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from assay.domain.schema import ProjectSchema
from assay.services.actors import ROLE_RANK, Actor
from assay.services.audit import audit
from assay.services.policies import load_project, load_workspace, require_grant
from assay.store import accounts as acc
from assay.store import projects as proj_store
from assay.store import records as rec_store
from assay.store.engine import Store

__all__ = [
    "add_member",
    "create_project",
    "get_project",
    "list_members",
    "list_projects",
    "project_schema",
    "update_project",
]


def project_schema(project: dict[str, Any]) -> ProjectSchema:
    return ProjectSchema.from_dict(project["schema"])


def _summary(project: dict[str, Any], counts: dict[str, int] | None = None) -> dict[str, Any]:
    out = {
        "id": project["id"],
        "name": project["name"],
        "workspace_id": project["workspace_id"],
        "schema_version": project["schema_version"],
        "guidelines_version": project["guidelines_version"],
        "created_at": project["created_at"],
        "updated_at": project["updated_at"],
        "schema": project["schema"],
    }
    if "role" in project:
        out["role"] = project["role"]
    if counts is not None:
        out.update(counts)
    return out


def create_project(
    store: Store,
    actor: Actor,
    schema: ProjectSchema | dict[str, Any],
    *,
    name: str | None = None,
    workspace: str | None = None,
) -> dict[str, Any]:
    """Create a project from a schema (``name`` overrides the schema's name) in a workspace the
    actor manages (unnamed: the one it manages; an admin's: the default workspace). Project names
    are unique within a workspace."""
    if not actor.at_least("manager"):
        raise PermissionDenied("only managers and admins create projects")
    if isinstance(schema, dict):
        schema = ProjectSchema.from_dict(schema)
    if name:
        schema = ProjectSchema.from_dict({**schema.to_dict(), "name": name})
    doc = schema.to_dict()
    with store.tx() as conn:
        ws_id = int(load_workspace(conn, actor, workspace, need="manager")["id"])
        if proj_store.get_project_by_name(conn, ws_id, schema.name):
            raise Conflict(f"a project named {schema.name!r} exists already in its workspace", field="name")
        pid = proj_store.insert_project(conn, ws_id, schema.name, doc)
        audit(conn, actor, ev.PROJECT_CREATED, "project", pid, project_id=pid, after=doc)
        project = proj_store.get_project(conn, pid)
    assert project is not None
    return _summary(project)


def get_project(store: Store, actor: Actor, ref: int | str, *, counts: bool = True) -> dict[str, Any]:
    """The project with its counts of records; of gold and done records, for reviewers and up
    (an annotator who saw ``done_records`` move after an answer, and not after another, would
    know which record was gold: gold records are never done)."""
    with store.read() as conn:
        project = load_project(conn, actor, ref)
        extra = None
        if counts:
            pid = int(project["id"])
            extra = {"records": rec_store.count_records(conn, pid)}
            if ROLE_RANK[project["role"]] >= ROLE_RANK["reviewer"]:
                extra["gold_records"] = rec_store.count_records(conn, pid, is_gold=True)
                extra["done_records"] = rec_store.count_records(conn, pid, status="done")
    return _summary(project, extra)


def list_projects(
    store: Store, actor: Actor, *, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    with store.read() as conn:
        if actor.is_admin:
            rows = proj_store.list_projects(conn, after_id=after_id, limit=limit)
        else:
            ws_ids = [int(w["id"]) for w in acc.list_workspaces(conn, user_id=actor.id)]
            rows = proj_store.list_projects(
                conn, workspace_ids=ws_ids, member_id=actor.id, after_id=after_id, limit=limit
            )
        out = []
        for p in rows:
            counts = {"records": rec_store.count_records(conn, int(p["id"]))}
            if actor.id is not None:
                counts["left_for_me"] = rec_store.count_open_for(conn, int(p["id"]), actor.id)
            out.append(_summary(p, counts))
        return out


def update_project(
    store: Store,
    actor: Actor,
    ref: int | str,
    *,
    schema: ProjectSchema | dict[str, Any] | None = None,
    guidelines: str | None = None,
) -> dict[str, Any]:
    """Replace the schema and/or the guidelines; each change bumps its own version.

    Responses keep the versions they answered; records keep their values, so a new schema
    must still accept existing questions' names where responses refer to them.
    """
    with store.tx() as conn:
        project = load_project(conn, actor, ref, need="manager")
        old = ProjectSchema.from_dict(project["schema"])
        new = old
        if schema is not None:
            new = schema if isinstance(schema, ProjectSchema) else ProjectSchema.from_dict(schema)
        if guidelines is not None:
            new = ProjectSchema.from_dict({**new.to_dict(), "guidelines": guidelines})
        old_doc, new_doc = old.to_dict(), new.to_dict()
        if new.name != old.name and proj_store.get_project_by_name(
            conn, int(project["workspace_id"]), new.name
        ):
            raise Conflict(f"a project named {new.name!r} exists already in its workspace", field="name")
        body_changed = {k: v for k, v in old_doc.items() if k != "guidelines"} != {
            k: v for k, v in new_doc.items() if k != "guidelines"
        }
        guidelines_changed = old_doc.get("guidelines") != new_doc.get("guidelines")
        if not body_changed and not guidelines_changed:
            return _summary(project)
        if body_changed and not new.questions:
            raise ValidationError("a project needs at least one question", field="questions")
        sv = int(project["schema_version"]) + (1 if body_changed else 0)
        gv = int(project["guidelines_version"]) + (1 if guidelines_changed else 0)
        proj_store.update_project_schema(
            conn, int(project["id"]), new_doc, schema_version=sv, guidelines_version=gv
        )
        audit(
            conn,
            actor,
            ev.SCHEMA_UPDATED if body_changed else ev.PROJECT_UPDATED,
            "project",
            project["id"],
            project_id=int(project["id"]),
            before={
                "schema_version": project["schema_version"],
                "guidelines_version": project["guidelines_version"],
                "schema": old_doc,
            },
            after={"schema_version": sv, "guidelines_version": gv, "schema": new_doc},
        )
        updated = proj_store.get_project(conn, int(project["id"]))
    assert updated is not None
    return _summary(updated)


def add_member(store: Store, actor: Actor, ref: int | str, user_name: str, role: str) -> None:
    """Name a project member (once a project names members, only they may see it): a user of the
    project's workspace (an admin may name anyone), with a role not above the actor's own on the
    project."""
    with store.tx() as conn:
        project = load_project(conn, actor, ref, need="manager")
        require_grant(project["role"], role)
        user = acc.get_user_by_name(conn, user_name)
        if user is None or not (
            actor.is_admin or acc.user_workspace_role(conn, int(project["workspace_id"]), int(user["id"]))
        ):
            raise NotFound(f"no user named {user_name!r} in the project's workspace", field="user")
        acc.add_project_member(conn, int(project["id"]), int(user["id"]), role)
        audit(
            conn,
            actor,
            ev.MEMBER_ADDED,
            "project",
            project["id"],
            project_id=int(project["id"]),
            after={"user_id": user["id"], "role": role},
        )


def list_members(store: Store, actor: Actor, ref: int | str) -> list[dict[str, Any]]:
    """The project's named members (empty: the project is open to its whole workspace)."""
    with store.read() as conn:
        project = load_project(conn, actor, ref, need="manager")
        return acc.list_project_members(conn, int(project["id"]))
