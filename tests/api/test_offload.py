"""Where the hot routes' service calls run (the event loop when the process is idle, else the pool),
and group commit: calls that wait share one transaction."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from assay.api import offload
from assay.domain.errors import ValidationError
from assay.services import dispatch, imports
from assay.services.actors import SYSTEM
from assay.store.tables import assignments, responses, workspaces
from tests.factories import make_project, make_user


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
        offload.configure(2, group_commit=True)
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
