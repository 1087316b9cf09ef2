"""The SQL of dispatch: leases (assignments), slots on records, responses and reviews.

Invariants kept here, in single statements that check their own preconditions:

* a record's ``submitted + leased`` never exceeds its ``target`` (``take_slot`` only succeeds
  on an ``open`` record and flips it to ``full`` when the last slot goes);
* one contributor never gets a record twice (``assignments`` is unique on record and user);
* one contributor holds at most one lease per project (a partial unique index: of two
  concurrent ``next`` calls of one contributor only one leases; see :func:`insert_assignment`);
* an expired lease gives its slot back (``expire_leases``).

The hot path of dispatch is a handful of statements: a record is picked and its slot taken in
one ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)``, and a submit reads the lease,
the record, the project, the suggestions shown, the draft, the idempotency key, the author's
gold record and the old consensus in one ``SELECT`` (:func:`submit_context`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection

from assay.domain import events as ev
from assay.store.accounts import role_columns, split_role
from assay.store.statements import READ_AHEAD, SHARED, Busy, run, waiting
from assay.store.tables import (
    assignments,
    consensus,
    events,
    projects,
    records,
    responses,
    reviews,
    suggestions,
    users,
)
from assay.store.types import IN_CHUNK, JSON, utcnow

__all__ = [
    "expire_assignment",
    "expire_leases",
    "free_slot",
    "get_assignment",
    "held_lease",
    "insert_assignment",
    "insert_response",
    "insert_responses",
    "insert_review",
    "lease_record",
    "project_for_lease",
    "record_for_update",
    "records_for_update",
    "record_responses",
    "read_ahead",
    "record_suggestions",
    "response_by_key",
    "set_assignment_status",
    "settle_answers",
    "settle_submit",
    "submit_context",
    "take_slot",
]


# The hot statements are built once per dialect and, on PostgreSQL, run on the driver directly
# (assay.store.statements): a next+submit runs about ten of them.

# The WITH parts a lease statement waits for when it carries the end of an answer (lease_record):
# the update that closes the answered lease, and the audit events written so far.
CLOSED_LEASE = "closed_lease"
CARRIED_EVENTS = "carried_events"

# ``LIMIT 1`` written into a statement, not sent as a parameter. PostgreSQL plans a prepared
# statement once for any parameters (a generic plan) only while that plan looks no dearer than
# planning each run afresh; with the limit a parameter it must assume a tenth of the rows, and
# once the tables have statistics it re-planned the answer's statement on every run.
_ONE: Any = sa.literal_column("1")
# ``OFFSET 0`` keeps a subquery a subquery (PostgreSQL runs it as it is written, for each row).
_ZERO: Any = sa.literal_column("0")


def _json_rows(pg: bool, cols: dict[str, Any], where: Any, order: Any) -> Any:
    """A scalar subquery: the matching rows as a JSON array of objects (``[]`` when none).

    Keys are inlined (a bound key has no type PostgreSQL can infer). On SQLite the rows come in
    index order, which for ``record_id = ?`` lookups is id order.
    """
    args: list[Any] = []
    for k, c in cols.items():
        args.append(sa.literal_column(f"'{k}'"))
        args.append(sa.func.json(c) if not pg and isinstance(c.type, sa.JSON) else c)
    if pg:
        agg = sa.func.json_agg(aggregate_order_by(sa.func.json_build_object(*args), order))
        body = sa.func.coalesce(agg, sa.literal_column("'[]'::json"))
    else:
        body = sa.func.coalesce(sa.func.json_group_array(sa.func.json_object(*args)), "[]")
    return sa.type_coerce(sa.select(body).where(where).scalar_subquery(), JSON)


def _suggestions_of(pg: bool, record_id: Any) -> Any:
    """The record's suggestions as a JSON array (question, value, score, model), in id order."""
    cols = {
        "question": suggestions.c.question,
        "value": suggestions.c["value"],
        "score": suggestions.c.score,
        "model": suggestions.c.model,
    }
    return _json_rows(pg, cols, suggestions.c.record_id == record_id, suggestions.c.id)


def _gold_of(fn: Any, project_id: Any, user_id: Any) -> Any:
    """count/sum of a contributor's gold scores in a project (the partial index ix_responses_gold_scores alone)."""
    g = responses.alias("g")
    return (
        sa.select(fn(g.c.gold_score))
        .where(
            g.c.project_id == project_id,
            g.c.user_id == user_id,
            g.c.status == "submitted",
            g.c.gold_score.is_not(None),
        )
        .scalar_subquery()
    )


def _answer_columns(answer: Any) -> dict[str, Any]:
    """A submitted answer (a row of ``responses`` or an alias of it) as the consensus reads it:
    its values, its latest review verdict and correction, and its author's gold record in the
    project (``gold_n``, ``gold_sum``: the reliability weights of the vote)."""
    rv = reviews.alias("rv")

    def latest(col: Any) -> Any:
        return sa.select(col).where(rv.c.response_id == answer.c.id).order_by(rv.c.id.desc()).limit(_ONE)

    return {
        "id": answer.c.id,
        "user_id": answer.c.user_id,
        "values": answer.c["values"],
        "gold_score": answer.c.gold_score,
        "review_verdict": latest(rv.c.verdict).scalar_subquery(),
        "corrected_values": latest(rv.c.corrected_values).scalar_subquery(),
        "gold_n": _gold_of(sa.func.count, answer.c.project_id, answer.c.user_id),
        "gold_sum": _gold_of(sa.func.sum, answer.c.project_id, answer.c.user_id),
    }


_TIME = assignments.c.expires_at.type

