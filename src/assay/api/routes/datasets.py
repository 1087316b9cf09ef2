"""Dataset versions over HTTP: freeze, list, show, export, diff, and a version's data card
(managers of the project; the files live in the server's data directory)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, SettingsDep, StoreDep
from assay.api.routes import file_answers, out
from assay.services import datacard, datasets
from assay.settings import Settings

router = APIRouter(tags=["datasets"])


def _where(settings: Settings) -> datasets.Place:
    return datasets.Place(settings.home.resolve(), settings.datasets_url, settings.s3_endpoint_url)


VersionP = Annotated[
    str, PathParam(max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="a version's name")
]

_TYPES = {
    "jsonl": "application/x-ndjson",
    "json": "application/json",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}


class FreezeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(max_length=100, description="default v1, v2 …")] = None
    filters: Annotated[
        list[Annotated[str, Field(max_length=300)]],
        Field(
            max_length=20,
            description="records to keep (all must match): done, open, low_confidence, gold_failed, "
            "flagged, disagreement, gold, not_gold, metadata.KEY=VALUE",
        ),
    ] = []


@router.post(
    "/projects/{project_id}/datasets",
    status_code=201,
    response_model=m.DatasetVersion,
    **access("project:manager"),
)
def freeze_version(
    project_id: Id, body: FreezeIn, actor: CurrentActor, store: StoreDep, settings: SettingsDep
) -> Response:
    v = datasets.freeze(store, actor, _where(settings), project_id, name=body.name, filters=body.filters)
    return out(v, 201)


@router.get(
    "/projects/{project_id}/datasets", response_model=m.DatasetVersionList, **access("project:manager")
)
def list_versions(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": datasets.list_versions(store, actor, project_id)})


@router.get(
    "/projects/{project_id}/datasets/{version}", response_model=m.DatasetVersion, **access("project:manager")
)
def show_version(
    project_id: Id, version: VersionP, actor: CurrentActor, store: StoreDep, settings: SettingsDep
) -> Response:
    """The version, its manifest and whether its files still match their hashes."""
    return out(datasets.show(store, actor, _where(settings), project_id, version))


@router.get(
    "/projects/{project_id}/datasets/{version}/export",
    response_class=FileResponse,
    responses=file_answers(sorted(set(_TYPES.values())), "the version's records"),
    **access("project:manager"),
)
def export_version(
    project_id: Id,
    version: VersionP,
    actor: CurrentActor,
    store: StoreDep,
    settings: SettingsDep,
    format: Annotated[str, Query(pattern="^(jsonl|json|csv|parquet)$")] = "jsonl",
) -> FileResponse:
    tmp = tempfile.mkdtemp(prefix="assay-version-")
    path = Path(tmp) / f"{version}.{format}"
    try:
        datasets.export_version(store, actor, _where(settings), project_id, version, path, fmt=format)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=_TYPES[format],
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


@router.get(
    "/projects/{project_id}/datasets/{version}/diff",
    response_model=m.DatasetDiff,
    **access("project:manager"),
)
def diff_versions(
    project_id: Id,
    version: VersionP,
    actor: CurrentActor,
    store: StoreDep,
    settings: SettingsDep,
    against: Annotated[
        str | None, Query(max_length=100, description="the newer version: the changes from {version} to it")
    ] = None,
    limit: Annotated[
        int, Query(ge=0, le=10_000, description="changes to list (the counts cover all)")
    ] = 1000,
) -> Response:
    return out(datasets.diff(store, actor, _where(settings), project_id, version, against or "", limit=limit))


@router.get(
    "/projects/{project_id}/datasets/{version}/datacard",
    response_model=m.Datacard,
    **access("project:manager"),
)
def version_datacard(
    project_id: Id,
    version: VersionP,
    actor: CurrentActor,
    store: StoreDep,
    settings: SettingsDep,
    license: Annotated[str, Query(max_length=100, description="the data's licence (SPDX id)")] = "other",
    language: Annotated[list[str] | None, Query(description="languages of the data (ISO 639-1)")] = None,
) -> Response:
    """A frozen version's data card: Markdown, the figures it states (read from the version's
    files) and its charts as SVG."""
    text, figures = datacard.version_datacard(
        store,
        actor,
        _where(settings),
        project_id,
        version,
        license=license,
        languages=tuple(language or ()),
    )
    return out(
        {
            "markdown": text,
            "figures": figures,
            "agreement_svg": datacard.agreement_svg(figures),
            "labels_svg": datacard.labels_svg(figures),
        }
    )
