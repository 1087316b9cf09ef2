"""The tables of assay's store (SQLAlchemy Core). Alembic migrations are made from these.

Everything a service needs is in one of these tables; every change writes a row to ``events``.
"""

from __future__ import annotations

import sqlalchemy as sa

from assay.store.types import JSON, UTCDateTime, utcnow

__all__ = [
    "assignments",
    "consensus",
    "dataset_versions",
    "events",
    "exposures",
    "jobs",
    "memberships",
    "metadata",
    "personal_data",
    "project_members",
    "projects",
    "records",
    "responses",
    "reviews",
    "schema_versions",
    "suggestions",
    "tokens",
    "users",
    "workspaces",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)


def _fk(name: str, target: str, *, nullable: bool = False, index: bool = False) -> sa.Column[int]:
    return sa.Column(
        name,
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey(target, ondelete="CASCADE"),
        nullable=nullable,
        index=index,
    )


def _created() -> sa.Column[object]:
    return sa.Column("created_at", UTCDateTime(), nullable=False, default=utcnow)


workspaces = sa.Table(
    "workspaces",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    _created(),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False, default="human"),
    sa.Column("skills", JSON, nullable=False, default=list),
    sa.Column("cost_per_hour", sa.Float, nullable=True),
    sa.Column("cost_per_item", sa.Float, nullable=True),
    sa.Column("password_hash", sa.String(200), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("config", JSON, nullable=True),
    _created(),
)

