"""JSON Lines: one JSON object per line (blank lines are skipped)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from assay.formats.base import CountingReader, Source, bad_file

__all__ = ["JsonlWriter", "read_jsonl"]


def read_jsonl(path: Path, name: str) -> Source:
    raw = CountingReader(open(path, "rb"))  # noqa: SIM115 - closed by Source.close
    buffered = io.BufferedReader(raw, buffer_size=1 << 20)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for n, line in enumerate(buffered, start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise bad_file(name, n, f"not valid JSON: {e}") from None
            if not isinstance(row, dict):
                raise bad_file(name, n, f"each line must be a JSON object, got {type(row).__name__}")
            yield n, row

    return Source(
        name=name,
        rows=rows(),
        total=path.stat().st_size,
        progress=lambda: raw.count,
        close=buffered.close,
    )


class JsonlWriter:
    def __init__(self, path: Path) -> None:
        self._f = open(path, "wb")  # noqa: SIM115
        self._buf: list[bytes] = []

    def write(self, row: dict[str, Any]) -> None:
        self._buf.append(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS))
        if len(self._buf) >= 2000:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            self._f.write(b"\n".join(self._buf) + b"\n")
            self._buf.clear()

    def close(self) -> None:
        self._flush()
        self._f.close()
