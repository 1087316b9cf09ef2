"""Wire models of answers: what each route sends back, declared for the OpenAPI document.

Routes build their JSON from the services' plain dicts and send it with orjson (``out``); these
models do not convert anything at run time. They describe the bodies, so that the OpenAPI document
says what every 2xx answer holds, the web UI's TypeScript types are generated from it
(``frontend/src/lib/openapi.d.ts``, see docs/api.md) and the tests check every answer they get
against it (``tests/openapi_check.py``). A key a route sends that its model does not declare fails
those tests (``additionalProperties: false``): add it here.

Values of answers, fields, metadata and figures whose shape depends on the project's schema are
free JSON (``Any``); see docs/schema.md for their shapes per field and question type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AgentStats",
    "Anchor",
    "AuditReport",
    "ConsensusRun",
    "Contributor",
    "Datacard",
    "Decision",
    "Event",
    "Health",
    "ImportReport",
    "Items",
    "Job",
    "Lease",
    "Leaderboard",
    "Login",
    "Me",
    "Member",
    "MemberAdded",
    "MyStats",
    "NewToken",
    "NewUser",
    "Page",
    "Project",
    "ProjectStats",
    "Record",
    "RecordConsensus",
    "RecordDetail",
    "ResponseRow",
    "ReviewItem",
    "Savings",
    "Saved",
    "SavedMedia",
    "Submitted",
    "SuggestionsOut",
    "SyntheticReport",
    "Token",
    "Trust",
    "User",
    "Workspace",
]

T = TypeVar("T")
RoleName = Literal["admin", "manager", "reviewer", "annotator"]
Json = Any  # free JSON: values, fields, metadata (their shape is the project schema's)


class Out(BaseModel):
    """An answer's body: every key it may hold is declared (``additionalProperties: false``)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Page(Out, Generic[T]):
    """A page of a list: pass ``next_cursor`` back as ``cursor`` for the next (null: the last)."""

    items: list[T]
    next_cursor: str | None


class Items(Out, Generic[T]):
    """A whole list (not paged)."""

    items: list[T]


class Health(Out):
    status: Literal["ok"]
    version: str
    database: str


# --- people -----------------------------------------------------------------------------------


class Me(Out):
    id: int | None
    name: str
    role: str
    kind: str
    skills: list[str]
    cost_per_hour: float | None
    cost_per_item: float | None


class Login(Out):
    user: Me
    csrf_token: str = Field(description="send it as X-CSRF-Token on every request that changes something")


class User(Me):
    id: int
    active: bool
    created_at: datetime | None


class NewUser(Out):
    """A user just made, with its API token (shown this once)."""

    id: int
    name: str
    role: str
    kind: str
    token: str


class Token(Out):
    id: int
    name: str
    kind: str
    created_at: datetime | None
    revoked_at: datetime | None


class NewToken(Out):
    """A token just made: ``token`` is shown this once."""

    id: int
    name: str
    token: str


class Workspace(Out):
    id: int
    name: str
    created_at: datetime | None
    role: str | None = Field(default=None, description="the caller's role there (not for admins)")


class Member(Out):
    user_id: int
    name: str
    role: str
    kind: str


class MemberAdded(Out):
    user: str
    role: RoleName


class MyProjectStats(Out):
    """The caller's figures in one project (gold and agreement as far as feedback is released)."""

    project_id: int
    project: str
    answered: int
    answered_today: int
    time_ms: int
    gold_answered: int
    gold_accuracy: float | None
    agreement: float | None
    agreement_n: int
    first_at: datetime | None
    last_at: datetime | None
    feedback_through: int
    cost: float | None


class MyTotals(Out):
    answered: int
    answered_today: int = 0
    time_ms: int
    cost: float | None


class MyStats(Out):
    projects: list[MyProjectStats]
    total: MyTotals


# --- projects ---------------------------------------------------------------------------------


class Project(Out):
    id: int
    name: str
    workspace_id: int
    schema_version: int
    guidelines_version: int
    created_at: datetime | None
    updated_at: datetime | None
    schema_: dict[str, Json] = Field(alias="schema", description="the project schema (docs/schema.md)")
    role: str | None = Field(default=None, description="the caller's role on the project")
    records: int | None = None
    gold_records: int | None = None
    done_records: int | None = None
    left_for_me: int | None = Field(default=None, description="records the caller may still answer")


class ImportReport(Out):
    project_id: int
    rows: int
    created: int
    updated: int
    source: str
    responses: int = 0
    personal_data: dict[str, int] | None = Field(
        default=None, description="what the project's personal-data policy found, by kind"
    )


# --- records ----------------------------------------------------------------------------------


class Suggestion(Out):
    question: str
    value: Json
    score: float | None
    model: str | None


class Record(Out):
    """A record as reviewers and managers browse it."""

    id: int
    project_id: int
    external_id: str
    fields: dict[str, Json]
    metadata: dict[str, Json]
    priority: int
    gold: dict[str, Json] | None
    is_gold: bool
    skills: Json = None
    status: str
    submitted: int
    leased: int
    target: int
    created_at: datetime | None
    updated_at: datetime | None


