"""The page people write attacks on (#27): novelty of a draft, seed attacks, the writer's own attacks."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import Field

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, StoreDep
from assay.api.routes import out
from assay.api.schemas import _In
from assay.services import safety_writing

router = APIRouter(tags=["safety"])


class DraftAttackIn(_In):
    turns: list[str] = Field(min_length=1, max_length=20, description="the draft's user turns")


@router.post(
    "/projects/{project_id}/safety/novelty", response_model=m.SafetyAnswer, **access("project:annotator")
)
def novelty(project_id: Id, body: DraftAttackIn, actor: CurrentActor, store: StoreDep) -> Response:
    """Whether a draft attack repeats one of the project's (before it is written)."""
    return out(safety_writing.novelty(store, actor, project_id, body.turns))


@router.get(
    "/projects/{project_id}/safety/seeds", response_model=m.SafetyAnswer, **access("project:annotator")
)
def seeds(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """The seed attacks a writer may mutate (those a manager put in)."""
    return out({"items": safety_writing.seeds(store, actor, project_id)})


@router.get(
    "/projects/{project_id}/safety/mine", response_model=m.SafetyAnswer, **access("project:annotator")
)
def mine(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """The caller's attacks, the models each succeeded on once graded, and the bonus."""
    return out(safety_writing.my_attacks(store, actor, project_id))
