"""Typed results of the SDK: small frozen dataclasses built from the API's JSON.

Each keeps the whole JSON object in ``raw`` so a field the server adds later is never lost.
Project schemas come back as :class:`assay.domain.ProjectSchema` via :attr:`Project.project_schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, TypeVar

from assay.domain.schema import ProjectSchema

__all__ = [
    "Contributor",
    "Decision",
    "ImportReport",
    "Lease",
    "Member",
    "NewToken",
    "NewUser",
    "Project",
    "Record",
    "Response",
    "ReviewItem",
    "Token",
    "User",
    "Workspace",
]

T = TypeVar("T", bound="_Model")


def _time(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


@dataclass(frozen=True)
class _Model:
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name for f in fields(cls)} - {"raw"}
        kw = {k: _time(v) if k.endswith("_at") else v for k, v in data.items() if k in names}
        return cls(raw=data, **kw)


@dataclass(frozen=True)
class User(_Model):
    id: int
    name: str
    role: str
    kind: str = "human"
    skills: list[str] = field(default_factory=list)
    cost_per_hour: float | None = None
    cost_per_item: float | None = None
    active: bool = True
    created_at: datetime | None = None


@dataclass(frozen=True)
class NewUser(_Model):
    """A user just made, with its API token (shown this once)."""

    id: int
    name: str
    role: str
    kind: str
    token: str


@dataclass(frozen=True)
class Token(_Model):
    id: int
    name: str
    kind: str = "api"
    created_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class NewToken(_Model):
    id: int
    name: str
    token: str


@dataclass(frozen=True)
class Workspace(_Model):
    id: int
    name: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class Member(_Model):
    user_id: int
    name: str
    role: str
    kind: str = "human"


@dataclass(frozen=True)
class Project(_Model):
    id: int
    name: str
    workspace_id: int
    schema_version: int
    guidelines_version: int
    schema: dict[str, Any] = field(default_factory=dict)
    records: int | None = None
    gold_records: int | None = None
    done_records: int | None = None
    role: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def project_schema(self) -> ProjectSchema:
        return ProjectSchema.from_dict(self.schema)


@dataclass(frozen=True)
class Record(_Model):
    id: int
    fields: dict[str, Any]
    project_id: int | None = None
    external_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    gold: dict[str, Any] | None = None
    is_gold: bool | None = None
    status: str | None = None
    submitted: int | None = None
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] | None = None
    consensus: dict[str, Any] | None = None


@dataclass(frozen=True)
class Lease(_Model):
    """A record leased to the caller by ``next``."""

    assignment_id: int
    project_id: int
    record: dict[str, Any]
    lease_expires_at: datetime | None = None
    view: dict[str, Any] = field(default_factory=dict)
    draft: dict[str, Any] | None = None

    @property
    def record_id(self) -> int:
        return int(self.record["id"])

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self.record.get("fields") or {})


@dataclass(frozen=True)
class Response(_Model):
    id: int
    record_id: int
    values: dict[str, Any]
    status: str
    project_id: int | None = None
    assignment_id: int | None = None
    user_id: int | None = None
    duration_ms: int | None = None
    schema_version: int | None = None
    guidelines_version: int | None = None
    created: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    next: Lease | None = None
    """The caller's next lease, when submitted with ``next=True`` (None: nothing left, or see ``next_problem``)."""
    next_problem: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Response:
        made = super().from_json(data)
        lease = data.get("next")
        return replace(made, next=Lease.from_json(lease) if lease else None)


@dataclass(frozen=True)
class ReviewItem(_Model):
    review_id: int
    reason: str
    response: dict[str, Any]
    record: dict[str, Any]
    others: list[dict[str, Any]] = field(default_factory=list)
    consensus: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision(_Model):
    review_id: int
    response_id: int
    verdict: str
    corrected_values: dict[str, Any] | None = None


@dataclass(frozen=True)
class ImportReport(_Model):
    project_id: int
    rows: int
    created: int
    updated: int
    source: str
    responses: int = 0
    personal_data: dict[str, int] | None = None  # what the project's privacy policy found, by kind


@dataclass(frozen=True)
class Contributor(_Model):
    user_id: int
    name: str
    answered: int
    time_ms: int
    kind: str = "human"
    gold_answered: int = 0
    gold_accuracy: float | None = None
    agreement: float | None = None
    cost: float | None = None
