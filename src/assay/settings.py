"""Every setting assay reads from the environment, in one place.

| variable | default | what it does |
| --- | --- | --- |
| ``ASSAY_HOME`` | ``./assay-data`` | the data directory: SQLite database and media |
| ``ASSAY_DATABASE_URL`` | ``sqlite:///$ASSAY_HOME/assay.db`` | SQLAlchemy URL of the database |
| ``ASSAY_MAX_BODY_BYTES`` | ``104857600`` | largest request body the server accepts |
| ``ASSAY_SECURE_COOKIES`` | ``false`` | mark session cookies ``Secure`` (behind HTTPS) |

The faces (CLI, API) build one :class:`Settings` and pass what is needed down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SETTINGS_HELP", "Settings"]

SETTINGS_HELP: dict[str, str] = {
    "ASSAY_HOME": "data directory (SQLite database, media); default ./assay-data",
    "ASSAY_DATABASE_URL": "SQLAlchemy database URL; default sqlite:///$ASSAY_HOME/assay.db",
    "ASSAY_MAX_BODY_BYTES": "largest request body the server accepts, in bytes; default 100 MiB",
    "ASSAY_SECURE_COOKIES": "set the Secure flag on session cookies (serve behind HTTPS); default false",
}


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
        )
