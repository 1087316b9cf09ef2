"""Exposure to sensitive content: how long each person had it revealed (red-teaming, #27).

A project marks content as sensitive (``content_warning`` on the project, ``sensitive: true`` on
a field or question); the UI shows it blurred behind a content warning until the person reveals
it, and reports each stretch it stayed revealed (``record_exposure``). The figures are for the
people's well-being: how long each was exposed in all, today and in the last seven days, over how
many records, so that a lead can rotate people and cap daily exposure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from assay.domain.errors import ValidationError
from assay.services.actors import Actor
from assay.services.policies import load_project
from assay.store import exposures as exp_store
from assay.store.engine import Store
from assay.store.types import utcnow

__all__ = ["CONTEXTS", "MAX_STRETCH_MS", "my_exposure", "project_exposure", "record_exposure"]

CONTEXTS = ("work", "review", "dashboard")
MAX_STRETCH_MS = 24 * 3600 * 1000
"""The longest one report may be (a day): the UI reports a stretch when it ends."""


def _bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return today, now - timedelta(days=7)


def _figures(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "total_ms": int(r["total_ms"] or 0),
        "today_ms": int(r["today_ms"] or 0),
        "week_ms": int(r["week_ms"] or 0),
        "records": int(r["records"] or 0),
        "stretches": int(r["stretches"] or 0),
        "first_at": r["first_at"],
        "last_at": r["last_at"],
    }


def record_exposure(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    ms: int,
    *,
    record_id: int | None = None,
    context: str = "work",
) -> dict[str, Any]:
    """Store one stretch of ``ms`` milliseconds the actor had the project's sensitive content revealed."""
    if isinstance(ms, bool) or not isinstance(ms, int) or not 0 < ms <= MAX_STRETCH_MS:
        raise ValidationError(f"must be a whole number of milliseconds in 1..{MAX_STRETCH_MS}", field="ms")
    if context not in CONTEXTS:
        raise ValidationError(f"must be one of: {', '.join(CONTEXTS)}", field="context")
    if actor.id is None:
        raise ValidationError("only a user's exposure is recorded", field="user")
    with store.tx() as conn:
        pid = int(load_project(conn, actor, project_ref, need="annotator")["id"])
        if record_id is not None and not exp_store.record_in_project(conn, record_id, pid):
            raise ValidationError(f"the project has no record {record_id}", field="record_id")
        eid = exp_store.insert_exposure(
            conn, project_id=pid, user_id=actor.id, record_id=record_id, context=context, ms=ms
        )
    return {"id": eid, "project_id": pid, "record_id": record_id, "context": context, "ms": ms}


def project_exposure(store: Store, actor: Actor, project_ref: int | str) -> dict[str, Any]:
    """Per person (managers): time with the project's sensitive content revealed."""
    today, week = _bounds()
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        rows = exp_store.project_sums(conn, int(project["id"]), today, week)
    items = [{"user_id": r["user_id"], "name": r["name"]} | _figures(r) for r in rows]
    return {
        "project_id": project["id"],
        "items": items,
        "total_ms": sum(i["total_ms"] for i in items),
        "today_ms": sum(i["today_ms"] for i in items),
    }


def my_exposure(store: Store, actor: Actor) -> dict[str, Any]:
    """The caller's own exposure, per project and in total."""
    if actor.id is None:
        return {"projects": [], "total": {"total_ms": 0, "today_ms": 0, "week_ms": 0}}
    today, week = _bounds()
    with store.read() as conn:
        rows = exp_store.user_sums(conn, actor.id, today, week)
    items = [{"project_id": r["project_id"], "project": r["project"]} | _figures(r) for r in rows]
    return {
        "projects": items,
        "total": {k: sum(i[k] for i in items) for k in ("total_ms", "today_ms", "week_ms")},
    }
