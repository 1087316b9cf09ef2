"""Dispatch: leasing records to contributors and taking their answers.

The rules, all enforced inside one short transaction per call (``BEGIN IMMEDIATE`` on SQLite,
row locks with ``SKIP LOCKED`` on PostgreSQL):

* a record gets ``overlap`` answers and no more (adaptive overlap may raise a record's target
  up to ``overlap.max`` while it is not confident enough);
* never the same record twice to one contributor;
* an expired lease frees its slot; calling ``next`` while holding a lease returns that lease;
* records needing skills go only to contributors who have all of them, and a project's
  routing skills are needed for any of its records;
* gold records are mixed in at ``gold_rate``, looking like any other record;
* a contributor first answers ``qualification.count`` gold records and needs
  ``qualification.min_accuracy`` on them; one whose gold accuracy falls clearly below the
  project's ``quality_bar`` is paused;
* higher ``priority`` first, then import order.
"""

from __future__ import annotations

import functools
import random
import time
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from itertools import combinations
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from assay.domain import events as ev
from assay.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from assay.domain.fields import candidate_ids
from assay.domain.gold import FEEDBACK_BLOCK, gold_score, suggestions_kept
from assay.domain.numbers import check_duration
from assay.domain.text import check_text
from assay.domain.trajectory_diff import diff_trajectory
from assay.quality import GoldScores, decide, quality_gate
from assay.services import consensus
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.blind import blind_lease, lease_values, shown_in_order, unblind_values
from assay.services.policies import authorize, is_id, load_project, require
from assay.services.schemas import CompiledSchema, compiled
from assay.store import dispatch as dstore
from assay.store import events as event_store
from assay.store import projects as proj_store
from assay.store import stats as stats_store
from assay.store.accounts import role_of
from assay.store.engine import Store
from assay.store.types import utcnow

__all__ = [
    "get_assignment",
    "next_assignment",
    "release_assignment",
    "save_draft",
    "skip_assignment",
    "submit_response",
]

_rng = random.Random()


def _skill_keys(skills: tuple[str, ...]) -> list[str]:
    """Every record skill key this contributor satisfies: the sorted subsets of its skills."""
    own = sorted(set(skills))[:10]
    return [",".join(c) for n in range(1, len(own) + 1) for c in combinations(own, n)]


def _reference_diffs(cs: CompiledSchema, fields: dict[str, Any]) -> dict[str, Any]:
    """For trajectories that carry a reference: the tool-call diff and scores, shown beside the agent's."""
    out = {}
    for name in cs.trajectory_fields:
        value = fields.get(name)
        diff = diff_trajectory(value) if isinstance(value, dict) else None
        if diff is not None:
            out[name] = diff.to_dict()
    return out


def _lease_payload(
    cs: CompiledSchema,
    assignment: dict[str, Any],
    record: dict[str, Any],
    suggestions: list[dict[str, Any]],
    draft: Any = None,
) -> dict[str, Any]:
    view = assignment.get("view") or {}
    fields = shown_in_order(record["fields"], view)
    metadata = record.get("metadata") or {}
    fields, metadata, view, draft, suggestions = blind_lease(cs, fields, metadata, view, draft, suggestions)
    return {
        "assignment_id": assignment["id"],
        "project_id": assignment["project_id"],
        "record": {
            "id": record["id"],
            "fields": fields,
            "metadata": metadata,
            "suggestions": [] if cs.hide_suggestions else suggestions,
        },
        "lease_expires_at": assignment["expires_at"],
        "view": view,
        "draft": draft,
        "reference_diff": _reference_diffs(cs, record["fields"]) if cs.trajectory_fields else {},
    }


def _view(cs: CompiledSchema, fields: dict[str, Any]) -> dict[str, Any] | None:
    """The order each comparison's candidates are shown in: shuffled per lease (position bias)."""
    order = {}
    for name in cs.comparison_fields:
        ids = candidate_ids(fields.get(name) or [])
        _rng.shuffle(ids)
        order[name] = ids
    return {"order": order} if order else None