_FULL_OR_OPEN = sa.case(
    (records.c.is_gold, "open"),
    (records.c.submitted + records.c.leased >= sa.func.coalesce(records.c.target, 1), "full"),
    else_="open",
)
# The status once one more slot is leased (the CASE sees the row before the update).
_AFTER_TAKE = sa.case(
    (records.c.is_gold, "open"),
    (records.c.submitted + records.c.leased + 1 >= sa.func.coalesce(records.c.target, 1), "full"),
    else_="open",
)


def expire_leases(conn: Connection, project_id: int, now: datetime) -> list[dict[str, Any]]:
    """Mark overdue leases of a project expired and give their slots back; returns them."""
    expired = run(
        conn,
        "expire",
        lambda pg: (
            assignments.update()
            .where(
                assignments.c.project_id == sa.bindparam("pid"),
                assignments.c.status == "leased",
                assignments.c.expires_at < sa.bindparam("now", type_=assignments.c.expires_at.type),
            )
            .values(status="expired")
            .returning(assignments.c.id, assignments.c.record_id, assignments.c.user_id)
        ),
        {"pid": project_id, "now": now},
    ).all()
    for row in expired:  # (what was read ahead for these leases and their holders no longer holds)
        _take_read_ahead(conn, row["id"])
        _take_read_ahead(conn, _next_key(project_id, row["user_id"]))
        free_slot(conn, row["record_id"])
    return expired


def _take_read_ahead(conn: Connection, key: int | tuple[str, int, int]) -> dict[str, Any] | None:
    """The row :func:`read_ahead` read under ``key`` (a lease's context by its id, or what a
    ``next`` reads first: :func:`_next_key`), taken off the connection; None when there is none."""
    ahead: dict[Any, dict[str, Any]] | None = conn.info.get(READ_AHEAD)
    return ahead.pop(key, None) if ahead else None


def _next_key(project_id: int, user_id: int) -> tuple[str, int, int]:
    """Where what a ``next`` reads first is kept when read ahead (by project and contributor)."""
    return ("next", int(project_id), int(user_id))


def free_slot(conn: Connection, record_id: int) -> None:
    """A lease ended without an answer: one slot of the record is free again."""
    run(
        conn,
        "free_slot",
        lambda pg: (
            records.update()
            .where(records.c.id == sa.bindparam("rid"))
            .values(
                leased=records.c.leased - 1,
                status=sa.case((records.c.status == "full", "open"), else_=records.c.status),
            )
        ),
        {"rid": record_id},
    )


def held_lease(conn: Connection, project_id: int, user_id: int) -> dict[str, Any] | None:
    """The contributor's lease in the project, expired or not (the partial unique index finds it)."""
    return run(
        conn,
        "held_lease",
        lambda pg: sa.select(assignments).where(
            assignments.c.project_id == sa.bindparam("pid"),
            assignments.c.user_id == sa.bindparam("uid"),
            assignments.c.status == "leased",
        ),
        {"uid": user_id, "pid": project_id},
    ).first()


_HELD = ("id", "record_id", "user_id", "expires_at", "view", "project_id")


def project_for_lease(
    conn: Connection, project_id: int, user_id: int
) -> tuple[dict[str, Any] | None, str | None, dict[str, Any] | None]:
    """What ``next`` reads first, in one statement: the project, the user's role on it (as
    :func:`assay.store.accounts.project_with_role` gives them) and the lease it holds there;
    taken from what the transaction read ahead when it did (:func:`read_ahead`)."""
    row = _take_read_ahead(conn, _next_key(project_id, user_id))
    if row is None:
        row = run(
            conn, "project_for_lease", lambda pg: _for_lease(), {"pid": project_id, "uid": user_id}
        ).first()
    if row is None:
        return None, None, None
    lease = {k: row.pop(f"held_{k}") for k in _HELD}
    project, role = split_role(row)
    return project, role, (lease if lease["id"] is not None else None)


def expire_assignment(conn: Connection, assignment_id: int, record_id: int) -> bool:
    """Mark one overdue lease expired and give its slot back; False (nothing done) when it is no
    longer leased: a sweep (:func:`expire_leases`) expired it since it was read."""
    _take_read_ahead(conn, assignment_id)  # (no longer holds)
    expired = run(
        conn,
        "expire_one",
        lambda pg: (
            assignments.update()
            .where(assignments.c.id == sa.bindparam("aid"), assignments.c.status == "leased")
            .values(status="expired")
            .returning(assignments.c.id)
        ),
        {"aid": assignment_id},
    ).first()
    if expired is None:
        return False
    free_slot(conn, record_id)
    return True


