"""Browsing a project: record pages, one record, its history, suggestions, responses, consensus, events.

Who sees what:

* reviewers, managers and admins see records whole (gold, suggestions, every answer, consensus);
* an annotator sees a record only while it holds a live lease on it, and then only what the
  lease shows (no gold, no other answers); any other record is "not found", like a record
  that does not exist;
* an annotator sees its own responses only, without gold scores.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from assay.domain import events as ev
from assay.domain.errors import NotFound, ValidationError
from assay.domain.records import RecordValidator
from assay.services.actors import ROLE_RANK, Actor
from assay.services.audit import audit
from assay.services.blind import Blinder, blind_lease, shown_in_order
from assay.services.policies import load_project, project_role
from assay.services.schemas import compiled
from assay.store import browse
from assay.store import events as event_store
from assay.store import projects as proj_store
from assay.store import records as rec_store
from assay.store.engine import Store
from assay.store.types import utcnow

__all__ = [
    "FILTERS",
    "add_suggestions",
    "get_record",
    "list_consensus",
    "list_events",
    "list_records",
    "list_responses",
    "record_history",
]

FILTERS = browse.FILTERS


def _page_limit(limit: int) -> int:
    return max(1, min(int(limit), 1000))


def list_records(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    *,
    filter: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Records of a project in id order (``limit`` of them after ``after_id``), optionally filtered."""
    if filter is not None and filter not in FILTERS:
        raise ValidationError(f"filter must be one of {', '.join(FILTERS)}", field="filter")
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="reviewer")
        rows = browse.records_page(
            conn, int(project["id"]), filter=filter, after_id=after_id, limit=_page_limit(limit)
        )
    b = Blinder(compiled(project), project["role"])
    if b.on:
        for r in rows:
            raw = r["fields"]
            r["fields"] = b.fields(int(r["id"]), raw)
            r["gold"] = b.values(int(r["id"]), raw, r["gold"])
            r["metadata"] = b.metadata(r["metadata"])
    return rows


def _record_fields(conn: Connection, record_ids: set[int]) -> dict[int, dict[str, Any]]:
    return {rid: (rec_store.get_record(conn, rid) or {}).get("fields") or {} for rid in record_ids}


def _blind_values(conn: Connection, b: Blinder, rows: list[dict[str, Any]], *keys: str) -> None:
    """Each row's answers (``keys`` of it) in the letters of its record, for a role that may not
    read models."""
    if not b.on:
        return
    fields = _record_fields(conn, {int(r["record_id"]) for r in rows})
    for r in rows:
        rid = int(r["record_id"])
        for key in keys:
            r[key] = b.values(rid, fields[rid], r[key])