memberships = sa.Table(
    "memberships",
    metadata,
    _fk("workspace_id", "workspaces.id"),
    _fk("user_id", "users.id", index=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.PrimaryKeyConstraint("workspace_id", "user_id"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    _id(),
    _fk("user_id", "users.id", index=True),
    sa.Column("name", sa.String(200), nullable=False, default="default"),
    sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False, default="api"),
    _created(),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

projects = sa.Table(
    "projects",
    metadata,
    _id(),
    _fk("workspace_id", "workspaces.id", index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("schema", JSON, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False, default=1),
    sa.Column("guidelines_version", sa.Integer, nullable=False, default=1),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
    sa.UniqueConstraint("workspace_id", "name"),  # names are unique within a workspace (0006)
)

schema_versions = sa.Table(
    "schema_versions",
    metadata,
    _fk("project_id", "projects.id"),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("guidelines_version", sa.Integer, nullable=False),
    sa.Column("schema", JSON, nullable=False),
    _created(),
    sa.PrimaryKeyConstraint("project_id", "version", "guidelines_version"),
)

project_members = sa.Table(
    "project_members",
    metadata,
    _fk("project_id", "projects.id"),
    _fk("user_id", "users.id", index=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.PrimaryKeyConstraint("project_id", "user_id"),
)

records = sa.Table(
    "records",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    sa.Column("external_id", sa.String(500), nullable=False),
    sa.Column("fields", JSON, nullable=False),
    sa.Column("metadata", JSON, nullable=False, default=dict),
    sa.Column("priority", sa.Integer, nullable=False, default=0),
    sa.Column("gold", JSON, nullable=True),
    sa.Column("is_gold", sa.Boolean, nullable=False, default=False),
    # Skills a contributor needs for this record: sorted, comma-joined (an index-friendly key).
    sa.Column("skills", sa.String(500), nullable=True),
    # Dispatch state: 'open' (a slot is free), 'full' (every slot leased or answered), 'done'.
    # `target` is how many answers the record wants now (adaptive overlap raises it up to max).
    sa.Column("status", sa.String(10), nullable=False, default="open"),
    sa.Column("submitted", sa.Integer, nullable=False, default=0),
    sa.Column("leased", sa.Integer, nullable=False, default=0),
    sa.Column("target", sa.Integer, nullable=True),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
    sa.UniqueConstraint("project_id", "external_id"),
    sa.Index("ix_records_dispatch", "project_id", "status", "is_gold", sa.text("priority DESC"), "id"),
    # Keyset paging of a project's records in id order (exports, the records browser).
    sa.Index("ix_records_project_id", "project_id", "id"),
    # A project's gold records by id (the range dispatch picks gold from): the gold rows only.
    sa.Index(
        "ix_records_gold",
        "project_id",
        "id",
        sqlite_where=sa.text("is_gold = 1"),
        postgresql_where=sa.text("is_gold"),
    ),
    # Room on each page so that dispatch's counter updates stay on the page (HOT, no index writes).
    postgresql_with={"fillfactor": 70},
)

suggestions = sa.Table(
    "suggestions",
    metadata,
    _id(),
    _fk("record_id", "records.id", index=True),
    sa.Column("question", sa.String(200), nullable=False),
    sa.Column("value", JSON, nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("model", sa.String(200), nullable=True),
    _created(),
    # What made it (0007): the model's parameters, what the call cost, and the job that wrote it.
    sa.Column("params", JSON, nullable=True),
    sa.Column("cost", sa.Float, nullable=True),
    sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=True),
)

assignments = sa.Table(
    "assignments",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    _fk("record_id", "records.id"),
    _fk("user_id", "users.id"),
    # leased → submitted | released | skipped | expired | rejected
    sa.Column("status", sa.String(12), nullable=False, default="leased"),
    sa.Column("leased_at", UTCDateTime(), nullable=False, default=utcnow),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("view", JSON, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.UniqueConstraint("record_id", "user_id"),
    sa.Index("ix_assignments_user_status", "user_id", "project_id", "status"),
    sa.Index("ix_assignments_expiry", "project_id", "status", "expires_at"),
    # One lease per contributor and project: two concurrent `next` calls cannot both lease.
    sa.Index(
        "ux_assignments_one_lease",
        "project_id",
        "user_id",
        unique=True,
        sqlite_where=sa.text("status = 'leased'"),
        postgresql_where=sa.text("status = 'leased'"),
    ),
)

responses = sa.Table(
    "responses",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    _fk("record_id", "records.id", index=True),
    # By user: uq_responses_user_id_idempotency_key (user_id, ...) serves, one index fewer per answer.
    _fk("user_id", "users.id"),
    _fk("assignment_id", "assignments.id", nullable=True, index=True),
    sa.Column("values", JSON, nullable=False),
    # draft | submitted | discarded
    sa.Column("status", sa.String(12), nullable=False, default="submitted"),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("guidelines_version", sa.Integer, nullable=False),
    sa.Column("suggestions_shown", JSON, nullable=True),
    sa.Column("suggestions_kept", JSON, nullable=True),
    sa.Column("extra", JSON, nullable=True),
    # On a gold record: the share of gold questions answered right (0..1); else null.
    sa.Column("gold_score", sa.Float, nullable=True),
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
    sa.UniqueConstraint("user_id", "idempotency_key"),
    sa.Index("ix_responses_project_status", "project_id", "status"),
    sa.Index("ix_responses_project_user", "project_id", "user_id", "status"),
    # Gold answers per contributor (qualification, quality bar, reliability weights): a small index
    # that answers those reads alone (with fewer columns SQLite took ix_responses_project_user).
    sa.Index(
        "ix_responses_gold_scores",
        "project_id",
        "user_id",
        "status",
        "gold_score",
        sqlite_where=sa.text("gold_score IS NOT NULL"),
        postgresql_where=sa.text("gold_score IS NOT NULL"),
    ),
)

reviews = sa.Table(
    "reviews",
    metadata,
    _id(),
    _fk("response_id", "responses.id", index=True),
    _fk("reviewer_id", "users.id", nullable=True),
    # pending | accept | reject | correct
    sa.Column("verdict", sa.String(10), nullable=False, default="pending"),
    sa.Column("reason", sa.String(40), nullable=True),
    sa.Column("corrected_values", JSON, nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    _created(),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
)

consensus = sa.Table(
    "consensus",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    _fk("record_id", "records.id"),
    sa.Column("question", sa.String(200), nullable=False),
    sa.Column("value", JSON, nullable=True),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Column("method", sa.String(40), nullable=False),
    sa.Column("response_ids", JSON, nullable=False, default=list),
    sa.Column("details", JSON, nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
    sa.UniqueConstraint("record_id", "question"),
    sa.Index("ix_consensus_project", "project_id", "question"),
)

dataset_versions = sa.Table(
    "dataset_versions",
    metadata,
    _id(),
    _fk("project_id", "projects.id", index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("content_hash", sa.String(80), nullable=False),
    sa.Column("schema", JSON, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("filters", JSON, nullable=True),
    sa.Column("lineage", JSON, nullable=True),
    sa.Column("card", sa.Text, nullable=True),
    sa.Column("format", sa.String(20), nullable=False),
    sa.Column("path", sa.Text, nullable=True),
    sa.Column("record_count", sa.Integer, nullable=False),
    _fk("created_by", "users.id", nullable=True),
    _created(),
    sa.UniqueConstraint("project_id", "name"),
)

# Background jobs (0007): pre-labeling, judge runs, consensus recomputes, exports. The row is the
# job's truth whichever engine runs it (procrastinate on PostgreSQL, a thread on SQLite).
jobs = sa.Table(
    "jobs",
    metadata,
    _id(),
    _fk("project_id", "projects.id", nullable=True),
    sa.Column("kind", sa.String(40), nullable=False),
    # queued → running → succeeded | failed | cancelled (running → queued again on a retry)
    sa.Column("state", sa.String(12), nullable=False, default="queued"),
    sa.Column("params", JSON, nullable=False, default=dict),
    sa.Column("result", JSON, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("item_errors", JSON, nullable=True),  # the first few errors of single items
    sa.Column("done", sa.Integer, nullable=False, default=0),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    sa.Column("total", sa.Integer, nullable=True),
    sa.Column("cost", sa.Float, nullable=False, default=0.0),
    # Each run (first or retry) takes the next attempt number; a write of an older run is refused.
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("max_attempts", sa.Integer, nullable=False, default=3),
    sa.Column("time_limit", sa.Integer, nullable=True),  # seconds per run
    sa.Column("checkpoint", JSON, nullable=True),  # where a retry resumes
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("worker", sa.String(200), nullable=True),
    sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=True),
    _created(),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Index("ix_jobs_project", "project_id", "id"),
    sa.Index("ix_jobs_state", "state", "id"),
)

# Time a person spent with sensitive content revealed (0010): one row per stretch (a record's
# content revealed, then hidden or left), written by the UI. Well-being, not audit: not an event.
exposures = sa.Table(
    "exposures",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    _fk("user_id", "users.id"),
    _fk("record_id", "records.id", nullable=True),
    sa.Column("context", sa.String(12), nullable=False),  # work | review | dashboard
    sa.Column("ms", sa.Integer, nullable=False),
    _created(),
    sa.Index("ix_exposures_project_user", "project_id", "user_id", "created_at"),
    sa.Index("ix_exposures_user", "user_id", "created_at"),
)

events = sa.Table(
    "events",
    metadata,
    _id(),
    sa.Column("at", UTCDateTime(), nullable=False, default=utcnow),
    sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=True),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("object_type", sa.String(40), nullable=False),
    sa.Column("object_id", sa.String(100), nullable=True),
    sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=True),
    sa.Column("before", JSON, nullable=True),
    sa.Column("after", JSON, nullable=True),
    # The hash chain (assay.store.audit_chain): the event's place in it and its hash.
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=True),
    sa.Column("hash", sa.String(64), nullable=True),
    sa.Index("ix_events_project", "project_id", "id"),
    sa.Index("ix_events_seq", "seq", unique=True),
    sa.Index("ix_events_object", "object_type", "object_id"),
)

# Personal data found in a record's text fields on import (0009): what kind, in which field, where
# (code points in the field's text as stored: the placeholder when masked), and what was done.
# Never the value itself.
personal_data = sa.Table(
    "personal_data",
    metadata,
    _id(),
    _fk("project_id", "projects.id"),
    _fk("record_id", "records.id", index=True),
    sa.Column("field", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("span_start", sa.Integer, nullable=False),
    sa.Column("span_end", sa.Integer, nullable=False),
    # masked | allowed
    sa.Column("action", sa.String(10), nullable=False),
    _created(),
    sa.Index("ix_personal_data_project", "project_id", "kind"),
)
