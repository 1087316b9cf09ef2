"""Red-teaming campaigns: the taxonomy, campaigns, attacks (target runs are ``safety_run`` jobs:
POST /projects/{id}/jobs)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, StoreDep
from assay.api.routes import file_answers, out
from assay.api.schemas import AttacksIn, CampaignIn
from assay.formats.training import TrainingOptions
from assay.services import safety, safety_report, training_exports

router = APIRouter(tags=["safety"])


@router.get("/safety/taxonomy", response_model=m.SafetyAnswer, **access("signed-in"))
def default_taxonomy(actor: CurrentActor) -> Response:
    """assay's default taxonomy: hazard categories (after MLCommons AILuminate v1.0), tactics, severities."""
    return out(safety.default_taxonomy())


@router.post(
    "/safety/campaigns", status_code=201, response_model=m.SafetyAnswer, **access("workspace:manager")
)
def create_campaign(body: CampaignIn, actor: CurrentActor, store: StoreDep) -> Response:
    """Make a campaign's attack project and grading project (both with the taxonomy)."""
    return out(
        safety.create_campaign(
            store,
            actor,
            body.name,
            taxonomy=body.taxonomy,
            grading=body.grading,
            overlap=body.overlap,
            workspace=body.workspace,
        ),
        201,
    )


@router.get("/projects/{project_id}/safety", response_model=m.SafetyAnswer, **access("project:annotator"))
def campaign(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """The project's side of its campaign (``attacks`` or ``grading``) and its taxonomy."""
    return out(safety.campaign_info(store, actor, project_id))


@router.post(
    "/projects/{project_id}/safety/attacks",
    status_code=201,
    response_model=m.SafetyAnswer,
    **access("project:annotator"),
)
def add_attacks(project_id: Id, body: AttacksIn, actor: CurrentActor, store: StoreDep) -> Response:
    """Write attacks (all or nothing): each checked against the taxonomy and for near-duplicates of
    earlier attacks (``duplicate_of``)."""
    rows = list(enumerate(body.attacks, 1))
    return out(safety.add_attacks(store, actor, project_id, rows, field_prefix="attacks"), 201)


@router.get(
    "/projects/{project_id}/safety/attacks", response_model=m.SafetyAnswer, **access("project:manager")
)
def list_attacks(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": safety.list_attacks(store, actor, project_id)})


@router.get(
    "/projects/{project_id}/safety/report", response_model=m.SafetyAnswer, **access("project:manager")
)
def report(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """Attack success rate per model × category (``rows``: model, category, attempts, successes,
    rate, ci_low, ci_high; 95 % Wilson intervals), × tactic, the models ranked, the most effective
    tactics, over-refusal, trends across versions, judge–human agreement, authors' successful
    novel attacks. Of the attack project or of the grading project, alike."""
    return out(safety_report.safety_report(store, actor, project_id))


@router.get(
    "/projects/{project_id}/safety/export",
    response_class=FileResponse,
    responses=file_answers(["application/x-ndjson", "application/json", "text/csv"], "the export"),
    **access("project:manager"),
)
def export(
    project_id: Id,
    actor: CurrentActor,
    store: StoreDep,
    format: Annotated[
        Literal["safety-sft", "safety-pairs"],
        Query(description="refusal SFT conversations, or safety preference pairs"),
    ] = "safety-pairs",
    withhold_harmful: Annotated[
        bool, Query(description="replace every reply graded harmful with a placeholder")
    ] = False,
    min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0,
) -> FileResponse:
    """Safety training data of a grading project as JSONL; harmful content is marked
    (``content_warning``) and, with ``withhold_harmful``, withheld."""
    tmp = tempfile.mkdtemp(prefix="assay-safety-")
    path = Path(tmp) / f"project-{project_id}-{format}.jsonl"
    options = TrainingOptions(min_confidence=min_confidence, extra={"withhold_harmful": withhold_harmful})
    try:
        training_exports.export_training(store, actor, project_id, path, format, options)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type="application/x-ndjson",
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )
