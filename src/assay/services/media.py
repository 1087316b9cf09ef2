"""Local media: image, audio and video files a record points to by path, served by assay itself.

A media value whose URL has no scheme (``media/cat.jpg``, ``/data/frames/0001.png``) is a local
file. A relative path is looked up under the data directory (``$ASSAY_HOME``: ``media/cat.jpg``
is ``$ASSAY_HOME/media/cat.jpg``) and then under each configured media root
(``ASSAY_MEDIA_ROOTS``); an absolute path must lie under an allowed root. The allowed roots are
``$ASSAY_HOME/media`` and the configured ones: a path that leaves them (``..``, or a symbolic
link out) is refused, whatever the record says, on import and when served.

Object-store media (``s3://``, ``gs://``, ``az://``) are read through fsspec from configured
prefixes only (:mod:`assay.services.media_store`); http(s) URLs are loaded by the browser, and
refused when they point at private, loopback or link-local addresses.

On import (when the face passes :class:`MediaRoots`) a file that is missing or outside the roots
is an error naming file, line and field; a value given as an object is probed
(:mod:`assay.services.media_probe`: Pillow for images, PyAV for audio and video, headers only),
its declared width/height/duration checked against the file's and what it leaves out filled in.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.domain.errors import NotFound, PermissionDenied, ValidationError
from assay.domain.fields import MediaInfo, media_info
from assay.domain.schema import ProjectSchema
from assay.services import media_probe, records
from assay.services.actors import Actor
from assay.services.media_store import ObjectStores, WebGuard, is_object_url, is_web_url
from assay.settings import Settings
from assay.store import projects as proj_store
from assay.store.engine import Store

__all__ = [
    "MEDIA_TYPES",
    "MediaFile",
    "MediaRoots",
    "ObjectMedia",
    "is_local",
    "record_media",
    "record_thumbnail",
]

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
class ObjectMedia:
    """A record's media in an object store: served through the server (a streaming proxy)."""

    url: str
    size: int
    content_type: str
    stores: ObjectStores
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # size, ETag…

    @property
    def version(self) -> str:
        """What changes when the object does (its ETag or modification time)."""
        return ObjectStores.version(self.details)


