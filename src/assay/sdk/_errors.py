"""The SDK's errors: one per problem+json status, each also the matching domain error.

Hierarchy::

    ApiError (AssayError)                 any answer the server refused
    ├── BadRequest          400
    ├── Unauthorized        401  (also assay.domain.errors.Unauthenticated)
    ├── Forbidden           403  (also PermissionDenied)
    ├── NotFoundError       404  (also NotFound)
    ├── ConflictError       409  (also Conflict)
    ├── PayloadTooLarge     413
    ├── InvalidInput        422  (also ValidationError)
    ├── RateLimited         429
    └── ServerError         5xx
        ├── ServiceUnavailable   503  (also Unavailable; retried by the client first)
        └── InsufficientStorage  507  (also StorageFull)
    TransportError (AssayError)          the server could not be reached (after retries)

Catching the domain class (``except NotFound``) works the same for local and remote calls.
"""

from __future__ import annotations

from typing import Any

import httpx

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
    "ApiError",
    "BadRequest",
    "ConflictError",
    "Forbidden",
    "InsufficientStorage",
    "InvalidInput",
    "NotFoundError",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "Unauthorized",
    "error_from_response",
]


class ApiError(AssayError):
    """The server answered with an error (RFC 9457 problem+json)."""

    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        title: str = "",
        field: str | None = None,
        file: str | None = None,
        line: int | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, field=field, file=file, line=line)
        self.status = status
        self.code = code
        self.title = title
        self.problem = problem or {}


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError, Unauthenticated):
    pass


class Forbidden(ApiError, PermissionDenied):
    pass


class NotFoundError(ApiError, NotFound):
    pass


class ConflictError(ApiError, Conflict):
    pass


class PayloadTooLarge(ApiError):
    pass


class InvalidInput(ApiError, ValidationError):
    pass


class RateLimited(ApiError):
    pass


class ServerError(ApiError):
    pass


class ServiceUnavailable(ServerError, Unavailable):
    """The server's database is out of reach for now; the client retried and gave up."""


class InsufficientStorage(ServerError, StorageFull):
    """The server's disk is full; nothing of the request was stored."""


class TransportError(AssayError):
    """No answer from the server (connection refused, reset, timed out) after the retries."""

    code = "transport"


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLarge,
    422: InvalidInput,
    429: RateLimited,
    503: ServiceUnavailable,
    507: InsufficientStorage,
}


def error_from_response(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"detail": response.text[:500] or response.reason_phrase, "code": "error"}
    cls = _BY_STATUS.get(response.status_code, ServerError if response.status_code >= 500 else ApiError)
    return cls(
        str(body.get("detail") or body.get("title") or response.reason_phrase),
        status=response.status_code,
        code=str(body.get("code") or "error"),
        title=str(body.get("title") or ""),
        field=body.get("field"),
        file=body.get("file"),
        line=body.get("line"),
        problem=body,
    )
