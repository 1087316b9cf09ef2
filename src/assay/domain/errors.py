"""Errors of assay's domain, each with a stable ``code`` and the place it points at.

Hierarchy::

    AssayError                      code
    ├── ValidationError             "invalid"       bad input: names the file/line/field
    ├── NotFound                    "not_found"
    ├── Conflict                    "conflict"
    ├── PermissionDenied            "forbidden"
    ├── Unauthenticated             "unauthenticated"
    ├── Unavailable                 "unavailable"   the database is out of reach for now: retry
    └── StorageFull                 "storage_full"  the database's disk is full

The faces (HTTP, CLI) map each class once to a status code and message; services and the
domain raise them and never format output themselves.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AssayError",
    "Conflict",
    "NotFound",
    "PermissionDenied",
    "StorageFull",
    "Unauthenticated",
    "Unavailable",
    "ValidationError",
    "join_path",
]


def join_path(outer: str, inner: str) -> str:
    """Join two parts of a field path: ``a`` + ``b`` → ``a.b``; ``a`` + ``[1].b`` → ``a[1].b``."""
    if not outer:
        return inner
    if not inner:
        return outer
    return f"{outer}{inner}" if inner.startswith("[") else f"{outer}.{inner}"


class AssayError(Exception):
    """Base of every error assay raises on purpose."""

    code = "error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        file: str | None = None,
        line: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.file = file
        self.line = line
        self.details = details or {}

    def at(self, *, field: str | None = None, file: str | None = None, line: int | None = None) -> AssayError:
        """Return this error with its place filled in (outer parts prefix the field path)."""
        if field is not None:
            self.field = join_path(field, self.field) if self.field else field
        if file is not None and self.file is None:
            self.file = file
        if line is not None and self.line is None:
            self.line = line
        return self

    @property
    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        if self.file:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        if self.details:
            out["details"] = self.details
        return out


class ValidationError(AssayError):
    """Input that does not fit the schema or the rules; nothing was changed."""

    code = "invalid"


class NotFound(AssayError):
    """The object does not exist, or the caller may not know that it does."""

    code = "not_found"


class Conflict(AssayError):
    """The request clashes with the current state (a duplicate name, a closed lease)."""

    code = "conflict"


class PermissionDenied(AssayError):
    """The caller is known but its role does not allow this action."""

    code = "forbidden"


class Unauthenticated(AssayError):
    """No valid credentials came with the request."""

    code = "unauthenticated"


class Unavailable(AssayError):
    """The database is out of reach for now (its connection dropped, it restarts, it is busy):
    nothing of the request was stored, or, when the connection dropped while it committed, it
    may have been; ask again after ``details["retry_after"]`` seconds (with the same
    idempotency key, for an answer)."""

    code = "unavailable"


class StorageFull(AssayError):
    """The database's disk is full: nothing of the request was stored."""

    code = "storage_full"
