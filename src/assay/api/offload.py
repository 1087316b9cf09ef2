"""Running the synchronous services off the event loop, on a small thread pool per process.

FastAPI runs a plain ``def`` route through AnyIO's worker threads; that hop (a capacity
limiter, a cancel scope, a thread wake-up) cost about as much CPU as a whole dispatch call on
PostgreSQL. The hot routes (``next``, submit) are ``async def`` and hand the service call to
this pool through asyncio's own executor instead: measured with bench/dispatch.py on the 2-core
machine, the server's CPU per next+submit on PostgreSQL fell from about 3.4 to 2.6 ms. The pool
has as many threads as the AnyIO limiter (2 on SQLite, whose writers queue on one lock anyway;
4 on PostgreSQL: 4, 6 and 8 measured the same within the run-to-run spread).

**An idle process runs the call on its event loop.** The hop to a pool thread and back is two
thread wake-ups, and on a machine that is mostly idle each wake-up is slow. When nothing else
is in flight in the process and its last call ended at least :data:`IDLE_SECONDS` ago, the
call runs on the event loop itself (PostgreSQL only: see :func:`configure`). A request that
arrives meanwhile waits for it in the socket's buffer; a busy process, whose calls follow each
other closely, always uses the pool (running inline there left the CPU idle while the loop
waited on the database: 15–20 % fewer answers per second, measured). With 32 paced annotators
(bench/dispatch.py --think-ms 1000, PostgreSQL, chained, 30 s; 5 pairs, old and new in turn) the
cycle's p50 was lower in every pair, by 0.18–0.40 ms (5.22–5.61 → 4.89–5.38 ms), the server's CPU
per cycle by 0.1–0.3 ms, and p95 and p99 stayed where they were; closed loop, the same (678 / 671
→ 688 / 683 answers/s).

**Group commit.** :func:`offload_grouped` (the hot routes, on both databases) does more: the calls
that arrive while one is running wait in a queue, and the next turn takes them all (up to
:data:`GROUP_MAX`) into one transaction, run one after the other (:meth:`Store.shared_tx`): one
``BEGIN``, one ``COMMIT`` and one WAL flush for all of them, and one pool checkout. Each caller
is answered once the transaction has committed, so no acknowledged answer can be lost. A call
that fails without having written leaves the others be; one that would wait for a lease or
record another transaction holds (:class:`~assay.store.statements.Busy`) leaves the turn and
runs on its own after it (two turns that waited on each other's rows would wait until one gave
up); one that had written, or a refused statement (a lock waited on too long included), rolls
the turn back and its calls run again, each on its own. Those run on the pool beside the turns,
and a turn that takes longer than :data:`TURN_PATIENCE` is left to finish by itself while the
next one starts, so that one call waiting for a lock does not hold up the process. Measured
with bench/dispatch.py (32 annotators, closed loop, old and new in turn), answers per second: PostgreSQL chained 660–727 → 793–892, separate 455–458 → 583–614,
chained at overlap 3 520–544 → 734–746 (p99 103–110 → 69–72 ms); SQLite chained 458–472 →
737–744, separate 348 → 628. Paced, nothing changes: a call that finds no other waiting runs
alone, as before.

**Read-ahead.** A turn starts with ``before_turn`` (see :func:`configure`): the server reads there
the contexts of the turn's submits in one statement instead of one each
(:func:`assay.services.dispatch.read_ahead`): for the answers on leases this process handed out for
a record's one answer (not gold), by contributors with no other call in the turn. A lease that a
call of the turn expires meanwhile (its sweep of overdue leases) loses the context read for it. And
what the turn's ``next`` calls read first (the project, the caller's role, the lease it holds), in
another statement, for contributors with no other call in the turn.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from assay.store.statements import Busy

if TYPE_CHECKING:
    from assay.store.engine import Store

__all__ = ["configure", "offload", "offload_grouped", "shutdown"]

T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_threads = 4

# How long a process must have had no call in flight for the next to run on its event loop.
IDLE_SECONDS = 0.01
_inline_when_idle = False
_in_flight = 0  # calls on the pool now
_last_end = 0.0  # time.monotonic() when the last call ended

# Group commit: at most this many calls share a transaction.
GROUP_MAX = 16
_grouped = False
_Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]
# What runs at the start of a turn, in its transaction, given the turn's calls (configure).
_before_turn: Callable[[Store, list[_Call]], None] | None = None
_Queued = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]


class _Group:
    """The calls waiting for a turn, of one store on one event loop, and whether turns run."""

    __slots__ = ("queue", "running")

    def __init__(self) -> None:
        self.queue: list[_Queued] = []
        self.running = False


_groups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Group]] = weakref.WeakKeyDictionary()


def configure(
    threads: int,
    *,
    inline_when_idle: bool = False,
    group_commit: bool = False,
    before_turn: Callable[[Store, list[_Call]], None] | None = None,
) -> None:
    """Set the pool's size, whether an idle process runs a call on its event loop, and whether
    :func:`offload_grouped` groups calls (from the application's lifespan, in each server process).
    ``before_turn(store, calls)`` runs at the start of each turn of several calls, in its
    transaction (to read ahead what the calls will read: :func:`assay.services.dispatch.read_ahead`).

    ``inline_when_idle`` is not for SQLite: a write there may wait for the database's one write
    lock, which another process (an import, say) can hold for seconds, and the event loop would
    wait with it.
    """
    global _threads, _pool, _inline_when_idle, _grouped, _before_turn
    with _lock:
        _threads = threads
        _inline_when_idle = inline_when_idle
        _grouped = group_commit
        _before_turn = before_turn
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=False)


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_threads, thread_name_prefix="assay-db")
        return _pool


async def offload(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run ``fn(*args, **kw)`` on the pool and wait for it without blocking the event loop; or,
    when the process is idle (see the module's docstring), run it on the event loop at once."""
    global _in_flight, _last_end
    if _idle():
        try:
            return fn(*args, **kw)
        finally:
            _last_end = time.monotonic()
    _in_flight += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(
            _get_pool(), functools.partial(fn, *args, **kw)
        )
    finally:
        _in_flight -= 1
        _last_end = time.monotonic()


def _idle() -> bool:
    return _inline_when_idle and _in_flight == 0 and time.monotonic() - _last_end >= IDLE_SECONDS


async def offload_grouped(store: Store, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """:func:`offload`, where a call that would wait for a thread shares a transaction with the
    others waiting (group commit, see the module's docstring); ``fn`` runs its work in
    ``store.tx()``. Only where :func:`configure` turned group commit on."""
    global _in_flight, _last_end
    if not _grouped or _idle():
        return await offload(fn, *args, **kw)
    loop = asyncio.get_running_loop()
    groups = _groups.setdefault(loop, {})
    group = groups.get(store.key) or groups.setdefault(store.key, _Group())
    done: asyncio.Future[Any] = loop.create_future()
    group.queue.append((fn, args, kw, done))
    _in_flight += 1
    if not group.running:
        group.running = True
        _keep(loop.create_task(_turns(store, group)))
    try:
        return await done  # type: ignore[no-any-return]
    finally:
        _in_flight -= 1
        _last_end = time.monotonic()


async def _turns(store: Store, group: _Group) -> None:
    """Run the queued calls, a turn (one transaction) at a time, until none is left.

    A turn that takes longer than :data:`TURN_PATIENCE` (a call waiting for a lock, say) is left
    to finish by itself and the next turn starts: one slow call does not hold up the process.
    """
    loop = asyncio.get_running_loop()
    try:
        while group.queue:
            batch = group.queue[:GROUP_MAX]
            del group.queue[:GROUP_MAX]
            job = loop.run_in_executor(
                _get_pool(), _run_turn, store, [(fn, args, kw) for fn, args, kw, _ in batch]
            )
            finishing = _keep(asyncio.ensure_future(_finish(job, batch)))
            await asyncio.wait({finishing}, timeout=TURN_PATIENCE)
    finally:
        group.running = False


# How long the next turn waits for the one before it to end.
TURN_PATIENCE = 0.1

_running: set[asyncio.Future[Any]] = set()  # (the event loop keeps only weak references to tasks)


def _keep(task: asyncio.Future[Any]) -> asyncio.Future[Any]:
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


_Outcome = tuple[bool, Any]


async def _finish(job: asyncio.Future[list[_Outcome | None]], batch: list[Any]) -> None:
    """Answer the callers of a turn once it has committed; hand the calls it could not take to
    the pool, each to run on its own."""
    try:
        outcomes = await job
    except Exception as e:  # (the pool is shutting down)
        outcomes = [(False, e)] * len(batch)
    for (fn, args, kw, done), out in zip(batch, outcomes, strict=True):
        if out is None:
            _keep(asyncio.ensure_future(_on_its_own(fn, args, kw, done)))
        else:
            _settle(done, out)


async def _on_its_own(
    fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any], done: asyncio.Future[Any]
) -> None:
    loop = asyncio.get_running_loop()
    _settle(done, await loop.run_in_executor(_get_pool(), _alone, fn, args, kw))


def _settle(done: asyncio.Future[Any], outcome: _Outcome) -> None:
    """Answer a caller (unless it has gone)."""
    if done.done():
        return
    if outcome[0]:
        done.set_result(outcome[1])
    else:
        done.set_exception(outcome[1])


class _Spoiled(Exception):
    pass


def _alone(fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]) -> _Outcome:
    try:
        return True, fn(*args, **kw)
    except Exception as e:
        return False, e


def _run_turn(store: Store, calls: list[_Call]) -> list[_Outcome | None]:
    """The calls in one shared transaction: the outcome of each, or None for a call to run on its
    own (it would have waited for another transaction's row, or the turn was rolled back)."""
    if len(calls) == 1:
        return [_alone(*calls[0])]
    outcomes: list[_Outcome | None] = []
    ran = False
    try:
        with store.shared_tx() as shared:
            if _before_turn is not None:
                _before_turn(store, calls)
            for fn, args, kw in calls:
                try:
                    outcomes.append((True, fn(*args, **kw)))
                except Exception as e:
                    if shared.spoiled:
                        raise _Spoiled from e
                    # (Busy: it would wait for another transaction's row: on its own, after)
                    outcomes.append(None if isinstance(e, Busy) else (False, e))
            ran = True
    except Exception as e:
        if ran:  # the commit failed: none of them is stored, whatever it was
            return [None if out is None else (False, e) for out in outcomes]
        return [None] * len(calls)
    return outcomes


def shutdown() -> None:
    global _pool
    with _lock:
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=True)
