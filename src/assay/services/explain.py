"""Explain a label: for one record, the chain from the raw record to the value an export writes.

:func:`explain_record` gathers, for a record a reviewer (or above) may see:

* the record as stored (fields, metadata, gold, where it came from: its import or synthesis
  lineage in ``metadata``) and the suggestions (pre-labels) it carries, with the model that made each;
* every answer: who (person or model), when, how long it took, under which schema and guidelines
  version, which suggestions were shown and whether each was kept, its gold score, and every review
  decision on it (accept, reject, correct with the corrected values, by whom and when), with the
  values as they count (a reviewer's correction replaces the answer);
* per question, the consensus: its value, confidence, method, the answers it came from (each with
  its author and the value that counted) and the method's own details (posterior, project-wide fit);
* the value an export writes for it (:func:`assay.services.exports.render_consensus`);
* what personal data was found in the record on import (kind, field, span; never the text);
* the record's audit events, oldest first.

It reads what the store holds; it does not recompute anything, so it explains the label as it is
stored and exported now.
"""

from __future__ import annotations

from typing import Any

from assay.domain.errors import NotFound
from assay.services.actors import Actor
from assay.services.blind import Blinder
from assay.services.consensus import effective_values
from assay.services.exports import render_consensus
from assay.services.policies import load_project
from assay.services.records import record_history
from assay.services.schemas import compiled
from assay.store import explain as explain_store
from assay.store import personal_data as pii_store
from assay.store import records as rec_store
from assay.store.engine import Store

__all__ = ["explain_record", "find_record"]


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def find_record(store: Store, actor: Actor, project_ref: int | str, record_ref: str) -> int:
    """A record's id from its external id in a project (or its numeric id, when no external id
    matches); the actor must be a reviewer there."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="reviewer")
        pid = int(project["id"])
        rec = rec_store.get_record_by_external_id(conn, pid, record_ref)
        if rec is None and record_ref.isdigit():
            rec = rec_store.get_record(conn, int(record_ref))
            if rec is not None and int(rec["project_id"]) != pid:
                rec = None
        if rec is None:
            raise NotFound(f"no record {record_ref!r} in project {project['name']!r}", field="record")
        return int(rec["id"])


def _answer(r: dict[str, Any], reviews: list[dict[str, Any]]) -> dict[str, Any]:
    shown = r.get("suggestions_shown") or []
    extra = r.get("extra") or {}
    return {
        "response_id": r["id"],
        "user_id": r["user_id"],
        "user": r["user_name"],
        "kind": r["user_kind"],
        "status": r["status"],
        "values": r["values"],
        "counts_as": effective_values(r | {"corrected_values": r.get("review_corrected")}),
        "submitted_at": _iso(r["updated_at"]),
        "duration_ms": r["duration_ms"],
        "schema_version": r["schema_version"],
        "guidelines_version": r["guidelines_version"],
        "suggestion_shown": bool(shown),
        "suggestions_shown": [{k: s.get(k) for k in ("question", "value", "score", "model")} for s in shown],
        "suggestions_kept": r.get("suggestions_kept"),
        "gold_score": r["gold_score"],
        "imported_from": extra.get("imported_from"),
        "reviews": [
            {
                "review_id": v["id"],
                "reviewer": v["reviewer"],
                "verdict": v["verdict"],
                "reason": v["reason"],
                "corrected_values": v["corrected_values"],
                "comment": v["comment"],
                "created_at": _iso(v["created_at"]),
                "decided_at": _iso(v["decided_at"]),
            }
            for v in reviews
        ],
    }


def _consensus(
    c: dict[str, Any], answers: dict[int, dict[str, Any]], exported: dict[str, Any]
) -> dict[str, Any]:
    inputs = []
    for response_id in c["response_ids"] or []:
        a = answers.get(int(response_id))
        inputs.append(
            {
                "response_id": response_id,
                "user": a["user"] if a else None,
                "kind": a["kind"] if a else None,
                "value": a["counts_as"].get(c["question"]) if a else None,
                "corrected": bool(a and any(v["verdict"] == "correct" for v in a["reviews"][-1:])),
            }
        )
    return {
        "value": c["value"],
        "confidence": c["confidence"],
        "method": c["method"],
        "inputs": inputs,
        "details": c["details"],
        "updated_at": _iso(c["updated_at"]),
        "exported_value": exported.get(c["question"], {}).get("value"),
    }


def explain_record(store: Store, actor: Actor, record_id: int) -> dict[str, Any]:
    """The whole chain behind a record's labels (see the module docstring); reviewers and up."""
    history = record_history(store, actor, record_id)  # checks the actor may see the record
    with store.read() as conn:
        record = rec_store.get_record(conn, record_id)
        if record is None:
            raise NotFound(f"no record {record_id}")
        project = load_project(conn, actor, int(record["project_id"]), need="reviewer")
        pid, rid = int(project["id"]), int(record["id"])
        schema = compiled(project).schema
        responses = rec_store.responses_for_records(
            conn, pid, [rid], statuses=("submitted", "discarded")
        ).get(rid, [])
        reviews = explain_store.record_reviews(conn, rid)
        cons = rec_store.consensus_for_records(conn, pid, [rid]).get(rid, [])
        suggestions = rec_store.suggestions_for_records(conn, [rid]).get(rid, [])
        found = pii_store.findings_for_record(conn, rid)
    answers = [_answer(r, reviews.get(int(r["id"]), [])) for r in responses]
    by_id = {int(a["response_id"]): a for a in answers}
    row = {
        "fields": record["fields"],
        "consensus": {c["question"]: {"value": c["value"]} for c in cons},
    }
    exported = render_consensus(schema, row)["consensus"] if cons else {}
    # (a reviewer reads no models: the whole explanation in the record's letters)
    explained: dict[str, Any] = Blinder(compiled(project), project["role"]).scrub(
        rid,
        record["fields"],
        {
            "record": {
                "id": rid,
                "external_id": record["external_id"],
                "project_id": pid,
                "project": project["name"],
                "status": record["status"],
                "fields": record["fields"],
                "metadata": record["metadata"] or {},
                "is_gold": bool(record["is_gold"]),
                "gold": record["gold"],
                "created_at": _iso(record["created_at"]),
                "updated_at": _iso(record["updated_at"]),
            },
            "project": {
                "schema_version": project["schema_version"],
                "guidelines_version": project["guidelines_version"],
            },
            "suggestions": [
                {
                    "question": s["question"],
                    "value": s["value"],
                    "score": s["score"],
                    "model": s["model"],
                    "job_id": s.get("job_id"),
                    "created_at": _iso(s["created_at"]),
                }
                for s in suggestions
            ],
            "answers": answers,
            "consensus": {c["question"]: _consensus(c, by_id, exported) for c in cons},
            "personal_data": [
                {
                    "field": f["field"],
                    "kind": f["kind"],
                    "start": f["start"],
                    "end": f["end"],
                    "action": f["action"],
                }
                for f in found
            ],
            "history": [h | {"at": _iso(h["at"])} for h in history],
        },
    )
    return explained
