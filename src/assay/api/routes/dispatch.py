"""Leases and answers: next record, the lease, submit, draft, skip, release; and review."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from assay.api import hot
from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, PageDep, StoreDep, body_schema, paged, request_actor
from assay.api.routes import out
from assay.api.schemas import DraftIn, ReviewIn, SkipIn, SubmitIn
from assay.services import dispatch, review

router = APIRouter(tags=["dispatch"])


# next and submit are most of the traffic: API-token callers reach them through assay.api.hot
# (straight on ASGI); these routes serve the web UI's cookie sessions and document both in the
# OpenAPI. They read the caller and the body themselves, without dependency injection.


@router.post(
    "/projects/{project_id}/next",
    response_model=m.Lease,
    responses={204: {"description": "nothing left for the caller"}},
    **access("project:annotator"),
)
async def next_assignment(project_id: Id, request: Request) -> Response:
    store, actor = await request_actor(request)
    return await hot.lease(store, actor, project_id)


@router.get("/assignments/{assignment_id}", response_model=m.Lease, **access("holder"))
def get_assignment(assignment_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out(dispatch.get_assignment(store, actor, assignment_id))


@router.post(
    "/assignments/{assignment_id}/responses",
    status_code=201,
    response_model=m.Submitted,
    responses={200: {"model": m.Submitted, "description": "a repeat: the answer stored the first time"}},
    **access("holder", openapi_extra=body_schema(SubmitIn)),
)
async def submit_response(assignment_id: Id, request: Request) -> Response:
    """Store the answer; with ``"next": true`` the answer also carries the caller's next lease
    (``next``: a lease as ``POST /projects/{id}/next`` gives it, or null), saving a round trip."""
    store, actor = await request_actor(request)
    return await hot.submit(store, actor, assignment_id, hot.parse_submit(await request.body()))


@router.put("/assignments/{assignment_id}/draft", response_model=m.Saved, **access("holder"))
def save_draft(assignment_id: Id, body: DraftIn, actor: CurrentActor, store: StoreDep) -> Response:
    return out(dispatch.save_draft(store, actor, assignment_id, body.values))


@router.post("/assignments/{assignment_id}/skip", status_code=204, **access("holder"))
def skip(assignment_id: Id, actor: CurrentActor, store: StoreDep, body: SkipIn | None = None) -> Response:
    body = body or SkipIn()
    dispatch.skip_assignment(store, actor, assignment_id, reason=body.reason, flag=body.flag)
    return Response(status_code=204)


@router.post("/assignments/{assignment_id}/release", status_code=204, **access("holder"))
def release(assignment_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    dispatch.release_assignment(store, actor, assignment_id)
    return Response(status_code=204)


@router.get("/projects/{project_id}/reviews", response_model=m.ReviewItemPage, **access("project:reviewer"))
def review_queue(project_id: Id, actor: CurrentActor, store: StoreDep, page: PageDep) -> Response:
    rows = review.review_queue(store, actor, project_id, after_id=page.after_id, limit=page.limit + 1)
    return out(paged(rows, page.limit, key="review_id"))


@router.post("/reviews/{review_id}", response_model=m.Decision, **access("project:reviewer"))
def decide_review(review_id: Id, body: ReviewIn, actor: CurrentActor, store: StoreDep) -> Response:
    decision = review.decide_review(
        store, actor, review_id, body.verdict, corrected_values=body.corrected_values, comment=body.comment
    )
    return out(decision)


@router.post("/responses/{response_id}/review", response_model=m.Decision, **access("project:reviewer"))
def review_response(response_id: Id, body: ReviewIn, actor: CurrentActor, store: StoreDep) -> Response:
    decision = review.review_response(
        store, actor, response_id, body.verdict, corrected_values=body.corrected_values, comment=body.comment
    )
    return out(decision)
