"""The files of a frozen dataset version: ``records.parquet``, ``labels.parquet`` and ``manifest.json``.

Both Parquet files have a fixed Arrow schema (nested values as canonical JSON text: keys sorted)
and are sorted by ``external_id`` (labels then by question), so that two versions compare in one
merge pass over both, a batch at a time (:func:`grouped`). Each file's *content hash* is a
SHA-256 over its rows in that order, each row the JSON array of its cells (:func:`row_bytes`);
it depends on the content only, not on how Parquet laid the bytes out, so two freezes of the
same data have the same hash. The manifest also keeps the SHA-256 of each file's bytes, to tell
a file changed on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "FORMAT",
    "LABELS",
    "LABELS_FILE",
    "MANIFEST_FILE",
    "RECORDS",
    "RECORDS_FILE",
    "DIFF_COLUMNS",
    "SnapshotWriter",
    "canonical",
    "file_sha256",
    "grouped",
    "iter_rows",
    "row_bytes",
]

FORMAT = "assay.dataset/1"
RECORDS_FILE = "records.parquet"
LABELS_FILE = "labels.parquet"
MANIFEST_FILE = "manifest.json"

_JSON = {b"assay.json": b"1"}

# One row per record. JSON text columns: fields, metadata, gold, suggestions, responses.
RECORDS = pa.schema(
    [
        pa.field("external_id", pa.string(), nullable=False),
        pa.field("fields", pa.string(), nullable=False, metadata=_JSON),
        pa.field("metadata", pa.string(), nullable=False, metadata=_JSON),
        pa.field("priority", pa.int64(), nullable=False),
        pa.field("gold", pa.string(), metadata=_JSON),
        pa.field("is_gold", pa.bool_(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("suggestions", pa.string(), nullable=False, metadata=_JSON),
        pa.field("responses", pa.string(), nullable=False, metadata=_JSON),
        # SHA-256 (hex) of external_id, fields, metadata, priority and gold: the record's content
        pa.field("record_hash", pa.string(), nullable=False),
    ]
)

# One row per record and question with a consensus. JSON text columns: value, sources.
LABELS = pa.schema(
    [
        pa.field("external_id", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("value", pa.string(), metadata=_JSON),
        pa.field("confidence", pa.float64()),
        pa.field("method", pa.string(), nullable=False),
        # the answers the label came from: [{user, kind, value, review?}]
        pa.field("sources", pa.string(), nullable=False, metadata=_JSON),
    ]
)

JSON_COLUMNS = {
    RECORDS_FILE: ("fields", "metadata", "gold", "suggestions", "responses"),
    LABELS_FILE: ("value", "sources"),
}


def canonical(value: Any) -> str | None:
    """Canonical JSON text (keys sorted); None stays None."""
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def row_bytes(names: list[str], row: dict[str, Any]) -> bytes:
    """The bytes a row adds to its file's content hash: the JSON array of its cells, in schema order."""
    return orjson.dumps([row[n] for n in names]) + b"\n"


class _File:
    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int) -> None:
        self.path = path
        self.schema = schema
        self.names = [f.name for f in schema]
        self.batch_rows = batch_rows
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self.digest = hashlib.sha256()
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")
        self.last: tuple[str, ...] | None = None

    def write(self, row: dict[str, Any], key: tuple[str, ...]) -> None:
        if self.last is not None and key <= self.last:
            raise ValueError(f"{self.path.name}: rows out of order ({key!r} after {self.last!r})")
        self.last = key
        self.digest.update(row_bytes(self.names, row))
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            cols = {n: [r[n] for r in self.rows] for n in self.names}
            self.writer.write_table(pa.table(cols, schema=self.schema))
            self.rows.clear()

    def close(self) -> dict[str, Any]:
        self.flush()
        self.writer.close()
        return {
            "rows": self.count,
            "bytes": self.path.stat().st_size,
            "content_sha256": self.digest.hexdigest(),
            "file_sha256": file_sha256(self.path),
        }


class SnapshotWriter:
    """Writes a version's two Parquet files into ``folder``, rows in key order (checked)."""

    def __init__(self, folder: Path, *, batch_rows: int = 10_000) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._records = _File(folder / RECORDS_FILE, RECORDS, batch_rows)
        self._labels = _File(folder / LABELS_FILE, LABELS, batch_rows)

    def record(self, row: dict[str, Any]) -> None:
        self._records.write(row, (row["external_id"],))

    def label(self, row: dict[str, Any]) -> None:
        self._labels.write(row, (row["external_id"], row["question"]))

    def close(self) -> dict[str, dict[str, Any]]:
        """Each file's rows, bytes, content hash and file hash."""
        return {RECORDS_FILE: self._records.close(), LABELS_FILE: self._labels.close()}

    def abort(self) -> None:
        for f in (self._records, self._labels):
            with contextlib.suppress(Exception):  # (closed already, or the disk failed: removed anyway)
                f.writer.close()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def iter_rows(
    path: Path, *, batch_rows: int = 10_000, columns: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """A snapshot file's rows as stored (JSON columns as text), one batch in memory at a time."""
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
        yield from batch.to_pylist()


# What a diff reads of records.parquet (not the answers and suggestions: the labels say who).
DIFF_COLUMNS = ["external_id", "fields", "metadata", "priority", "gold", "record_hash"]


def grouped(
    folder: Path, *, record_columns: list[str] | None = None
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each record of a version with its labels, in ``external_id`` order (both files streamed)."""
    labels = iter_rows(folder / LABELS_FILE)
    pending = next(labels, None)
    for rec in iter_rows(folder / RECORDS_FILE, columns=record_columns):
        key = rec["external_id"]
        mine: list[dict[str, Any]] = []
        while pending is not None and pending["external_id"] <= key:
            if pending["external_id"] == key:
                mine.append(pending)
            pending = next(labels, None)
        yield rec, mine
