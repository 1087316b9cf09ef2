"""Workspaces, users (human or model contributors), memberships and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.domain.text import name_key
from assay.store.statements import run
from assay.store.tables import memberships, project_members, projects, tokens, users, workspaces
from assay.store.types import new_id as _new_id
from assay.store.types import utcnow

__all__ = [
    "delete_tokens",
    "project_role",
    "project_with_role",
    "role_columns",
    "role_of",
    "split_role",
    "add_membership",
    "add_project_member",
    "get_user",
    "get_user_by_name",
    "get_workspace",
    "get_workspace_by_name",
    "insert_token",
    "insert_user",
    "insert_workspace",
    "list_project_members",
    "list_tokens",
    "list_users",
    "list_workspaces",
    "revoke_token",
    "token_user",
    "update_user",
    "user_workspace_role",
]


def insert_workspace(conn: Connection, name: str) -> int:
    return _new_id(conn.execute(workspaces.insert().values(name=name, created_at=utcnow())))


def get_workspace(conn: Connection, workspace_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(workspaces).where(workspaces.c.id == workspace_id)).first()
    return dict(row._mapping) if row else None


def get_workspace_by_name(conn: Connection, name: str) -> dict[str, Any] | None:
    name = name_key(name)
    if "\x00" in name:  # (no name holds one; PostgreSQL refuses it in a query)
        return None
    row = conn.execute(sa.select(workspaces).where(workspaces.c.name == name)).first()
    return dict(row._mapping) if row else None


def list_workspaces(conn: Connection, *, user_id: int | None = None) -> list[dict[str, Any]]:
    """Every workspace; with ``user_id``, those the user is a member of, with its ``role`` there."""
    q = sa.select(workspaces).order_by(workspaces.c.id)
    if user_id is not None:
        q = (
            q.add_columns(memberships.c.role)
            .join(memberships, memberships.c.workspace_id == workspaces.c.id)
            .where(memberships.c.user_id == user_id)
        )
    return [dict(r._mapping) for r in conn.execute(q)]


def insert_user(conn: Connection, **values: Any) -> int:
    values.setdefault("created_at", utcnow())
    return _new_id(conn.execute(users.insert().values(**values)))


def update_user(conn: Connection, user_id: int, **values: Any) -> None:
    conn.execute(users.update().where(users.c.id == user_id).values(**values))


def get_user(conn: Connection, user_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    return dict(row._mapping) if row else None


def get_user_by_name(conn: Connection, name: str) -> dict[str, Any] | None:
    """The user of this name, compared as names are stored (NFKC: :func:`name_key`)."""
    name = name_key(name)
    if "\x00" in name:  # (no name holds one; PostgreSQL refuses it in a query)
        return None
    row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    return dict(row._mapping) if row else None


def first_admin(conn: Connection) -> dict[str, Any] | None:
    """The instance's first active admin (the one ``assay init`` made, unless it left)."""
    q = (
        sa.select(users)
        .where(users.c.role == "admin", users.c.active.is_(True))
        .order_by(users.c.id)
        .limit(1)
    )
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def list_users(conn: Connection, *, workspace_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Every user; with ``workspace_ids``, the members of those workspaces."""
    q = sa.select(users).order_by(users.c.id)
    if workspace_ids is not None:
        members = sa.select(memberships.c.user_id).where(memberships.c.workspace_id.in_(workspace_ids))
        q = q.where(users.c.id.in_(members))
    return [dict(r._mapping) for r in conn.execute(q)]


def add_membership(conn: Connection, workspace_id: int, user_id: int, role: str) -> None:
    exists = conn.execute(
        sa.select(memberships.c.role).where(
            memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id
        )
    ).first()
    if exists:
        conn.execute(
            memberships.update()
            .where(memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id)
            .values(role=role)
        )
    else:
        conn.execute(memberships.insert().values(workspace_id=workspace_id, user_id=user_id, role=role))


def user_workspace_role(conn: Connection, workspace_id: int, user_id: int) -> str | None:
    row = conn.execute(
        sa.select(memberships.c.role).where(
            memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id
        )
    ).first()
    return str(row[0]) if row else None


def add_project_member(conn: Connection, project_id: int, user_id: int, role: str) -> None:
    conn.execute(
        project_members.delete().where(
            project_members.c.project_id == project_id, project_members.c.user_id == user_id
        )
    )
    conn.execute(project_members.insert().values(project_id=project_id, user_id=user_id, role=role))


def list_project_members(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    q = (
        sa.select(project_members.c.user_id, project_members.c.role, users.c.name, users.c.kind)
        .join(users, users.c.id == project_members.c.user_id)
        .where(project_members.c.project_id == project_id)
        .order_by(users.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def insert_token(
    conn: Connection,
    user_id: int,
    token_hash: str,
    *,
    name: str = "default",
    kind: str = "api",
    expires_at: datetime | None = None,
) -> int:
    return _new_id(
        conn.execute(
            tokens.insert().values(
                user_id=user_id,
                token_hash=token_hash,
                name=name,
                kind=kind,
                expires_at=expires_at,
                created_at=utcnow(),
            )
        )
    )


# Built once: every API request authenticates with it.
_TOKEN_USER = (
    sa.select(users, tokens.c.id.label("token_id"), tokens.c.kind.label("token_kind"), tokens.c.expires_at)
    .join(users, users.c.id == tokens.c.user_id)
    .where(tokens.c.token_hash == sa.bindparam("h"), tokens.c.revoked_at.is_(None), users.c.active.is_(True))
)


def token_user(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    """The active user holding this (unrevoked, unexpired) token, with ``token_id`` and ``token_kind``."""
    row = conn.execute(_TOKEN_USER, {"h": token_hash}).first()
    if row is None:
        return None
    out = dict(row._mapping)
    if out["expires_at"] is not None and out["expires_at"] < utcnow():
        return None
    return out


def list_tokens(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    q = (
        sa.select(tokens.c.id, tokens.c.name, tokens.c.kind, tokens.c.created_at, tokens.c.revoked_at)
        .where(tokens.c.user_id == user_id, tokens.c.kind == "api")
        .order_by(tokens.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def revoke_token(conn: Connection, token_id: int, *, user_id: int | None = None) -> bool:
    q = tokens.update().where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
    if user_id is not None:
        q = q.where(tokens.c.user_id == user_id)
    return conn.execute(q.values(revoked_at=utcnow())).rowcount > 0


def delete_tokens(conn: Connection, user_id: int) -> int:
    """Remove every token of a user (API tokens and browser sessions); returns how many."""
    return int(conn.execute(tokens.delete().where(tokens.c.user_id == user_id)).rowcount or 0)


def revoke_token_hash(conn: Connection, token_hash: str) -> None:
    conn.execute(
        tokens.update()
        .where(tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# The role a user has on a project, as columns of one statement (checked on every request that
# names a project): the project's own member list when it has one, else the workspace membership.
def role_columns(project_id: Any, workspace_id: Any, user_id: Any) -> tuple[Any, ...]:
    return (
        sa.select(project_members.c.role)
        .where(project_members.c.project_id == project_id, project_members.c.user_id == user_id)
        .scalar_subquery()
        .label("member_role"),
        sa.exists().where(project_members.c.project_id == project_id).label("has_members"),
        sa.select(memberships.c.role)
        .where(memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id)
        .scalar_subquery()
        .label("workspace_role"),
    )


_PROJECT_ROLE = sa.select(*role_columns(sa.bindparam("pid"), sa.bindparam("wid"), sa.bindparam("uid")))
_PROJECT_WITH_ROLE = sa.select(
    projects, *role_columns(projects.c.id, projects.c.workspace_id, sa.bindparam("uid"))
).where(projects.c.id == sa.bindparam("pid"))
_ROLE_KEYS = ("member_role", "has_members", "workspace_role")


def role_of(row: Any) -> str | None:
    """The role from a row (or mapping) with :func:`role_columns`; None: the project is not open to the user."""
    m = getattr(row, "_mapping", row)
    if m["has_members"]:
        return None if m["member_role"] is None else str(m["member_role"])
    return None if m["workspace_role"] is None else str(m["workspace_role"])


def project_role(conn: Connection, project_id: int, workspace_id: int, user_id: int) -> str | None:
    """The user's role on a project, or None when the project is not open to it."""
    return role_of(
        conn.execute(_PROJECT_ROLE, {"pid": project_id, "uid": user_id, "wid": workspace_id}).one()
    )


def project_with_role(
    conn: Connection, project_id: int, user_id: int
) -> tuple[dict[str, Any] | None, str | None]:
    """The project row and the user's role on it, in one statement; (None, None) when there is none."""
    row = run(
        conn, "project_with_role", lambda pg: _PROJECT_WITH_ROLE, {"pid": project_id, "uid": user_id}
    ).first()
    return (None, None) if row is None else split_role(row)


def split_role(row: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A project row read with :func:`role_columns`: the project alone, and the role."""
    return {k: v for k, v in row.items() if k not in _ROLE_KEYS}, role_of(row)
