"""Dataset versions (immutable snapshots of a project) and the reads the evaluation services need."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import assignments, dataset_versions, responses, users
from assay.store.types import new_id, utcnow

__all__ = [
    "count_versions",
    "get_version",
    "insert_version",
    "list_versions",
    "response_views",
]


def insert_version(conn: Connection, **values: Any) -> int:
    values.setdefault("created_at", utcnow())
    return new_id(conn.execute(dataset_versions.insert().values(**values)))


def get_version(conn: Connection, project_id: int, name: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(dataset_versions).where(
            dataset_versions.c.project_id == project_id, dataset_versions.c.name == name
        )
    ).first()
    return dict(row._mapping) if row else None


def list_versions(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    q = (
        sa.select(dataset_versions)
        .where(dataset_versions.c.project_id == project_id)
        .order_by(dataset_versions.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def count_versions(conn: Connection, project_id: int) -> int:
    q = (
        sa.select(sa.func.count())
        .select_from(dataset_versions)
        .where(dataset_versions.c.project_id == project_id)
    )
    return int(conn.execute(q).scalar_one())


def response_views(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Submitted responses with the view their assignment showed (candidate order), for bias analyses."""
    q = (
        sa.select(
            responses.c.id,
            responses.c.record_id,
            responses.c["values"],
            assignments.c.view,
            users.c.name.label("user_name"),
            users.c.kind.label("user_kind"),
        )
        .join(assignments, assignments.c.id == responses.c.assignment_id)
        .join(users, users.c.id == responses.c.user_id)
        .where(responses.c.project_id == project_id, responses.c.status == "submitted")
        .order_by(responses.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]
