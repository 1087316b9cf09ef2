"""The diversity report of a synthesis project (runs are ``synth`` jobs: POST /projects/{id}/jobs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, SettingsDep, StoreDep
from assay.api.routes import out
from assay.api.routes.datasets import _where
from assay.services import synthesis

router = APIRouter(tags=["synthetic"])


@router.get("/projects/{project_id}/synthetic", response_model=m.SyntheticReport, **access("project:manager"))
def synthetic_report(
    project_id: Id,
    actor: CurrentActor,
    store: StoreDep,
    settings: SettingsDep,
    version: Annotated[
        str | None, Query(max_length=200, description="A frozen version's records only")
    ] = None,
    embedder: Annotated[str, Query(pattern="^(auto|minilm|hashing|none)$")] = "auto",
) -> Response:
    """Records by origin, teacher shares, distinct-n, embedding spread, topics, near-duplicate rate,
    and each run's report; of the project or of one of its frozen versions."""
    return out(
        synthesis.project_report(
            store, actor, project_id, version=version, embedder=embedder, home=_where(settings)
        )
    )
