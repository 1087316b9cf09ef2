"""Accounts: the instance's first admin, users and model contributors, tokens and passwords."""

from __future__ import annotations

import getpass
import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from assay.domain import events as ev
from assay.domain.errors import Conflict, NotFound, PermissionDenied, Unauthenticated, ValidationError
from assay.domain.text import clean_name
from assay.services.actors import ROLE_RANK, SYSTEM, Actor, actor_from_row
from assay.services.audit import audit
from assay.services.policies import (
    DEFAULT_WORKSPACE,
    default_workspace_id,
    load_workspace,
    managed_workspace_ids,
    manages_user,
    require_grant,
)
from assay.store import accounts as acc
from assay.store.engine import Store
from assay.store.types import utcnow

__all__ = [
    "local_actor",
    "DEFAULT_WORKSPACE",
    "NewUser",
    "add_user",
    "authenticate_token",
    "forget_user",
    "cached_actor",
    "create_session",
    "create_token",
    "create_workspace",
    "default_workspace_id",
    "end_session",
    "hash_token",
    "init_instance",
    "list_tokens",
    "list_users",
    "list_workspaces",
    "login",
    "revoke_token",
    "set_password",
]

ROLES = tuple(ROLE_RANK)
KINDS = ("human", "model")
_hasher = PasswordHasher()
_dummy_hash: list[str] = []


def _dummy() -> str:
    """A fixed hash to verify against when the user does not exist, so timing does not reveal names."""
    if not _dummy_hash:
        _dummy_hash.append(_hasher.hash("assay-no-such-user"))
    return _dummy_hash[0]


@dataclass(frozen=True)
class NewUser:
    """A user just created, with its API token (shown this once, stored only hashed)."""

    id: int
    name: str
    role: str
    kind: str
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(prefix: str = "assay") -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def init_instance(store: Store, *, admin_name: str = "admin", password: str | None = None) -> NewUser | None:
    """Create the default workspace and the first admin; None when the admin exists already."""
    with store.tx() as conn:
        default_workspace_id(conn)
        if acc.get_user_by_name(conn, admin_name):
            return None
    return add_user(store, SYSTEM, admin_name, role="admin", password=password)


def add_user(
    store: Store,
    actor: Actor,
    name: str,
    *,
    role: str,
    kind: str = "human",
    skills: list[str] | None = None,
    password: str | None = None,
    cost_per_hour: float | None = None,
    cost_per_item: float | None = None,
    workspace: str | None = None,
    config: dict[str, Any] | None = None,
) -> NewUser:
    """Add a user (a person or a model contributor) to a workspace and give it an API token.

    A manager adds users to a workspace it manages (unnamed: the one it manages), with a role
    not above its own there; only admins make admins (an admin is one of the whole instance).
    """
    if not actor.at_least("manager"):
        raise PermissionDenied("only managers and admins add users")
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; one of {', '.join(ROLES)}", field="role")
    if role == "admin" and not actor.is_admin:
        raise PermissionDenied("only admins make admins", field="role")
    if kind not in KINDS:
        raise ValidationError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", field="kind")
    name = clean_name(name, what="user name")
    if password is not None and len(password) < 8:
        raise ValidationError("a password has at least 8 characters", field="password")
    for field, cost in (("cost_per_hour", cost_per_hour), ("cost_per_item", cost_per_item)):
        if cost is not None and not (math.isfinite(cost) and cost >= 0):
            raise ValidationError(f"a cost is a finite number of at least 0, got {cost}", field=field)
    skills = sorted({s.strip() for s in (skills or []) if s.strip()})
    token = _new_token()
    with store.tx() as conn:
        ws = load_workspace(conn, actor, workspace, need="manager")
        require_grant(ws["role"], role)
        if acc.get_user_by_name(conn, name):  # (user names are sign-in names: one per instance)
            raise Conflict(f"a user named {name!r} exists already", field="name")
        ws_id = int(ws["id"])
        uid = acc.insert_user(
            conn,
            name=name,
            role=role,
            kind=kind,
            skills=skills,
            password_hash=_hasher.hash(password) if password else None,
            cost_per_hour=cost_per_hour,
            cost_per_item=cost_per_item,
            active=True,
            config=config,
        )
        acc.add_membership(conn, ws_id, uid, role)
        acc.insert_token(conn, uid, hash_token(token))
        audit(
            conn,
            actor,
            ev.USER_CREATED,
            "user",
            uid,
            after={"name": name, "role": role, "kind": kind, "skills": skills, "workspace_id": ws_id},
        )
    return NewUser(id=uid, name=name, role=role, kind=kind, token=token)