def _visible_record(
    conn: Connection, actor: Actor, record_id: int
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The record, its project and the actor's role there; NotFound when the actor may not see it."""
    record = rec_store.get_record(conn, record_id)
    project = proj_store.get_project(conn, int(record["project_id"])) if record else None
    role = project_role(conn, actor, project) if project else None
    if record is None or project is None or role is None:
        raise NotFound(f"no record {record_id}")
    return record, project, role


def get_record(store: Store, actor: Actor, record_id: int) -> dict[str, Any]:
    """One record: whole for reviewers and up; for an annotator only while it holds a lease on it."""
    with store.read() as conn:
        record, project, role = _visible_record(conn, actor, record_id)
        rid = int(record["id"])
        if ROLE_RANK.get(role, -1) < ROLE_RANK["reviewer"]:
            lease = browse.active_lease_on(conn, rid, actor.id or 0, utcnow())
            if lease is None:
                raise NotFound(f"no record {record_id}")
            suggestions = rec_store.suggestions_for_records(conn, [rid]).get(rid, [])
            # as the lease shows it: candidates in its order, blinded under its letters
            view = lease.get("view") or {}
            fields, metadata, _, _, shown = blind_lease(
                compiled(project),
                shown_in_order(record["fields"], view),
                record["metadata"] or {},
                view,
                None,
                [_suggestion(s) for s in suggestions],
            )
            return {
                "id": rid,
                "project_id": record["project_id"],
                "fields": fields,
                "metadata": metadata,
                "suggestions": [] if compiled(project).hide_suggestions else shown,
                "assignment_id": lease["id"],
                "lease_expires_at": lease["expires_at"],
            }
        pid = int(record["project_id"])
        responses = rec_store.responses_for_records(conn, pid, [rid]).get(rid, [])
        cons = rec_store.consensus_for_records(conn, pid, [rid]).get(rid, [])
        suggestions = rec_store.suggestions_for_records(conn, [rid]).get(rid, [])
    b = Blinder(compiled(project), role)
    raw = record["fields"]
    out = {k: v for k, v in record.items()}
    out["fields"] = b.fields(rid, raw)
    out["gold"] = b.values(rid, raw, record["gold"])
    out["metadata"] = b.metadata(record["metadata"] or {})
    out["suggestions"] = b.suggestions(rid, raw, [_suggestion(s) for s in suggestions])
    out["responses"] = [
        {
            "id": r["id"],
            "user_id": r["user_id"],
            "user": r["user_name"],
            "kind": r["user_kind"],
            "values": b.values(rid, raw, r["values"]),
            "duration_ms": r["duration_ms"],
            "gold_score": r["gold_score"],
            "review": r["review_verdict"],
            "corrected_values": b.values(rid, raw, r["review_corrected"]),
            "submitted_at": r["updated_at"],
        }
        for r in responses
    ]
    out["consensus"] = {
        c["question"]: {
            "value": b.values(rid, raw, {c["question"]: c["value"]})[c["question"]],
            "confidence": c["confidence"],
            "method": c["method"],
            "response_ids": c["response_ids"],
        }
        for c in cons
    }
    return out


def _suggestion(s: dict[str, Any]) -> dict[str, Any]:
    return {k: s.get(k) for k in ("question", "value", "score", "model")}


def record_history(store: Store, actor: Actor, record_id: int) -> list[dict[str, Any]]:
    """The audit events of a record: leases, answers, reviews and consensus changes, oldest first."""
    with store.read() as conn:
        record, project, _ = _visible_record(conn, actor, record_id)
        seen = load_project(conn, actor, int(project["id"]), need="reviewer")
        rows = browse.record_event_rows(conn, int(record["id"]))
    b = Blinder(compiled(project), seen["role"])
    events = [_event(r) for r in rows]
    if b.on:
        rid, raw = int(record["id"]), record["fields"]
        for e in events:
            e["before"] = _blind_payload(b, rid, raw, e["before"])
            e["after"] = _blind_payload(b, rid, raw, e["after"])
    return events


def _blind_payload(b: Blinder, rid: int, raw: dict[str, Any], data: Any) -> Any:
    """An event's before or after as a role that may not read models sees it."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key in ("values", "corrected_values", "gold"):
        if isinstance(out.get(key), dict):
            out[key] = b.values(rid, raw, out[key])
    if isinstance(out.get("fields"), dict):
        out["fields"] = b.fields(rid, raw)
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = b.metadata(out["metadata"])
    if isinstance(out.get("suggestions"), list):
        out["suggestions"] = b.suggestions(rid, raw, out["suggestions"])
    for q in b.naming() & set(out):  # consensus changes: {question: {value, confidence}}
        if isinstance(out[q], dict) and "value" in out[q]:
            out[q] = out[q] | {"value": b.values(rid, raw, {q: out[q]["value"]})[q]}
    return out


def _event(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "at": r["at"],
        "action": r["action"],
        "actor_id": r["actor_id"],
        "actor": r.get("actor_name"),
        "object_type": r["object_type"],
        "object_id": r["object_id"],
        "project_id": r["project_id"],
        "before": r["before"],
        "after": r["after"],
    }


def add_suggestions(
    store: Store, actor: Actor, record_id: int, suggestions: list[dict[str, Any]], *, replace: bool = False
) -> dict[str, Any]:
    """Add pre-labels to a record (validated against the project's questions); managers only."""
    with store.tx() as conn:
        record, project, _ = _visible_record(conn, actor, record_id)
        load_project(conn, actor, int(project["id"]), need="manager")
        validator = RecordValidator(compiled(project).schema)
        try:
            checked = validator.validate(
                {"external_id": record["external_id"], "fields": record["fields"], "suggestions": suggestions}
            ).suggestions
        except ValidationError as e:
            raise e.at(field="body") from None
        rid = int(record["id"])
        rows = [
            {"record_id": rid, "question": s.question, "value": s.value, "score": s.score, "model": s.model}
            for s in checked
        ]
        rec_store.replace_suggestions(conn, [rid] if replace else [], rows)
        audit(
            conn,
            actor,
            ev.RECORD_UPDATED,
            "record",
            rid,
            project_id=int(project["id"]),
            after={"suggestions": [_suggestion(r) for r in rows], "replace": replace},
        )
        current = rec_store.suggestions_for_records(conn, [rid]).get(rid, [])
    return {"record_id": rid, "suggestions": [_suggestion(s) for s in current]}


def list_responses(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    *,
    user_id: int | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Submitted (and discarded) responses; an annotator gets only its own, without gold scores."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="annotator")
        annotator = ROLE_RANK.get(project["role"], -1) < ROLE_RANK["reviewer"]
        if annotator:
            user_id = actor.id or 0
        rows = browse.responses_page(
            conn, int(project["id"]), user_id=user_id, after_id=after_id, limit=_page_limit(limit)
        )
        _blind_values(conn, Blinder(compiled(project), project["role"]), rows, "values")
    if annotator:
        for r in rows:
            r.pop("gold_score", None)
            r.pop("is_gold", None)
    return rows


def list_consensus(
    store: Store, actor: Actor, project_ref: int | str, *, after_id: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="reviewer")
        rows = browse.consensus_page(conn, int(project["id"]), after_id=after_id, limit=_page_limit(limit))
        b = Blinder(compiled(project), project["role"])
        if b.on:
            fields = _record_fields(conn, {int(r["record_id"]) for r in rows})
            for r in rows:
                rid = int(r["record_id"])
                r["consensus"] = {
                    q: c | {"value": b.values(rid, fields[rid], {q: c["value"]})[q]}
                    for q, c in r["consensus"].items()
                }
        return rows


def list_events(
    store: Store, actor: Actor, project_ref: int | str, *, after_id: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """The project's audit log, oldest first; managers only."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        rows = event_store.list_events(
            conn, project_id=int(project["id"]), after_id=after_id, limit=_page_limit(limit)
        )
    return [_event(r) for r in rows]
