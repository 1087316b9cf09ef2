"""Wire models of request bodies (answers are plain JSON built by the services).

These only check shapes; every rule (roles, schema validation of values, workflow) lives in
the services, which raise the errors the API maps to problem+json.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay.domain.numbers import MAX_INT

__all__ = [
    "ConsensusIn",
    "DraftIn",
    "LoginIn",
    "MemberIn",
    "ProjectIn",
    "ProjectPatch",
    "ReviewIn",
    "SkipIn",
    "SubmitIn",
    "SuggestionsIn",
    "TokenIn",
    "UserIn",
    "WorkspaceIn",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class TokenIn(_In):
    name: str = Field(default="default", min_length=1, max_length=200)
    user: str | None = Field(default=None, description="another user's name (admins only)")


class UserIn(_In):
    name: str
    role: str = "annotator"
    kind: str = "human"
    skills: list[str] = Field(default_factory=list)
    password: str | None = None
    cost_per_hour: float | None = Field(default=None, ge=0)
    cost_per_item: float | None = Field(default=None, ge=0)
    workspace: str | None = None


class WorkspaceIn(_In):
    name: str


class ProjectIn(_In):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    schema_: dict[str, Any] = Field(alias="schema", description="the project schema (see docs/schema.md)")
    name: str | None = None
    workspace: str | None = None


class ProjectPatch(_In):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    guidelines: str | None = None


class MemberIn(_In):
    user: str
    role: str = "annotator"


class SuggestionIn(_In):
    question: str
    value: Any = None
    score: float | None = None
    model: str | None = None


class SuggestionsIn(_In):
    suggestions: list[SuggestionIn]
    replace: bool = Field(default=False, description="drop the record's earlier suggestions first")


class SubmitIn(_In):
    values: dict[str, Any]
    duration_ms: int | None = Field(default=None, ge=0, le=MAX_INT)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    next: bool = Field(default=False, description="also lease the caller's next record of the project")


class DraftIn(_In):
    values: dict[str, Any]


class SkipIn(_In):
    reason: str | None = None
    flag: bool = False


class ReviewIn(_In):
    verdict: Literal["accept", "reject", "correct"]
    corrected_values: dict[str, Any] | None = None
    comment: str | None = None


class ConsensusIn(_In):
    method: str | None = None