def list_users(store: Store, actor: Actor) -> list[dict[str, Any]]:
    """The users of the workspaces the actor manages (an admin: every user)."""
    with store.read() as conn:
        managed = managed_workspace_ids(conn, actor)
        if managed is not None and not managed:
            raise PermissionDenied("only managers and admins list users")
        return [_public_user(u) for u in acc.list_users(conn, workspace_ids=managed)]


def _public_user(u: dict[str, Any]) -> dict[str, Any]:
    return {
        k: u[k]
        for k in (
            "id",
            "name",
            "role",
            "kind",
            "skills",
            "cost_per_hour",
            "cost_per_item",
            "active",
            "created_at",
        )
    }


def set_password(store: Store, actor: Actor, name: str, password: str) -> None:
    if len(password) < 8:
        raise ValidationError("a password has at least 8 characters", field="password")
    with store.tx() as conn:
        user = acc.get_user_by_name(conn, name)
        if user is None or (actor.id != user["id"] and not manages_user(conn, actor, user)):
            raise NotFound(f"no user named {name!r} whose password you may set")
        acc.update_user(conn, int(user["id"]), password_hash=_hasher.hash(password))
        _forget(lambda a: a.id == user["id"])
        audit(conn, actor, ev.USER_UPDATED, "user", user["id"], after={"password": "changed"})


# Who holds a token, remembered for AUTH_CACHE_SECONDS per process, so that an API request does
# not pay a database round trip to authenticate. Revoking a token or ending a session forgets it
# at once in this process; other server processes notice within AUTH_CACHE_SECONDS.
AUTH_CACHE_SECONDS = 2.0
_auth_cache: dict[tuple[str, str], tuple[Actor, float]] = {}


def cached_actor(store: Store, token: str) -> Actor | None:
    """The actor behind ``token`` if this process authenticated it in the last few seconds."""
    hit = _auth_cache.get((store.key, hash_token(token)))
    if hit is None or hit[1] < time.monotonic():
        return None
    return hit[0]


def _forget(predicate: Callable[[Actor], bool]) -> None:
    for key, (actor, _) in list(_auth_cache.items()):
        if predicate(actor):
            _auth_cache.pop(key, None)


def forget_user(user_id: int) -> None:
    """Drop a user's cached tokens in this process (after erasure, deactivation)."""
    _forget(lambda a: a.id == user_id)


def authenticate_token(store: Store, token: str) -> Actor:
    """The actor holding this token; :class:`Unauthenticated` when it is unknown or revoked."""
    digest = hash_token(token)
    with store.read() as conn:
        row = acc.token_user(conn, digest)
    if row is None:
        raise Unauthenticated("unknown, expired or revoked token")
    actor = actor_from_row(row)
    if len(_auth_cache) > 10_000:
        _auth_cache.clear()
    _auth_cache[(store.key, digest)] = (actor, time.monotonic() + AUTH_CACHE_SECONDS)
    return actor


def create_token(
    store: Store, actor: Actor, *, name: str = "default", user_name: str | None = None
) -> tuple[int, str]:
    """A new API token for the actor (or, for an admin, another user); returned once."""
    name = clean_name(name, what="token name")
    token = _new_token()
    with store.tx() as conn:
        uid = actor.id
        if user_name is not None:
            if not actor.is_admin:
                raise PermissionDenied("only admins make tokens for other users")
            user = acc.get_user_by_name(conn, user_name)
            if user is None:
                raise NotFound(f"no user named {user_name!r}")
            uid = int(user["id"])
        if uid is None:
            raise ValidationError("name the user the token is for", field="user")
        tid = acc.insert_token(conn, uid, hash_token(token), name=name)
        audit(conn, actor, ev.TOKEN_CREATED, "token", tid, after={"user_id": uid, "name": name})
    return tid, token


