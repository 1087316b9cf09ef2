"""The audit log: every service change calls :func:`audit` inside its transaction; admins check
its hash chain (:func:`verify`) and export its head (:func:`anchor`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection

from assay.domain.errors import PermissionDenied
from assay.services.actors import Actor
from assay.store import audit_chain
from assay.store import events as event_store
from assay.store.engine import Store
from assay.store.types import utcnow

__all__ = ["anchor", "audit", "verify"]


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


def _admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only admins check or anchor the audit log")


def verify(
    store: Store,
    actor: Actor,
    *,
    limit: int | None = None,
    anchor: dict[str, Any] | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Recompute the audit log's hash chain; ``broken`` names the first event where it fails.

    ``anchor`` (a head :func:`anchor` exported earlier: its ``seq`` and ``hash``) is checked too:
    the chain must reach it and hold the same hash there, else events were removed from its end
    or the log was rewritten from some point on (a chain recomputed over changed events)."""
    _admin(actor)
    with store.read() as conn:
        found = audit_chain.verify(conn, limit=limit, progress=progress)
        broken = found.broken
        if broken is None and anchor is not None:
            broken = audit_chain.check_anchor(conn, found, int(anchor["seq"]), str(anchor["hash"]))
    return {
        "ok": broken is None,
        "events": found.events,
        "head": {"seq": found.head_seq, "hash": found.head_hash},
        "broken": None
        if broken is None
        else {"seq": broken.seq, "event_id": broken.event_id, "reason": broken.reason},
    }


def anchor(store: Store, actor: Actor) -> dict[str, Any]:
    """The chain's head (the last event's seq and hash) and when it was read: kept outside the
    database, it lets a later verify show that no event up to it was changed or removed since."""
    _admin(actor)
    with store.read() as conn:
        seq, h = audit_chain.head(conn)
    return {"seq": seq, "hash": h, "at": utcnow().isoformat(), "database": store.key}