class RecordResponse(Out):
    id: int
    user_id: int
    user: str | None
    kind: str | None
    values: dict[str, Json]
    duration_ms: int | None
    gold_score: float | None
    review: str | None
    corrected_values: dict[str, Json] | None
    submitted_at: datetime | None


class ConsensusValue(Out):
    value: Json
    confidence: float | None
    method: str | None = None
    response_ids: list[int] | None = None
    updated_at: datetime | None = None


class RecordDetail(Out):
    """One record. Reviewers and managers get it whole; an annotator only while it holds a lease on
    it, as the lease shows it (``assignment_id``, ``lease_expires_at``; no gold, answers or consensus)."""

    id: int
    project_id: int
    fields: dict[str, Json]
    metadata: dict[str, Json]
    suggestions: list[Suggestion]
    # (absent for an annotator, never null: a default None here only marks them optional)
    external_id: str = None  # type: ignore[assignment]
    priority: int = None  # type: ignore[assignment]
    gold: dict[str, Json] | None = None
    is_gold: bool = None  # type: ignore[assignment]
    skills: Json = None
    status: str = None  # type: ignore[assignment]
    submitted: int = None  # type: ignore[assignment]
    leased: int = None  # type: ignore[assignment]
    target: int = None  # type: ignore[assignment]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    responses: list[RecordResponse] | None = None
    consensus: dict[str, ConsensusValue] | None = None
    assignment_id: int | None = None
    lease_expires_at: datetime | None = None


class Event(Out):
    """An audit event: who did what to which object, when, with before and after."""

    id: int
    at: datetime
    action: str
    actor_id: int | None
    actor: str | None
    object_type: str
    object_id: str | None
    project_id: int | None
    before: Json
    after: Json


class SuggestionsOut(Out):
    record_id: int
    suggestions: list[Suggestion]


class ResponseRow(Out):
    """A submitted (or discarded) answer; an annotator lists only its own, without gold figures."""

    id: int
    record_id: int
    assignment_id: int | None
    user_id: int
    user_name: str | None
    user_kind: str | None
    external_id: str
    values: dict[str, Json]
    status: str
    duration_ms: int | None
    schema_version: int | None
    guidelines_version: int | None
    suggestions_kept: dict[str, bool] | None
    created_at: datetime | None
    updated_at: datetime | None
    is_gold: bool | None = None
    gold_score: float | None = None


class RecordConsensus(Out):
    record_id: int
    external_id: str
    consensus: dict[str, ConsensusValue]


class ConsensusRun(Out):
    model_config = ConfigDict(extra="allow")
    method: str
    records: int
    skills: dict[str, Json] = Field(default_factory=dict)
    chosen: dict[str, Json] = Field(default_factory=dict)


# --- leases and answers -----------------------------------------------------------------------


class LeaseRecord(Out):
    id: int
    fields: dict[str, Json]
    metadata: dict[str, Json]
    suggestions: list[Suggestion]


class Lease(Out):
    """A record leased to the caller. Comparisons are blind: candidates are letters (``view.blind``)."""

    assignment_id: int
    project_id: int
    record: LeaseRecord
    lease_expires_at: datetime | None
    view: dict[str, Json] = Field(description="``order``: each comparison's candidates as shown; ``blind``")
    draft: dict[str, Json] | None
    reference_diff: dict[str, Json] = Field(default_factory=dict)


class Saved(Out):
    """A stored answer (a draft, or a submitted response)."""

    id: int
    assignment_id: int | None
    record_id: int
    project_id: int
    values: dict[str, Json]
    status: str
    duration_ms: int | None
    schema_version: int | None
    guidelines_version: int | None
    suggestions_kept: dict[str, bool] | None
    created_at: datetime | None
    updated_at: datetime | None
    lease_expires_at: datetime | None = None


class NextProblem(Out):
    code: str
    detail: str


class Submitted(Saved):
    """A submitted answer; with ``"next": true`` also the caller's next lease (null: none, see
    ``next_problem``). A repeat with the same idempotency key answers 200 with the first answer."""

    next: Lease | None = None
    next_problem: NextProblem | None = None


# --- review -----------------------------------------------------------------------------------


class ReviewedResponse(Out):
    id: int
    user: str | None
    values: dict[str, Json]
    gold_score: float | None


class ReviewRecord(Out):
    id: int
    external_id: str
    fields: dict[str, Json]
    gold: dict[str, Json] | None


class OtherAnswer(Out):
    response_id: int
    user_id: int
    user: str | None
    values: dict[str, Json]


class ReviewItem(Out):
    review_id: int
    reason: str
    response: ReviewedResponse
    record: ReviewRecord
    others: list[OtherAnswer]
    consensus: dict[str, ConsensusValue]


class Decision(Out):
    review_id: int
    response_id: int
    verdict: Literal["accept", "reject", "correct"]
    corrected_values: dict[str, Json] | None


# --- figures ----------------------------------------------------------------------------------