def _check_standing(conn: Connection, cs: CompiledSchema, project_id: int, actor: Actor) -> bool:
    """Raise when the contributor is paused or failed qualification; True while it must qualify."""
    wf = cs.schema.workflow
    qual = wf.qualification
    if qual is None and wf.quality_bar is None:
        return False
    if qual is not None:
        # (judged on the qualification set alone, its first `count` gold answers: gold met later
        # is judged in blocks below, as any other contributor's)
        n, right = stats_store.first_gold_stats(conn, project_id, actor.id or 0, qual.count)
        if n < qual.count:
            return True
        if right / n < qual.min_accuracy:
            raise PermissionDenied(
                f"not qualified: {right / n:.0%} right on the qualification set; {qual.min_accuracy:.0%} needed"
            )
    if wf.quality_bar is None:
        return False
    # (the gold record it may learn of: up to its last whole block of answers, domain.gold)
    n, right = stats_store.released_gold_stats(conn, project_id, actor.id or 0, FEEDBACK_BLOCK)
    if n:
        from scipy import stats

        a, b = 1 + right, 1 + n - right
        scores = GoldScores(
            n=np.array([n]),
            correct=np.array([int(round(right))]),
            mean=np.array([a / (a + b)]),
            low=np.array([stats.beta.ppf(0.025, a, b)]),
            high=np.array([stats.beta.ppf(0.975, a, b)]),
        )
        if bool(quality_gate(scores, bar=wf.quality_bar)[0]):
            raise PermissionDenied(
                f"paused: gold accuracy {right / n:.0%} is below the project's bar of {wf.quality_bar:.0%}"
            )
    return False


# Overdue leases of other contributors are swept at most this often per project and process (a
# contributor's own overdue lease is expired on its next call at once): the sweep is a statement
# on every `next` otherwise, and leases last minutes.
SWEEP_SECONDS = 1.0
_last_sweep: dict[tuple[str, int], float] = {}


def _sweep_due(store: Store, project_id: int, lease_seconds: int) -> bool:
    key = (store.key, project_id)
    now = time.monotonic()
    if now - _last_sweep.get(key, -1e9) < min(SWEEP_SECONDS, lease_seconds / 10):
        return False
    _last_sweep[key] = now
    return True


# Where each contributor's last pick was, per project and process: its next walk starts there
# (dstore.lease_record's `after`), for this long; then it walks from the head again, which serves
# a record freed behind that place (released, skipped by another, expired) in its turn.
HINT_SECONDS = 1.0
_last_pick: weakref.WeakKeyDictionary[Store, dict[tuple[int, int], tuple[int, int, float]]] = (
    weakref.WeakKeyDictionary()
)


def _pick_hint(store: Store, project_id: int, user_id: int) -> tuple[int, int, float] | None:
    """The ``(priority, id)`` of the contributor's last pick and when its walk last started at
    the head; None when it should start there now."""
    found = _last_pick.setdefault(store, {}).pop((project_id, user_id), None)
    if found is None or time.monotonic() - found[2] > HINT_SECONDS:
        return None
    return found


def next_assignment(store: Store, actor: Actor, project_ref: int | str) -> dict[str, Any] | None:
    """Lease the next record to the actor; None when nothing is left for it."""
    if actor.id is None:
        raise ValidationError("dispatch needs a contributor (a user), not the local system")
    with store.tx() as conn:
        if _reads_for_lease(actor, project_ref):  # the project, the role and the lease held: one statement
            found, role, held = dstore.project_for_lease(conn, int(project_ref), actor.id)
            project = authorize(found, role, project_ref, "annotator")
            return _lease_next(store, conn, actor, actor.id, project, held=held)
        project = load_project(conn, actor, project_ref, need="annotator")
        return _lease_next(store, conn, actor, actor.id, project)


def _reads_for_lease(actor: Actor, project_ref: int | str) -> bool:
    """Whether ``next`` reads what it needs first with :func:`dstore.project_for_lease` (a project
    named by id, a caller who is not an admin) and so may have it read ahead (read_ahead)."""
    return is_id(project_ref) and not actor.is_admin


