"""Local media: image, audio and video files a record points to by path, served by assay itself.

A media value whose URL has no scheme (``media/cat.jpg``, ``/data/frames/0001.png``) is a local
file. A relative path is looked up under the data directory (``$ASSAY_HOME``: ``media/cat.jpg``
is ``$ASSAY_HOME/media/cat.jpg``) and then under each configured media root
(``ASSAY_MEDIA_ROOTS``); an absolute path must lie under an allowed root. The allowed roots are
``$ASSAY_HOME/media`` and the configured ones: a path that leaves them (``..``, or a symbolic
link out) is refused, whatever the record says, on import and when served.

On import (when the face passes :class:`MediaRoots`) a local file that is missing or outside the
roots is an error naming file, line and field, and an image's declared ``width``/``height`` is
checked against the file's own (Pillow reads the header, not the pixels).
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.domain.errors import NotFound, PermissionDenied, ValidationError
from assay.domain.fields import media_info
from assay.domain.schema import ProjectSchema
from assay.services import records
from assay.services.actors import Actor
from assay.settings import Settings
from assay.store import projects as proj_store
from assay.store.engine import Store

__all__ = ["MEDIA_TYPES", "MediaFile", "MediaRoots", "is_local", "record_media"]

MEDIA_TYPES = ("image", "audio", "video")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def is_local(url: str) -> bool:
    """Whether a media URL names a file on this machine (a path, no scheme)."""
    return not _SCHEME.match(url) and not url.startswith("//")


@dataclass(frozen=True)
class MediaFile:
    path: Path
    content_type: str


@dataclass(frozen=True)
class MediaRoots:
    """Where local media may be read from: ``bases`` resolve relative paths, in order;
    ``allowed`` are the folders a file must lie in (after following links)."""

    bases: tuple[Path, ...]
    allowed: tuple[Path, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaRoots:
        home = settings.home.resolve()
        roots = tuple(Path(r).resolve() for r in settings.media_roots)
        return cls(bases=(home, *roots), allowed=(home / "media", *roots))

    def _inside(self, path: Path) -> bool:
        return any(path.is_relative_to(root) for root in self.allowed)

    def resolve(self, url: str) -> Path:
        """The file a local media URL names. NotFound when there is none; PermissionDenied
        when it lies outside the allowed roots (a ``file://`` URL is refused as well)."""
        if url.lower().startswith("file:"):
            raise PermissionDenied("file:// URLs are refused; give the path (relative to a media root)")
        given = Path(url)
        candidates = [given] if given.is_absolute() else [base / given for base in self.bases]
        outside: Path | None = None
        for candidate in candidates:
            real = candidate.resolve()
            if not real.exists():
                continue
            if not self._inside(real):
                outside = outside or candidate
                continue
            if real.is_file():
                return real
        if outside is not None:
            where = ", ".join(str(r) for r in self.allowed)
            raise PermissionDenied(f"{url} lies outside the media roots ({where})")
        raise NotFound(f"no media file {url} (looked under {', '.join(str(b) for b in self.bases)})")

    def check(self, value: Any, kind: str) -> None:
        """Check a media value on import: its local file exists, lies in the roots, and an
        image's declared size is the file's. Errors are ValidationErrors (the import names
        file, line and field)."""
        info = media_info(value)
        if not is_local(info.url) and not info.url.lower().startswith("file:"):
            return
        try:
            path = self.resolve(info.url)
        except (NotFound, PermissionDenied) as e:
            raise ValidationError(e.message, field="url" if isinstance(value, dict) else None) from None
        if kind == "image" and (info.width is not None or info.height is not None):
            width, height = image_size(path)
            if (info.width, info.height) != (width, height):
                raise ValidationError(
                    f"declares {info.width}×{info.height} but {info.url} is {width}×{height} pixels",
                    field="width" if info.width != width else "height",
                )


def image_size(path: Path) -> tuple[int, int]:
    """An image file's width and height, from its header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValidationError(f"{path.name} is not an image Pillow can read ({e})") from None


def content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def record_media(store: Store, actor: Actor, roots: MediaRoots, record_id: int, field: str) -> MediaFile:
    """The local file of a record's media field, for a caller who may see the record."""
    record = records.get_record(store, actor, record_id)  # NotFound when the caller may not see it
    with store.read() as conn:
        project = proj_store.get_project(conn, int(record["project_id"]))
    assert project is not None
    kinds = {f.name: f.type for f in ProjectSchema.from_dict(project["schema"]).fields}
    if kinds.get(field) not in MEDIA_TYPES:
        raise ValidationError(
            f"{field!r} is not an image, audio or video field of this project", field="field"
        )
    value = (record.get("fields") or {}).get(field)
    if value is None:
        raise NotFound(f"record {record_id} has no {field}")
    url = media_info(value).url
    if not is_local(url):
        raise ValidationError(
            f"{field} of record {record_id} is a URL ({url}), not a local file", field="field"
        )
    path = roots.resolve(url)
    return MediaFile(path, content_type(path))
