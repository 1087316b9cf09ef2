"""Where the hot routes' service calls run (the event loop when the process is idle, else the pool),
and group commit: calls that wait share one transaction."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from assay.api import offload
from assay.domain.errors import ValidationError
from assay.services import dispatch, imports, projects
from assay.services import records as records_service
from assay.services.actors import SYSTEM
from assay.store import dispatch as dstore
from assay.store.statements import READ_AHEAD
from assay.store.tables import assignments, consensus, events, records, responses, workspaces
from assay.store.types import utcnow
from tests.factories import make_project, make_user


@pytest.fixture(autouse=True)
def _reading_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turns read their submits' contexts ahead, as the server's do (assay.api.app)."""
    monkeypatch.setattr(offload, "_before_turn", dispatch.read_ahead)


def test_an_idle_process_runs_the_call_on_its_loop_and_a_busy_one_on_the_pool() -> None:
    idle = offload.IDLE_SECONDS * 3

    async def main() -> None:
        loop_thread = threading.current_thread()
        offload.configure(2, inline_when_idle=True)
        try:
            await asyncio.sleep(idle)
            assert await offload.offload(threading.current_thread) is loop_thread
            # Right after a call ended, the process is busy: the pool.
            started, release = threading.Event(), threading.Event()

            def slow() -> threading.Thread:
                started.set()
                release.wait(5)
                return threading.current_thread()

            held = asyncio.ensure_future(offload.offload(slow))
            while not started.is_set():
                await asyncio.sleep(0.001)
            # A call in flight on the pool: the next goes there too, however long ago one ended.
            await asyncio.sleep(idle)
            assert await offload.offload(threading.current_thread) is not loop_thread
            release.set()
            assert await held is not loop_thread
            # Without inline_when_idle (SQLite), always the pool.
            offload.configure(2, inline_when_idle=False)
            await asyncio.sleep(idle)
            assert await offload.offload(threading.current_thread) is not loop_thread
        finally:
            release.set()
            offload.shutdown()

    asyncio.run(main())


def _leases(store: Any, n: int, spare: int = 0) -> tuple[dict[str, Any], list[tuple[Any, int]]]:
    p = make_project(
        store,
        {
            "name": "g",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
            "workflow": {"overlap": 1},
        },
    )
    imports.import_rows(
        store, SYSTEM, p["id"], enumerate([{"id": f"r{i}", "text": "x"} for i in range(n + spare)], 1)
    )
    out = []
    for i in range(n):
        actor, _ = make_user(store, f"ann{i}")
        lease = dispatch.next_assignment(store, actor, p["id"])
        assert lease is not None
        out.append((actor, int(lease["assignment_id"])))
    return p, out


def _stored(store: Any) -> list[int]:
    with store.read() as conn:
        return sorted(conn.execute(sa.select(responses.c.assignment_id)).scalars())


def _xmins(store: Any) -> set[int]:
    """The transactions that wrote the stored answers (PostgreSQL)."""
    with store.read() as conn:
        return set(conn.execute(sa.text("SELECT xmin::text::bigint FROM responses")).scalars())


def _submit(store: Any, lease: tuple[Any, int], label: str = "a", **kw: Any) -> Any:
    return (dispatch.submit_response, (store, lease[0], lease[1], {"label": label}), kw)


def test_a_turn_stores_its_answers_together_and_a_refused_one_alone_is_left_out(store: Any) -> None:
    _, (one, two, three) = _leases(store, 3)
    outcomes = offload._run_turn(
        store,
        [_submit(store, one, then_next=True), _submit(store, two, "nope"), _submit(store, three, "b")],
    )
    assert [out and out[0] for out in outcomes] == [True, False, True]
    assert isinstance(outcomes[1][1], ValidationError)  # type: ignore[index]
    assert _stored(store) == sorted([one[1], three[1]])
    if not store.is_sqlite:
        assert len(_xmins(store)) == 1  # one transaction for both
    # The refused lease is still the annotator's to answer.
    dispatch.submit_response(store, two[0], two[1], {"label": "a"})
    assert len(_stored(store)) == 3


class Refused(Exception):
    pass


def test_a_turn_spoiled_by_a_call_that_wrote_leaves_every_call_to_run_on_its_own(store: Any) -> None:
    _, (one, two) = _leases(store, 2)

    def wrote_then_refused() -> None:
        with store.tx() as conn:
            conn.execute(sa.insert(workspaces).values(name="half-done"))
            raise Refused

    calls = [_submit(store, one), (wrote_then_refused, (), {}), _submit(store, two, "b")]
    assert offload._run_turn(store, calls) == [None, None, None]
    assert _stored(store) == []  # the turn rolled back


