"""``assay serve --workers N``: every worker takes its share of the connections, and all stop together."""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from pathlib import Path

import pytest

from assay.cli.workers import spread_workers
from tests.api.conftest import spawn_server, stop_server


def _children(pid: int) -> list[int]:
    """The server's worker processes (not multiprocessing's resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for c in (task / "children").read_text().split():
            cmd = Path(f"/proc/{c}/cmdline").read_bytes()
            if b"spawn_main" in cmd and b"resource_tracker" not in cmd:
                found.append(int(c))
    return found


def _established(pid: int, port: int, peers: set[int]) -> int:
    """Established TCP connections on ``port`` that process ``pid`` holds to one of the client
    ports ``peers`` (Linux /proc): another connection (the start-up check's, closing) is not ours."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        local_port = int(cols[1].split(":")[1], 16)
        remote_port = int(cols[2].split(":")[1], 16)
        if local_port == port and remote_port in peers and cols[3] == "01" and cols[9] in inodes:
            count += 1
    return count


@pytest.mark.skipif(not spread_workers(), reason="SO_REUSEPORT spreads connections on Linux only")
def test_connections_spread_over_the_workers_and_all_stop(db_url: str, tmp_path: Path) -> None:
    proc, url = spawn_server(db_url, tmp_path, workers=2)
    clients = []
    try:
        workers = _children(proc.pid)
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline:  # the second may still be starting
            time.sleep(0.1)
            workers = _children(proc.pid)
        assert len(workers) == 2
        port = int(url.rsplit(":", 1)[1])
        # 40 connections opened at once (as a crowd of annotation tools starting together), each
        # kept alive; then one request on each
        clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(40)]
        for c in clients:
            c.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        for c in clients:
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        peers = {c.getsockname()[1] for c in clients}
        held = [_established(w, port, peers) for w in workers]  # (01 in /proc: ESTABLISHED)
        assert sum(held) == 40
        assert min(held) >= 8, held  # one socket per worker: the kernel hashes connections over them
        os.kill(workers[0], signal.SIGKILL)  # a worker that dies is started again
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = _children(proc.pid)
            if len(now) == 2 and workers[0] not in now:
                break
            time.sleep(0.1)
        assert len(now) == 2 and workers[0] not in now
    finally:
        for c in clients:
            c.close()
        stop_server(proc)
    assert proc.returncode is not None
    for w in workers:
        assert not Path(f"/proc/{w}").exists() or "zombie" in Path(f"/proc/{w}/status").read_text()


def _listening(port: int) -> set[str]:
    """Inodes of the sockets listening on TCP ``port`` (Linux /proc; 0A is LISTEN)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "0A":
                found.add(cols[9])
    return found


def _socket_inodes(pids: list[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait (pidfd, no polling) up to ``timeout`` seconds for each process to end; the ones left."""
    left = []
    deadline = time.monotonic() + timeout
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                left.append(pid)
        finally:
            os.close(fd)
    return left


@pytest.mark.skipif(not spread_workers(), reason="SO_REUSEPORT workers run on Linux only")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_workers_exit_when_the_parent_is_killed_and_a_new_server_binds_alone(
    db_url: str, tmp_path: Path
) -> None:
    proc, url = spawn_server(db_url, tmp_path, workers=2)
    port = int(url.rsplit(":", 1)[1])
    new = None
    workers: list[int] = []
    try:
        workers = _children(proc.pid)
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline:  # the second may still be starting
            time.sleep(0.1)
            workers = _children(proc.pid)
        assert len(workers) == 2
        proc.kill()  # SIGKILL: the parent cannot tell its workers
        proc.wait(10)
        assert _wait_gone(workers, 30) == [], "workers outlived their parent"
        assert _listening(port) == set()  # nobody serves on the port any more
        new, _ = spawn_server(db_url, tmp_path, workers=2, port=port)
        new_workers = _children(new.pid)
        deadline = time.monotonic() + 30
        while len(new_workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            new_workers = _children(new.pid)
        assert _listening(port) <= _socket_inodes([new.pid, *new_workers])
    finally:
        stop_server(proc)
        for pid in _wait_gone(workers, 0):  # (orphans of a failed run: not left serving)
            os.kill(pid, signal.SIGKILL)
        if new is not None:
            stop_server(new)