class Figures(Out):
    """Figures whose keys are listed here; nested parts are plain JSON (see docs/quality.md)."""

    model_config = ConfigDict(extra="allow")


class Progress(Out):
    records: int
    gold_records: int
    done: int
    open: int
    share_done: float
    responses: int
    contributors: int
    pending_reviews: int
    time_ms: int


class Throughput(Out):
    hour: str
    submits: int


class Confusion(Out):
    """Answers (rows) against consensus (columns), per label."""

    labels: list[Json]
    matrix: list[list[int]]
    rows: str
    columns: str


class ProjectStats(Out):
    project_id: int
    progress: Progress
    throughput: list[Throughput]
    cost: float | None
    agreement: dict[str, float | None] = Field(description="Krippendorff's alpha per question")
    agreement_distance: dict[str, str]
    observed_agreement: dict[str, float | None]
    confusion: dict[str, Confusion]


class Contributor(Figures):
    user_id: int
    name: str
    kind: str
    answered: int
    answered_today: int = 0
    time_ms: int
    gold_answered: int = 0
    gold_accuracy: float | None = None
    agreement: float | None = None
    agreement_n: int | None = None
    first_at: datetime | None = None
    last_at: datetime | None = None
    cost: float | None = None


class Leaderboard(Figures):
    question: str
    rows: list[dict[str, Json]]


class AgentStats(Figures):
    question: str
    method: str
    trajectories: list[dict[str, Json]]


class Datacard(Figures):
    """A data card: its Markdown, the figures it states and its charts as SVG."""

    markdown: str
    figures: dict[str, Json]
    agreement_svg: str | None
    labels_svg: str | None = None


class ModelTrust(Out):
    """One model's measured trust on one question's answer."""

    model: str
    question: str
    answer: Json
    checked: int
    right: int
    precision: float | None
    gold_checked: int
    gold_right: int
    lower_bound: float | None
    trusted: bool


class Trust(Out):
    bar: float | None
    bar_source: str | None
    models: list[ModelTrust]


class GoldAccuracy(Out):
    models: float | None
    models_gold_records: int
    people: float | None
    people_gold_records: int


class Savings(Out):
    project_id: int
    records: int
    settled_by_models: int
    settled_by_people: int
    settled_by_both: int
    open: int
    overlap: int
    human_answers: int
    human_answers_all_human: int
    human_answers_to_come: int
    human_answers_saved: int
    saved_share: float | None
    accuracy_on_gold: GoldAccuracy
    bar: float | None
    model_cost: float | None
    human_cost: float | None
    human_cost_all_human: float | None


class SyntheticReport(Figures):
    project: str
    records: int


class Job(Out):
    """A background job (docs/jobs.md): its state, progress, cost so far and outcome."""

    id: int
    project_id: int
    kind: str
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    params: dict[str, Json]
    result: Json
    error: str | None
    item_errors: list[Json] | None
    done: int
    failed: int
    total: int | None
    cost: float | None
    attempts: int
    max_attempts: int
    time_limit: int | None
    cancel_requested: bool
    worker: str | None
    created_by: int | None
    progress: float | None
    created_at: datetime | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None


class AuditReport(Figures):
    ok: bool
    events: int


class Anchor(Figures):
    seq: int
    hash: str


class SavedMedia(Figures):
    path: str
    bytes: int
    content_type: str
    sha256: str


# --- open answers: the keys named are always there; more may be (docs/governance.md, media.md) --


class DatasetVersion(Figures):
    """A frozen dataset version (docs/governance.md)."""


class DatasetDiff(Figures):
    """What changed between two frozen versions: counts and the changes with why."""


class Explanation(Figures):
    """The chain from a raw record to each exported value (docs/governance.md)."""


class PersonalData(Figures):
    """A project's personal-data policy and what its imports found."""


class Erased(Figures):
    """A contributor erased: the pseudonym that replaces its name."""


class ExposureStretch(Figures):
    """A stretch of time sensitive content stayed revealed."""


class ProjectExposure(Figures):
    """Exposure to sensitive content per person in a project."""


class MyExposure(Figures):
    """The caller's own exposure to sensitive content."""


class SafetyAnswer(Figures):
    """A safety campaign's answers (docs/safety.md): open, its keys are not declared yet."""


class DatasetVersionList(Items[DatasetVersion]):
    pass


# --- lists (named, so that the OpenAPI and the generated types call them so) ---------------------


class ContributorList(Items[Contributor]):
    pass


class EventList(Items[Event]):
    pass


class EventPage(Page[Event]):
    pass


class JobPage(Page[Job]):
    pass


class MemberList(Items[Member]):
    pass


class ProjectPage(Page[Project]):
    pass


class RecordPage(Page[Record]):
    pass


class RecordConsensusPage(Page[RecordConsensus]):
    pass


class ResponseRowPage(Page[ResponseRow]):
    pass


class ReviewItemPage(Page[ReviewItem]):
    pass


class TokenList(Items[Token]):
    pass


class UserList(Items[User]):
    pass


class WorkspaceList(Items[Workspace]):
    pass
