"""Imports: rows from a file or a request body into a project, all or nothing.

Rows are validated against the project's schema and written in batches inside one
transaction: a bad row raises an error naming its file, line and field, and the
transaction is rolled back, so nothing of that import is kept. Re-importing a row with
an ``external_id`` the project already has updates that record (never a duplicate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.domain import events as ev
from assay.domain.errors import AssayError, ValidationError
from assay.domain.records import RecordIn, RecordValidator, SuggestionIn
from assay.domain.trajectory_checks import PRECHECK_MODEL, as_step_review, run_checks
from assay.domain.schema import ProjectSchema
from assay.formats import open_source
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.policies import load_project
from assay.store import records as rec_store
from assay.store.engine import Store

__all__ = ["EXPORT_ONLY_KEYS", "ImportReport", "import_file", "import_rows"]

BATCH = 5000
# Columns that our own exports add; an import of an export reads past them.
EXPORT_ONLY_KEYS = ("responses", "consensus", "status", "record_id")


@dataclass(frozen=True)
class ImportReport:
    project_id: int
    rows: int
    created: int
    updated: int
    source: str


def import_file(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    path: Path,
    *,
    fmt: str = "auto",
    on_progress: Callable[[int, int | None], None] | None = None,
) -> ImportReport:
    """Import a JSONL, JSON, CSV or Parquet file (streamed: never held in memory whole)."""
    source = open_source(path, fmt)
    try:
        progress = None
        if on_progress is not None:
            total = source.total

            def progress() -> None:
                on_progress(source.progress(), total)

        return import_rows(
            store,
            actor,
            project_ref,
            source.rows,
            name=source.name,
            strings=source.strings,
            progress=progress,
        )
    finally:
        source.close()


def _precheck_targets(schema: ProjectSchema) -> list[tuple[str, str, list[str]]]:
    """(question, trajectory field, verdicts) of every step_review question: pre-checks feed them."""
    out = []
    for q in schema.questions:
        if q.type == "step_review":
            out.append((q.name, str(q.field), [o.value for o in q.verdicts]))
    return out


def _add_prechecks(rec: RecordIn, targets: list[tuple[str, str, list[str]]]) -> None:
    """Agent-trace pre-checks as suggestions (never labels) on records that bring none of their own."""
    for question, field, verdicts in targets:
        value = rec.fields.get(field)
        if not value or any(s.question == question for s in rec.suggestions):
            continue
        review = as_step_review(run_checks(value), verdicts)
        if review:
            rec.suggestions.append(SuggestionIn(question, review, 1.0, PRECHECK_MODEL))


def _batches(
    rows: Iterable[tuple[int, dict[str, Any]]],
    validator: RecordValidator,
    name: str,
    prechecks: list[tuple[str, str, list[str]]],
) -> Iterator[list[tuple[int, RecordIn]]]:
    batch: list[tuple[int, RecordIn]] = []
    for place, row in rows:
        for key in EXPORT_ONLY_KEYS:
            row.pop(key, None)
        skills = row.pop("skills", None)
        try:
            rec = validator.validate(row)
            if skills is not None:
                rec.metadata = {**rec.metadata, "skills": _skills(skills)}
            if prechecks:
                _add_prechecks(rec, prechecks)
        except AssayError as e:
            raise e.at(file=name, line=place) from None
        batch.append((place, rec))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _skills(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [s for s in value.replace(";", ",").split(",")]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValidationError("skills must be a list of names or a comma-separated string", field="skills")
    return sorted({s.strip() for s in value if s.strip()})


def import_rows(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    rows: Iterable[tuple[int, dict[str, Any]]],
    *,
    name: str = "request",
    strings: bool = False,
    progress: Callable[[], None] | None = None,
) -> ImportReport:
    """Validate and upsert ``(place, row)`` pairs in one transaction; all or nothing."""
    created = updated = total = 0
    with store.tx() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        pid = int(project["id"])
        schema = ProjectSchema.from_dict(project["schema"])
        target = schema.workflow.overlap.min
        validator = RecordValidator(schema, from_strings=strings)
        for batch in _batches(rows, validator, name, _precheck_targets(schema)):
            # The last row for an external id wins within a batch (ON CONFLICT may not touch a row twice).
            by_id: dict[str, RecordIn] = {}
            for _, rec in batch:
                by_id[rec.external_id] = rec
            recs = list(by_id.values())
            values = [
                {
                    "external_id": r.external_id,
                    "fields": r.fields,
                    "metadata": r.metadata,
                    "priority": r.priority,
                    "gold": r.gold,
                    "is_gold": bool(r.gold),
                    "skills": ",".join(r.metadata["skills"]) if r.metadata.get("skills") else None,
                    "target": target,
                }
                for r in recs
            ]
            with_suggestions = [r for r in recs if r.suggestions]
            existing, ids = rec_store.upsert_records(
                conn, pid, values, want_ids=[r.external_id for r in with_suggestions]
            )
            suggestion_rows = [
                {
                    "record_id": ids[r.external_id],
                    "question": s.question,
                    "value": s.value,
                    "score": s.score,
                    "model": s.model,
                }
                for r in with_suggestions
                for s in r.suggestions
            ]
            rec_store.replace_suggestions(conn, existing, suggestion_rows)
            updated += len(existing)
            created += len(recs) - len(existing)
            total += len(batch)
            if progress is not None:
                progress()
        audit(
            conn,
            actor,
            ev.RECORDS_IMPORTED,
            "project",
            pid,
            project_id=pid,
            after={"source": name, "rows": total, "created": created, "updated": updated},
        )
    return ImportReport(project_id=pid, rows=total, created=created, updated=updated, source=name)
