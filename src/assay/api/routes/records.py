"""Browsing records, their history and suggestions; responses, consensus, stats and events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from assay.api.deps import CurrentActor, PageDep, StoreDep, paged
from assay.api.routes import out
from assay.api.schemas import ConsensusIn, SuggestionsIn
from assay.services import consensus, records, stats

router = APIRouter(tags=["records"])

FilterQ = Annotated[str | None, Query(description=" | ".join(records.FILTERS))]


@router.get("/projects/{project_id}/records")
def list_records(
    project_id: int, actor: CurrentActor, store: StoreDep, page: PageDep, filter: FilterQ = None
) -> Response:
    rows = records.list_records(
        store, actor, project_id, filter=filter, after_id=page.after_id, limit=page.limit + 1
    )
    return out(paged(rows, page.limit))


@router.get("/records/{record_id}")
def get_record(record_id: int, actor: CurrentActor, store: StoreDep) -> Response:
    return out(records.get_record(store, actor, record_id))


@router.get("/records/{record_id}/history")
def record_history(record_id: int, actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": records.record_history(store, actor, record_id)})


@router.post("/records/{record_id}/suggestions", status_code=201)
def add_suggestions(record_id: int, body: SuggestionsIn, actor: CurrentActor, store: StoreDep) -> Response:
    rows = [s.model_dump(exclude_none=True) | {"value": s.value} for s in body.suggestions]
    return out(records.add_suggestions(store, actor, record_id, rows, replace=body.replace), 201)


@router.get("/projects/{project_id}/responses")
def list_responses(
    project_id: int, actor: CurrentActor, store: StoreDep, page: PageDep, user: int | None = None
) -> Response:
    rows = records.list_responses(
        store, actor, project_id, user_id=user, after_id=page.after_id, limit=page.limit + 1
    )
    return out(paged(rows, page.limit))


@router.post("/projects/{project_id}/consensus")
def recompute_consensus(
    project_id: int, actor: CurrentActor, store: StoreDep, body: ConsensusIn | None = None
) -> Response:
    return out(consensus.recompute_project(store, actor, project_id, (body or ConsensusIn()).method))


@router.get("/projects/{project_id}/consensus")
def list_consensus(project_id: int, actor: CurrentActor, store: StoreDep, page: PageDep) -> Response:
    rows = records.list_consensus(store, actor, project_id, after_id=page.after_id, limit=page.limit + 1)
    return out(paged(rows, page.limit, key="record_id"))


@router.get("/projects/{project_id}/stats")
def project_stats(project_id: int, actor: CurrentActor, store: StoreDep) -> Response:
    return out(stats.project_stats(store, actor, project_id))


@router.get("/projects/{project_id}/contributors")
def contributors(project_id: int, actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": stats.contributor_stats(store, actor, project_id)})


@router.get("/projects/{project_id}/events")
def list_events(project_id: int, actor: CurrentActor, store: StoreDep, page: PageDep) -> Response:
    rows = records.list_events(store, actor, project_id, after_id=page.after_id, limit=page.limit + 1)
    return out(paged(rows, page.limit))