def lease_record(
    conn: Connection,
    project_id: int,
    user_id: int,
    *,
    gold: bool,
    skill_keys: Sequence[str],
    expires_at: datetime,
    view_of: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
    pivot: int | None = None,
    after: tuple[int, int] | None = None,
) -> dict[str, Any] | None:
    """Lease the next free record to this contributor: the record (with its ``priority``) and
    its suggestions, the ``assignment_id``, the ``view`` and ``logged``; None when nothing is left.

    The pick is an index walk in priority order (never a scan) that passes over records the
    contributor already had and records needing skills it lacks; on PostgreSQL it locks the row
    with ``FOR UPDATE SKIP LOCKED`` so that concurrent callers take different records. The same
    statement takes the record's slot, and on PostgreSQL also inserts the lease (one statement
    for all of it, unless ``view_of`` must see the record first: the order comparison candidates
    are shown in). ``assignment_id`` is None when the contributor got another lease in this
    project meanwhile (its slot is still taken: give it back). ``pivot`` starts the walk at a
    record id (gold is picked from a random place so that every contributor does not see the
    same gold first). Where the lease is inserted in the same statement, that statement also
    writes its ``assignment.created`` audit event, by the contributor (``logged`` is True; else
    the caller writes it).

    ``after``: the ``(priority, id)`` of the contributor's last pick, where its walk may start
    on PostgreSQL (records of a higher priority still come first). A record taken leaves a dead
    entry at the head of the dispatch index until VACUUM removes it, and every walk from the
    start passes all of them: thousands of index entries per pick after a few seconds of fast
    work. When nothing is found from there, the walk starts from the head after all, so a
    record freed behind that place is not lost, only served in its turn a little later.
    """
    with_skills = bool(skill_keys)
    with_pivot = pivot is not None
    together = conn.dialect.name == "postgresql" and view_of is None
    with_after = after is not None and not with_pivot and conn.dialect.name == "postgresql"
    # The end of an answer waits on the connection (the closing update, the events): this lease
    # carries it, and its insert waits for both, so that the one-lease index sees the old lease
    # closed and the audit log has the answer's events before the lease's.
    carrying = together and waiting(conn, CLOSED_LEASE, CARRIED_EVENTS)

    def build(pg: bool, *, hinted: bool, gated: bool) -> Any:
        def pick(where: Callable[[Any], list[Any]]) -> Any:
            r = records.alias("pick")
            had = sa.select(1).where(
                assignments.c.record_id == r.c.id, assignments.c.user_id == sa.bindparam("uid")
            )
            if pg:  # (OFFSET 0: PostgreSQL keeps it a probe of the (record, contributor) index
                # per candidate; as a join it read all of the contributor's past leases each pick)
                had = had.offset(_ZERO)
            seen = had.exists()
            # (from a pivot the walk is for gold: written so, it is the gold index's condition)
            gold = r.c.is_gold if with_pivot else r.c.is_gold == sa.bindparam("want_gold")
            q = sa.select(r.c.id).where(
                r.c.project_id == sa.bindparam("pid"), r.c.status == "open", gold, ~seen
            )
            if with_skills and pg:  # an array parameter: the statement text stays the same for any keys
                keys: Any = sa.bindparam("keys", type_=postgresql.ARRAY(sa.String))
                q = q.where(sa.or_(r.c.skills.is_(None), r.c.skills == sa.any_(keys)))
            elif with_skills:
                keys = sa.bindparam("keys", expanding=True)
                q = q.where(sa.or_(r.c.skills.is_(None), r.c.skills.in_(keys)))
            else:
                q = q.where(r.c.skills.is_(None))
            if with_pivot:  # gold in id order from the pivot: a walk of ix_records_gold
                q = q.where(r.c.id >= sa.bindparam("pivot")).order_by(r.c.id)
            else:
                # The dispatch index's order, within one priority too: ordered by id alone there,
                # PostgreSQL's plan for any parameters walked the primary key with a filter.
                q = q.where(*where(r)).order_by(r.c.priority.desc(), r.c.id)
            q = q.limit(_ONE)
            if pg:
                q = q.with_for_update(skip_locked=True)
            return q.scalar_subquery()

        if hinted:  # a record of a higher priority, else the next in the last pick's band
            chosen: Any = sa.func.coalesce(
                pick(lambda r: [r.c.priority > sa.bindparam("after_priority")]),
                pick(
                    lambda r: [
                        r.c.priority == sa.bindparam("after_priority"),
                        r.c.id >= sa.bindparam("after_id"),
                    ],
                ),
            )
        else:
            chosen = pick(lambda r: [])
        take = (
            records.update()
            .where(records.c.id == chosen, records.c.status == "open")
            .values(
                leased=records.c.leased + 1, status=_AFTER_TAKE, updated_at=sa.bindparam("now", type_=_TIME)
            )
            .returning(
                records.c.id,
                records.c.fields,
                records.c.metadata,
                records.c.external_id,
                records.c.is_gold,
                records.c.priority,
                # SQLite writes RETURNING columns unqualified, where `id` would mean suggestions.id.
                _suggestions_of(pg, records.c.id if pg else sa.literal_column("records.id")).label(
                    "suggestions"
                ),
            )
        )
        if not together:
            return take
        picked = take.cte("picked")
        row = sa.select(
            sa.bindparam("pid", type_=assignments.c.project_id.type),
            picked.c.id,
            sa.bindparam("uid", type_=assignments.c.user_id.type),
            sa.literal("leased"),
            sa.bindparam("now", type_=_TIME),
            sa.bindparam("expires", type_=_TIME),
        )
        if gated:  # (a part another part reads runs first)
            row = row.where(
                sa.text(
                    f"(SELECT count(*) FROM {CLOSED_LEASE}) + (SELECT count(*) FROM {CARRIED_EVENTS}) >= 0"
                )
            )
        lease = (
            postgresql.insert(assignments)
            .from_select(["project_id", "record_id", "user_id", "status", "leased_at", "expires_at"], row)
            .on_conflict_do_nothing()
            .returning(assignments.c.id, assignments.c.record_id)
            .cte("lease")
        )
        # The lease's audit event, as services.audit would write it (an audit round trip fewer).
        after = sa.func.json_build_object(
            sa.literal_column("'record_id'"),
            lease.c.record_id,
            sa.literal_column("'expires_at'"),
            sa.bindparam("expires_iso", type_=sa.String),
        )
        logged = events.insert().from_select(
            ["at", "actor_id", "action", "object_type", "object_id", "project_id", "after"],
            sa.select(
                sa.bindparam("now", type_=_TIME),
                sa.bindparam("uid", type_=assignments.c.user_id.type),
                sa.literal(ev.ASSIGNMENT_CREATED),
                sa.literal("assignment"),
                sa.cast(lease.c.id, sa.String),
                sa.bindparam("pid", type_=assignments.c.project_id.type),
                after,
            ),
        )
        return (
            sa.select(*[c for c in picked.c], lease.c.id.label("assignment_id"))
            .select_from(picked.outerjoin(lease, lease.c.record_id == picked.c.id))
            .add_cte(logged.cte("logged"))
        )

    now = utcnow()
    params: dict[str, Any] = {"uid": user_id, "pid": project_id, "now": now}
    if with_pivot:
        assert gold, "a pivot is for the gold walk"
        params["pivot"] = pivot
    else:
        params["want_gold"] = gold
    if with_skills:
        params["keys"] = list(skill_keys)
    if together:
        params["expires"] = expires_at
        params["expires_iso"] = expires_at.isoformat()
    key = f"lease:{with_skills}:{with_pivot}:{together}"

    def attempt(hinted: bool, given: dict[str, Any]) -> dict[str, Any] | None:
        nonlocal carrying
        gated, carrying = carrying, False  # (the first statement sent takes the writes along)
        built = functools.partial(build, hinted=hinted, gated=gated)
        return run(conn, f"{key}:{hinted}:{gated}", built, given, carry=gated).first()

    record = None
    if with_after:
        assert after is not None
        record = attempt(True, {**params, "after_priority": after[0], "after_id": after[1]})
    # On PostgreSQL a pick can come back empty while concurrent leases, answers and skips move the
    # rows it walks (seen about once in 20,000 picks, 4 contributors leasing and skipping):
    # each statement takes a new snapshot, so a second or third try finds the record that is there.
    for _ in range(3 if conn.dialect.name == "postgresql" else 1):
        if record is not None:
            break
        record = attempt(False, params)
    if record is None or together:
        if record is not None:
            record["view"] = None
            record["logged"] = True
        return record
    record["view"] = view_of(record["fields"]) if view_of is not None else None
    record["logged"] = False
    record["assignment_id"] = insert_assignment(
        conn,
        project_id=project_id,
        record_id=int(record["id"]),
        user_id=user_id,
        expires_at=expires_at,
        view=record["view"],
    )
    return record


