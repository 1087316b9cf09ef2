"""Where the hot routes' service calls run: on the event loop when the process is idle, else on the pool."""

from __future__ import annotations

import asyncio
import threading

from assay.api import offload


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
