"""Server processes that share the load: a listening socket per worker (Linux ``SO_REUSEPORT``).

Uvicorn's ``--workers`` gives every worker the same listening socket, and whichever worker wakes
first accepts every connection waiting. Clients that keep their connection alive (the web UI,
the SDK, annotation tools) then stay on that one worker: measured with ``bench/dispatch.py``,
32 annotators connecting together all landed on one of two workers, which ran at a full core
while the other idled. Here each worker listens on a socket of its own, all bound to the same
port with ``SO_REUSEPORT``, and the kernel spreads new connections over them.

The parent process watches its workers: one that dies is started again on its socket, and
SIGINT or SIGTERM stops them all. A worker also stops when the parent dies without a word
(``kill -9``, the OOM killer): the kernel sends it SIGTERM then (``PR_SET_PDEATHSIG``), so no
worker is left serving on the port, and a server started again binds it alone. Where ``SO_REUSEPORT`` does not spread connections (other
systems than Linux), :func:`spread_workers` says so and Uvicorn's own supervisor is used.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

__all__ = ["die_with_parent", "run_workers", "spread_workers"]


def spread_workers() -> bool:
    """True where the kernel spreads connections over sockets sharing a port (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


# prctl(2): the signal the kernel sends this process when its parent dies.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Have the kernel send this process SIGTERM (a graceful stop) when its parent ``parent``
    dies; exit at once if it has died already. (Linux; the parent's thread that started this
    process counts, so :func:`run_workers` starts every worker from its main thread.)"""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the line above
        os._exit(0)


def _worker(options: dict[str, Any], sock: socket.socket, parent: int) -> None:
    die_with_parent(parent)
    config = uvicorn.Config(**options)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(workers: int, host: str, port: int, **options: Any) -> None:
    """Serve ``options["app"]`` (an import string) from ``workers`` processes until SIGINT/SIGTERM."""
    options = {**options, "host": host, "port": port}
    backlog = int(options.get("backlog", 2048))
    sockets = [_listen(host, port, backlog) for _ in range(workers)]
    ctx = mp.get_context("spawn")
    stop = threading.Event()

    def start(sock: socket.socket) -> BaseProcess:
        process = ctx.Process(target=_worker, args=(options, sock, os.getpid()), daemon=False)
        process.start()
        return process

    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start(sock) for sock in sockets]
    try:
        while not stop.wait(0.5):
            for i, process in enumerate(processes):
                if process.exitcode is not None and not stop.is_set():
                    if process.exitcode == STARTUP_FAILURE:  # it would fail the same way again
                        stop.set()
                        break
                    processes[i] = start(sockets[i])
    finally:
        for process in processes:
            if process.exitcode is None and process.pid is not None:
                process.terminate()
        for process in processes:
            process.join(10)
            if process.exitcode is None:
                process.kill()
        for sock in sockets:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