def gold_id_range(conn: Connection, project_id: int) -> tuple[int, int] | None:
    """The ids of the project's first and last gold record, None when it has none: one lookup each
    in ``ix_records_gold`` (whose condition the query repeats as each database writes it; and
    SQLite looks up a ``min`` or a ``max`` only when it is the query's one aggregate)."""
    gold = (records.c.project_id == project_id, records.c.is_gold)
    row = conn.execute(
        sa.select(
            sa.select(sa.func.min(records.c.id)).where(*gold).scalar_subquery(),
            sa.select(sa.func.max(records.c.id)).where(*gold).scalar_subquery(),
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])


def take_slot(conn: Connection, record_id: int) -> bool:
    """Lease one slot of an open record; False when it has none left (someone was quicker)."""
    return (
        run(
            conn,
            "take_slot",
            lambda pg: (
                records.update()
                .where(records.c.id == sa.bindparam("rid"), records.c.status == "open")
                .values(leased=records.c.leased + 1, status=_AFTER_TAKE)
            ),
            {"rid": record_id},
        ).rowcount
        == 1
    )


def insert_assignment(
    conn: Connection,
    *,
    project_id: int,
    record_id: int,
    user_id: int,
    expires_at: datetime,
    view: dict[str, Any] | None,
) -> int | None:
    """A new lease; None when the contributor got one in this project (or this record) meanwhile.

    The unique indexes decide (``ON CONFLICT DO NOTHING``): no error aborts the transaction.
    """

    def build(pg: bool) -> Any:
        insert = (postgresql.insert if pg else sqlite.insert)(assignments)
        return insert.on_conflict_do_nothing().returning(assignments.c.id)

    row = run(
        conn,
        "insert_assignment",
        build,
        {
            "project_id": project_id,
            "record_id": record_id,
            "user_id": user_id,
            "status": "leased",
            "leased_at": utcnow(),
            "expires_at": expires_at,
            "view": view,
            "reason": None,
        },
    ).first()
    return None if row is None else int(row["id"])


def get_assignment(
    conn: Connection, assignment_id: int, *, for_update: bool = False
) -> dict[str, Any] | None:
    def build(pg: bool) -> Any:
        q = sa.select(assignments).where(assignments.c.id == sa.bindparam("aid"))
        return q.with_for_update() if pg and for_update else q

    return run(conn, f"get_assignment:{for_update}", build, {"aid": assignment_id}).first()


def set_assignment_status(
    conn: Connection,
    assignment_id: int,
    status: str,
    *,
    reason: str | None = None,
    carry: bool = False,
    before_lease: bool = False,
) -> None:
    """``carry``: the writes waiting on the connection go out with this one (assay.store.statements).
    ``before_lease``: this write waits too, to go out with the contributor's next lease, which
    waits for it (:func:`lease_record`)."""

    def build(pg: bool) -> Any:
        q = (
            assignments.update()
            .where(assignments.c.id == sa.bindparam("aid"))
            .values(
                status=sa.bindparam("status"),
                reason=sa.func.coalesce(sa.bindparam("reason", type_=sa.Text), assignments.c.reason),
            )
        )
        return q.returning(assignments.c.id) if before_lease else q

    run(
        conn,
        f"set_assignment_status:{before_lease}",
        build,
        {"aid": assignment_id, "status": status, "reason": reason},
        carry=carry,
        defer=before_lease,
        name=CLOSED_LEASE if before_lease else None,
    )


def delete_assignment(conn: Connection, assignment_id: int) -> None:
    conn.execute(
        responses.delete().where(responses.c.assignment_id == assignment_id, responses.c.status == "draft")
    )
    conn.execute(assignments.delete().where(assignments.c.id == assignment_id))


def extend_lease(conn: Connection, assignment_id: int, expires_at: datetime) -> None:
    conn.execute(assignments.update().where(assignments.c.id == assignment_id).values(expires_at=expires_at))


