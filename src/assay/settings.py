"""Every setting assay reads from the environment, in one place.

| variable | default | what it does |
| --- | --- | --- |
| ``ASSAY_HOME`` | ``./assay-data`` | the data directory: SQLite database and media |
| ``ASSAY_DATABASE_URL`` | ``sqlite:///$ASSAY_HOME/assay.db`` | SQLAlchemy URL of the database |
| ``ASSAY_MAX_BODY_BYTES`` | ``104857600`` | largest request body the server accepts |
| ``ASSAY_SECURE_COOKIES`` | ``false`` | mark session cookies ``Secure`` (behind HTTPS) |
| ``ASSAY_MEDIA_ROOTS`` | (none) | folders local media may be read from besides ``$ASSAY_HOME/media``, separated by ``:`` |
| ``ASSAY_MEDIA_BUCKETS`` | (none) | object-store prefixes (``s3://bucket``, ``s3://bucket/prefix``, ``gs://…``, ``az://…``) media may be read from, comma-separated |
| ``ASSAY_DATASETS_URL`` | (none) | an object-store prefix (``s3://bucket/prefix``, ``gs://…``, ``az://…``) for the files of new dataset versions, instead of ``$ASSAY_HOME/datasets`` |
| ``ASSAY_S3_ENDPOINT_URL`` | (AWS) | the S3 API endpoint for ``s3://`` media (MinIO, Ceph…); trusted even on a private address |
| ``ASSAY_MEDIA_UPLOADS`` | (the data directory) | an object-store prefix (``s3://bucket/uploads``) uploads are stored under instead of ``$ASSAY_HOME/media/uploads``; it must lie under ``ASSAY_MEDIA_BUCKETS`` |
| ``ASSAY_TRUSTED_PROXIES`` | (none) | addresses or networks of reverse proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed, comma-separated |

The faces (CLI, API) build one :class:`Settings` and pass what is needed down.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SETTINGS_HELP", "Settings", "trusted_proxies"]

SETTINGS_HELP: dict[str, str] = {
    "ASSAY_HOME": "data directory (SQLite database, media); default ./assay-data",
    "ASSAY_DATABASE_URL": "SQLAlchemy database URL; default sqlite:///$ASSAY_HOME/assay.db",
    "ASSAY_MAX_BODY_BYTES": "largest request body the server accepts, in bytes; default 100 MiB",
    "ASSAY_SECURE_COOKIES": "set the Secure flag on session cookies (serve behind HTTPS); default false",
    "ASSAY_MEDIA_ROOTS": "folders (separated by ':') that records' local media paths may point into, besides "
    "$ASSAY_HOME/media; a relative path is looked up under $ASSAY_HOME, then under each",
    "ASSAY_MEDIA_BUCKETS": "comma-separated object-store prefixes (s3://bucket, s3://bucket/prefix, gs://…, az://…) "
    "that records' media URLs may point into; default none (object-store media are refused)",
    "ASSAY_DATASETS_URL": "object-store prefix (s3://bucket/prefix, gs://…, az://…) for the files of new dataset "
    "versions (fsspec; credentials as for media); default: $ASSAY_HOME/datasets",
    "ASSAY_S3_ENDPOINT_URL": "S3 API endpoint for s3:// media (MinIO, Ceph, …); default AWS. Credentials: the "
    "usual AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_PROFILE",
    "ASSAY_MEDIA_UPLOADS": "object-store prefix (s3://bucket/uploads) that uploaded media are stored under, for "
    "several servers sharing them; default the data directory's media/uploads",
    "ASSAY_TRUSTED_PROXIES": "comma-separated addresses or networks (10.0.0.0/8) of reverse proxies whose "
    "X-Forwarded-For/-Proto headers are believed; default none (the headers are ignored)",
}


def trusted_proxies(value: str | None) -> tuple[str, ...]:
    """``ASSAY_TRUSTED_PROXIES`` read: each an IP address or network; a wrong one is an error."""
    found = tuple(part.strip() for part in (value or "").split(",") if part.strip())
    for part in found:
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(
                f"ASSAY_TRUSTED_PROXIES: {part!r} is not an IP address or network (10.0.0.0/8)"
            ) from None
    return found


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(os.environ.get("ASSAY_HOME", "assay-data")))
    database_url: str | None = field(default_factory=lambda: os.environ.get("ASSAY_DATABASE_URL") or None)
    max_body_bytes: int = field(
        default_factory=lambda: int(os.environ.get("ASSAY_MAX_BODY_BYTES", str(100 * 1024 * 1024)))
    )
    secure_cookies: bool = field(default_factory=lambda: _bool(os.environ.get("ASSAY_SECURE_COOKIES")))
    # Reverse proxies whose X-Forwarded-For is believed; none by default, so that a client cannot
    # choose the address the sign-in limiter counts it under.
    trusted_proxies: tuple[str, ...] = field(
        default_factory=lambda: trusted_proxies(os.environ.get("ASSAY_TRUSTED_PROXIES"))
    )

    # Folders local media may be read from besides $ASSAY_HOME/media (assay.services.media).
    media_roots: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            p for p in os.environ.get("ASSAY_MEDIA_ROOTS", "").split(os.pathsep) if p
        )
    )

    # Object-store prefixes media may come from, and the S3 endpoint (assay.services.media_store).
    media_buckets: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            p.strip() for p in os.environ.get("ASSAY_MEDIA_BUCKETS", "").split(",") if p.strip()
        )
    )
    s3_endpoint_url: str | None = field(
        default_factory=lambda: os.environ.get("ASSAY_S3_ENDPOINT_URL") or None
    )
    # Where new dataset versions' files go (assay.services.datasets): an object-store prefix, or None
    # for the data directory.
    datasets_url: str | None = field(default_factory=lambda: os.environ.get("ASSAY_DATASETS_URL") or None)
    # Where uploads go when several servers share them: an object-store prefix (media_uploads.py).
    media_uploads: str | None = field(default_factory=lambda: os.environ.get("ASSAY_MEDIA_UPLOADS") or None)

    @property
    def db_url(self) -> str:
        """The database URL: the explicit one, else a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'assay.db').resolve()}"

    def with_overrides(self, *, home: str | Path | None = None, db: str | None = None) -> Settings:
        return Settings(
            home=Path(home) if home else self.home,
            database_url=db or self.database_url,
            max_body_bytes=self.max_body_bytes,
            secure_cookies=self.secure_cookies,
            trusted_proxies=self.trusted_proxies,
            media_roots=self.media_roots,
            media_buckets=self.media_buckets,
            s3_endpoint_url=self.s3_endpoint_url,
            datasets_url=self.datasets_url,
            media_uploads=self.media_uploads,
        )
