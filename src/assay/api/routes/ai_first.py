"""AI-first routing figures: trust in the project's models, and the savings report."""

from __future__ import annotations

from fastapi import APIRouter, Response

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, StoreDep
from assay.api.routes import out
from assay.services import ai_first

router = APIRouter(tags=["ai-first"])


@router.get("/projects/{project_id}/trust", response_model=m.Trust, **access("project:reviewer"))
def trust(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """Per model, question and answer: checked, right, precision, lower bound, trusted; and the bar."""
    return out(ai_first.trust(store, actor, project_id))


@router.get("/projects/{project_id}/savings", response_model=m.Savings, **access("project:reviewer"))
def savings(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    """Records settled by models, people, both; human answers against all-human; accuracy; cost."""
    return out(ai_first.savings(store, actor, project_id))