_ASK: Any = object()  # _lease_next's `held` when the caller has not read it


def _lease_next(
    store: Store,
    conn: Connection,
    actor: Actor,
    uid: int,
    project: dict[str, Any],
    *,
    held: dict[str, Any] | None = _ASK,
) -> dict[str, Any] | None:
    """The lease of ``next`` inside the caller's transaction; ``held``: the lease the actor holds
    in the project, when the caller knows it (None: none)."""
    pid = int(project["id"])
    cs = compiled(project)
    wf = cs.schema.workflow
    now = utcnow()
    if _sweep_due(store, pid, wf.lease_seconds):
        for gone in dstore.expire_leases(conn, pid, now):
            audit(conn, actor, ev.ASSIGNMENT_EXPIRED, "assignment", gone["id"], project_id=pid, after=gone)
    if held is _ASK:
        held = dstore.held_lease(conn, pid, uid)
    if held is not None and held["expires_at"] < now:
        # (Expired once: the sweep just now, or another transaction's, may have expired it already.)
        if dstore.expire_assignment(conn, int(held["id"]), int(held["record_id"])):
            gone = {k: held[k] for k in ("id", "record_id", "user_id")}
            audit(conn, actor, ev.ASSIGNMENT_EXPIRED, "assignment", held["id"], project_id=pid, after=gone)
        held = None
    if held is not None:
        return _held_payload(conn, cs, held)
    need = set(cs.schema.routing.skills)
    if not need <= set(actor.skills):
        return None
    qualifying = _check_standing(conn, cs, pid, actor)
    expires = now + timedelta(seconds=wf.lease_seconds)
    lease = functools.partial(
        dstore.lease_record,
        conn,
        pid,
        uid,
        skill_keys=_skill_keys(actor.skills),
        expires_at=expires,
        view_of=functools.partial(_view, cs) if cs.comparison_fields else None,
    )
    record = None
    want_gold = qualifying or (wf.gold_rate > 0 and _rng.random() < wf.gold_rate)
    if want_gold:
        span = dstore.gold_id_range(conn, pid)
        if span is not None:
            record = lease(gold=True, pivot=_rng.randint(span[0], span[1])) or lease(gold=True)
    if record is None and not qualifying:
        hint = _pick_hint(store, pid, uid)
        record = lease(gold=False, after=hint and hint[:2])
        if record is not None:
            since = hint[2] if hint else time.monotonic()
            _last_pick.setdefault(store, {})[pid, uid] = (int(record["priority"]), int(record["id"]), since)
    if record is None:
        return None
    aid, view = record["assignment_id"], record["view"]
    if aid is None:  # another call of this contributor leased meanwhile: give the slot back, return that
        dstore.free_slot(conn, int(record["id"]))
        held = dstore.held_lease(conn, pid, uid)
        return None if held is None else _held_payload(conn, cs, held)
    if not record["logged"]:  # (the lease statement wrote it where it could)
        audit(
            conn,
            actor,
            ev.ASSIGNMENT_CREATED,
            "assignment",
            aid,
            project_id=pid,
            after={"record_id": record["id"], "expires_at": expires.isoformat()},
        )
    if not record["is_gold"] and wf.overlap.min == 1 and not store.is_sqlite:
        _may_read_ahead(store, int(aid))
    assignment = {"id": aid, "project_id": pid, "expires_at": expires, "view": view}
    return _lease_payload(cs, assignment, record, record["suggestions"])


def _held_payload(conn: Connection, cs: CompiledSchema, held: dict[str, Any]) -> dict[str, Any]:
    record = dstore.record_for_update(conn, int(held["record_id"]))
    assert record is not None
    draft = dstore.draft_for(conn, int(held["id"]))
    suggestions = dstore.record_suggestions(conn, int(record["id"]))
    return _lease_payload(cs, held, record, suggestions, draft and draft["values"])


def _own_assignment(conn: Connection, actor: Actor, assignment_id: int) -> dict[str, Any]:
    a = dstore.get_assignment(conn, assignment_id, for_update=True)
    if a is None or a["user_id"] != actor.id:
        raise NotFound(f"no assignment {assignment_id}")
    return a


