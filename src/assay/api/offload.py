"""Running the synchronous services off the event loop, on a small thread pool per process.

FastAPI runs a plain ``def`` route through AnyIO's worker threads; that hop (a capacity
limiter, a cancel scope, a thread wake-up) cost about as much CPU as a whole dispatch call on
PostgreSQL. The hot routes (``next``, submit) are ``async def`` and hand the service call to
this pool through asyncio's own executor instead: measured with bench/dispatch.py on the 2-core
machine, the server's CPU per next+submit on PostgreSQL fell from about 3.4 to 2.6 ms. The pool
has as many threads as the AnyIO limiter (2 on SQLite, whose writers queue on one lock anyway;
4 on PostgreSQL: 4, 6 and 8 measured the same within the run-to-run spread).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["configure", "offload", "shutdown"]

T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_threads = 4


def configure(threads: int) -> None:
    """Set the pool's size (from the application's lifespan, in each server process)."""
    global _threads, _pool
    with _lock:
        _threads = threads
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
    """Run ``fn(*args, **kw)`` on the pool and wait for it without blocking the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_get_pool(), functools.partial(fn, *args, **kw))


def shutdown() -> None:
    global _pool
    with _lock:
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=True)
