"""Uploads of media files into the data directory's media folder, for a project's records.

A file is stored under ``$ASSAY_HOME/media/uploads/<project id>/`` by the SHA-256 of its bytes
(the same file uploaded twice is stored once) and the suffix of its name; the client's name is
never a path. Only image, audio and video files are taken (by suffix; an image must open with
Pillow). The answer's ``path`` is what a record's media field then names (``media/uploads/…``)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from assay.domain.errors import ValidationError
from assay.services.actors import Actor
from assay.services.media import content_type, image_size
from assay.services.policies import load_project
from assay.store.engine import Store

__all__ = ["save_upload"]

CHUNK = 1 << 20


def save_upload(
    store: Store, actor: Actor, home: Path, project_ref: int | str, name: str, data: BinaryIO
) -> dict[str, Any]:
    """Store an uploaded media file for a project (managers); its path, size and type."""
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
        found: dict[str, Any] = {}
        if ctype.startswith("image/"):
            width, height = image_size(Path(tmp))
            found = {"width": width, "height": height}
        final = folder / f"{digest.hexdigest()[:32]}{suffix}"
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    path = final.relative_to(home).as_posix()
    return {"path": path, "bytes": size, "content_type": ctype, "sha256": digest.hexdigest(), **found}
