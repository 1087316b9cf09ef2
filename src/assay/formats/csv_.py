"""CSV with a header row. Every cell arrives as text; nested values are written as JSON text.

**Formulas.** A spreadsheet that opens a CSV file runs a cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return as a formula (``=HYPERLINK(...)`` in a record's text, say). As
OWASP recommends, the writer puts a ``'`` before such a cell (``formulas="escape"``, the
default), which spreadsheets show as text; plain numbers (``-3``, ``+1.5e3``) are left alone.
``formulas="raw"`` writes every cell unchanged. So that an export imports back unchanged, the
reader takes the ``'`` off again: a cell that is one or more ``'`` followed by what would be
escaped loses one ``'`` (and the writer escapes a text that already starts so: ``'=x`` is
written ``''=x``).
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from assay.domain.errors import ValidationError
from assay.formats.base import CountingReader, Source, bad_file

__all__ = ["CSV_FORMULAS", "CsvWriter", "escape_formula", "read_csv", "unescape_formula"]

CSV_FORMULAS = ("escape", "raw")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _would_run(text: str) -> bool:
    core = text.lstrip("'")
    return core.startswith(_FORMULA_START) and _NUMBER.fullmatch(core) is None


def escape_formula(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text (a ``'`` before a would-be formula)."""
    return "'" + text if text and text[0] in "=+-@\t\r'" and _would_run(text) else text


def unescape_formula(text: str) -> str:
    """The text :func:`escape_formula` was given."""
    return text[1:] if text[:1] == "'" and _would_run(text) else text


csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def read_csv(path: Path, name: str) -> Source:
    raw = CountingReader(open(path, "rb"))  # noqa: SIM115 - closed by Source.close
    text = io.TextIOWrapper(io.BufferedReader(raw, buffer_size=1 << 20), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            yield from _rows()
        except UnicodeDecodeError:
            raise bad_file(name, _first_bad_line(path), "is not UTF-8 text; save the file as UTF-8") from None

    def _rows() -> Iterator[tuple[int, dict[str, Any]]]:
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
                yield (
                    line,
                    {
                        k: unescape_formula(v) if v[0] == "'" else v
                        for k, v in zip(header, record, strict=True)
                        if v != ""
                    },
                )
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


def _first_bad_line(path: Path) -> int:
    """The line of the first bytes that are not UTF-8 (text is decoded a block at a time, so the
    error itself does not say; this reads the file again, only when it is not UTF-8)."""
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return n
    return 1


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
    """Writes rows as CSV; the columns are those of the first row (later rows may lack some).
    ``formulas``: ``escape`` (would-be formulas made text, see the module) or ``raw``."""

    def __init__(self, path: Path, *, formulas: str = "escape") -> None:
        if formulas not in CSV_FORMULAS:
            raise ValidationError(
                f"csv_formulas is one of {', '.join(CSV_FORMULAS)}, got {formulas!r}", field="csv_formulas"
            )
        self._f = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._w = csv.writer(self._f)
        self._columns: list[str] | None = None
        self._escape = formulas == "escape"

    def write(self, row: dict[str, Any]) -> None:
        if self._columns is None:
            self._columns = list(row)
            self._w.writerow(self._columns)
        cells = [_cell(row.get(c)) for c in self._columns]
        if self._escape:
            cells = [escape_formula(c) for c in cells]
        self._w.writerow(cells)

    def close(self) -> None:
        self._f.close()
