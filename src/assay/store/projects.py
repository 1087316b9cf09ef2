"""Projects and their schema history."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.domain.text import name_key
from assay.store.tables import project_members, projects, schema_versions
from assay.store.types import new_id as _new_id
from assay.store.types import utcnow

__all__ = [
    "get_project",
    "get_project_by_name",
    "projects_named",
    "insert_project",
    "list_projects",
    "list_schema_versions",
    "update_project_schema",
]


def insert_project(conn: Connection, workspace_id: int, name: str, schema: dict[str, Any]) -> int:
    now = utcnow()
    pid = _new_id(
        conn.execute(
            projects.insert().values(
                workspace_id=workspace_id,
                name=name,
                schema=schema,
                schema_version=1,
                guidelines_version=1,
                created_at=now,
                updated_at=now,
            )
        )
    )
    conn.execute(
        schema_versions.insert().values(
            project_id=pid, version=1, guidelines_version=1, schema=schema, created_at=now
        )
    )
    return pid


_GET_PROJECT = sa.select(projects).where(projects.c.id == sa.bindparam("pid"))


def get_project(conn: Connection, project_id: int) -> dict[str, Any] | None:
    row = conn.execute(_GET_PROJECT, {"pid": project_id}).first()
    return dict(row._mapping) if row else None


def get_project_by_name(conn: Connection, workspace_id: int, name: str) -> dict[str, Any] | None:
    """The workspace's project of this name (names are unique within a workspace)."""
    q = sa.select(projects).where(projects.c.workspace_id == workspace_id, projects.c.name == name_key(name))
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def projects_named(conn: Connection, name: str) -> list[dict[str, Any]]:
    """Every project of this name (compared as names are stored), one per workspace at most, in id order."""
    name = name_key(name)
    if "\x00" in name:  # (no name holds one; PostgreSQL refuses it in a query)
        return []
    q = sa.select(projects).where(projects.c.name == name).order_by(projects.c.id)
    return [dict(r._mapping) for r in conn.execute(q)]


def list_projects(
    conn: Connection,
    *,
    workspace_ids: list[int] | None = None,
    member_id: int | None = None,
    after_id: int = 0,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Projects in id order; with ``member_id``, only those open to that user.

    A project is open to every member of its workspace (``workspace_ids``) unless it names
    its own members; then only to them.
    """
    q = sa.select(projects).where(projects.c.id > after_id).order_by(projects.c.id).limit(limit)
    if workspace_ids is not None or member_id is not None:
        named = sa.select(project_members.c.project_id).where(project_members.c.project_id == projects.c.id)
        mine = sa.select(project_members.c.project_id).where(
            project_members.c.project_id == projects.c.id, project_members.c.user_id == member_id
        )
        q = q.where(
            sa.or_(
                sa.and_(projects.c.workspace_id.in_(workspace_ids or []), ~sa.exists(named)),
                sa.exists(mine),
            )
        )
    return [dict(r._mapping) for r in conn.execute(q)]


def update_project_schema(
    conn: Connection,
    project_id: int,
    schema: dict[str, Any],
    *,
    schema_version: int,
    guidelines_version: int,
) -> None:
    now = utcnow()
    conn.execute(
        projects.update()
        .where(projects.c.id == project_id)
        .values(
            schema=schema,
            schema_version=schema_version,
            guidelines_version=guidelines_version,
            updated_at=now,
            name=schema.get("name"),
        )
    )
    conn.execute(
        schema_versions.insert().values(
            project_id=project_id,
            version=schema_version,
            guidelines_version=guidelines_version,
            schema=schema,
            created_at=now,
        )
    )


def list_schema_versions(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    q = (
        sa.select(schema_versions)
        .where(schema_versions.c.project_id == project_id)
        .order_by(schema_versions.c.version)
    )
    return [dict(r._mapping) for r in conn.execute(q)]
