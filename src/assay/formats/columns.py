"""Columns of a CSV or Parquet file read with Arrow, all or nothing (for `assay quality`).

:func:`read_columns` reads the named columns of a file (CSV with a header row, or Parquet) and
returns each as NumPy: ``"code"`` columns (ids and labels) as integer codes with their distinct
values, ``"float"`` and ``"int"`` columns as numbers, ``"float?"`` as numbers where an empty
cell is NaN. A missing column, an empty cell or a cell
that is not a number is an error that names its line (CSV: the header is line 1) or row
(Parquet), as imports do: nothing is read past a bad row.

Arrow's CSV reader parses in C on all cores and never builds a Python object per cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["Codes", "ColumnError", "read_columns", "write_csv"]

Kind = Literal["code", "float", "int", "float?"]

_FLOAT = r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"
_INT = r"^\s*[+-]?\d+\s*$"


class ColumnError(ValueError):
    """A file that cannot be read as asked; the message names the file, line and column."""


@dataclass(frozen=True)
class Codes:
    """A column of strings as ``codes`` into ``values`` (``values[codes[i]]`` is row i's cell);
    ``values`` are sorted (as text), so codes order as the strings do."""

    codes: npt.NDArray[np.int64]
    values: list[str]


def _where(path: Path, row: int, csv: bool) -> str:
    return f"{path.name}, line {row + 2}" if csv else f"{path.name}, row {row + 1}"


def read_columns(
    path: Path, columns: Mapping[str, Kind], *, optional: Sequence[str] = ()
) -> dict[str, Codes | npt.NDArray[np.float64] | npt.NDArray[np.int64]]:
    """The ``columns`` of ``path`` (``.parquet``/``.pq``: Parquet; anything else: CSV).

    ``optional`` columns are left out of the result when the file lacks them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not path.exists():
        raise ColumnError(f"{path} does not exist")
    is_csv = path.suffix.lower() not in (".parquet", ".pq")
    try:
        if is_csv:
            from pyarrow import csv as pacsv

            header = _csv_header(path)
            present = [c for c in columns if c in header]
            missing = [c for c in columns if c not in header and c not in optional]
            if missing:
                raise ColumnError(
                    f"{path.name} lacks column(s) {', '.join(missing)}; it has {', '.join(header)}"
                )
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=1 << 24),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in present},
                    include_columns=present,
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        else:
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
            present = [c for c in columns if c in names]
            missing = [c for c in columns if c not in names and c not in optional]
            if missing:
                raise ColumnError(
                    f"{path.name} lacks column(s) {', '.join(missing)}; it has {', '.join(names)}"
                )
            table = pq.read_table(path, columns=present)
    except (pa.ArrowInvalid, OSError) as err:
        raise ColumnError(f"{path.name} cannot be read: {err}") from None
    out: dict[str, Codes | npt.NDArray[np.float64] | npt.NDArray[np.int64]] = {}
    for name in present:
        col = table.column(name).combine_chunks()
        kind = columns[name]
        if kind == "float?":
            if pa.types.is_string(col.type):
                blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0)
                col = pc.if_else(blank, pa.scalar("nan"), col)
            else:
                col = pc.fill_null(pc.cast(col, pa.float64()), float("nan"))
        elif col.null_count:
            row = int(pc.index(pc.is_null(col), True).as_py())
            raise ColumnError(f"{_where(path, row, is_csv)}: column {name!r} is empty")
        if kind == "code":
            strings = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
            enc = pc.dictionary_encode(strings)
            codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            order = pc.array_sort_indices(enc.dictionary).to_numpy()  # UTF-8 order = code point order
            values: list[str] = enc.dictionary.take(pa.array(order)).to_pylist()
            if values and values[0] == "":  # an empty cell sorts first: find its row
                row = int(np.argmax(codes == int(order[0])))
                raise ColumnError(f"{_where(path, row, is_csv)}: column {name!r} is empty")
            rank = np.empty(order.size, dtype=np.int64)
            rank[order] = np.arange(order.size)
            out[name] = Codes(rank[codes], values)
            continue
        if pa.types.is_string(col.type) and kind != "float?":
            blank = pc.equal(pc.utf8_length(col), 0)
            if pc.any(blank).as_py():
                row = int(pc.index(blank, True).as_py())
                raise ColumnError(f"{_where(path, row, is_csv)}: column {name!r} is empty")
        if pa.types.is_string(col.type):
            pattern = _INT if kind == "int" else (_FLOAT if kind == "float" else f"(?:{_FLOAT})|^nan$")
            ok = pc.match_substring_regex(col, pattern)
            if not pc.all(ok).as_py():
                row = int(pc.index(ok, False).as_py())
                want = "an integer" if kind == "int" else "a number"
                raise ColumnError(
                    f"{_where(path, row, is_csv)}: column {name!r} must be {want}, got {col[row].as_py()!r}"
                )
            col = pc.cast(pc.utf8_trim_whitespace(col), pa.int64() if kind == "int" else pa.float64())
        elif kind == "int" and not pa.types.is_integer(col.type):
            raise ColumnError(f"{path.name}: column {name!r} must hold integers, it holds {col.type}")
        arr = col.to_numpy(zero_copy_only=False)
        if kind in ("float", "float?"):
            arr = arr.astype(np.float64)
            bad = ~np.isfinite(arr) & (~np.isnan(arr) if kind == "float?" else True)
            if bad.any():
                row = int(np.argmax(bad))
                raise ColumnError(f"{_where(path, row, is_csv)}: column {name!r} must be a finite number")
        out[name] = arr.astype(np.int64) if kind == "int" else arr
    return out


def _csv_header(path: Path) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8-sig") as f:
        return next(csv.reader(f), [])


def write_csv(path: Path, columns: Mapping[str, Sequence[object] | npt.NDArray[np.generic]]) -> None:
    """Write columns (equal lengths) as a CSV file with a header, through Arrow."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    table = pa.table({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in columns.items()})
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
