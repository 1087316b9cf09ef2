"""A JSON array of objects, read incrementally so a large file is never held whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from assay.formats.base import Source, bad_file

__all__ = ["JsonArrayWriter", "read_json_array"]

_CHUNK = 1 << 20
_WS = " \t\r\n"


def read_json_array(path: Path, name: str) -> Source:
    f = open(path, encoding="utf-8")  # noqa: SIM115 - closed by Source.close
    decoder = json.JSONDecoder()
    state = {"read": 0}

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        buf = ""
        pos = 0
        line = 1  # line number at buf[0]
        eof = False

        def fill() -> bool:
            nonlocal buf, pos, line, eof
            if eof:
                return False
            chunk = f.read(_CHUNK)
            state["read"] += len(chunk.encode()) if chunk else 0
            if not chunk:
                eof = True
                return False
            line += buf.count("\n", 0, pos)
            buf = buf[pos:] + chunk
            pos = 0
            return True

        def skip_ws() -> str | None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in _WS:
                    pos += 1
                if pos < len(buf):
                    return buf[pos]
                if not fill():
                    return None

        first = skip_ws()
        if first != "[":
            raise bad_file(name, line + buf.count("\n", 0, pos), "a JSON file must hold an array of objects")
        pos += 1
        expect_item = True
        while True:
            c = skip_ws()
            here = line + buf.count("\n", 0, pos)
            if c is None:
                raise bad_file(name, here, "the JSON array is not closed")
            if c == "]":
                return
            if c == ",":
                if expect_item:
                    raise bad_file(name, here, "unexpected ','")
                pos += 1
                expect_item = True
                continue
            if not expect_item:
                raise bad_file(name, here, "expected ',' between array items")
            while True:
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                    break
                except json.JSONDecodeError as e:
                    if not fill():
                        raise bad_file(name, here, f"not valid JSON: {e.msg}") from None
            if not isinstance(obj, dict):
                raise bad_file(name, here, f"each array item must be an object, got {type(obj).__name__}")
            pos = end
            expect_item = False
            yield here, obj

    return Source(
        name=name, rows=rows(), total=path.stat().st_size, progress=lambda: state["read"], close=f.close
    )


class JsonArrayWriter:
    def __init__(self, path: Path) -> None:
        self._f = open(path, "wb")  # noqa: SIM115
        self._first = True
        self._f.write(b"[")

    def write(self, row: dict[str, Any]) -> None:
        self._f.write((b"\n" if self._first else b",\n") + orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS))
        self._first = False

    def close(self) -> None:
        self._f.write(b"\n]\n")
        self._f.close()
