"""The diversity report of a synthesis project (runs are ``synth`` jobs: POST /projects/{id}/jobs)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from assay.api.access import access
from assay.api.deps import CurrentActor, Id, StoreDep
from assay.api.routes import out
from assay.services import synthesis

router = APIRouter(tags=["synthetic"])


@router.get("/projects/{project_id}/synthetic", **access("project:manager"))
def synthetic_report(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """Records by origin, teacher shares, distinct-n, near-duplicate rate, and each run's report."""
    return out(synthesis.project_report(store, actor, project_id))
