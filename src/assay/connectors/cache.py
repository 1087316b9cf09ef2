"""A response cache: the same (model, parameters, messages) is answered from disk, not the model.

Keys are the SHA-256 of the canonical JSON of ``{"model", "params", "messages"}``; values are
the answer's text, token counts, cost when it was made, and the raw response. The cache is a
SQLite file (default ``$ASSAY_HOME/cache/responses.sqlite``) so that a rerun of a generation
or an evaluation costs nothing and returns the very same answers. To sample a model several
times at the same settings, give each sample its own ``seed`` (or ``sample``) parameter.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["ResponseCache", "cache_key", "default_cache_path"]


def cache_key(model: str, params: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    doc = {"model": model, "params": params, "messages": messages}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_cache_path() -> Path:
    from assay.settings import Settings

    return Settings().home / "cache" / "responses.sqlite"


class ResponseCache:
    """A thread-safe SQLite cache of model answers."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # a cache: no fsync per answer (WAL keeps it consistent; a power cut may lose the last few)
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                " key TEXT PRIMARY KEY, model TEXT NOT NULL, value TEXT NOT NULL, created_at REAL NOT NULL)"
            )
            self._conn.commit()
        self.hits = 0
        self.misses = 0

    def get(
        self, model: str, params: dict[str, Any], messages: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        key = cache_key(model, params, messages)
        with self._lock:
            row = self._conn.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        value: dict[str, Any] = json.loads(row[0])
        return value

    def put(
        self, model: str, params: dict[str, Any], messages: list[dict[str, Any]], value: dict[str, Any]
    ) -> None:
        key = cache_key(model, params, messages)
        text = json.dumps(value, ensure_ascii=False, default=str)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses (key, model, value, created_at) VALUES (?, ?, ?, ?)",
                (key, model, text, time.time()),
            )
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
