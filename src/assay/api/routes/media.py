"""A record's media file (image, audio, video), for those who may see the record; thumbnails; uploads.

Only a file the record's field names is served, and only from the media roots or the configured
object-store prefixes (:mod:`assay.services.media`); both answer HTTP range requests (seeking
audio and video). Object-store media pass through the server as a stream (a proxy, not a
redirect to a signed URL: see :mod:`assay.services.media_store` for why)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, File, Path, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, Id, SettingsDep, StoreDep
from assay.api.routes import file_answers, out
from assay.services import media, media_uploads

router = APIRouter(tags=["records"])

FieldName = Annotated[str, Path(max_length=200, description="the record's image, audio or video field")]


@router.get(
    "/records/{record_id}/media/{field}",
    response_class=FileResponse,
    **access(
        "record:reviewer",
        openapi_extra={"responses": file_answers(["image/*", "audio/*", "video/*"], "the file", ranges=True)},
    ),
)
async def record_media(
    record_id: Id,
    field: FieldName,
    request: Request,
    actor: CurrentActor,
    store: StoreDep,
    settings: SettingsDep,
) -> Response:
    """The file a record's media field points to (a path under the media roots, or an object
    under a configured bucket prefix)."""
    roots = media.MediaRoots.from_settings(settings)
    found = await run_in_threadpool(media.record_media, store, actor, roots, record_id, field)
    if isinstance(found, media.MediaFile):
        return FileResponse(found.path, media_type=found.content_type, headers={"Cache-Control": CACHE})
    return _object_response(found, request.headers.get("range"))


CACHE = "private, max-age=300"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _object_response(found: media.ObjectMedia, header: str | None) -> Response:
    """The object, or the one byte range asked for (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``), as
    a stream of ranged reads from the store. Several ranges are answered with the whole object."""
    size = found.size
    headers = {"Cache-Control": CACHE, "Accept-Ranges": "bytes"}
    start, end, status = 0, size, 200
    m = _RANGE.match((header or "").strip())
    if m and (m.group(1) or m.group(2)):
        first, last = m.group(1), m.group(2)
        if first:
            start = int(first)
            end = min(size, int(last) + 1) if last else size
        else:
            start = max(0, size - int(last))
        if start >= size or start >= end:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}", **headers})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        found.stores.read_range(found.url, start, end),
        status_code=status,
        media_type=found.content_type,
        headers=headers,
    )


@router.post(
    "/projects/{project_id}/media", status_code=201, response_model=m.SavedMedia, **access("project:manager")
)
def upload_media(
    project_id: Id,
    file: Annotated[UploadFile, File(description="an image, audio or video file")],
    actor: CurrentActor,
    store: StoreDep,
    settings: SettingsDep,
) -> Response:
    """Store a media file in the data directory; a record's media field then names its ``path``."""
    roots = media.MediaRoots.from_settings(settings)
    saved = media_uploads.save_upload(
        store,
        actor,
        settings.home.resolve(),
        project_id,
        file.filename or "upload",
        file.file,
        bucket=settings.media_uploads,
        stores=roots.stores,
    )
    return out(saved, 201)


@router.get(
    "/records/{record_id}/thumbnail/{field}",
    response_class=FileResponse,
    **access(
        "record:reviewer",
        openapi_extra={"responses": file_answers(["image/jpeg"], "a JPEG")},
    ),
)
async def record_thumbnail(
    record_id: Id, field: FieldName, actor: CurrentActor, store: StoreDep, settings: SettingsDep
) -> FileResponse:
    """A small JPEG (256 pixels on its longer side) of a record's image or video (its first
    frame), for the records browser; made on first asking and cached in the data directory."""
    roots = media.MediaRoots.from_settings(settings)
    path = await run_in_threadpool(
        media.record_thumbnail, store, actor, roots, settings.home.resolve(), record_id, field
    )
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": CACHE})