def record_for_update(conn: Connection, record_id: int, *, touch: bool = False) -> dict[str, Any] | None:
    """The record, locked until the transaction ends (on PostgreSQL).

    ``touch``: also give its row a new version, for a change to its answers that changes
    nothing else of the record (a review verdict): a submit reading the record's answers with
    its context (:func:`submit_context`) then knows to read them again.
    """

    def build(pg: bool) -> Any:
        if touch:
            return (
                records.update()
                .where(records.c.id == sa.bindparam("rid"))
                .values(submitted=records.c.submitted)
                .returning(*records.c)
            )
        q = sa.select(records).where(records.c.id == sa.bindparam("rid"))
        return q.with_for_update() if pg else q

    return run(conn, f"record_for_update:{touch}", build, {"rid": record_id}).first()


def records_for_update(conn: Connection, record_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The records by id, locked until the transaction ends (on PostgreSQL, in the order of
    their ids, as every statement that locks several records does)."""
    ids = sorted(record_ids)
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(ids), IN_CHUNK):
        q = sa.select(records).where(records.c.id.in_(ids[i : i + IN_CHUNK])).order_by(records.c.id)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        out.update({int(r.id): dict(r._mapping) for r in conn.execute(q)})
    return out


def record_suggestions(conn: Connection, record_id: int) -> list[dict[str, Any]]:
    return run(
        conn,
        "record_suggestions",
        lambda pg: (
            sa.select(
                suggestions.c.question, suggestions.c["value"], suggestions.c.score, suggestions.c.model
            )
            .where(suggestions.c.record_id == sa.bindparam("rid"))
            .order_by(suggestions.c.id)
        ),
        {"rid": record_id},
    ).all()


def response_by_key(conn: Connection, user_id: int, key: str) -> dict[str, Any] | None:
    return run(
        conn,
        "response_by_key",
        lambda pg: sa.select(responses).where(
            responses.c.user_id == sa.bindparam("uid"), responses.c.idempotency_key == sa.bindparam("key")
        ),
        {"uid": user_id, "key": key},
    ).first()


def draft_for(conn: Connection, assignment_id: int) -> dict[str, Any] | None:
    return run(
        conn,
        "draft_for",
        lambda pg: sa.select(responses).where(
            responses.c.assignment_id == sa.bindparam("aid"), responses.c.status == "draft"
        ),
        {"aid": assignment_id},
    ).first()


_RESPONSE_DEFAULTS: dict[str, Any] = {
    "assignment_id": None,
    "duration_ms": None,
    "suggestions_shown": None,
    "suggestions_kept": None,
    "extra": None,
    "gold_score": None,
    "idempotency_key": None,
}


def insert_response(conn: Connection, **values: Any) -> int:
    """Insert a response; its id. Given its ``id`` (from :func:`submit_context`), the insert may
    wait to go out with a later statement (assay.store.statements)."""
    now = utcnow()
    row = {**_RESPONSE_DEFAULTS, "created_at": now, "updated_at": now, **values}
    given = row.pop("id", None)
    if given is not None:
        run(conn, "insert_response:given_id", lambda pg: responses.insert(), {**row, "id": given}, defer=True)
        return int(given)
    return int(
        run(conn, "insert_response", lambda pg: responses.insert().returning(responses.c.id), row).one()["id"]
    )


def insert_responses(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert many responses (an import's answers) in one go; each row gives the same columns."""
    if rows:
        now = utcnow()
        run(
            conn,
            "insert_responses",
            lambda pg: responses.insert(),
            [{**_RESPONSE_DEFAULTS, "created_at": now, "updated_at": now, **r} for r in rows],
        )


def update_response(conn: Connection, response_id: int, **values: Any) -> None:
    values.setdefault("updated_at", utcnow())
    conn.execute(responses.update().where(responses.c.id == response_id).values(**values))


def get_response(conn: Connection, response_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(responses).where(responses.c.id == response_id)).first()
    return dict(row._mapping) if row else None


def _settled(added: Any, *, from_lease: bool) -> dict[str, Any]:
    """A record's counters and status once ``added`` more answers are in (and, ``from_lease``,
    one lease fewer): ``done`` once it has its target of answers (adaptive overlap may raise the
    target afterwards), else ``full``/``open`` by its leases; a gold record stays ``open`` and a
    ``done`` record stays done."""
    submitted = records.c.submitted + added
    leased = records.c.leased - 1 if from_lease else records.c.leased
    target = sa.func.coalesce(records.c.target, 1)
    values: dict[str, Any] = {
        "submitted": submitted,
        "status": sa.case(
            (records.c.is_gold, "open"),
            (records.c.status == "done", "done"),
            (submitted >= target, "done"),
            (submitted + leased >= target, "full"),
            else_="open",
        ),
    }
    if from_lease:
        values["leased"] = leased
    return values


def settle_answers(conn: Connection, added: dict[int, int]) -> None:
    """Count answers that came without a lease (an import's) on many records at once: record id
    → how many more; the status follows as in :func:`settle_submit`."""
    if added:
        run(
            conn,
            "settle:answers",
            lambda pg: (
                records.update()
                .where(records.c.id == sa.bindparam("rid"))
                .values(**_settled(sa.bindparam("n", type_=sa.Integer), from_lease=False))
            ),
            [{"rid": rid, "n": n} for rid, n in added.items()],
        )


def settle_submit(
    conn: Connection, record_id: int, *, from_lease: bool, before: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Count one more answer on the record (and one lease fewer); returns the record's
    ``submitted`` and ``target``.

    The record's status follows in the same statement (:func:`_settled`). ``before``: the
    record's ``submitted`` and ``target`` read under its lock (:func:`submit_context`); the
    counters then follow from them, and the update may wait to go out with a later statement.
    """

    def build(pg: bool) -> Any:
        return (
            records.update()
            .where(records.c.id == sa.bindparam("rid"))
            .values(**_settled(1, from_lease=from_lease))
            .returning(
                records.c.submitted, records.c.leased, records.c.target, records.c.is_gold, records.c.status
            )
        )

    if before is not None:
        run(conn, f"settle:{from_lease}", build, {"rid": record_id}, defer=True)
        return {"submitted": int(before["submitted"]) + 1, "target": before["target"]}
    return run(conn, f"settle:{from_lease}", build, {"rid": record_id}).one()


def submit_context(
    conn: Connection, assignment_id: int, user_id: int, key: str | None
) -> dict[str, Any] | None:
    """Everything a submit reads, in one statement (the lease and its record locked on PostgreSQL).

    The caller's assignment with its project (``schema``, versions), its record (``fields``,
    ``gold``, ``is_gold``), the ``suggestions`` shown, the ``draft_id``, ``done_id`` (a response
    of this user with the idempotency ``key``), the user's gold record in the project (``gold_n``,
    ``gold_sum``), the record's current consensus (``old_consensus``: question, value, method and details) and
    its counters (``submitted``, ``target``). On PostgreSQL also ``new_id``: an id for the
    response from its sequence (so that its insert need not wait for the id to come back);
    ``answers``: the record's submitted answers so far, as :func:`record_responses` gives them;
    and ``fresh``: whether no transaction changed the record's row between this statement's
    snapshot and the grant of the record's lock. Every change to a record's answers (a submit,
    a review verdict) changes that row, so when ``fresh`` is true, ``answers`` and
    ``old_consensus`` are current; when false, read them again.
    None when the assignment is not the user's.

    In a transaction shared by several calls, a lease or record that another transaction holds
    is not waited for: :class:`Busy` is raised instead. A context :func:`read_ahead` read for
    this call is taken as it is.
    """
    ahead = _take_read_ahead(conn, assignment_id)
    if ahead is not None and (ahead["user_id"], ahead["asked_key"]) == (user_id, key):
        return ahead
    params = {"aid": assignment_id, "uid": user_id, "key": key}
    if not (conn.info.get(SHARED) and conn.dialect.name == "postgresql"):
        return run(conn, "submit_context", _context, params).first()
    found = run(conn, "submit_context:skip_locked", lambda pg: _context(pg, skip_locked=True), params).first()
    if found is None and (mine := get_assignment(conn, assignment_id)) and mine["user_id"] == user_id:
        raise Busy(f"assignment {assignment_id} or its record is locked")
    return found


def _for_lease(many: bool = False) -> Any:
    """The statement of :func:`project_for_lease`: the project, the role columns and the lease
    held (``held_*``); ``many``: of :func:`read_ahead`, for arrays of project ids and user ids,
    one row per project found, with the user it is for (``asked_uid``)."""
    if not many:
        uid: Any = sa.bindparam("uid")
        alias = assignments.alias("held")
        on = sa.and_(alias.c.project_id == projects.c.id, alias.c.user_id == uid, alias.c.status == "leased")
        held = [alias.c[k].label(f"held_{k}") for k in _HELD]
        return (
            sa.select(projects, *role_columns(projects.c.id, projects.c.workspace_id, uid), *held)
            .select_from(projects.outerjoin(alias, on))
            .where(projects.c.id == sa.bindparam("pid"))
        )
    want = _unnest("want", ("pids", "pid", sa.BigInteger), ("uids", "uid", sa.BigInteger))
    # Each contributor's lease looked up by its key (LATERAL, as in _context).
    lateral = (
        sa.select(*[assignments.c[k].label(f"held_{k}") for k in _HELD])
        .where(
            assignments.c.project_id == want.c.pid,
            assignments.c.user_id == want.c.uid,
            assignments.c.status == "leased",
        )
        .lateral("held")
    )
    return sa.select(
        projects,
        *role_columns(projects.c.id, projects.c.workspace_id, want.c.uid),
        *[lateral.c[f"held_{k}"] for k in _HELD],
        want.c.uid.label("asked_uid"),
    ).select_from(want.join(projects, projects.c.id == want.c.pid).outerjoin(lateral, sa.true()))


def _unnest(name: str, *arrays: tuple[str, str, Any]) -> Any:
    """``unnest`` of array parameters as a table ``name``: for each ``(parameter, column, type)``,
    the column of that parameter's values.

    Each array sits behind a subquery, so that PostgreSQL keeps one plan for the statement (a
    generic one). Given as they are, the arrays' values are known to a plan made for them (a custom
    plan), which then counts their rows (about 8), while a plan for any values assumes 10 rows from
    ``unnest``: the custom plan always looked cheaper, and PostgreSQL planned anew on every turn.
    Behind a subquery neither plan knows the values, both assume 10 rows, and the first plan stays.
    """
    return (
        sa.func.unnest(
            *(
                sa.select(sa.cast(sa.bindparam(param), postgresql.ARRAY(kind))).scalar_subquery()
                for param, _, kind in arrays
            )
        )
        .table_valued(*(sa.column(column, kind) for _, column, kind in arrays))
        .render_derived(name=name)
    )


def read_ahead(
    conn: Connection,
    wants: Sequence[tuple[int, int, str | None]],
    nexts: Sequence[tuple[int, int]] = (),
) -> int:
    """Read the contexts of several submits at once, ahead of the calls of a shared transaction
    (PostgreSQL): each ``(assignment_id, user_id, idempotency_key)``'s context as
    :func:`submit_context` reads it, kept on the connection for that call to take; and for each
    ``(project_id, user_id)`` of ``nexts``, what :func:`project_for_lease` reads. How many.

    What a ``next`` reads first (the project, the contributor's role and the lease it holds) is
    read so for several ``next`` calls of different contributors: no other call of the turn
    changes it, but for a sweep of overdue leases, which drops it for the contributor whose lease
    it expires. These reads take no locks: another transaction may change them meanwhile, as it
    may between a call's own read and its writes (an overdue lease another worker's sweep expired
    is then left as it is: :func:`expire_assignment`).

    The caller vouches that no other call of the transaction answers, skips or releases its
    lease, or touches its contributor's answers and drafts (one call per contributor). Only the
    first answer to a record that wants one, not gold, is read so: no other answer of the turn
    changes what it reads (the record's answers, consensus and counters). A lease another
    transaction holds is skipped (its call reads its own context, and waits or leaves the turn as
    it would have), and so is an overdue lease; a lease that a call of the turn expires meanwhile
    (a sweep of overdue leases) loses its context here.
    """
    if conn.dialect.name != "postgresql":
        return 0
    ahead: dict[Any, dict[str, Any]] = {}
    if len(wants) > 1:
        params = {
            "aids": [w[0] for w in wants],
            "uids": [w[1] for w in wants],
            "keys": [w[2] for w in wants],
            "now": utcnow(),
        }
        for r in run(conn, "submit_contexts", lambda pg: _context(pg, many=True), params).all():
            ahead[r["id"]] = r
    if len(nexts) > 1:
        params = {"pids": [n[0] for n in nexts], "uids": [n[1] for n in nexts]}
        for r in run(conn, "next_contexts", lambda pg: _for_lease(many=True), params).all():
            ahead[_next_key(r["id"], r.pop("asked_uid"))] = r
    if ahead:
        conn.info[READ_AHEAD] = ahead
    return len(ahead)


def _context(pg: bool, *, skip_locked: bool = False, many: bool = False) -> Any:
    """The statement of :func:`submit_context` (``many``: of :func:`read_ahead`, for arrays of
    assignment ids, user ids and keys; PostgreSQL, whose lookups always skip locked rows)."""
    a: Any = assignments
    r: Any = records
    p: Any = projects
    if many:
        want = _unnest(
            "want", ("aids", "aid", sa.BigInteger), ("uids", "uid", sa.BigInteger), ("keys", "key", sa.String)
        )
        uid: Any = want.c.uid
        key: Any = want.c.key
        # Each lease, record and project looked up by its key for each wanted lease (LATERAL, so
        # the plan probes the primary keys whatever the tables' sizes when it was made; joined,
        # a plan made while the leases were few hashed the whole table on every run later).
        # Only a record's first and only answer, not gold: no other call of the turn answers the
        # same record then. And a record that several contributors answer may be being answered in
        # another turn, which the lock taken here at the start of this turn would make leave its
        # turn and wait (at overlap 3 that cost 8 % of the answers per second).
        a = (
            sa.select(assignments)
            .where(
                assignments.c.id == want.c.aid,
                assignments.c.user_id == uid,
                assignments.c.expires_at > sa.bindparam("now", type_=_TIME),
            )
            .with_for_update(skip_locked=True)
            .lateral("a")
        )
        r = (
            sa.select(records)
            .where(
                records.c.id == a.c.record_id,
                ~records.c.is_gold,
                records.c.submitted == 0,
                sa.func.coalesce(records.c.target, 1) == 1,
            )
            .with_for_update(skip_locked=True)
            .lateral("r")
        )
        p = sa.select(projects).where(projects.c.id == a.c.project_id).offset(_ZERO).lateral("p")
    else:
        uid, key = sa.bindparam("uid"), sa.bindparam("key", type_=sa.String)
    d = responses.alias("d")
    k = responses.alias("k")
    draft = (
        sa.select(d.c.id)
        .where(d.c.assignment_id == a.c.id, d.c.status == "draft")
        .limit(_ONE)
        .scalar_subquery()
    )
    done = sa.select(k.c.id).where(k.c.user_id == uid, k.c.idempotency_key == key).scalar_subquery()
    old = _json_rows(
        pg,
        {
            "question": consensus.c.question,
            "value": consensus.c["value"],
            "method": consensus.c.method,
            "details": consensus.c.details,
        },
        consensus.c.record_id == r.c.id,
        consensus.c.id,
    )
    # The record's answers so far, as record_responses gives them: on PostgreSQL this saves
    # the answer that is not the record's first a statement of its own (and the flush of the
    # writes waiting before it). They are read at the statement's snapshot, taken before the
    # record's lock was granted; ``fresh`` says no transaction changed the record's row since.
    # (A record's first answer reads neither: the CASE evaluates them only when asked; read
    # ahead, a context is a record's first answer.)
    none_yet: Any = sa.literal_column("'[]'::json")
    if many:
        answers: Any = sa.type_coerce(none_yet, JSON)
        fresh: Any = sa.true()
    else:
        o, s = responses.alias("o"), records.alias("s")
        answered = r.c.submitted > 0
        so_far = _json_rows(
            pg, _answer_columns(o), sa.and_(o.c.record_id == r.c.id, o.c.status == "submitted"), o.c.id
        )
        answers = sa.type_coerce(sa.case((answered, so_far), else_=none_yet), JSON)
        seen = sa.select(sa.literal_column("s.xmin")).where(s.c.id == r.c.id).scalar_subquery()
        fresh = sa.case((answered, sa.literal_column("records.xmin") == seen), else_=sa.true())
    q = sa.select(
        a.c.id,
        a.c.project_id,
        a.c.record_id,
        a.c.user_id,
        a.c.status,
        a.c.expires_at,
        a.c.view,
        p.c.workspace_id,
        p.c.name.label("project_name"),
        p.c.schema,
        p.c.schema_version,
        p.c.guidelines_version,
        r.c.fields,
        r.c.metadata,
        r.c.gold,
        r.c.is_gold,
        _suggestions_of(pg, r.c.id).label("suggestions"),
        draft.label("draft_id"),
        done.label("done_id"),
        _gold_of(sa.func.count, a.c.project_id, a.c.user_id).label("gold_n"),
        _gold_of(sa.func.sum, a.c.project_id, a.c.user_id).label("gold_sum"),
        old.label("old_consensus"),
        r.c.submitted,
        r.c.target,
        *role_columns(p.c.id, p.c.workspace_id, uid),
        *(
            [
                sa.func.nextval(sa.literal_column("'responses_id_seq'")).label("new_id"),
                answers.label("answers"),
                fresh.label("fresh"),
            ]
            if pg
            else []
        ),
    )
    if many:
        return q.add_columns(key.label("asked_key")).select_from(
            want.join(a, sa.true()).join(r, sa.true()).join(p, sa.true())
        )
    q = (
        q.join(r, r.c.id == a.c.record_id)
        .join(p, p.c.id == a.c.project_id)
        .where(a.c.id == sa.bindparam("aid"), a.c.user_id == uid)
    )
    return q.with_for_update(of=[a, r], skip_locked=skip_locked) if pg else q


def raise_target(conn: Connection, record_id: int, target: int) -> None:
    """Ask one more answer of a record (adaptive overlap): a new target, and open/full by it."""

    def build(pg: bool) -> Any:
        # The CASE sees the row's old target, so it compares with the new one explicitly.
        status = sa.case(
            (records.c.is_gold, "open"),
            (records.c.submitted + records.c.leased >= sa.bindparam("target"), "full"),
            else_="open",
        )
        return (
            records.update()
            .where(records.c.id == sa.bindparam("rid"))
            .values(target=sa.bindparam("target"), status=status)
        )

    run(conn, "raise_target", build, {"rid": record_id, "target": target})


def refresh_status(conn: Connection, record_id: int) -> None:
    """Recompute open/full from the counters (a record that is done stays done)."""
    run(
        conn,
        "refresh_status",
        lambda pg: (
            records.update()
            .where(records.c.id == sa.bindparam("rid"), records.c.status != "done")
            .values(status=_FULL_OR_OPEN)
        ),
        {"rid": record_id},
    )


def withdraw_answer(conn: Connection, record_id: int) -> None:
    """A rejected answer no longer counts: the record gets a slot back (and is no longer done)."""
    conn.execute(
        records.update()
        .where(records.c.id == record_id)
        .values(submitted=records.c.submitted - 1, status="open")
    )


def record_responses(conn: Connection, record_id: int) -> list[dict[str, Any]]:
    """The submitted answers of one record, with their latest review verdict and corrections.

    Each row also carries its author's gold record in the project (``gold_n``, ``gold_sum``):
    the reliability weights of the consensus vote.
    """

    def build(pg: bool) -> Any:
        cols = _answer_columns(responses)
        return (
            sa.select(*(c.label(k) for k, c in cols.items()))
            .where(responses.c.record_id == sa.bindparam("rec"), responses.c.status == "submitted")
            .order_by(responses.c.id)
        )

    return run(conn, "record_responses", build, {"rec": record_id}).all()


def insert_review(conn: Connection, response_id: int, reason: str, *, defer: bool = False) -> int | None:
    """Queue a response for review; its id (None with ``defer``: the insert may go out later)."""
    rows = run(
        conn,
        "insert_review",
        lambda pg: reviews.insert().returning(reviews.c.id),
        {
            "response_id": response_id,
            "reviewer_id": None,
            "verdict": "pending",
            "reason": reason,
            "corrected_values": None,
            "comment": None,
            "created_at": utcnow(),
            "decided_at": None,
        },
        defer=defer,
    )
    return None if defer and rows.rowcount < 0 else int(rows.one()["id"])


def pending_reviews(
    conn: Connection, project_id: int, *, after_id: int = 0, limit: int = 50, exclude_user: int | None = None
) -> list[dict[str, Any]]:
    q = (
        sa.select(
            reviews.c.id,
            reviews.c.reason,
            reviews.c.created_at,
            responses.c.id.label("response_id"),
            responses.c.record_id,
            responses.c.user_id,
            responses.c["values"],
            responses.c.gold_score,
            users.c.name.label("user_name"),
        )
        .join(responses, responses.c.id == reviews.c.response_id)
        .join(users, users.c.id == responses.c.user_id)
        .where(
            responses.c.project_id == project_id,
            reviews.c.verdict == "pending",
            responses.c.status == "submitted",
            reviews.c.id > after_id,
        )
        .order_by(reviews.c.id)
        .limit(limit)
    )
    if exclude_user is not None:
        q = q.where(responses.c.user_id != exclude_user)
    return [dict(r._mapping) for r in conn.execute(q)]


def get_review(conn: Connection, review_id: int) -> dict[str, Any] | None:
    q = (
        sa.select(
            reviews, responses.c.project_id, responses.c.record_id, responses.c.user_id.label("author_id")
        )
        .join(responses, responses.c.id == reviews.c.response_id)
        .where(reviews.c.id == review_id)
    )
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(of=reviews)
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def decide_review(
    conn: Connection,
    review_id: int,
    *,
    reviewer_id: int | None,
    verdict: str,
    corrected_values: Any = None,
    comment: str | None = None,
) -> None:
    conn.execute(
        reviews.update()
        .where(reviews.c.id == review_id)
        .values(
            verdict=verdict,
            reviewer_id=reviewer_id,
            corrected_values=corrected_values,
            comment=comment,
            decided_at=utcnow(),
        )
    )


def answered_by(conn: Connection, record_ids: Sequence[int]) -> dict[int, set[int]]:
    """The contributors who have a submitted answer on each of the records (a statement per
    IN_CHUNK records)."""
    out: dict[int, set[int]] = {int(r): set() for r in record_ids}
    for i in range(0, len(record_ids), IN_CHUNK):
        q = sa.select(responses.c.record_id, responses.c.user_id).where(
            responses.c.record_id.in_(record_ids[i : i + IN_CHUNK]), responses.c.status == "submitted"
        )
        for rid, uid in conn.execute(q):
            out[int(rid)].add(int(uid))
    return out
