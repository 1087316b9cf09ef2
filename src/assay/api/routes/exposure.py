"""Exposure to sensitive content: the UI reports how long content behind a warning was revealed."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import Field

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, StoreDep
from assay.api.routes import out
from assay.api.schemas import _In
from assay.services import exposure

router = APIRouter(tags=["exposure"])


class ExposureIn(_In):
    ms: int = Field(ge=1, le=exposure.MAX_STRETCH_MS, description="how long it stayed revealed")
    record_id: int | None = Field(default=None, ge=1, description="the record whose content it was")
    context: Literal["work", "review", "dashboard"] = "work"


@router.post(
    "/projects/{project_id}/exposure",
    status_code=201,
    response_model=m.ExposureStretch,
    **access("project:annotator"),
)
def record_exposure(project_id: Id, body: ExposureIn, actor: CurrentActor, store: StoreDep) -> Response:
    row = exposure.record_exposure(
        store, actor, project_id, body.ms, record_id=body.record_id, context=body.context
    )
    return out(row, 201)


@router.get("/projects/{project_id}/exposure", response_model=m.ProjectExposure, **access("project:manager"))
def project_exposure(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out(exposure.project_exposure(store, actor, project_id))


@router.get("/me/exposure", response_model=m.MyExposure, **access("signed-in"))
def my_exposure(actor: CurrentActor, store: StoreDep) -> Response:
    return out(exposure.my_exposure(store, actor))
