"""Users (people and model contributors) and workspaces."""

from __future__ import annotations

from fastapi import APIRouter, Response

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, StoreDep
from assay.api.routes import out
from assay.api.schemas import UserIn, WorkspaceIn
from assay.services import accounts, personal_data

router = APIRouter(tags=["users"])


@router.get("/users", response_model=m.UserList, **access("role:manager"))
def list_users(actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": accounts.list_users(store, actor)})


@router.post("/users", status_code=201, response_model=m.NewUser, **access("workspace:manager"))
def add_user(body: UserIn, actor: CurrentActor, store: StoreDep) -> Response:
    new = accounts.add_user(
        store,
        actor,
        body.name,
        role=body.role,
        kind=body.kind,
        skills=body.skills,
        password=body.password,
        cost_per_hour=body.cost_per_hour,
        cost_per_item=body.cost_per_item,
        workspace=body.workspace,
    )
    return out({"id": new.id, "name": new.name, "role": new.role, "kind": new.kind, "token": new.token}, 201)


@router.post("/users/{user_id}/erase", response_model=m.Erased, **access("admin"))
def erase_user(user_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """The right to erasure: the person's name becomes a pseudonym, their password, tokens and
    settings are removed; their answers stay and keep counting."""
    return out(personal_data.erase_contributor(store, actor, user_id))


@router.get("/workspaces", response_model=m.WorkspaceList, **access("signed-in"))
def list_workspaces(actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": accounts.list_workspaces(store, actor)})


@router.post("/workspaces", status_code=201, response_model=m.Workspace, **access("admin"))
def create_workspace(body: WorkspaceIn, actor: CurrentActor, store: StoreDep) -> Response:
    return out(accounts.create_workspace(store, actor, body.name), 201)
