"""``assay serve --workers N``: every worker takes its share of the connections, and all stop together."""

from __future__ import annotations

import os
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
