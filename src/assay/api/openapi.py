"""The OpenAPI document, with the answers every route can give besides its own.

FastAPI declares each route's success and a 422 in its own validation shape; assay answers every
failure as RFC 9457 ``application/problem+json`` (:mod:`assay.api.errors`). :func:`install` adds
to each operation the problem answers it can give, by what the route is:

* every route: 404 (no such object, or one the caller may not see) and 422 (invalid input);
* a route that is not ``public`` (its ``x-access``, :mod:`assay.api.access`): 401 and 403;
* a route that takes a body: 400 (not the declared type) and 413 (larger than the limit);
  one that changes something: 409 (a conflict with what exists);
* ``POST /auth/login``: 429 (too many failed sign-ins, with ``Retry-After``);
* every route: 503 (the database is out of reach for now, with ``Retry-After``); a route that
  changes something: 507 (the database's disk is full).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from assay.api.errors import PROBLEM, TYPE_BASE

__all__ = ["PROBLEM_SCHEMA", "install"]

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": f"RFC 9457 problem details; ``type`` is {TYPE_BASE}<code>.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "what went wrong, for programs (not_found, invalid …)"},
        "field": {"type": "string", "description": "the input that is wrong (body.values, query.limit …)"},
        "line": {"type": "integer", "description": "the line of an imported file"},
        "file": {"type": "string", "description": "the imported file"},
    },
}

_WHY = {
    "400": "The body is not what its Content-Type says (broken JSON, NDJSON or multipart).",
    "401": "Not signed in: no token or session, or one that is wrong, expired or revoked.",
    "403": "Signed in, but the role is too low, or a cookie request lacks its CSRF token.",
    "404": "No such object, or one the caller may not see.",
    "409": "The change conflicts with what exists (a name taken, a lease over).",
    "413": "The body is larger than the server takes (ASSAY_MAX_BODY_BYTES).",
    "422": "Invalid input; `field` (and `file`, `line`) say where.",
    "429": "Too many failed sign-ins; retry after `Retry-After` seconds.",
    "503": "The database is out of reach for now (a dropped connection, a restart); retry after "
    "`Retry-After` seconds, an answer with the same idempotency key.",
    "507": "The database's disk is full; nothing of the request was stored.",
}
_WRITES = {"post", "put", "patch", "delete"}


def _problem(status: str) -> dict[str, Any]:
    return {
        "description": _WHY[status],
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _statuses(method: str, path: str, op: dict[str, Any]) -> list[str]:
    found = ["404", "422", "503"]
    if op.get("x-access") != "public":
        found += ["401", "403"]
    if "requestBody" in op:
        found += ["400", "413"]
    if method in _WRITES and op.get("x-access") != "public":
        found += ["409", "507"]
    if path.endswith("/auth/login"):
        found.append("429")
    return sorted(found)


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with the Problem schema and each operation's problem answers."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = op.setdefault("responses", {})
            for status in _statuses(method, path, op):
                responses[status] = _problem(status)
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's own 422 shape, never sent
        schemas.pop(unused, None)
    return spec


def install(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document the one above (built once, on first request)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def dump() -> str:
    """The OpenAPI document of the application, as ``frontend/openapi.json`` holds it."""
    import json

    from assay.api.app import create_app

    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m assay.api.openapi > frontend/openapi.json (scripts/api-types)
    import sys

    sys.stdout.write(dump())
