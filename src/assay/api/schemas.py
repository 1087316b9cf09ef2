"""Wire models of request bodies (answers are plain JSON built by the services).

These check shapes, and declare in the OpenAPI what the services check of a plain value (a
role's name, a name's length, a password's), so that a client reading the schema sends what
the server takes; every rule (who may, schema validation of values, workflow) lives in the
services, which raise the errors the API maps to problem+json.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay.domain.numbers import MAX_INT
from assay.domain.text import MAX_NAME, NAME_PATTERN
from assay.quality import METHODS

__all__ = [
    "AttacksIn",
    "CampaignIn",
    "ConsensusIn",
    "DraftIn",
    "JobIn",
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


RoleName = Literal["admin", "manager", "reviewer", "annotator"]
# (The pattern is declared, not applied here: the services' check names the character it refuses.)
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, json_schema_extra={"pattern": NAME_PATTERN})]


class LoginIn(_In):
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class TokenIn(_In):
    name: Name = "default"
    user: Name | None = Field(default=None, description="another user's name (admins only)")


class UserIn(_In):
    name: Name
    role: RoleName = "annotator"
    kind: Literal["human", "model"] = "human"
    skills: list[str] = Field(default_factory=list)
    password: str | None = Field(default=None, min_length=8, max_length=1000)
    cost_per_hour: float | None = Field(default=None, ge=0)
    cost_per_item: float | None = Field(default=None, ge=0)
    workspace: Name | None = None


class WorkspaceIn(_In):
    name: Name


class ProjectIn(_In):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    schema_: dict[str, Any] = Field(alias="schema", description="the project schema (see docs/schema.md)")
    name: Name | None = None
    workspace: Name | None = None


class ProjectPatch(_In):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    guidelines: str | None = None


class MemberIn(_In):
    user: Name
    role: RoleName = "annotator"


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
    method: str | None = Field(default=None, json_schema_extra={"enum": [*METHODS, None]})


class JobIn(_In):
    kind: str = Field(min_length=1, max_length=40, description="prelabel, judge, consensus or export")
    params: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int | None = Field(default=None, ge=1, le=20)
    time_limit: int | None = Field(default=None, ge=1, le=7 * 24 * 3600, description="seconds per run")


class CampaignIn(_In):
    name: Name = Field(description="the attack project's name")
    taxonomy: dict[str, Any] | None = Field(
        default=None,
        description="categories, tactics, severities (default: assay's, after MLCommons AILuminate v1.0)",
    )
    grading: Name | None = Field(
        default=None, description="the grading project's name (default <name>-grading)"
    )
    overlap: int = Field(default=2, ge=1, le=100, description="graders per answer")
    workspace: Name | None = None


class AttacksIn(_In):
    attacks: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=10_000,
        description="{id?, prompt | turns, category, tactic, benign?, seed?, note?} each",
    )
