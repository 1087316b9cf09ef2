"""One error shape for the whole API: RFC 9457 ``application/problem+json``.

Every failure leaves the server as::

    {"type", "title", "status", "detail", "code", "field"?, "line"?, "file"?}

Mapping, done once here:

    AssayError                   by class (below)
    RequestValidationError       422 invalid, the failing field named (``body.values``)
    Starlette HTTPException      its status (404 unknown route, 405 method …)
    BodyTooLarge                 413 too_large
    RateLimited                  429 rate_limited
    Unavailable                  503 unavailable, with Retry-After (the database out of reach)
    StorageFull                  507 storage_full (the database's disk is full)
    any other Exception          500 internal (the exception text is never sent)
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assay.domain.errors import (
    AssayError,
    Conflict,
    NotFound,
    PermissionDenied,
    StorageFull,
    Unauthenticated,
    Unavailable,
    ValidationError,
)

__all__ = [
    "BadRequest",
    "BodyTooLarge",
    "RateLimited",
    "assay_problem",
    "crash_problem",
    "install_error_handlers",
    "problem",
    "validation_problem",
]

log = logging.getLogger("assay.api")

PROBLEM = "application/problem+json"
TYPE_BASE = "https://assay.dev/problems/"


class BadRequest(AssayError):
    """The body is not what its Content-Type announces (broken JSON, NDJSON or multipart)."""

    code = "bad_request"


class BodyTooLarge(AssayError):
    code = "too_large"


class RateLimited(AssayError):
    code = "rate_limited"


_STATUS: list[tuple[type[AssayError], int, str]] = [
    (BadRequest, 400, "Bad request"),
    (BodyTooLarge, 413, "Request body too large"),
    (RateLimited, 429, "Too many requests"),
    (ValidationError, 422, "Invalid input"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (PermissionDenied, 403, "Forbidden"),
    (Unauthenticated, 401, "Unauthenticated"),
    (Unavailable, 503, "Service unavailable"),
    (StorageFull, 507, "Insufficient storage"),
]

_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Unauthenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("invalid", "Invalid input"),
    429: ("rate_limited", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
    507: ("storage_full", "Insufficient storage"),
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    field: str | None = None,
    line: int | None = None,
    file: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field:
        body["field"] = field
    if line is not None:
        body["line"] = line
    if file:
        body["file"] = file
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def status_of(err: AssayError) -> tuple[int, str]:
    for cls, status, title in _STATUS:
        if isinstance(err, cls):
            return status, title
    return 400, "Error"


def assay_problem(err: AssayError) -> JSONResponse:
    status, title = status_of(err)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:
        headers = {"Retry-After": str(int(err.details.get("retry_after", 60)))}
    elif status == 503:
        headers = {"Retry-After": str(int(err.details.get("retry_after", 1)))}
    return problem(
        status, err.code, title, err.message, field=err.field, line=err.line, file=err.file, headers=headers
    )


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


async def _on_assay_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AssayError)
    return assay_problem(exc)


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_problem(exc)


def validation_problem(exc: RequestValidationError) -> JSONResponse:
    """400 for a body that is not JSON, else 422 naming the first failing field."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    field = _loc(tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid"))
    if first.get("type") == "json_invalid":
        return problem(400, "bad_request", "Bad request", f"the body is not valid JSON: {msg}", field="body")
    extra = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return problem(422, "invalid", "Invalid input", f"{msg}{extra}", field=field or None)


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, ("error", "Error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such route"
    return problem(exc.status_code, code, title, detail, headers=dict(exc.headers or {}) or None)


async def _on_crash(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return crash_problem()


def crash_problem() -> JSONResponse:
    """500, without the exception's text (the caller logs it)."""
    return problem(500, "internal", "Internal server error", "an unexpected error happened; it was logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AssayError, _on_assay_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_crash)
