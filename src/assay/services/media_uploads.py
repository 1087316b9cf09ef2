"""Uploads of media files, for a project's records: into the data directory's media folder, or
into an object store when several servers share the uploads (``ASSAY_MEDIA_UPLOADS``).

A file is stored under ``$ASSAY_HOME/media/uploads/<project id>/`` (or ``<prefix>/<project id>/``
in the bucket) by the SHA-256 of its bytes (the same file uploaded twice is stored once) and the
suffix of its name; the client's name is never a path. Only image, audio and video files are taken
(by suffix; an image must open with Pillow); an image's size, an audio or video file's duration
(and a video's size and frame rate, when PyAV reads them) are answered. The answer's ``path`` is
what a record's media field then names (``media/uploads/…`` or ``s3://…``)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from assay.domain.errors import ValidationError
from assay.services.actors import Actor
from assay.services.media import content_type, image_size
from assay.services.media_probe import probe
from assay.services.media_store import ObjectStores
from assay.services.policies import load_project
from assay.store.engine import Store

__all__ = ["save_upload"]

CHUNK = 1 << 20


def save_upload(
    store: Store,
    actor: Actor,
    home: Path,
    project_ref: int | str,
    name: str,
    data: BinaryIO,
    *,
    bucket: str | None = None,
    stores: ObjectStores | None = None,
) -> dict[str, Any]:
    """Store an uploaded media file for a project (managers); its path, size and type. With
    ``bucket`` (an object-store prefix under ``stores``' configured ones) the file goes there."""
    with store.read() as conn:
        pid = int(load_project(conn, actor, project_ref, need="manager")["id"])
    suffix = Path(name.replace("\\", "/")).suffix.lower()
    if not (suffix[1:].isascii() and suffix[1:].isalnum()):
        suffix = ""
    ctype = content_type(Path("f" + suffix))
    if ctype.split("/")[0] not in ("image", "audio", "video"):
        raise ValidationError(
            f"{name!r} is not an image, audio or video file (by its suffix {suffix or 'none'})", field="file"
        )
    folder = home / "media" / "uploads" / str(pid)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := data.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError("the file is empty", field="file")
        found = _probe(ctype, Path(tmp), name)
        stored = f"{digest.hexdigest()[:32]}{suffix}"
        if bucket is not None:
            assert stores is not None
            url = f"{bucket.rstrip('/')}/{pid}/{stored}"
            stores.put(Path(tmp), url)
            Path(tmp).unlink()
            path = url
        else:
            final = folder / stored
            os.replace(tmp, final)
            path = final.relative_to(home).as_posix()
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"path": path, "bytes": size, "content_type": ctype, "sha256": digest.hexdigest(), **found}


def _probe(ctype: str, path: Path, name: str) -> dict[str, Any]:
    """An image's size (it must be an image); an audio or video file's facts when PyAV reads them
    (a file it cannot read is still taken: the browser may play what FFmpeg does not know)."""
    kind = ctype.split("/")[0]
    if kind == "image":
        width, height = image_size(path)
        return {"width": width, "height": height}
    try:
        with path.open("rb") as fh:
            return probe(kind, fh, name).as_dict()
    except ValidationError:
        return {}
