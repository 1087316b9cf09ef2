"""Exposure to sensitive content: stretches of time a person had it revealed, and their sums."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import exposures, projects, records, users
from assay.store.types import utcnow

__all__ = ["insert_exposure", "project_sums", "record_in_project", "user_sums"]


def record_in_project(conn: Connection, record_id: int, project_id: int) -> bool:
    q = sa.select(records.c.id).where(records.c.id == record_id, records.c.project_id == project_id)
    return conn.execute(q).first() is not None


def insert_exposure(
    conn: Connection, *, project_id: int, user_id: int, record_id: int | None, context: str, ms: int
) -> int:
    row = {
        "project_id": project_id,
        "user_id": user_id,
        "record_id": record_id,
        "context": context,
        "ms": ms,
        "created_at": utcnow(),
    }
    return int(conn.execute(sa.insert(exposures).values(**row).returning(exposures.c.id)).scalar_one())


def _sums(today: datetime, week: datetime) -> list[Any]:
    ms = exposures.c.ms
    at = exposures.c.created_at
    return [
        sa.func.sum(ms).label("total_ms"),
        sa.func.sum(sa.case((at >= today, ms), else_=0)).label("today_ms"),
        sa.func.sum(sa.case((at >= week, ms), else_=0)).label("week_ms"),
        sa.func.count(sa.distinct(exposures.c.record_id)).label("records"),
        sa.func.count().label("stretches"),
        sa.func.min(at).label("first_at"),
        sa.func.max(at).label("last_at"),
    ]


def project_sums(conn: Connection, project_id: int, today: datetime, week: datetime) -> list[dict[str, Any]]:
    """Per person who had the project's sensitive content revealed: time in all, today, this week."""
    q = (
        sa.select(users.c.id.label("user_id"), users.c.name, *_sums(today, week))
        .join(users, users.c.id == exposures.c.user_id)
        .where(exposures.c.project_id == project_id)
        .group_by(users.c.id, users.c.name)
        .order_by(users.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def user_sums(conn: Connection, user_id: int, today: datetime, week: datetime) -> list[dict[str, Any]]:
    """One person's exposure per project."""
    q = (
        sa.select(projects.c.id.label("project_id"), projects.c.name.label("project"), *_sums(today, week))
        .join(projects, projects.c.id == exposures.c.project_id)
        .where(exposures.c.user_id == user_id)
        .group_by(projects.c.id, projects.c.name)
        .order_by(projects.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]
