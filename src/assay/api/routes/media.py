"""A record's local media file (image, audio, video), for those who may see the record; uploads.

Only a file the record's field names is served, and only from the media roots
(:mod:`assay.services.media`); audio and video answer HTTP range requests (seeking)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Response, UploadFile
from fastapi.responses import FileResponse

from assay.api.access import access
from assay.api.deps import CurrentActor, Id, SettingsDep, StoreDep
from assay.api.routes import out
from assay.services import media, media_uploads

router = APIRouter(tags=["records"])

FieldName = Annotated[str, Path(max_length=200, description="the record's image, audio or video field")]


@router.get(
    "/records/{record_id}/media/{field}",
    response_class=FileResponse,
    **access(
        "record:reviewer",
        openapi_extra={
            "responses": {
                "200": {"description": "the file", "content": {"image/*": {}, "audio/*": {}, "video/*": {}}},
                "206": {"description": "a byte range of it (Range header)"},
            }
        },
    ),
)
def record_media(
    record_id: Id, field: FieldName, actor: CurrentActor, store: StoreDep, settings: SettingsDep
) -> FileResponse:
    """The file a record's media field points to (a path under the media roots)."""
    found = media.record_media(store, actor, media.MediaRoots.from_settings(settings), record_id, field)
    return FileResponse(
        found.path, media_type=found.content_type, headers={"Cache-Control": "private, max-age=300"}
    )


@router.post("/projects/{project_id}/media", status_code=201, **access("project:manager"))
def upload_media(
    project_id: Id,
    file: Annotated[UploadFile, File(description="an image, audio or video file")],
    actor: CurrentActor,
    store: StoreDep,
    settings: SettingsDep,
) -> Response:
    """Store a media file in the data directory; a record's media field then names its ``path``."""
    saved = media_uploads.save_upload(
        store, actor, settings.home.resolve(), project_id, file.filename or "upload", file.file
    )
    return out(saved, 201)
