"""Codecs: read rows from and write rows to files (JSONL, JSON, CSV, Parquet and more).

Each codec is one module; :mod:`assay.formats.registry` picks one by name or file suffix.
"""

from assay.formats.registry import (
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    Source,
    detect_format,
    open_source,
    open_writer,
)

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "Source", "detect_format", "open_source", "open_writer"]
