"""Review: a reviewer accepts, rejects or corrects answers in a project's review queue.

Answers reach the queue at the project's ``review_rate`` (``sampled``), and always when
they fail a gold record (``gold_failed``), disagree with the others on a finished record
(``disagreement``) or leave a record unsure at the largest overlap (``low_confidence``).
A reviewer may also review any answer directly. Rejecting an answer discards it and
reopens a slot on its record; correcting it keeps the contributor's answer and makes the
corrected values count in consensus and exports.
"""

from __future__ import annotations

from typing import Any

from assay.domain import events as ev
from assay.domain.errors import Conflict, NotFound, ValidationError
from assay.domain.text import check_text
from assay.services import consensus
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.blind import Blinder
from assay.services.policies import load_project
from assay.services.schemas import compiled
from assay.store import consensus as cons_store
from assay.store import dispatch as dstore
from assay.store import records as rec_store
from assay.store.engine import Store

__all__ = ["VERDICTS", "decide_review", "review_queue", "review_response"]

VERDICTS = ("accept", "reject", "correct")


def review_queue(
    store: Store, actor: Actor, project_ref: int | str, *, after_id: int = 0, limit: int = 50
) -> list[dict[str, Any]]:
    """Pending reviews, each with its record, the other answers to it, and its consensus."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="reviewer")
        pid = int(project["id"])
        b = Blinder(compiled(project), project["role"])
        items = dstore.pending_reviews(conn, pid, after_id=after_id, limit=limit, exclude_user=actor.id)
        out = []
        for it in items:
            record = rec_store.get_record(conn, int(it["record_id"]))
            assert record is not None
            rid = int(it["record_id"])
            raw = record["fields"]
            others = [
                {
                    "response_id": r["id"],
                    "user_id": r["user_id"],
                    "user": r["user_name"],
                    "values": b.values(rid, raw, r["values"]),
                }
                for r in rec_store.responses_for_records(conn, pid, [rid]).get(rid, [])
                if r["id"] != it["response_id"]
            ]
            cons = cons_store.record_consensus(conn, int(it["record_id"]))
            out.append(
                {
                    "review_id": it["id"],
                    "reason": it["reason"],
                    "response": {
                        "id": it["response_id"],
                        "user": it["user_name"],
                        "values": b.values(rid, raw, it["values"]),
                        "gold_score": it["gold_score"],
                    },
                    "record": {
                        "id": record["id"],
                        "external_id": record["external_id"],
                        "fields": b.fields(rid, raw),
                        "gold": b.values(rid, raw, record["gold"]),
                    },
                    "others": others,
                    "consensus": {
                        q: {"value": b.values(rid, raw, {q: c["value"]})[q], "confidence": c["confidence"]}
                        for q, c in cons.items()
                    },
                }
            )
        return out


def _check_verdict(verdict: str) -> None:
    if verdict not in VERDICTS:
        raise ValidationError(f"verdict must be one of {', '.join(VERDICTS)}", field="verdict")


def decide_review(
    store: Store,
    actor: Actor,
    review_id: int,
    verdict: str,
    *,
    corrected_values: dict[str, Any] | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """Decide a pending review: ``accept``, ``reject`` (the slot reopens) or ``correct``."""
    _check_verdict(verdict)
    with store.tx() as conn:
        review = dstore.get_review(conn, review_id)
        if review is None:
            raise NotFound(f"no review {review_id}")
        project = load_project(conn, actor, int(review["project_id"]), need="reviewer")
        if review["verdict"] != "pending":
            raise Conflict(f"review {review_id} was decided already ({review['verdict']})")
        return _apply(conn, actor, project, review, verdict, corrected_values, comment)


def review_response(
    store: Store,
    actor: Actor,
    response_id: int,
    verdict: str,
    *,
    corrected_values: dict[str, Any] | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """Review any submitted answer directly (not only those in the queue)."""
    _check_verdict(verdict)
    with store.tx() as conn:
        response = dstore.get_response(conn, response_id)
        if response is None or response["status"] != "submitted":
            raise NotFound(f"no submitted response {response_id}")
        project = load_project(conn, actor, int(response["project_id"]), need="reviewer")
        rid = dstore.insert_review(conn, response_id, "direct")
        assert rid is not None
        review = dstore.get_review(conn, rid)
        assert review is not None
        return _apply(conn, actor, project, review, verdict, corrected_values, comment)


def _apply(
    conn: Any,
    actor: Actor,
    project: dict[str, Any],
    review: dict[str, Any],
    verdict: str,
    corrected_values: dict[str, Any] | None,
    comment: str | None,
) -> dict[str, Any]:
    if review["author_id"] == actor.id:
        raise Conflict("you cannot review your own answer")
    if comment is not None:
        check_text(comment, "comment")
    # (touched: a submit that read the record's answers before this verdict reads them again)
    record = dstore.record_for_update(conn, int(review["record_id"]), touch=True)
    assert record is not None
    cs = compiled(project)
    clean = None
    if verdict == "correct":
        if not isinstance(corrected_values, dict):
            raise ValidationError("a correction needs corrected_values", field="corrected_values")
        # (a reviewer who may not read models corrects in the record's letters)
        theirs = Blinder(cs, project.get("role")).unvalues(
            int(record["id"]), record["fields"], corrected_values
        )
        clean = cs.answers.validate(theirs, record["fields"])
    dstore.decide_review(
        conn,
        int(review["id"]),
        reviewer_id=actor.id,
        verdict=verdict,
        corrected_values=clean,
        comment=comment,
    )
    if verdict == "reject":
        dstore.update_response(conn, int(review["response_id"]), status="discarded")
        dstore.withdraw_answer(conn, int(record["id"]))
        dstore.refresh_status(conn, int(record["id"]))
    if not record["is_gold"]:
        consensus.update_record(conn, actor, project, cs, record)
    audit(
        conn,
        actor,
        ev.REVIEW_DECIDED,
        "review",
        review["id"],
        project_id=int(project["id"]),
        after={
            "response_id": review["response_id"],
            "record_id": record["id"],
            "verdict": verdict,
            "corrected_values": clean,
            "comment": comment,
        },
    )
    return {
        "review_id": review["id"],
        "response_id": review["response_id"],
        "verdict": verdict,
        "corrected_values": Blinder(cs, project.get("role")).values(
            int(record["id"]), record["fields"], clean
        ),
    }
