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


def _leases(store: Any, n: int) -> tuple[dict[str, Any], list[tuple[Any, int]]]:
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
        store, SYSTEM, p["id"], enumerate([{"id": f"r{i}", "text": "x"} for i in range(n)], 1)
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


def test_a_turn_stores_its_answers_together_and_a_refused_one_alone_is_left_out(store: Any) -> None:
    _, (one, two, three) = _leases(store, 3)
    outcomes = offload._run_turn(
        store,
        [
            (dispatch.submit_response, (store, one[0], one[1], {"label": "a"}), {"then_next": True}),
            (dispatch.submit_response, (store, two[0], two[1], {"label": "nope"}), {}),
            (dispatch.submit_response, (store, three[0], three[1], {"label": "b"}), {}),
        ],
    )
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert isinstance(outcomes[1][1], ValidationError)
    assert outcomes[0][1][0]["record_id"] != outcomes[2][1][0]["record_id"]
    assert _stored(store) == sorted([one[1], three[1]])
    # The refused lease is still the annotator's to answer.
    dispatch.submit_response(store, two[0], two[1], {"label": "a"})
    assert len(_stored(store)) == 3


def test_a_turn_spoiled_by_a_call_that_wrote_runs_each_call_again_on_its_own(store: Any) -> None:
    _, (one, two) = _leases(store, 2)

    class Refused(Exception):
        pass

    def wrote_then_refused() -> None:
        with store.tx() as conn:
            conn.execute(sa.insert(workspaces).values(name="half-done"))
            raise Refused

    outcomes = offload._run_turn(
        store,
        [
            (dispatch.submit_response, (store, one[0], one[1], {"label": "a"}), {}),
            (wrote_then_refused, (), {}),
            (dispatch.submit_response, (store, two[0], two[1], {"label": "b"}), {}),
        ],
    )
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert isinstance(outcomes[1][1], Refused)
    assert _stored(store) == sorted([one[1], two[1]])  # each answer once
    with store.read() as conn:
        assert not conn.execute(sa.select(workspaces.c.id).where(workspaces.c.name == "half-done")).all()


def test_a_call_that_would_wait_for_a_row_leaves_the_turn_and_runs_after_it(store: Any) -> None:
    if store.is_sqlite:
        pytest.skip("row locks: PostgreSQL")
    _, (one, two, three) = _leases(store, 3)
    holder = store.engine.connect()
    held = holder.begin()  # another transaction holds the second lease's row
    holder.execute(sa.select(assignments.c.id).where(assignments.c.id == two[1]).with_for_update())
    threading.Timer(0.5, held.rollback).start()
    try:
        outcomes = offload._run_turn(
            store,
            [
                (dispatch.submit_response, (store, actor, aid, {"label": "a"}), {})
                for actor, aid in (one, two, three)
            ],
        )
    finally:
        holder.close()
    assert [ok for ok, _ in outcomes] == [True, True, True]
    ids = [out[0]["id"] for _, out in outcomes]
    # The first and third were stored in the turn; the second waited for the row alone, after it
    # (had the turn waited and given up, each would have run again in order).
    assert ids[0] < ids[2] < ids[1]
    assert _stored(store) == sorted([one[1], two[1], three[1]])