def get_assignment(store: Store, actor: Actor, assignment_id: int) -> dict[str, Any]:
    """One of the actor's own leases, with its record, as ``next`` returned it."""
    with store.read() as conn:
        a = _own_assignment(conn, actor, assignment_id)
        if a["status"] != "leased":
            raise Conflict(f"assignment {assignment_id} is {a['status']}")
        record = dstore.record_for_update(conn, int(a["record_id"]))
        assert record is not None
        draft = dstore.draft_for(conn, assignment_id)
        project = proj_store.get_project(conn, int(a["project_id"]))
        assert project is not None
        return _lease_payload(
            compiled(project),
            a,
            record,
            dstore.record_suggestions(conn, int(a["record_id"])),
            draft and draft["values"],
        )


def _public_response(r: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "assignment_id",
        "record_id",
        "project_id",
        "values",
        "status",
        "duration_ms",
        "schema_version",
        "guidelines_version",
        "suggestions_kept",
        "created_at",
        "updated_at",
    )
    return {k: r.get(k) for k in keys}


def submit_response(
    store: Store,
    actor: Actor,
    assignment_id: int,
    values: dict[str, Any],
    *,
    duration_ms: int | None = None,
    idempotency_key: str | None = None,
    extra: dict[str, Any] | None = None,
    then_next: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Store the actor's answer to a leased record; returns ``(response, created)``.

    A repeated call with the same ``idempotency_key`` returns the first response (``created``
    is False) and changes nothing. A late answer to an expired lease is taken while the record
    still has a free slot, else refused.

    ``then_next`` also leases the actor's next record of the project in the same transaction:
    the response gets ``next`` (the lease, or None when nothing is left) and, when the actor
    may not have one (paused, not qualified, no longer a member), ``next_problem`` with the
    reason; the answer is stored either way.
    """
    if not isinstance(values, dict):
        raise ValidationError("values must be an object of question names to answers", field="values")
    if idempotency_key is not None:
        if not (0 < len(idempotency_key) <= 200):
            raise ValidationError("an idempotency key has 1 to 200 characters", field="idempotency_key")
        check_text(idempotency_key, "idempotency_key")
    check_duration(duration_ms)
    with store.tx() as conn:
        ctx = dstore.submit_context(conn, assignment_id, actor.id or 0, idempotency_key)
        if ctx is None or ctx["done_id"] is not None:
            done = (
                dstore.response_by_key(conn, actor.id, idempotency_key)
                if idempotency_key and actor.id is not None
                else None
            )
            if done is not None:
                if done["assignment_id"] != assignment_id:
                    raise Conflict(
                        "this idempotency key was used for another assignment", field="idempotency_key"
                    )
                first = _public_response(done)
                a = dstore.get_assignment(conn, assignment_id)
                project = proj_store.get_project(conn, int(done["project_id"]))
                if a is not None and project is not None:  # (letters, as the lease spoke them)
                    first["values"] = lease_values(compiled(project), first["values"], a.get("view"))
                if then_next:
                    first |= _then_next(store, conn, actor, int(done["project_id"]), None)
                return first, False
            raise NotFound(f"no assignment {assignment_id}")
        from_lease = True
        if ctx["status"] == "expired":
            if not dstore.take_slot(conn, int(ctx["record_id"])):
                raise Conflict("the lease expired and the record has been given to someone else")
        elif ctx["status"] != "leased":
            raise Conflict(f"assignment {assignment_id} is {ctx['status']}; nothing to answer")
        was_leased = ctx["status"] == "leased"
        project = {
            "id": ctx["project_id"],
            "workspace_id": ctx["workspace_id"],
            "name": ctx["project_name"],
            "schema": ctx["schema"],
            "schema_version": ctx["schema_version"],
            "guidelines_version": ctx["guidelines_version"],
            "role": "admin" if actor.is_admin else role_of(ctx),
        }
        record = {
            "id": ctx["record_id"],
            "fields": ctx["fields"],
            "metadata": ctx["metadata"],
            "gold": ctx["gold"],
            "is_gold": ctx["is_gold"],
        }
        cs = compiled(project)
        clean = cs.answers.validate(unblind_values(cs, values, ctx.get("view")), record["fields"])
        score = gold_score(clean, record["gold"], cs.multi) if record["is_gold"] and record["gold"] else None
        shown = None if cs.hide_suggestions else ctx["suggestions"]
        kept = suggestions_kept(clean, shown) if shown else None
        row = {
            "project_id": ctx["project_id"],
            "record_id": ctx["record_id"],
            "user_id": actor.id,
            "assignment_id": assignment_id,
            "values": clean,
            "status": "submitted",
            "duration_ms": duration_ms,
            "schema_version": project["schema_version"],
            "guidelines_version": project["guidelines_version"],
            "suggestions_shown": shown or None,
            "suggestions_kept": kept,
            "extra": ({"view": ctx["view"]} if ctx.get("view") else {}) | (extra or {}) or None,
            "gold_score": score,
            "idempotency_key": idempotency_key,
        }
        now = utcnow()
        if ctx["draft_id"] is not None:
            response_id = int(ctx["draft_id"])
            dstore.update_response(conn, response_id, **row, updated_at=now)
            draft = dstore.get_response(conn, response_id)
            created_at = draft["created_at"] if draft else now
        else:
            response_id = dstore.insert_response(
                conn, **row, id=ctx.get("new_id"), created_at=now, updated_at=now
            )
            created_at = now
        counters = dstore.settle_submit(conn, int(record["id"]), from_lease=from_lease, before=ctx)
        first = {
            "id": response_id,
            "user_id": actor.id,
            "values": clean,
            "gold_score": score,
            "gold_n": ctx["gold_n"],
            "gold_sum": ctx["gold_sum"],
        }
        # What the context read of the record's answers and consensus holds unless the record
        # changed while this submit waited for its lock (then they are read again).
        fresh = ctx.get("fresh", True)
        old = {c["question"]: c for c in ctx["old_consensus"]} if fresh else None
        others = ctx.get("answers") if fresh else None
        review_reason = settle_record(
            conn, actor, project, cs, record, counters, score, first=first, old=old, others=others
        )
        if (
            review_reason is None
            and cs.schema.workflow.review_rate > 0
            and _rng.random() < cs.schema.workflow.review_rate
        ):
            review_reason = "sampled"
        if review_reason is not None:
            dstore.insert_review(conn, response_id, review_reason, defer=True)
        response = {**row, "id": response_id, "created_at": created_at, "updated_at": now}
        audit(
            conn,
            actor,
            ev.RESPONSE_SUBMITTED,
            "response",
            response_id,
            project_id=int(ctx["project_id"]),
            after={
                "record_id": ctx["record_id"],
                "values": clean,
                "duration_ms": duration_ms,
                "review": review_reason,
            },
        )
        # On PostgreSQL the answer, the record's counters, its consensus and the audit events so
        # far go out with the update that closes the lease; and when the next lease follows, with
        # that lease's statement, which waits for the closing update and the events.
        chained = then_next and was_leased
        event_store.flush_events(conn, defer=True, name=dstore.CARRIED_EVENTS if chained else None)
        dstore.set_assignment_status(
            conn, assignment_id, "submitted", carry=not chained, before_lease=chained
        )
        public = _public_response(response)
        public["values"] = lease_values(cs, public["values"], ctx.get("view"))
        if then_next:
            # The one-lease index: a contributor whose lease this was holds no other in the project.
            public |= _then_next(store, conn, actor, int(ctx["project_id"]), project, free=was_leased)
    return public, True


def _then_next(
    store: Store,
    conn: Connection,
    actor: Actor,
    project_id: int,
    project: dict[str, Any] | None,
    *,
    free: bool = False,
) -> dict[str, Any]:
    """``{"next": lease or None}`` after a submit, or ``next_problem`` when the actor may not lease.

    The errors caught here are raised before the lease writes anything, so the answer stored
    earlier in the transaction stands.
    """
    assert actor.id is not None
    try:
        if project is None:
            project = load_project(conn, actor, project_id, need="annotator")
        elif project["role"] is None:
            raise NotFound(f"no project {project_id!r}")
        else:
            require(project["role"], "annotator")
        return {"next": _lease_next(store, conn, actor, actor.id, project, held=None if free else _ASK)}
    except (PermissionDenied, NotFound) as e:
        return {"next": None, "next_problem": {"code": e.code, "detail": e.message}}


# The leases this process handed out whose answers a turn may read ahead (read_ahead): on
# PostgreSQL, of a record that wants one answer (the project's overlap starts at one), not gold.
# Only a hint, that saves a turn a statement that would find nothing: the read itself checks.
_AHEAD_MAX = 100_000
_ahead: weakref.WeakKeyDictionary[Store, dict[int, None]] = weakref.WeakKeyDictionary()


def _may_read_ahead(store: Store, assignment_id: int) -> None:
    hints = _ahead.setdefault(store, {})
    hints[assignment_id] = None
    if len(hints) > _AHEAD_MAX:  # (leases never answered pile up: start afresh; one step, as
        hints.clear()  # other threads add and take meanwhile)


def read_ahead(
    store: Store, calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
) -> None:
    """Before a turn of calls that share a transaction (:mod:`assay.api.offload`): read the
    contexts of its submits in one statement (:func:`dstore.read_ahead`), and what its ``next``
    calls read first in another; each call then takes its own. Only for contributors with no
    other call in the turn (one that also asks ``next`` there may expire or answer the same lease
    first), and of the submits, only those of leases this process handed out for a record's one
    answer. Nothing is read when the turn holds calls other than ``next`` and submit (they may
    write anything).
    """
    if store.is_sqlite or any(fn is not submit_response and fn is not next_assignment for fn, _, _ in calls):
        return
    hints = _ahead.get(store) or {}
    calls_by = Counter(args[1].id for _, args, _ in calls)
    wants, nexts = [], []
    for fn, args, kw in calls:
        actor = args[1]
        if actor.id is None or calls_by[actor.id] != 1:
            continue
        if fn is submit_response:
            if hints.pop(args[2], False) is None:
                wants.append((int(args[2]), actor.id, kw.get("idempotency_key")))
        elif _reads_for_lease(actor, args[2]):
            nexts.append((int(args[2]), actor.id))
    if len(wants) > 1 or len(nexts) > 1:
        with store.tx() as conn:
            dstore.read_ahead(conn, wants, nexts)


def settle_record(
    conn: Connection,
    actor: Actor,
    project: dict[str, Any],
    cs: CompiledSchema,
    record: dict[str, Any],
    counters: dict[str, Any],
    score: float | None,
    *,
    first: dict[str, Any] | None = None,
    old: dict[str, dict[str, Any]] | None = None,
    others: list[dict[str, Any]] | None = None,
) -> str | None:
    """After an answer: update consensus, decide whether the record is done; a review reason or None.

    ``counters`` are the record's counters after :func:`dstore.settle_submit` counted the answer
    (which also set its status: ``done`` at its target). ``first`` is the answer just stored,
    with its author's gold record: when it is the record's only answer, the answers need not be
    read back, nor when the caller read the record's ``others`` (its other submitted answers, as
    :func:`dstore.record_responses` gives them) under the record's lock. ``old`` is the record's
    consensus before, when the caller read it already.
    """
    if record["is_gold"]:
        return "gold_failed" if score is not None and score < 1 else None
    ov = cs.schema.workflow.overlap
    submitted, target = int(counters["submitted"]), int(counters["target"] or ov.min)
    if first is not None and others is not None and len(others) + 1 == submitted:
        answers = sorted([*others, first], key=lambda r: int(r["id"]))
    elif first is not None and submitted == 1:
        answers = [first]
    else:
        answers = dstore.record_responses(conn, int(record["id"]))
    posterior = consensus.update_record(conn, actor, project, cs, record, rows=answers, old=old)
    if submitted < target:
        return None
    if posterior is not None and not ov.fixed and ov.confidence is not None:
        labels, p, n = posterior
        decision = decide(p, n, min_overlap=ov.min, max_overlap=ov.limit, target=ov.confidence)
        if decision == "more":
            dstore.raise_target(conn, int(record["id"]), submitted + 1)
            return None
        return "low_confidence" if decision == "review" else None
    if (
        posterior is not None
        and posterior[1].size > 1  # a categorical posterior (not another type's confidence)
        and submitted > 1
        and float(posterior[1].max()) < 0.999
        and any(consensus.effective_values(r) != consensus.effective_values(answers[0]) for r in answers[1:])
    ):
        return "disagreement"
    return None


def skip_assignment(
    store: Store, actor: Actor, assignment_id: int, *, reason: str | None = None, flag: bool = False
) -> None:
    """Give the record up (it is not offered to this contributor again); ``flag`` marks it for a manager."""
    if flag and not (reason and reason.strip()):
        raise ValidationError("a flag needs a reason", field="reason")
    if reason is not None:
        check_text(reason, "reason")
    with store.tx() as conn:
        a = _own_assignment(conn, actor, assignment_id)
        if a["status"] != "leased":
            raise Conflict(f"assignment {assignment_id} is {a['status']}")
        dstore.set_assignment_status(conn, assignment_id, "flagged" if flag else "skipped", reason=reason)
        dstore.free_slot(conn, int(a["record_id"]))
        audit(
            conn,
            actor,
            ev.ASSIGNMENT_FLAGGED if flag else ev.ASSIGNMENT_SKIPPED,
            "assignment",
            assignment_id,
            project_id=int(a["project_id"]),
            after={"record_id": a["record_id"], "reason": reason},
        )


def release_assignment(store: Store, actor: Actor, assignment_id: int) -> None:
    """Hand the lease back unanswered; the record may come back to this contributor later."""
    with store.tx() as conn:
        a = _own_assignment(conn, actor, assignment_id)
        if a["status"] != "leased":
            raise Conflict(f"assignment {assignment_id} is {a['status']}")
        dstore.delete_assignment(conn, assignment_id)
        dstore.free_slot(conn, int(a["record_id"]))
        audit(
            conn,
            actor,
            ev.ASSIGNMENT_RELEASED,
            "assignment",
            assignment_id,
            project_id=int(a["project_id"]),
            after={"record_id": a["record_id"]},
        )


def save_draft(store: Store, actor: Actor, assignment_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Keep unfinished answers with the lease (validated as far as they go) and extend the lease."""
    if not isinstance(values, dict):
        raise ValidationError("values must be an object of question names to answers", field="values")
    with store.tx() as conn:
        a = _own_assignment(conn, actor, assignment_id)
        if a["status"] != "leased":
            raise Conflict(f"assignment {assignment_id} is {a['status']}")
        project = proj_store.get_project(conn, int(a["project_id"]))
        record = dstore.record_for_update(conn, int(a["record_id"]))
        assert project is not None and record is not None
        cs = compiled(project)
        clean = cs.answers.validate(unblind_values(cs, values, a.get("view")), record["fields"], partial=True)
        draft = dstore.draft_for(conn, assignment_id)
        if draft is None:
            rid = dstore.insert_response(
                conn,
                project_id=a["project_id"],
                record_id=a["record_id"],
                user_id=actor.id,
                assignment_id=assignment_id,
                values=clean,
                status="draft",
                schema_version=project["schema_version"],
                guidelines_version=project["guidelines_version"],
            )
        else:
            rid = int(draft["id"])
            dstore.update_response(conn, rid, values=clean)
        expires = utcnow() + timedelta(seconds=cs.schema.workflow.lease_seconds)
        dstore.extend_lease(conn, assignment_id, expires)
        audit(conn, actor, ev.RESPONSE_DRAFTED, "response", rid, project_id=int(a["project_id"]))
        response = dstore.get_response(conn, rid)
        assert response is not None
    public = _public_response(response) | {"lease_expires_at": expires}
    public["values"] = lease_values(cs, public["values"], a.get("view"))
    return public
