"""Projects, their members, records in bulk, file imports and exports."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, PageDep, SettingsDep, StoreDep, paged
from assay.api.errors import BadRequest
from assay.api.routes import file_answers, out
from assay.api.schemas import MemberIn, ProjectIn, ProjectPatch
from assay.domain.errors import AssayError, ValidationError
from assay.formats.coco import CocoOptions
from assay.services import exports, imports, projects
from assay.services.media import MediaRoots

router = APIRouter(tags=["projects"])

NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/ndjson")
EXPORT_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "coco": "application/json",
    "conll": "text/plain; charset=utf-8",
}


@router.get("/projects", response_model=m.ProjectPage, **access("signed-in"))
def list_projects(actor: CurrentActor, store: StoreDep, page: PageDep) -> Response:
    rows = projects.list_projects(store, actor, after_id=page.after_id, limit=page.limit + 1)
    return out(paged(rows, page.limit))


@router.post("/projects", status_code=201, response_model=m.Project, **access("workspace:manager"))
def create_project(body: ProjectIn, actor: CurrentActor, store: StoreDep) -> Response:
    return out(
        projects.create_project(store, actor, body.schema_, name=body.name, workspace=body.workspace), 201
    )


@router.get("/projects/{project_id}", response_model=m.Project, **access("project:annotator"))
def get_project(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out(projects.get_project(store, actor, project_id))


@router.patch("/projects/{project_id}", response_model=m.Project, **access("project:manager"))
def update_project(project_id: Id, body: ProjectPatch, actor: CurrentActor, store: StoreDep) -> Response:
    return out(
        projects.update_project(store, actor, project_id, schema=body.schema_, guidelines=body.guidelines)
    )


@router.get("/projects/{project_id}/members", response_model=m.MemberList, **access("project:manager"))
def list_members(project_id: Id, actor: CurrentActor, store: StoreDep) -> Response:
    return out({"items": projects.list_members(store, actor, project_id)})


@router.post(
    "/projects/{project_id}/members",
    status_code=201,
    response_model=m.MemberAdded,
    **access("project:manager"),
)
def add_member(project_id: Id, body: MemberIn, actor: CurrentActor, store: StoreDep) -> Response:
    projects.add_member(store, actor, project_id, body.user, body.role)
    return out({"user": body.user, "role": body.role}, 201)


def _ndjson(body: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise ValidationError(f"not valid JSON: {e}", line=n, file="request") from None


def _json_array(body: bytes) -> Iterator[tuple[int, Any]]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"the body is not valid JSON: {e}", field="body") from None
    if not isinstance(data, list):
        raise ValidationError(
            "send a JSON array of records (or NDJSON as application/x-ndjson)", field="body"
        )
    return enumerate(data, 1)


@router.post(
    "/projects/{project_id}/records",
    status_code=201,
    response_model=m.ImportReport,
    **access(
        "project:manager",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        },
    ),
)
async def add_records(
    project_id: Id, request: Request, actor: CurrentActor, store: StoreDep, settings: SettingsDep
) -> Response:
    """Add or update records in bulk, all or nothing; an error names the line (item) and field."""
    body = await request.body()
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    rows = _ndjson(body) if ctype in NDJSON_TYPES else _json_array(body)
    report = await run_in_threadpool(
        lambda: imports.import_rows(
            store, actor, project_id, rows, name="request", media=MediaRoots.from_settings(settings)
        )
    )
    return out(report.__dict__, 201)


def upload_path_name(client_name: str) -> str:
    """The name an upload is saved under: never the client's (it may be ``..`` or a path), only
    its suffix, which tells the format (``.jsonl``, ``.csv`` …) when that is plain."""
    suffix = Path(client_name.replace("\\", "/")).suffix.lower()
    return "upload" + (suffix if suffix[1:].isascii() and suffix[1:].isalnum() else "")


@router.post(
    "/projects/{project_id}/imports",
    status_code=201,
    response_model=m.ImportReport,
    **access("project:manager"),
)
def import_file(
    project_id: Id,
    file: Annotated[
        UploadFile, File(description="JSONL, JSON, CSV, Parquet, COCO (format=coco) or CoNLL (format=conll)")
    ],
    actor: CurrentActor,
    store: StoreDep,
    settings: SettingsDep,
    format: Annotated[str, Form()] = "auto",
    coco_as: Annotated[
        str, Form(description="COCO, CoNLL: annotations become suggestions, answers or gold")
    ] = "suggestions",
    annotator: Annotated[
        str | None, Form(description="COCO, CoNLL answers: the user of unnamed annotations")
    ] = None,
    media_prefix: Annotated[str, Form(description="COCO: put before each image's file_name")] = "",
) -> Response:
    if format in ("yolo", "voc"):
        raise ValidationError(
            f"a {format} dataset is a folder: import it with `assay import`", field="format"
        )
    name = file.filename or "upload"
    coco = CocoOptions(as_=coco_as, annotator=annotator, media_prefix=media_prefix)
    with tempfile.TemporaryDirectory(prefix="assay-import-") as tmp:
        path = Path(tmp) / upload_path_name(name)
        stem = Path(name.replace("\\", "/")).stem
        if format == "conll" and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", stem):
            path = Path(tmp) / f"{stem}.conll"  # sentences' external ids are <stem>-<n>, as from the CLI
        with path.open("wb") as fh:
            shutil.copyfileobj(file.file, fh, 1 << 20)
        try:
            report = imports.import_file(
                store,
                actor,
                project_id,
                path,
                fmt=format,
                media=MediaRoots.from_settings(settings),
                coco=coco,
            )
        except AssayError as e:
            if e.file == str(path):
                e.file = name
            raise
    return out(report.__dict__ | {"source": name}, 201)


@router.get(
    "/projects/{project_id}/export",
    response_class=FileResponse,
    responses=file_answers(sorted(set(EXPORT_TYPES.values())), "the export file"),
    **access("project:manager"),
)
def export(
    project_id: Id,
    actor: CurrentActor,
    store: StoreDep,
    format: Annotated[str, Query(pattern="^(jsonl|csv|parquet|coco|conll)$")] = "jsonl",
    lineage: bool = False,
    csv_formulas: Annotated[
        Literal["escape", "raw"],
        Query(
            description="CSV: put a ' before cells a spreadsheet would run as formulas (escape), or not (raw)"
        ),
    ] = "escape",
    coco_from: Annotated[
        Literal["consensus", "answers", "suggestions", "gold"],
        Query(
            description="COCO: take the annotations from consensus, every answer, the suggestions or gold "
            "(CoNLL: consensus, suggestions or gold)"
        ),
    ] = "consensus",
    contributors: Annotated[
        Literal["names", "pseudonyms", "none"],
        Query(description="how answers name their authors: names, pseudonyms local to the file, or none"),
    ] = "names",
) -> FileResponse:
    tmp = tempfile.mkdtemp(prefix="assay-export-")
    path = Path(tmp) / f"project-{project_id}.{'json' if format == 'coco' else format}"
    try:
        exports.export_file(
            store,
            actor,
            project_id,
            path,
            fmt=format,
            lineage=lineage,
            csv_formulas=csv_formulas,
            coco_from=coco_from,
            contributors=contributors,
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=EXPORT_TYPES[format],
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )
