"""Writing the audit log: every service change calls :func:`audit` inside its transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from assay.services.actors import Actor
from assay.store import events as event_store

__all__ = ["audit"]


def audit(
    conn: Connection,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object = None,
    *,
    project_id: int | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    event_store.write_event(
        conn,
        action,
        object_type,
        object_id,
        actor_id=actor.id,
        project_id=project_id,
        before=before,
        after=after,
    )