@dataclass(frozen=True)
class MediaRoots:
    """Where media may be read from: ``bases`` resolve relative paths, in order; ``allowed`` are
    the folders a local file must lie in (after following links); ``stores`` the object-store
    prefixes; ``web`` checks http(s) URLs (no private addresses)."""

    bases: tuple[Path, ...]
    allowed: tuple[Path, ...]
    stores: ObjectStores = ObjectStores()
    web: WebGuard = field(default_factory=WebGuard, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaRoots:
        home = settings.home.resolve()
        roots = tuple(Path(r).resolve() for r in settings.media_roots)
        stores = ObjectStores(settings.media_buckets, settings.s3_endpoint_url)
        return cls(
            bases=(home, *roots),
            allowed=(home / "media", *roots),
            stores=stores,
            web=WebGuard(stores.trusted_hosts()),
        )

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

    def open_media(self, url: str) -> MediaFile | ObjectMedia | None:
        """The local file or object a media URL names (None for a URL the browser loads itself);
        NotFound or PermissionDenied as :meth:`resolve` and :meth:`ObjectStores.size`."""
        if is_object_url(url):
            details = self.stores.describe(url)
            return ObjectMedia(url, int(details["size"]), content_type(Path(url)), self.stores, details)
        if not is_local(url) and not url.lower().startswith("file:"):
            return None
        path = self.resolve(url)
        return MediaFile(path, content_type(path))

    def check(self, value: Any, kind: str) -> None:
        """Check a media value on import. A local file exists and lies in the roots; an
        object-store URL lies under a configured prefix and exists; an http(s) URL does not
        point at a private address. When the value is an object (``{"url", ...}``) the file is
        probed: a declared width, height or duration must be the file's (an error otherwise), and
        what it does not declare is filled in (width/height, duration, a video's fps). Errors are
        ValidationErrors (the import names file, line and field)."""
        info = media_info(value)
        url = info.url
        at = "url" if isinstance(value, dict) else None
        try:
            if is_web_url(url):
                self.web.check(url)
                return
            if is_object_url(url):
                details = self.stores.describe(url)  # under a prefix, and there
                if not isinstance(value, dict):
                    return
                with self.stores.open(url, details) as fh:
                    found = media_probe.probe(kind, fh, url)
            elif is_local(url) or url.lower().startswith("file:"):
                path = self.resolve(url)
                if not isinstance(value, dict):
                    return
                with path.open("rb") as fh:
                    found = media_probe.probe(kind, fh, url)
            else:
                return  # data: and other URLs the browser reads itself
        except (NotFound, PermissionDenied) as e:
            raise ValidationError(e.message, field=at) from None
        except ValidationError as e:
            if e.field is None:
                e.field = at
            raise
        _compare(value, info, found, kind)


def _compare(value: dict[str, Any], info: MediaInfo, found: media_probe.Probe, kind: str) -> None:
    """A declared size/duration against the file's; fill in what is not declared."""
    declared = (info.width, info.height)
    if (
        kind in ("image", "video")
        and found.width is not None
        and declared != (None, None)
        and declared != (found.width, found.height)
    ):
        raise ValidationError(
            f"declares {info.width}×{info.height} but {info.url} is {found.width}×{found.height} pixels",
            field="width" if info.width != found.width else "height",
        )
    if (
        kind in ("audio", "video")
        and info.duration is not None
        and found.duration is not None
        and abs(info.duration - found.duration) > media_probe.DURATION_TOLERANCE
    ):
        raise ValidationError(
            f"declares {info.duration:g} s but {info.url} lasts {found.duration:g} s",
            field="duration",
        )
    for key, probed in found.as_dict().items():
        if value.get(key) is None and (kind != "audio" or key == "duration"):
            value[key] = probed


def image_size(path: Path) -> tuple[int, int]:
    """An image file's width and height, from its header."""
    with path.open("rb") as fh:
        found = media_probe.probe("image", fh, path.name)
    assert found.width is not None and found.height is not None
    return found.width, found.height


def content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def record_media(
    store: Store, actor: Actor, roots: MediaRoots, record_id: int, field: str
) -> MediaFile | ObjectMedia:
    """The file of a record's media field, for a caller who may see the record: a local file
    (under the media roots) or an object (under a configured bucket prefix)."""
    _, url = record_media_url(store, actor, record_id, field)
    found = roots.open_media(url)
    if found is None:
        raise ValidationError(
            f"{field} of record {record_id} is a URL ({url}) the browser loads itself", field="field"
        )
    return found


def record_media_url(store: Store, actor: Actor, record_id: int, field: str) -> tuple[str, str]:
    """(kind, url) of a record's media field, for a caller who may see the record."""
    record = records.get_record(store, actor, record_id)  # NotFound when the caller may not see it
    with store.read() as conn:
        project = proj_store.get_project(conn, int(record["project_id"]))
    assert project is not None
    kinds = {f.name: f.type for f in ProjectSchema.from_dict(project["schema"]).fields}
    kind = kinds.get(field)
    if kind not in MEDIA_TYPES:
        raise ValidationError(
            f"{field!r} is not an image, audio or video field of this project", field="field"
        )
    value = (record.get("fields") or {}).get(field)
    if value is None:
        raise NotFound(f"record {record_id} has no {field}")
    return str(kind), media_info(value).url


THUMBNAILS = Path("cache") / "thumbnails"


def record_thumbnail(
    store: Store, actor: Actor, roots: MediaRoots, home: Path, record_id: int, field: str
) -> Path:
    """A JPEG thumbnail of a record's image or video (its first frame), made on first asking and
    kept under the data directory (``cache/thumbnails``), keyed by the file's identity (path or
    URL, size, modification time): a changed file gets a new one."""
    kind, _ = record_media_url(store, actor, record_id, field)
    if kind == "audio":
        raise NotFound(f"{field} is audio: there is no thumbnail")
    found = record_media(store, actor, roots, record_id, field)
    return make_thumbnail(found, kind, home)


def make_thumbnail(found: MediaFile | ObjectMedia, kind: str, home: Path) -> Path:
    """The cached thumbnail of a media file, made now if it is not there yet."""
    if isinstance(found, MediaFile):
        st = found.path.stat()
        identity = f"{found.path}\0{st.st_size}\0{st.st_mtime_ns}"
    else:
        identity = f"{found.url}\0{found.size}\0{found.version}"
    key = hashlib.sha256(identity.encode()).hexdigest()
    path = home / THUMBNAILS / key[:2] / f"{key}.jpg"
    if path.exists():
        return path
    if isinstance(found, MediaFile):
        with found.path.open("rb") as fh:
            data = media_probe.thumbnail(kind, fh, found.path.name)
    else:
        with found.stores.open(found.url, found.details or None) as fh:
            data = media_probe.thumbnail(kind, fh, found.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".thumb-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)  # two requests at once both write; the last rename wins, same bytes
    return path
