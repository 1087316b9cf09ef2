"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

__all__ = ["IN_CHUNK", "JSON", "Unstorable", "UTCDateTime", "dumps", "loads", "new_id", "utcnow"]

# Values per ``IN (...)`` list: SQLite before 3.32 takes at most 999 parameters in a statement.
IN_CHUNK = 900


def utcnow() -> datetime:
    return datetime.now(UTC)


class Unstorable(orjson.JSONEncodeError):
    """A value no database column may hold (it holds a NUL character): refused on both databases,
    as PostgreSQL cannot read such text back out of a JSON value."""


# A NUL character in a JSON string: ``\u0000`` after an even number of backslashes (an odd one
# would make it the text ``\u0000`` itself).
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def dumps(value: Any) -> str:
    """JSON text for the database (orjson: the import/export hot paths serialise millions of values)."""
    out = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    if b"\\u0000" in out and _NUL.search(out):
        raise Unstorable("a text holds a NUL character (U+0000), which cannot be stored")
    return out.decode()


_NUMBER = (int, float)  # a tuple made once: `int | float` would build a union on every call


def loads(text: str | bytes | float) -> Any:
    # SQLite gives JSON columns numeric affinity: a stored number comes back as a number.
    if isinstance(text, _NUMBER):
        return text
    return orjson.loads(text)


# JSON documents: json on PostgreSQL (kept as text: no parse on write, no render on read), JSON text on
# SQLite; both go through orjson (engine setting).
JSON = sa.JSON().with_variant(postgresql.JSON(none_as_null=True), "postgresql")


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back as an aware UTC datetime, on every database."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just made."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
