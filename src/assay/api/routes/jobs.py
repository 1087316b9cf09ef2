"""Background jobs of a project: queue, list, show, cancel (managers of the project)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, PageDep, StoreDep, paged
from assay.api.routes import file_answers, out
from assay.api.schemas import JobIn
from assay.services import jobs

router = APIRouter(tags=["jobs"])

StateQ = Annotated[str | None, Query(description="queued, running, succeeded, failed or cancelled")]


@router.post(
    "/projects/{project_id}/jobs", status_code=201, response_model=m.Job, **access("project:manager")
)
def start_job(project_id: Id, body: JobIn, actor: CurrentActor, store: StoreDep) -> Response:
    job = jobs.enqueue(
        store,
        actor,
        project_id,
        body.kind,
        body.params,
        max_attempts=body.max_attempts,
        time_limit=body.time_limit,
    )
    return out(job, 201)


@router.get("/projects/{project_id}/jobs", response_model=m.JobPage, **access("project:manager"))
def list_jobs(
    project_id: Id, actor: CurrentActor, store: StoreDep, page: PageDep, state: StateQ = None
) -> Response:
    """Newest first; ``cursor`` pages to older jobs."""
    rows = jobs.list_jobs(
        store, actor, project_id, state=state, before_id=page.after_id or None, limit=page.limit + 1
    )
    return out(paged(rows, page.limit))


@router.get("/projects/{project_id}/jobs/{job_id}", response_model=m.Job, **access("project:manager"))
def get_job(project_id: Id, job_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out(jobs.get_job(store, actor, job_id, project_id))


@router.post("/projects/{project_id}/jobs/{job_id}/cancel", response_model=m.Job, **access("project:manager"))
def cancel_job(project_id: Id, job_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out(jobs.cancel_job(store, actor, job_id, project_id))


_TYPES = {
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
}


@router.get(
    "/projects/{project_id}/jobs/{job_id}/file",
    response_class=FileResponse,
    responses=file_answers([*sorted(set(_TYPES.values())), "application/octet-stream"], "the job's file"),
    **access("project:manager"),
)
def job_file(project_id: Id, job_id: Id, actor: CurrentActor, store: StoreDep) -> FileResponse:
    """The file a finished export job wrote (409 for any other job)."""
    path = jobs.job_file(store, actor, job_id, project_id)
    return FileResponse(
        path, media_type=_TYPES.get(path.suffix, "application/octet-stream"), filename=path.name
    )