def test_a_lease_that_fails_after_its_statement_spoils_the_turn(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, (one,) = _leases(store, 1, spare=1)
    other, _ = make_user(store, "other")

    def broken(*_: Any, **__: Any) -> Any:
        raise Refused

    monkeypatch.setattr(dispatch, "_lease_payload", broken)  # after the lease statement ran
    calls = [_submit(store, one), (dispatch.next_assignment, (store, other, p["id"]), {})]
    assert offload._run_turn(store, calls) == [None, None]
    with store.read() as conn:  # neither the answer nor the half-made lease was committed
        assert not conn.execute(sa.select(assignments.c.id).where(assignments.c.user_id == other.id)).all()
    assert _stored(store) == []


def test_grouped_calls_answer_each_caller_once_and_run_again_alone_when_spoiled(store: Any) -> None:
    _, (one, two, three) = _leases(store, 3)
    made: list[str] = []

    def wrote_then_refused() -> None:
        with store.tx() as conn:
            conn.execute(sa.insert(workspaces).values(name=f"half-done-{len(made)}"))
            made.append("x")
            raise Refused

    async def main() -> list[Any]:
        offload.configure(2, group_commit=True, before_turn=dispatch.read_ahead)
        try:
            calls = [_submit(store, one), (wrote_then_refused, (), {}), _submit(store, two, "nope")]
            calls.append(_submit(store, three, "b"))
            return await asyncio.gather(
                *(offload.offload_grouped(store, fn, *args, **kw) for fn, args, kw in calls),
                return_exceptions=True,
            )
        finally:
            offload.shutdown()

    results = asyncio.run(main())
    assert [type(r).__name__ for r in results] == ["tuple", "Refused", "ValidationError", "tuple"]
    assert _stored(store) == sorted([one[1], three[1]])  # each answer once
    assert len(made) == 2  # the spoiling call ran in the turn, then once more on its own
    with store.read() as conn:
        assert not conn.execute(sa.select(workspaces.c.id).where(workspaces.c.name.like("half-done%"))).all()


def test_a_call_that_would_wait_for_a_row_is_left_to_run_on_its_own(store: Any) -> None:
    if store.is_sqlite:
        pytest.skip("row locks: PostgreSQL")
    _, (one, two, three) = _leases(store, 3)
    holder = store.engine.connect()
    held = holder.begin()  # another transaction holds the second lease's row
    holder.execute(sa.select(assignments.c.id).where(assignments.c.id == two[1]).with_for_update())
    try:
        outcomes = offload._run_turn(store, [_submit(store, one), _submit(store, two), _submit(store, three)])
    finally:
        held.rollback()
        holder.close()
    assert outcomes[1] is None  # not waited for, not failed: to run on its own
    assert outcomes[0] and outcomes[0][0] and outcomes[2] and outcomes[2][0]
    assert _stored(store) == sorted([one[1], three[1]])
    assert offload._alone(*_submit(store, two))[0]
    assert _stored(store) == sorted([one[1], two[1], three[1]])


# Read-ahead: a turn reads the contexts of its submits in one statement (PostgreSQL), and what
# the turn's own calls change on the way is read again by the call it concerns.


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys of the dispatch statements run (assay.store.statements.run)."""
    seen: list[str] = []
    real = dstore.run

    def spy(conn: Any, key: str, *args: Any, **kw: Any) -> Any:
        seen.append(key)
        return real(conn, key, *args, **kw)

    monkeypatch.setattr(dstore, "run", spy)
    return seen


def _pg_only(store: Any) -> None:
    if store.is_sqlite:
        pytest.skip("read-ahead: PostgreSQL (SQLite has no round trips to save)")


def _record(store: Any, assignment_id: int) -> dict[str, Any]:
    with store.read() as conn:
        row = conn.execute(
            sa.select(records.c.submitted, records.c.leased, records.c.status)
            .join(assignments, assignments.c.record_id == records.c.id)
            .where(assignments.c.id == assignment_id)
        ).one()
    return dict(row._mapping)


def test_a_turn_reads_its_submits_contexts_in_one_statement(store: Any, statements: list[str]) -> None:
    _pg_only(store)
    _, leases = _leases(store, 4)
    statements.clear()
    outcomes = offload._run_turn(store, [_submit(store, lease, then_next=False) for lease in leases])
    assert all(out and out[0] for out in outcomes)
    assert statements.count("submit_contexts") == 1
    assert not [k for k in statements if k.startswith("submit_context:")]  # none read on its own
    assert _stored(store) == sorted(aid for _, aid in leases)
    for _, aid in leases:
        assert _record(store, aid) == {"submitted": 1, "leased": 0, "status": "done"}


def _project(store: Any, name: str, overlap: int, n: int) -> dict[str, Any]:
    """A project of ``n`` records and one gold record."""
    p = make_project(
        store,
        {
            "name": name,
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
            "workflow": {"overlap": overlap},
        },
    )
    rows = [{"id": f"r{i}", "text": "x"} for i in range(n)] + [
        {"id": "g", "text": "g", "gold": {"label": "a"}}
    ]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    return p


def _gold_lease(store: Any, p: dict[str, Any], actor: Any) -> int:
    with store.tx() as conn:
        got = dstore.lease_record(
            conn, p["id"], actor.id, gold=True, skill_keys=[], expires_at=utcnow() + timedelta(minutes=5)
        )
    assert got is not None and got["is_gold"]
    return int(got["assignment_id"])


def test_only_a_records_one_answer_is_read_ahead(store: Any) -> None:
    """Not gold (everyone answers it), nor a record that wants several answers (or more since
    adaptive overlap raised its target): another turn may be answering it. Nor an overdue lease
    (another worker's sweep would wait for its lock)."""
    _pg_only(store)
    single, double = _project(store, "single", 1, 3), _project(store, "double", 2, 1)
    leases: dict[str, int] = {}
    for name, p in (("one", single), ("raised", single), ("overdue", single), ("several", double)):
        actor, _ = make_user(store, name)
        got = dispatch.next_assignment(store, actor, p["id"])
        assert got is not None
        leases[name] = int(got["assignment_id"])
    gold_actor, _ = make_user(store, "gold")
    leases["gold"] = _gold_lease(store, single, gold_actor)
    raised = sa.select(assignments.c.record_id).where(assignments.c.id == leases["raised"]).scalar_subquery()
    with store.tx() as conn:
        conn.execute(sa.update(records).where(records.c.id == raised).values(target=2))
        conn.execute(
            sa.update(assignments).where(assignments.c.id == leases["overdue"]).values(expires_at=utcnow())
        )
        wants = []
        for aid in leases.values():
            uid = conn.execute(sa.select(assignments.c.user_id).where(assignments.c.id == aid)).scalar_one()
            wants.append((aid, uid, None))
        assert dstore.read_ahead(conn, wants) == 1
        assert list(conn.info[READ_AHEAD]) == [leases["one"]]
    with store.tx() as conn:  # what was read ahead does not outlive its transaction
        assert READ_AHEAD not in conn.info


def test_a_context_read_ahead_is_the_one_its_call_would_read(store: Any) -> None:
    """With a draft, suggestions, a gold record, a project membership and an idempotency key that
    was used before: every column as the call's own statement reads it."""
    _pg_only(store)
    p = _project(store, "rich", 1, 3)
    ann, _ = make_user(store, "ann")
    other, _ = make_user(store, "other")
    projects.add_member(store, SYSTEM, p["id"], "ann", "annotator")
    projects.add_member(store, SYSTEM, p["id"], "other", "annotator")
    gold = _gold_lease(store, p, ann)
    dispatch.submit_response(store, ann, gold, {"label": "b"}, idempotency_key="used")  # a wrong gold answer
    lease = dispatch.next_assignment(store, ann, p["id"])
    second = dispatch.next_assignment(store, other, p["id"])
    assert lease is not None and second is not None
    aid = int(lease["assignment_id"])
    records_service.add_suggestions(
        store, SYSTEM, int(lease["record"]["id"]), [{"question": "label", "value": "a"}]
    )
    dispatch.save_draft(store, ann, aid, {"label": "a"})
    with store.tx() as conn:
        wants = [(aid, ann.id, "used"), (int(second["assignment_id"]), other.id, None)]
        assert dstore.read_ahead(conn, wants) == 2
        ahead = conn.info[READ_AHEAD].pop(aid)
        own = dstore.submit_context(conn, aid, ann.id, "used")
    assert own is not None
    assert ahead["draft_id"] and ahead["done_id"] and ahead["gold_n"] == 1 and ahead["suggestions"]
    assert ahead["member_role"] == "annotator"
    same = set(own) - {"new_id"}
    assert {k: ahead[k] for k in same} == {k: own[k] for k in same}


def test_the_read_ahead_keeps_one_plan_whatever_the_turns_size(store: Any) -> None:
    """PostgreSQL plans the statement once and keeps the plan (a generic one), instead of planning
    it again on every turn for the number of leases it reads (half its time, measured)."""
    _pg_only(store)
    p, leases = _leases(store, 4)
    wants = [(aid, actor.id, None) for actor, aid in leases]
    nexts = [(int(p["id"]), actor.id) for actor, _ in leases]
    with store.tx() as conn:
        for n in [2, 3, 4] * 5:  # psycopg prepares them at the 5th; PostgreSQL tries 5 custom plans
            assert dstore.read_ahead(conn, wants[:n], nexts[:n]) == 2 * n
        plans = conn.exec_driver_sql(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE position('unnest' in statement) > 0"
        ).all()
    assert len(plans) == 2  # the submits' contexts, and what the nexts read first
    assert all(generic > 0 and custom <= 5 for generic, custom in plans)


def test_a_turn_reads_again_what_its_own_calls_changed(
    store: Any, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gold record, a record that wants several answers, a lease swept by another call's
    ``next``, and a contributor with two calls in the turn: each such submit reads its own context."""
    _pg_only(store)
    single, double = _project(store, "single", 1, 6), _project(store, "double", 2, 2)
    users = {
        name: make_user(store, name)[0] for name in ("gold", "one", "two", "late", "sweeper", "twice", "new")
    }

    def lease(name: str, p: dict[str, Any] = single) -> int:
        got = dispatch.next_assignment(store, users[name], p["id"])
        assert got is not None
        return int(got["assignment_id"])

    gold, one = _gold_lease(store, single, users["gold"]), lease("one")
    first, second = lease("two", double), lease("late", double)  # both on the same record
    overdue = lease("sweeper")
    lease("new")  # its `next` in the turn sweeps the overdue lease, and returns the lease it holds
    twice = lease("twice")
    soon = utcnow() + timedelta(seconds=30)  # due after the read-ahead: the turn's sweep expires it
    with store.tx() as conn:
        conn.execute(sa.update(assignments).where(assignments.c.id == overdue).values(expires_at=soon))
    monkeypatch.setattr(dispatch, "_last_sweep", {})
    monkeypatch.setattr(dispatch, "utcnow", lambda: soon + timedelta(seconds=30))
    key = "k-twice"
    calls = [
        (dispatch.next_assignment, (store, users["new"], single["id"]), {}),
        _submit(store, (users["gold"], gold)),
        _submit(store, (users["one"], one)),
        _submit(store, (users["two"], first)),
        _submit(store, (users["late"], second), "b"),
        _submit(store, (users["sweeper"], overdue)),
        _submit(store, (users["twice"], twice), idempotency_key=key),
        _submit(store, (users["twice"], twice), idempotency_key=key),
    ]
    statements.clear()
    outcomes = offload._run_turn(store, calls)
    assert all(out and out[0] for out in outcomes)
    # Read ahead: "one" and "sweeper", whose context the sweep drops. Each of the others reads its
    # own context in its call.
    assert statements.count("submit_contexts") == 1
    assert len([k for k in statements if k.startswith("submit_context:")]) == 6
    assert statements.count("take_slot") == 1  # the late answer takes a slot again: its lease was swept
    assert outcomes[6][1][1] and not outcomes[7][1][1]  # type: ignore[index]  # stored once
    assert outcomes[6][1][0]["id"] == outcomes[7][1][0]["id"]  # type: ignore[index]
    assert _record(store, first) == {"submitted": 2, "leased": 0, "status": "done"}
    with store.read() as conn:  # the second answer's consensus counts the first
        ids = conn.execute(
            sa.select(consensus.c.response_ids)
            .join(assignments, assignments.c.record_id == consensus.c.record_id)
            .where(assignments.c.id == first)
        ).scalar_one()
        assert len(ids) == 2
        for r in conn.execute(sa.select(records)).all():  # every record's counters agree
            leased = conn.execute(
                sa.select(sa.func.count()).where(
                    assignments.c.record_id == r.id, assignments.c.status == "leased"
                )
            ).scalar()
            answered = conn.execute(
                sa.select(sa.func.count()).where(
                    responses.c.record_id == r.id, responses.c.status == "submitted"
                )
            ).scalar()
            assert (r.leased, r.submitted) == (leased, answered), r.external_id


def _next(store: Any, actor: Any, p: dict[str, Any]) -> Any:
    return (dispatch.next_assignment, (store, actor, p["id"]), {})


def test_a_turn_reads_what_its_nexts_read_first_in_one_statement(store: Any, statements: list[str]) -> None:
    _pg_only(store)
    p = _project(store, "nexts", 1, 6)
    actors = [make_user(store, f"n{i}")[0] for i in range(4)]
    statements.clear()
    outcomes = offload._run_turn(store, [_next(store, a, p) for a in actors])
    assert all(out and out[0] and out[1] for out in outcomes)
    assert statements.count("next_contexts") == 1
    assert "project_for_lease" not in statements  # none read on its own
    records_leased = {out[1]["record"]["id"] for out in outcomes}  # type: ignore[index]
    assert len(records_leased) == 4


def test_what_a_next_reads_ahead_is_what_its_call_would_read(store: Any) -> None:
    """A member holding a lease, a member holding none, and a contributor the project is not
    open to (it has members; this one is not one of them)."""
    _pg_only(store)
    p = _project(store, "members", 1, 3)
    holder, free, outsider = (make_user(store, name)[0] for name in ("holder", "free", "outsider"))
    for name in ("holder", "free"):
        projects.add_member(store, SYSTEM, p["id"], name, "annotator")
    assert dispatch.next_assignment(store, holder, p["id"]) is not None
    nexts = [(int(p["id"]), a.id) for a in (holder, free, outsider)]
    with store.tx() as conn:
        own = [dstore.project_for_lease(conn, pid, uid) for pid, uid in nexts]
        assert dstore.read_ahead(conn, [], nexts) == 3
        ahead = [dstore.project_for_lease(conn, pid, uid) for pid, uid in nexts]
        assert not conn.info[READ_AHEAD]  # each taken by its call
    assert ahead == own
    assert [o[1] for o in own] == ["annotator", "annotator", None]
    assert own[0][2] is not None and own[1][2] is None


def test_a_next_whose_held_lease_another_call_sweeps_reads_again(
    store: Any, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read ahead, the contributor held an overdue lease; another call's ``next`` in the turn
    sweeps it first. Its own ``next`` then finds no lease held (it is not expired twice: its slot
    is given back once) and leases another record."""
    _pg_only(store)
    p = _project(store, "sweep", 1, 4)
    late, sweeper = make_user(store, "late")[0], make_user(store, "sweeper")[0]
    old = dispatch.next_assignment(store, late, p["id"])
    assert old is not None
    soon = utcnow() + timedelta(seconds=30)
    with store.tx() as conn:
        conn.execute(
            sa.update(assignments).where(assignments.c.id == old["assignment_id"]).values(expires_at=soon)
        )
    monkeypatch.setattr(dispatch, "_last_sweep", {})
    monkeypatch.setattr(dispatch, "utcnow", lambda: soon + timedelta(seconds=30))
    statements.clear()
    outcomes = offload._run_turn(store, [_next(store, sweeper, p), _next(store, late, p)])
    assert all(out and out[0] and out[1] for out in outcomes)
    assert statements.count("next_contexts") == 1 and statements.count("project_for_lease") == 1
    assert outcomes[1][1]["assignment_id"] != old["assignment_id"]  # type: ignore[index]
    with store.read() as conn:
        status = conn.execute(
            sa.select(assignments.c.status).where(assignments.c.id == old["assignment_id"])
        ).scalar_one()
        assert status == "expired"
        expired = conn.execute(
            sa.select(sa.func.count()).where(
                events.c.action == "assignment.expired", events.c.object_id == str(old["assignment_id"])
            )
        ).scalar()
        assert expired == 1
        leases = conn.execute(
            sa.select(sa.func.count()).where(
                assignments.c.record_id == old["record"]["id"], assignments.c.status == "leased"
            )
        ).scalar()  # (the sweeper may have leased the record its slot freed)
    assert _record(store, int(old["assignment_id"]))["leased"] == leases


def test_a_contributor_who_also_submits_in_the_turn_reads_its_next_itself(
    store: Any, statements: list[str]
) -> None:
    """Read ahead, its `next` would find the lease its submit answers earlier in the turn."""
    _pg_only(store)
    p = _project(store, "both", 1, 4)
    both, one, two = (make_user(store, name)[0] for name in ("both", "one", "two"))
    lease = dispatch.next_assignment(store, both, p["id"])
    assert lease is not None
    statements.clear()
    outcomes = offload._run_turn(
        store,
        [
            _submit(store, (both, int(lease["assignment_id"]))),
            _next(store, both, p),
            _next(store, one, p),
            _next(store, two, p),
        ],
    )
    assert all(out and out[0] for out in outcomes)
    got = outcomes[1][1]  # type: ignore[index]
    assert got is not None and got["assignment_id"] != lease["assignment_id"]
    assert statements.count("next_contexts") == 1  # for "one" and "two"
    assert statements.count("project_for_lease") == 1  # "both" reads its own
