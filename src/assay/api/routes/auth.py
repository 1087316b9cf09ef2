"""Sign-in for the browser (session and CSRF cookies), the caller, and its API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentActor,
    Id,
    SettingsDep,
    StoreDep,
    csrf_token_for,
)
from assay.api.routes import out
from assay.api.schemas import LoginIn, TokenIn
from assay.domain.errors import Unauthenticated
from assay.domain.text import name_key
from assay.services import accounts, stats
from assay.services.accounts import SESSION_HOURS
from assay.services.actors import Actor
from assay.settings import Settings

router = APIRouter(tags=["auth"])


def _user(actor: Actor) -> dict[str, object]:
    return {
        "id": actor.id,
        "name": actor.name,
        "role": actor.role,
        "kind": actor.kind,
        "skills": list(actor.skills),
        "cost_per_hour": actor.cost_per_hour,
        "cost_per_item": actor.cost_per_item,
    }


@router.post("/auth/login", response_model=m.Login, **access("public"))
def login(body: LoginIn, request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    limiter = request.app.state.login_limiter
    # (the address is the connection's, or X-Forwarded-For's from ASSAY_TRUSTED_PROXIES only)
    client = request.client.host if request.client else "?"
    name = name_key(body.name)  # the form the name is looked up in: its variants count as one
    limiter.check(name, client)
    try:
        actor = accounts.login(store, body.name, body.password)
    except Unauthenticated:
        limiter.failed(name, client)
        raise
    limiter.succeeded(name, client)
    session = accounts.create_session(store, actor)
    csrf = csrf_token_for(session)
    response = out({"user": _user(actor), "csrf_token": csrf})
    age = SESSION_HOURS * 3600
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=age,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    _csrf_cookie(response, csrf, settings)
    return response


def _csrf_cookie(response: Response, csrf: str, settings: Settings) -> None:
    """The CSRF cookie: readable by the page, which sends it back as the X-CSRF-Token header."""
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=SESSION_HOURS * 3600,
        httponly=False,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


@router.post("/auth/logout", status_code=204, **access("signed-in"))
def logout(request: Request, actor: CurrentActor, store: StoreDep) -> Response:
    session = request.cookies.get(SESSION_COOKIE)
    if session and actor.token_kind == "session":
        accounts.end_session(store, session)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", response_model=m.Me, **access("signed-in"))
def me(actor: CurrentActor, request: Request, settings: SettingsDep) -> Response:
    response = out(_user(actor))
    session = request.cookies.get(SESSION_COOKIE)
    if actor.token_kind == "session" and session:
        # A session's CSRF cookie is set again when it is not the session's token (a session
        # signed in before tokens were bound to sessions): the web UI asks /me when it loads.
        csrf = csrf_token_for(session)
        if request.cookies.get(CSRF_COOKIE) != csrf:
            _csrf_cookie(response, csrf, settings)
    return response


@router.get("/me/stats", response_model=m.MyStats, **access("signed-in"))
def my_stats(actor: CurrentActor, store: StoreDep) -> Response:
    return out(stats.my_stats(store, actor))


@router.get("/tokens", response_model=m.TokenList, **access("signed-in"))
def list_tokens(actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": accounts.list_tokens(store, actor)})


@router.post("/tokens", status_code=201, response_model=m.NewToken, **access("signed-in"))
def create_token(body: TokenIn, actor: CurrentActor, store: StoreDep) -> Response:
    tid, token = accounts.create_token(store, actor, name=body.name, user_name=body.user)
    return out({"id": tid, "name": body.name, "token": token}, 201)


@router.delete("/tokens/{token_id}", status_code=204, **access("owner"))
def revoke_token(token_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    accounts.revoke_token(store, actor, token_id)
    return Response(status_code=204)
