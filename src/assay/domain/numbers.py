"""The numbers a stored row can hold: input beyond them is refused where it enters, naming its field.

They are the databases' integer columns (PostgreSQL's, the narrower of the two) and what a JSON
value may hold.
"""

from __future__ import annotations

from .errors import ValidationError

__all__ = ["MAX_ID", "MAX_INT", "MIN_INT", "check_duration", "json_int_fits", "parse_id"]

# The largest id a row can have (the databases' 64-bit integers): a larger number names no row.
MAX_ID = 2**63 - 1
# The range of an Integer column (32 bits on PostgreSQL), such as an answer's duration_ms or a
# record's priority.
MIN_INT = -(2**31)
MAX_INT = 2**31 - 1
# An integer in a JSON value (metadata, a json field, an answer) is kept in 64 bits, signed
# (SQLite would keep a larger one as a rounded float).
_JSON_MIN, _JSON_MAX = -(2**63), 2**63 - 1


def parse_id(text: str) -> int | None:
    """The id ``text`` spells in ASCII digits (1 to MAX_ID), else None (``"³"`` and ``"١"`` are
    digits to ``str.isdigit`` but no id; ``"-1"`` and ``"0"`` name no row)."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def json_int_fits(value: int) -> bool:
    """Whether an integer in a JSON value can be stored (JSON text keeps any size, we keep 64 bits)."""
    return _JSON_MIN <= value <= _JSON_MAX


def check_duration(value: object, field: str = "duration_ms") -> int | None:
    """An answer's time spent in ms: a whole number from 0 to MAX_INT (its column), or None."""
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= MAX_INT:
        raise ValidationError(
            f"a duration is a whole number of ms from 0 to {MAX_INT}, got {value!r}", field=field
        )
    return value
