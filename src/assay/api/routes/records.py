"""Browsing records, their history and suggestions; responses, consensus, stats, figures and events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, PageDep, StoreDep, paged
from assay.api.routes import out
from assay.api.schemas import ConsensusIn, SuggestionsIn
from assay.domain.errors import Conflict, ValidationError
from assay.domain.numbers import MAX_ID
from assay.services import (
    consensus,
    datacard,
    explain,
    leaderboard,
    personal_data,
    records,
    stats,
    trajectory_stats,
)

router = APIRouter(tags=["records"])

FilterQ = Annotated[str | None, Query(description=" | ".join(records.FILTERS))]
UserQ = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="only this contributor's answers (a user id)")
]


@router.get("/projects/{project_id}/records", response_model=m.RecordPage, **access("project:reviewer"))
def list_records(
    project_id: Id, actor: CurrentActor, store: StoreDep, page: PageDep, filter: FilterQ = None
) -> Response:
    rows = records.list_records(
        store, actor, project_id, filter=filter, after_id=page.after_id, limit=page.limit + 1
    )
    return out(paged(rows, page.limit))


@router.get("/records/{record_id}", response_model=m.RecordDetail, **access("record:reviewer"))
def get_record(record_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out(records.get_record(store, actor, record_id))


@router.get("/records/{record_id}/history", response_model=m.EventList, **access("project:reviewer"))
def record_history(record_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": records.record_history(store, actor, record_id)})


@router.get("/records/{record_id}/explain", response_model=m.Explanation, **access("project:reviewer"))
def explain_record(record_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """The chain from the raw record to each exported value: answers (who, versions, time spent,
    suggestions shown and kept), reviews, consensus (method, inputs, confidence), history."""
    return out(explain.explain_record(store, actor, record_id))


@router.post(
    "/records/{record_id}/suggestions",
    status_code=201,
    response_model=m.SuggestionsOut,
    **access("project:manager"),
)
def add_suggestions(record_id: Id, body: SuggestionsIn, actor: CurrentActor, store: StoreDep) -> Response:
    rows = [s.model_dump(exclude_none=True) | {"value": s.value} for s in body.suggestions]
    return out(records.add_suggestions(store, actor, record_id, rows, replace=body.replace), 201)


@router.get(
    "/projects/{project_id}/responses", response_model=m.ResponseRowPage, **access("project:annotator")
)
def list_responses(
    project_id: Id, actor: CurrentActor, store: StoreDep, page: PageDep, user: UserQ = None
) -> Response:
    rows = records.list_responses(
        store, actor, project_id, user_id=user, after_id=page.after_id, limit=page.limit + 1
    )
    return out(paged(rows, page.limit))


@router.post("/projects/{project_id}/consensus", response_model=m.ConsensusRun, **access("project:manager"))
def recompute_consensus(
    project_id: Id, actor: CurrentActor, store: StoreDep, body: ConsensusIn | None = None
) -> Response:
    return out(consensus.recompute_project(store, actor, project_id, (body or ConsensusIn()).method))


@router.get(
    "/projects/{project_id}/consensus", response_model=m.RecordConsensusPage, **access("project:reviewer")
)
def list_consensus(project_id: Id, actor: CurrentActor, store: StoreDep, page: PageDep) -> Response:
    rows = records.list_consensus(store, actor, project_id, after_id=page.after_id, limit=page.limit + 1)
    return out(paged(rows, page.limit, key="record_id"))


@router.get("/projects/{project_id}/stats", response_model=m.ProjectStats, **access("project:reviewer"))
def project_stats(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out(stats.project_stats(store, actor, project_id))


@router.get(
    "/projects/{project_id}/contributors", response_model=m.ContributorList, **access("project:reviewer")
)
def contributors(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": stats.contributor_stats(store, actor, project_id)})


def _no_question(e: ValidationError, question: str | None) -> Exception:
    """A project without the question a figure needs is a state (409), not bad input; a ``question``
    the caller named that does not fit stays 422."""
    if question is None and e.field == "question":
        return Conflict(e.message, field="question")
    return e


@router.get("/projects/{project_id}/leaderboard", response_model=m.Leaderboard, **access("project:manager"))
def project_leaderboard(
    project_id: Id,
    actor: CurrentActor,
    store: StoreDep,
    category: Annotated[str | None, Query(description="a metadata key: one board per value")] = None,
    question: Annotated[str | None, Query(description="the preference or ranking question")] = None,
) -> Response:
    try:
        board = leaderboard.leaderboard(store, actor, project_id, question=question, category=category)
    except ValidationError as e:
        raise _no_question(e, question) from None
    return out(board)


@router.get("/projects/{project_id}/agent-stats", response_model=m.AgentStats, **access("project:manager"))
def agent_stats(
    project_id: Id,
    actor: CurrentActor,
    store: StoreDep,
    question: Annotated[str | None, Query(description="the step_review question")] = None,
    method: Annotated[str, Query(description="the categorical aggregator of the step verdicts")] = "mv",
) -> Response:
    try:
        figures = trajectory_stats.project_trajectory_stats(
            store, actor, project_id, question=question, method=method
        )
    except ValidationError as e:
        raise _no_question(e, question) from None
    return out(figures.to_dict())


@router.get("/projects/{project_id}/datacard", response_model=m.Datacard, **access("project:manager"))
def project_datacard(
    project_id: Id,
    actor: CurrentActor,
    store: StoreDep,
    license: Annotated[str, Query(max_length=100, description="the data's licence (SPDX id)")] = "other",
    language: Annotated[list[str] | None, Query(description="languages of the data (ISO 639-1)")] = None,
) -> Response:
    text, figures = datacard.datacard(
        store, actor, project_id, license=license, languages=tuple(language or ())
    )
    return out(
        {
            "markdown": text,
            "figures": figures,
            "agreement_svg": datacard.agreement_svg(figures),
            "labels_svg": datacard.labels_svg(figures),
        }
    )


@router.get(
    "/projects/{project_id}/personal-data", response_model=m.PersonalData, **access("project:manager")
)
def project_personal_data(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """The project's personal-data policy and what its imports found, by kind and action."""
    return out(personal_data.project_findings(store, actor, project_id))


@router.get("/projects/{project_id}/events", response_model=m.EventPage, **access("project:manager"))
def list_events(project_id: Id, actor: CurrentActor, store: StoreDep, page: PageDep) -> Response:
    rows = records.list_events(store, actor, project_id, after_id=page.after_id, limit=page.limit + 1)
    return out(paged(rows, page.limit))
