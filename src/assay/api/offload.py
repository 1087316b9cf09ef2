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
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["configure", "offload", "shutdown"]

T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_threads = 4

# How long a process must have had no call in flight for the next to run on its event loop.
IDLE_SECONDS = 0.01
_inline_when_idle = False
_in_flight = 0  # calls on the pool now
_last_end = 0.0  # time.monotonic() when the last call ended


def configure(threads: int, *, inline_when_idle: bool = False) -> None:
    """Set the pool's size, and whether an idle process runs a call on its event loop (from the
    application's lifespan, in each server process).

    Not on SQLite: a write there may wait for the database's one write lock, which another
    process (an import, say) can hold for seconds, and the event loop would wait with it.
    """
    global _threads, _pool, _inline_when_idle
    with _lock:
        _threads = threads
        _inline_when_idle = inline_when_idle
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
    if _inline_when_idle and _in_flight == 0 and time.monotonic() - _last_end >= IDLE_SECONDS:
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


def shutdown() -> None:
    global _pool
    with _lock:
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=True)
