"""One module per resource; each route loads, authorises through a service, and answers JSON."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

__all__ = ["NO_CONTENT", "file_answers", "out"]


def _default(o: Any) -> Any:
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    return str(o)


def out(data: Any, status: int = 200) -> Response:
    """A JSON answer serialised with orjson (datetimes as ISO 8601)."""
    return Response(
        orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
    )


NO_CONTENT = 204


BINARY = {"schema": {"type": "string", "format": "binary"}}


def file_answers(types: list[str], description: str, *, ranges: bool = False) -> dict[int | str, Any]:
    """The OpenAPI ``responses`` of a route that answers a file, one of ``types``."""
    content = {t: BINARY for t in types}
    found: dict[int | str, Any] = {200: {"description": description, "content": content}}
    if ranges:
        found[206] = {"description": "a byte range of it (Range header)", "content": content}
    return found
