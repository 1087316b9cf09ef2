"""What every codec shares: a streaming source of rows and a row writer."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from assay.domain.errors import ValidationError

__all__ = ["CountingReader", "RowWriter", "Source", "bad_file"]


@dataclass
class Source:
    """Rows read lazily from a file.

    ``rows`` yields ``(place, row)`` where ``place`` is the 1-based line (text formats) or row
    number (Parquet) that error messages name. ``strings`` is true when every value arrives as
    text (CSV cells). ``progress()`` returns ``(done, total)`` in the unit of ``unit``.
    """

    name: str
    rows: Iterator[tuple[int, dict[str, Any]]]
    strings: bool = False
    unit: str = "bytes"
    total: int | None = None
    progress: Callable[[], int] = field(default=lambda: 0)
    close: Callable[[], None] = field(default=lambda: None)


class CountingReader(io.RawIOBase):
    """A binary file wrapper that counts the bytes read (for the progress bar)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._raw.readinto(b)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


class RowWriter(Protocol):
    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def bad_file(name: str, place: int | None, message: str, *, field: str | None = None) -> ValidationError:
    return ValidationError(message, file=name, line=place, field=field)
