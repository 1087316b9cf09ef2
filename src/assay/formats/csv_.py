"""CSV with a header row. Every cell arrives as text; nested values are written as JSON text."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from assay.formats.base import CountingReader, Source, bad_file

__all__ = ["CsvWriter", "read_csv"]

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def read_csv(path: Path, name: str) -> Source:
    raw = CountingReader(open(path, "rb"))  # noqa: SIM115 - closed by Source.close
    text = io.TextIOWrapper(io.BufferedReader(raw, buffer_size=1 << 20), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            header = next(reader)
        except StopIteration:
            return
        if len(set(header)) != len(header):
            raise bad_file(name, 1, "the header names a column twice")
        width = len(header)
        start = reader.line_num
        try:
            for record in reader:
                line = start + 1
                start = reader.line_num
                if not record:
                    continue
                if len(record) != width:
                    raise bad_file(
                        name, line, f"expected {width} cells as in the header, found {len(record)}"
                    )
                yield line, {k: v for k, v in zip(header, record, strict=True) if v != ""}
        except csv.Error as e:
            raise bad_file(name, reader.line_num, f"not valid CSV: {e}") from None

    return Source(
        name=name,
        rows=rows(),
        strings=True,
        total=path.stat().st_size,
        progress=lambda: raw.count,
        close=text.close,
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class CsvWriter:
    """Writes rows as CSV; the columns are those of the first row (later rows may lack some)."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._w = csv.writer(self._f)
        self._columns: list[str] | None = None

    def write(self, row: dict[str, Any]) -> None:
        if self._columns is None:
            self._columns = list(row)
            self._w.writerow(self._columns)
        self._w.writerow([_cell(row.get(c)) for c in self._columns])

    def close(self) -> None:
        self._f.close()
