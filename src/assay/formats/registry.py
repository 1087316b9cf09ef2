"""Picks a codec by name or by a file's suffix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from assay.domain.errors import ValidationError
from assay.formats.base import RowWriter, Source
from assay.formats.csv_ import CSV_FORMULAS, CsvWriter, read_csv
from assay.formats.json_array import JsonArrayWriter, read_json_array
from assay.formats.jsonl import JsonlWriter, read_jsonl

__all__ = [
    "DOCUMENT_FORMATS",
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "Source",
    "detect_format",
    "open_source",
    "open_writer",
]


def read_parquet(path: Path, name: str) -> Source:
    from assay.formats.parquet import read_parquet  # PyArrow loads only for Parquet files

    return read_parquet(path, name)


def ParquetWriter(path: Path) -> RowWriter:  # noqa: N802 - stands in for the class it makes
    from assay.formats.parquet import ParquetWriter

    return ParquetWriter(path)


_READERS: dict[str, Callable[[Path, str], Source]] = {
    "jsonl": read_jsonl,
    "json": read_json_array,
    "csv": read_csv,
    "parquet": read_parquet,
}
_WRITERS: dict[str, Callable[[Path], RowWriter]] = {
    "jsonl": JsonlWriter,
    "json": JsonArrayWriter,
    "csv": CsvWriter,
    "parquet": ParquetWriter,
}
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".conll": "conll",
}

# COCO (one JSON document) and YOLO (a folder) are laid out for a project's image field and box/polygon questions: the
# import and export services read and write it with assay.formats.coco, never as rows. CoNLL (assay.formats.conll)
# is laid out for a project's span question on a text field.
DOCUMENT_FORMATS = ("coco", "yolo", "voc", "conll")
IMPORT_FORMATS = (*_READERS, *DOCUMENT_FORMATS)
EXPORT_FORMATS = (*_WRITERS, *DOCUMENT_FORMATS)


def detect_format(path: Path, fmt: str = "auto") -> str:
    if fmt == "auto" and (path.is_dir() or path.name in ("data.yaml", "data.yml")):
        return "yolo"
    if fmt != "auto":
        if fmt not in IMPORT_FORMATS:
            raise ValidationError(
                f"unknown format {fmt!r}; known: {', '.join(IMPORT_FORMATS)}", field="format"
            )
        return fmt
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ValidationError(
            f"cannot tell the format of {path.name!r} from its suffix; pass --format ({', '.join(_READERS)})",
            file=str(path),
        )
    if found == "json":  # a .json file may hold JSON Lines
        with open(path, "rb") as f:
            head = f.read(4096).lstrip()
        if head[:1] == b"{":
            return "jsonl"
    return found


def open_source(path: Path, fmt: str = "auto") -> Source:
    if not path.exists():
        raise ValidationError("no such file", file=str(path))
    found = detect_format(path, fmt)
    if found in DOCUMENT_FORMATS:
        raise ValidationError(
            f"{found} files are read for a project (assay.services.imports)", field="format"
        )
    return _READERS[found](path, str(path))


def open_writer(path: Path, fmt: str, *, csv_formulas: str = "escape") -> RowWriter:
    """A writer of ``fmt`` to ``path``; ``csv_formulas`` (CSV only): ``escape`` or ``raw``
    (:mod:`assay.formats.csv_`)."""
    if fmt not in _WRITERS:  # (COCO: assay.services.exports writes it whole)
        raise ValidationError(f"unknown export format {fmt!r}; known: {', '.join(_WRITERS)}", field="format")
    if csv_formulas not in CSV_FORMULAS:
        raise ValidationError(
            f"csv_formulas is one of {', '.join(CSV_FORMULAS)}, got {csv_formulas!r}", field="csv_formulas"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        return CsvWriter(path, formulas=csv_formulas)
    return _WRITERS[fmt](path)
