"""Audit events: the names of the actions, and the immutable record of one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

__all__ = [
    "ALL_ACTIONS",
    "ASSIGNMENT_CREATED",
    "ASSIGNMENT_EXPIRED",
    "ASSIGNMENT_FLAGGED",
    "ASSIGNMENT_RELEASED",
    "ASSIGNMENT_SKIPPED",
    "CONSENSUS_UPDATED",
    "DATASET_VERSION_CREATED",
    "EXPORTED",
    "Event",
    "JOB_CANCELLED",
    "JOB_CREATED",
    "JOB_FINISHED",
    "RECORD_AUDITED",
    "RECORD_SETTLED_BY_MODELS",
    "SYNTH_SINGLE_TEACHER",
    "TRUST_ESTIMATED",
    "MEMBER_ADDED",
    "MEMBER_REMOVED",
    "PROJECT_CREATED",
    "PROJECT_DELETED",
    "PROJECT_UPDATED",
    "RECORDS_DELETED",
    "RECORDS_IMPORTED",
    "RECORD_UPDATED",
    "RESPONSE_DISCARDED",
    "RESPONSE_DRAFTED",
    "RESPONSE_SUBMITTED",
    "REVIEW_CREATED",
    "REVIEW_DECIDED",
    "SCHEMA_UPDATED",
    "SESSION_CREATED",
    "SESSION_ENDED",
    "TOKEN_CREATED",
    "TOKEN_REVOKED",
    "USER_CREATED",
    "USER_ERASED",
    "USER_UPDATED",
]

PROJECT_CREATED: Final = "project.created"
PROJECT_UPDATED: Final = "project.updated"
PROJECT_DELETED: Final = "project.deleted"
SCHEMA_UPDATED: Final = "schema.updated"
RECORDS_IMPORTED: Final = "records.imported"
RECORDS_DELETED: Final = "records.deleted"
RECORD_UPDATED: Final = "record.updated"
USER_CREATED: Final = "user.created"
USER_UPDATED: Final = "user.updated"
USER_ERASED: Final = "user.erased"
TOKEN_CREATED: Final = "token.created"
TOKEN_REVOKED: Final = "token.revoked"
SESSION_CREATED: Final = "session.created"
SESSION_ENDED: Final = "session.ended"
MEMBER_ADDED: Final = "member.added"
MEMBER_REMOVED: Final = "member.removed"
ASSIGNMENT_CREATED: Final = "assignment.created"
ASSIGNMENT_RELEASED: Final = "assignment.released"
ASSIGNMENT_SKIPPED: Final = "assignment.skipped"
ASSIGNMENT_EXPIRED: Final = "assignment.expired"
RESPONSE_SUBMITTED: Final = "response.submitted"
RESPONSE_DRAFTED: Final = "response.drafted"
RESPONSE_DISCARDED: Final = "response.discarded"
REVIEW_CREATED: Final = "review.created"
REVIEW_DECIDED: Final = "review.decided"
ASSIGNMENT_FLAGGED: Final = "assignment.flagged"
CONSENSUS_UPDATED: Final = "consensus.updated"
DATASET_VERSION_CREATED: Final = "dataset_version.created"
EXPORTED: Final = "exported"
JOB_CREATED: Final = "job.created"
JOB_CANCELLED: Final = "job.cancelled"
JOB_FINISHED: Final = "job.finished"
RECORD_SETTLED_BY_MODELS: Final = "record.settled_by_models"
RECORD_AUDITED: Final = "record.audited"
TRUST_ESTIMATED: Final = "trust.estimated"
SYNTH_SINGLE_TEACHER: Final = "synth.single_teacher"

ALL_ACTIONS: Final[frozenset[str]] = frozenset(
    {
        PROJECT_CREATED,
        PROJECT_UPDATED,
        PROJECT_DELETED,
        SCHEMA_UPDATED,
        RECORDS_IMPORTED,
        RECORDS_DELETED,
        RECORD_UPDATED,
        USER_CREATED,
        USER_UPDATED,
        USER_ERASED,
        TOKEN_CREATED,
        TOKEN_REVOKED,
        SESSION_CREATED,
        SESSION_ENDED,
        MEMBER_ADDED,
        MEMBER_REMOVED,
        ASSIGNMENT_CREATED,
        ASSIGNMENT_RELEASED,
        ASSIGNMENT_SKIPPED,
        ASSIGNMENT_EXPIRED,
        RESPONSE_SUBMITTED,
        RESPONSE_DRAFTED,
        RESPONSE_DISCARDED,
        REVIEW_CREATED,
        REVIEW_DECIDED,
        ASSIGNMENT_FLAGGED,
        CONSENSUS_UPDATED,
        DATASET_VERSION_CREATED,
        EXPORTED,
        JOB_CREATED,
        JOB_CANCELLED,
        JOB_FINISHED,
        RECORD_SETTLED_BY_MODELS,
        RECORD_AUDITED,
        TRUST_ESTIMATED,
        SYNTH_SINGLE_TEACHER,
    }
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Event:
    """One append-only audit entry: who (``actor_id``) did what (``action``) to which object."""

    actor_id: int | str | None
    action: str
    object_type: str
    object_id: int | str | None = None
    project_id: int | str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    at: datetime = field(default_factory=_now)