def revoke_token(store: Store, actor: Actor, token_id: int) -> None:
    with store.tx() as conn:
        ok = acc.revoke_token(conn, token_id, user_id=None if actor.is_admin else actor.id)
        if not ok:
            raise NotFound("no such active token")
        audit(conn, actor, ev.TOKEN_REVOKED, "token", token_id)
    _forget(lambda a: a.token_id == token_id)


def login(store: Store, name: str, password: str) -> Actor:
    """Check a name and password (Argon2); the same error for a wrong name or a wrong password."""
    with store.read() as conn:
        user = acc.get_user_by_name(conn, name)
    stored = (user or {}).get("password_hash") or _dummy()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("wrong name or password") from None
    if user is None or not user["password_hash"] or not user["active"]:
        raise Unauthenticated("wrong name or password")
    return actor_from_row(user)


SESSION_HOURS = 12


def create_session(store: Store, actor: Actor) -> str:
    """A browser session token (stored hashed like API tokens; kind 'session', 12 h)."""
    assert actor.id is not None
    token = _new_token("sess")
    with store.tx() as conn:
        acc.insert_token(
            conn,
            actor.id,
            hash_token(token),
            name="browser",
            kind="session",
            expires_at=utcnow() + timedelta(hours=SESSION_HOURS),
        )
        audit(conn, actor, ev.SESSION_CREATED, "user", actor.id)
    return token


def end_session(store: Store, token: str) -> None:
    with store.tx() as conn:
        acc.revoke_token_hash(conn, hash_token(token))
    _auth_cache.pop((store.key, hash_token(token)), None)


def list_tokens(store: Store, actor: Actor) -> list[dict[str, Any]]:
    """The actor's own API tokens (never their secrets)."""
    if actor.id is None:
        return []
    with store.read() as conn:
        return acc.list_tokens(conn, actor.id)


def list_workspaces(store: Store, actor: Actor) -> list[dict[str, Any]]:
    """Every workspace for an admin; else the workspaces the actor is a member of."""
    with store.read() as conn:
        return acc.list_workspaces(conn, user_id=None if actor.is_admin else actor.id)


def create_workspace(store: Store, actor: Actor, name: str) -> dict[str, Any]:
    if not actor.is_admin:
        raise PermissionDenied("only admins create workspaces")
    name = clean_name(name, what="workspace name")
    with store.tx() as conn:
        if acc.get_workspace_by_name(conn, name):
            raise Conflict(f"a workspace named {name!r} exists already", field="name")
        wid = acc.insert_workspace(conn, name)
        audit(conn, actor, "workspace.created", "workspace", wid, after={"name": name})
        ws = acc.get_workspace_by_name(conn, name)
    assert ws is not None
    return ws


def local_actor(store: Store, name: str | None = None) -> Actor:
    """Who a command of the local CLI acts as (it names them in the audit log): the user ``name``
    (``--as``), else the user named as the OS user who runs it, else the instance's first admin.
    Whoever can open the database administers it, so the actor has the admin role whatever its
    own. Only ``assay init``, before the first admin exists, acts as the unnamed system."""
    with store.read() as conn:
        if name is not None:
            row = acc.get_user_by_name(conn, name)
            if row is None or not row.get("active", True):
                raise NotFound(
                    f"no active user {name!r} to act as (--as, ASSAY_AS): add it with `assay users add`"
                )
        else:
            try:
                os_user: str | None = getpass.getuser()
            except (KeyError, OSError):  # (no name for the process's uid)
                os_user = None
            row = acc.get_user_by_name(conn, os_user) if os_user else None
            if row is None or not row.get("active", True):
                row = acc.first_admin(conn)
    if row is None:
        return SYSTEM
    return replace(actor_from_row(row), role="admin")
