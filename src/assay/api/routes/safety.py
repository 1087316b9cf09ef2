"""Red-teaming campaigns: the taxonomy, campaigns, attacks (target runs are ``safety_run`` jobs:
POST /projects/{id}/jobs)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from assay.api.access import access
from assay.api.deps import CurrentActor, Id, StoreDep
from assay.api.routes import out
from assay.api.schemas import AttacksIn, CampaignIn
from assay.services import safety, safety_report

router = APIRouter(tags=["safety"])


@router.get("/safety/taxonomy", **access("signed-in"))
def default_taxonomy(actor: CurrentActor) -> Response:
    """assay's default taxonomy: hazard categories (after MLCommons AILuminate v1.0), tactics, severities."""
    return out(safety.default_taxonomy())


@router.post("/safety/campaigns", status_code=201, **access("workspace:manager"))
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


@router.get("/projects/{project_id}/safety", **access("project:annotator"))
def campaign(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """The project's side of its campaign (``attacks`` or ``grading``) and its taxonomy."""
    return out(safety.campaign_info(store, actor, project_id))


@router.post("/projects/{project_id}/safety/attacks", status_code=201, **access("project:annotator"))
def add_attacks(project_id: Id, body: AttacksIn, actor: CurrentActor, store: StoreDep) -> Response:
    """Write attacks (all or nothing): each checked against the taxonomy and for near-duplicates of
    earlier attacks (``duplicate_of``)."""
    rows = list(enumerate(body.attacks, 1))
    return out(safety.add_attacks(store, actor, project_id, rows, field_prefix="attacks"), 201)


@router.get("/projects/{project_id}/safety/attacks", **access("project:manager"))
def list_attacks(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": safety.list_attacks(store, actor, project_id)})


@router.get("/projects/{project_id}/safety/report", **access("project:manager"))
def report(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """Attack success rate per model × category (``rows``: model, category, attempts, successes,
    rate, ci_low, ci_high; 95 % Wilson intervals), × tactic, the models ranked, the most effective
    tactics, over-refusal, trends across versions, judge–human agreement, authors' successful
    novel attacks. Of the attack project or of the grading project, alike."""
    return out(safety_report.safety_report(store, actor, project_id))
