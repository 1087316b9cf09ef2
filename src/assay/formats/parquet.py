"""Apache Parquet, read and written in record batches (flat memory).

Nested values (fields of structured types, responses, consensus) are stored as JSON text
columns, so that every row of a file has the same Arrow schema whatever its contents.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from assay.formats.base import Source, bad_file

__all__ = ["ParquetWriter", "read_parquet"]


def read_parquet(path: Path, name: str) -> Source:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise bad_file(name, None, f"not a Parquet file: {e}") from None
    state = {"done": 0}
    json_columns = {f.name for f in pf.schema_arrow if (f.metadata or {}).get(b"assay.json") == b"1"}

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        n = 0
        for batch in pf.iter_batches(batch_size=10_000):
            for row in batch.to_pylist():
                n += 1
                out: dict[str, Any] = {}
                for k, v in row.items():
                    if v is None:
                        continue
                    if k in json_columns and isinstance(v, str):
                        try:
                            v = orjson.loads(v)
                        except orjson.JSONDecodeError:
                            raise bad_file(name, n, "not valid JSON", field=k) from None
                    out[k] = v
                yield n, out
            state["done"] = n

    return Source(
        name=name,
        rows=rows(),
        unit="rows",
        total=pf.metadata.num_rows,
        progress=lambda: state["done"],
    )


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


class ParquetWriter:
    """Buffers rows and writes them as row groups. Non-scalar columns become JSON text."""

    def __init__(self, path: Path, *, batch_rows: int = 20_000) -> None:
        self._path = path
        self._batch_rows = batch_rows
        self._rows: list[dict[str, Any]] = []
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._json: set[str] = set()

    def write(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        if len(self._rows) >= self._batch_rows:
            self._flush()

    def _decide_schema(self) -> pa.Schema:
        columns: list[str] = []
        for r in self._rows:
            for k in r:
                if k not in columns:
                    columns.append(k)
        fields = []
        for c in columns:
            values = [r.get(c) for r in self._rows]
            kinds = {type(v) for v in values if v is not None}
            if all(_is_scalar(v) for v in values) and len(kinds) <= 1:
                kind = next(iter(kinds), str)
                typ = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}[kind]
                fields.append(pa.field(c, typ))
            else:
                self._json.add(c)
                fields.append(pa.field(c, pa.string(), metadata={"assay.json": "1"}))
        return pa.schema(fields)

    def _flush(self) -> None:
        if not self._rows:
            return
        if self._schema is None:
            self._schema = self._decide_schema()
            self._writer = pq.ParquetWriter(self._path, self._schema, compression="zstd")
        cols: dict[str, list[Any]] = {}
        for f in self._schema:
            name = f.name
            if name in self._json:
                cols[name] = [
                    None
                    if r.get(name) is None
                    else orjson.dumps(r[name], option=orjson.OPT_NON_STR_KEYS).decode()
                    for r in self._rows
                ]
            else:
                cols[name] = [r.get(name) for r in self._rows]
        table = pa.table(cols, schema=self._schema)
        assert self._writer is not None
        self._writer.write_table(table)
        self._rows.clear()

    def close(self) -> None:
        self._flush()
        if self._writer is None:
            self._schema = pa.schema([])
            pq.write_table(pa.table({}), self._path)
        else:
            self._writer.close()
