"""What routes ask for: the store, the calling actor (token or session cookie), paging.

A request is authenticated by ``Authorization: Bearer <token>`` or by the ``assay_session``
cookie. A cookie request that changes state must also send ``X-CSRF-Token``: the session's own
CSRF token (:func:`csrf_token_for`, given at sign-in in the body and the ``assay_csrf`` cookie).
It is derived from the session, so a token from one session is refused on another, and another
site can neither read nor set it; a token request needs no such header, since a browser never
adds it on its own.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from assay.domain.errors import PermissionDenied, Unauthenticated, ValidationError
from assay.domain.numbers import MAX_ID, parse_id
from assay.services import accounts
from assay.services.actors import Actor
from assay.settings import Settings
from assay.store.engine import Store

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "CurrentActor",
    "Page",
    "SESSION_COOKIE",
    "SettingsDep",
    "authenticate_bearer",
    "csrf_token_for",
    "StoreDep",
    "page_params",
]

SESSION_COOKIE = "assay_session"
CSRF_COOKIE = "assay_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token_for(session: str) -> str:
    """The CSRF token of a browser session: a digest of its (secret, HttpOnly) session token.

    One session's token says nothing of another's, nor of the session token it comes from.
    """
    return hmac.new(b"assay-csrf", session.encode(), hashlib.sha256).hexdigest()


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _authenticate(store: Store, token: str) -> Actor:
    # A token this process saw a moment ago needs no database round trip (nor a worker thread).
    actor = accounts.cached_actor(store, token)
    if actor is None:
        actor = await run_in_threadpool(accounts.authenticate_token, store, token)
    return actor


async def authenticate_bearer(store: Store, header: str) -> Actor:
    """The actor of an ``Authorization: Bearer <token>`` header."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return await _authenticate(store, token.strip())


async def get_actor(request: Request, store: Annotated[Store, Depends(get_store)]) -> Actor:
    header = request.headers.get("authorization")
    if header:
        return await authenticate_bearer(store, header)
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        raise Unauthenticated("sign in, or send an API token as 'Authorization: Bearer <token>'")
    actor = await _authenticate(store, session)
    if actor.token_kind != "session":
        raise Unauthenticated("an API token cannot be used as a session cookie")
    if request.method not in _SAFE:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(csrf_token_for(session).encode(), sent.encode()):
            raise PermissionDenied(
                f"missing or wrong {CSRF_HEADER} header (send this session's token, the {CSRF_COOKIE} cookie)"
            )
    return actor


async def request_actor(request: Request) -> tuple[Store, Actor]:
    """The store and the calling actor, for the hot dispatch routes that skip dependency injection.

    FastAPI's dependency solving cost about a tenth of a dispatch request's CPU; these routes call
    what :data:`CurrentActor` and :data:`StoreDep` would, directly.
    """
    store = await get_store(request)
    return store, await get_actor(request, store)


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI ``requestBody`` for a route that reads and validates its body itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CurrentActor = Annotated[Actor, Depends(get_actor)]


class Page:
    """``?cursor=&limit=`` of a list: ``after_id`` is the last id of the previous page."""

    def __init__(self, after_id: int, limit: int) -> None:
        self.after_id = after_id
        self.limit = limit


# A path's id: one larger than a row can have (MAX_ID) is refused as invalid input, naming the field.
Id = Annotated[int, Path(ge=1, le=MAX_ID, description="an id (1 to 2^63 - 1)")]


async def page_params(
    cursor: Annotated[
        str | None,
        # (declared; the check below names the field)
        Query(description="next_cursor of the previous page", json_schema_extra={"pattern": "^[0-9]{1,19}$"}),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page:
    after = 0
    if cursor:
        found = parse_id(cursor)
        if found is None:
            raise ValidationError("not a cursor this API gave out", field="cursor")
        after = found
    return Page(after, limit)


PageDep = Annotated[Page, Depends(page_params)]


def paged(items: list[dict[str, object]], limit: int, key: str = "id") -> dict[str, object]:
    """``{items, next_cursor}`` from up to ``limit + 1`` rows (the extra one says there is more)."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": str(items[-1][key]) if more and items else None}
